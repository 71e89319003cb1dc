// K8sResolver against the API-server stand-in (examples/kube-api) over real HTTPS with a bearer
// token: list with pages, watch from the list's resourceVersion, bookmarks, 410 both ways, 401/403
// with the last set kept, an API server restart, the periodic relist.
import { afterEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandInSetup } from '../../../../../examples/kube-api/setup.js';
import type { StandInEndpoint } from '../../../../../examples/kube-api/server.js';
import { K8sResolver, kubeconfigAccess, type K8sResolverOptions } from '../../../../../src/upstream/resolver/kubernetes/index.js';
import type { ResolvedAddress } from '../../../../../src/upstream/types.js';

let setups: StandInSetup[] = [];
let resolvers: K8sResolver[] = [];
afterEach(async () => {
  for (const r of resolvers) r.stop();
  await Promise.all(setups.map((s) => s.close()));
  setups = [];
  resolvers = [];
});

async function standIn(o: Parameters<typeof startStandIn>[0] = {}): Promise<StandInSetup> {
  const s = await startStandIn(o);
  setups.push(s);
  return s;
}

interface Seen {
  sets: ResolvedAddress[][];
  errors: string[];
  last(): string[];
}

function start(s: StandInSetup, o: Partial<K8sResolverOptions> = {}, kubeconfig = s.kubeconfig): { resolver: K8sResolver; seen: Seen } {
  const seen: Seen = {
    sets: [],
    errors: [],
    last: () => (seen.sets.at(-1) ?? []).map((a) => `${a.host}:${a.port}${a.draining ? ' draining' : ''}${a.zone ? ` ${a.zone}` : ''}`),
  };
  const resolver = new K8sResolver({
    service: 'echo',
    namespace: 'shop',
    port: 50051,
    access: kubeconfigAccess(kubeconfig),
    logger: { info() {}, warn() {}, debug() {}, error() {} },
    initialBackoffMs: 50,
    maxBackoffMs: 200,
    ...o,
  });
  resolver.start({ onAddresses: (a) => seen.sets.push(a), onError: (e) => seen.errors.push(e.message) });
  resolvers.push(resolver);
  return { resolver, seen };
}

const until = async (what: string, predicate: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const ready = (...ips: string[]): StandInEndpoint[] => ips.map((ip) => ({ ip, ready: true, serving: true, terminating: false }));
const put = (s: StandInSetup, name: string, endpoints: StandInEndpoint[], service = 'echo', namespace = 'shop') =>
  s.api.apply({ name, namespace, service, ports: [{ name: 'grpc', port: 50051 }], endpoints });
const watches = (s: StandInSetup) => s.api.requests.filter((r) => r.query.watch === '1');
const lists = (s: StandInSetup) => s.api.requests.filter((r) => r.query.watch === undefined);

describe('K8sResolver', () => {
  it('lists page by page with the label selector, then watches from the list resourceVersion with bookmarks', async () => {
    const s = await standIn();
    for (let i = 0; i < 5; i++) put(s, `echo-${i}`, ready(`10.0.0.${i + 1}`));
    put(s, 'other-0', ready('10.9.9.9'), 'other'); // another Service's slice
    put(s, 'echo-x', ready('10.8.8.8'), 'echo', 'elsewhere'); // the same name in another namespace
    const listVersion = s.api.resourceVersion;
    const { seen } = start(s, { pageSize: 2 });
    await until('the first set', () => seen.sets.length === 1);
    expect(seen.last()).toEqual(['10.0.0.1:50051', '10.0.0.2:50051', '10.0.0.3:50051', '10.0.0.4:50051', '10.0.0.5:50051']);
    const pages = lists(s);
    expect(pages.map((p) => p.query.limit)).toEqual(['2', '2', '2']);
    expect(pages[0]!.query.continue).toBeUndefined();
    expect(pages[1]!.query.continue).toBeTruthy();
    for (const p of pages) {
      expect(p.path).toBe('/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices');
      expect(p.query.labelSelector).toBe('kubernetes.io/service-name=echo');
    }
    await until('a watch', () => watches(s).length === 1);
    const w = watches(s)[0]!;
    expect(w.query).toMatchObject({ allowWatchBookmarks: 'true', watch: '1', resourceVersion: listVersion, labelSelector: 'kubernetes.io/service-name=echo' });
    expect(Number(w.query.timeoutSeconds)).toBeGreaterThanOrEqual(300);
  });

  it('reports each watch event as the joined set of every slice: added, modified, deleted', async () => {
    const s = await standIn();
    put(s, 'echo-a', ready('10.0.0.1'));
    const { seen } = start(s);
    await until('a watch', () => s.api.watchCount === 1 && seen.sets.length === 1);
    put(s, 'echo-b', ready('10.0.0.2', '10.0.0.3'));
    await until('slice b joined', () => seen.last().length === 3);
    put(s, 'echo-a', [{ ip: '10.0.0.1', ready: false, serving: true, terminating: true, zone: 'z1' }]);
    await until('10.0.0.1 draining', () => seen.last()[0] === '10.0.0.1:50051 draining z1');
    s.api.delete('shop', 'echo-a');
    await until('slice a gone', () => seen.last().join() === '10.0.0.2:50051,10.0.0.3:50051');
    put(s, 'other-a', ready('10.9.9.9'), 'other');
    put(s, 'echo-b', ready('10.0.0.2', '10.0.0.3')); // no change in the set: nothing reported
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.sets.length).toBe(4);
    expect(seen.errors).toEqual([]);
  });

  it('resolves a named port in each slice', async () => {
    const s = await standIn();
    s.api.apply({ name: 'echo-a', namespace: 'shop', service: 'echo', ports: [{ name: 'grpc', port: 50051 }], endpoints: ready('10.0.0.1') });
    s.api.apply({ name: 'echo-b', namespace: 'shop', service: 'echo', ports: [{ name: 'grpc', port: 6000 }], endpoints: ready('10.0.0.2') });
    const { seen } = start(s, { port: 'grpc' });
    await until('the first set', () => seen.sets.length === 1);
    expect(seen.last()).toEqual(['10.0.0.1:50051', '10.0.0.2:6000']);
  });

  it('a 410 as an ERROR event inside the running watch: lists again and follows the changes', async () => {
    const s = await standIn();
    put(s, 'echo-a', ready('10.0.0.1'));
    const { seen } = start(s);
    await until('a watch', () => s.api.watchCount === 1);
    s.api.expireWatches();
    put(s, 'echo-b', ready('10.0.0.2'));
    await until('the change after the 410', () => seen.last().length === 2);
    expect(lists(s).length).toBe(2);
    expect(seen.errors).toEqual([]);
  });

  it('a 410 as the HTTP status of the watch request: lists again', async () => {
    const s = await standIn({ goneAs: 'status' });
    put(s, 'echo-a', ready('10.0.0.1'));
    const { seen } = start(s);
    await until('a watch', () => s.api.watchCount === 1);
    await s.api.stop();
    put(s, 'echo-b', ready('10.0.0.2'));
    s.api.compact(); // the watch's resourceVersion is now too old
    await s.api.start();
    await until('the change', () => seen.last().length === 2);
    const after = s.api.requests.findIndex((r) => r.status === 410);
    expect(after).toBeGreaterThan(0);
    expect(s.api.requests[after]!.query.watch).toBe('1');
    expect(s.api.requests[after + 1]!.query.watch).toBeUndefined(); // a list, at once
    // A 410 is no failure (an error may still name the stand-in's port, which can contain the digits 410).
    expect(seen.errors.filter((e) => /\b410\b/.test(e))).toEqual([]);
  });

  it('a BOOKMARK moves the resourceVersion the next watch starts from', async () => {
    const s = await standIn({ bookmarkIntervalMs: 100 });
    put(s, 'echo-a', ready('10.0.0.1'));
    const { seen } = start(s, { watchTimeoutSeconds: () => 1 });
    await until('a watch', () => s.api.watchCount === 1 && seen.sets.length === 1);
    const listVersion = watches(s)[0]!.query.resourceVersion!;
    put(s, 'other-a', ready('10.9.9.9'), 'other'); // moves the store's revision, not our slices
    const moved = s.api.resourceVersion;
    await until('the second watch', () => watches(s).length >= 2, 15_000);
    expect(watches(s)[1]!.query.resourceVersion).toBe(moved);
    expect(moved).not.toBe(listVersion);
  });

  it('403: keeps the last set, reports once with an RBAC hint, and recovers when access is granted', async () => {
    const s = await standIn();
    put(s, 'echo-a', ready('10.0.0.1'));
    const { resolver, seen } = start(s);
    await until('a watch', () => s.api.watchCount === 1 && seen.sets.length === 1);
    s.api.setToken(s.token, 'forbidden');
    s.api.expireWatches(); // the watch ends; the list that follows, and every retry, is refused
    await until('several refusals', () => resolver.stats().failures >= 3);
    expect(s.api.requests.filter((r) => r.status === 403).length).toBeGreaterThanOrEqual(3);
    expect(seen.sets.length).toBe(1); // never an emptied set
    expect(seen.errors.length).toBe(1);
    expect(seen.errors[0]).toMatch(/^403 Forbidden: .*RBAC: grant .*get, list and watch on endpointslices/);
    expect(resolver.stats().lastError).toBe(seen.errors[0]);
    s.api.setToken(s.token, 'allowed');
    put(s, 'echo-b', ready('10.0.0.2'));
    await until('the change after recovery', () => seen.last().length === 2);
  });

  it('401 for a token the server does not know: no set, the reason once', async () => {
    const s = await standIn();
    put(s, 'echo-a', ready('10.0.0.1'));
    const { seen } = start(s, {}, s.kubeconfigWith('wrong-token'));
    await until('refusals', () => s.api.requests.filter((r) => r.status === 401).length >= 3);
    expect(seen.sets).toEqual([]);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toMatch(/^401 Unauthorized/);
  });

  it('an API server restart: the watch reconnects within the backoff and sees what changed meanwhile', async () => {
    const s = await standIn();
    put(s, 'echo-a', ready('10.0.0.1'));
    const { seen, resolver } = start(s);
    await until('a watch', () => s.api.watchCount === 1);
    await s.api.stop();
    await until('a failed reconnection', () => resolver.stats().failures > 0);
    put(s, 'echo-b', ready('10.0.0.2')); // changed while the server was down
    await s.api.start();
    await until('the change', () => seen.last().length === 2);
    expect(seen.sets.length).toBe(2);
    expect(seen.errors.length).toBe(1);
    expect(seen.errors[0]).toMatch(/^Kubernetes API \(https:\/\/127\.0\.0\.1:\d+\) unreachable: /);
  });

  it('lists again periodically as a safety net', async () => {
    const s = await standIn();
    put(s, 'echo-a', ready('10.0.0.1'));
    start(s, { relistIntervalMs: 1000 });
    await until('three lists', () => lists(s).length >= 3, 15_000);
  });
});

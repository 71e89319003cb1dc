// k8s:/// end to end: the gateway (dist/cli.js, its own process) watches EndpointSlices on the
// API-server stand-in (examples/kube-api: HTTPS with an openssl certificate made now, a bearer
// token, list+watch as a real API server serves them); Pods are real grpc-js echo servers on
// 127.0.0.x; clients are connect-web (gRPC-Web binary) and protobuf-ts (gRPC-Web text). Every
// load loop is bounded in calls and time. Reaction times are measured from the slice update.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import type { StandInEndpoint } from '../../examples/kube-api/server.js';
import { startStandIn, type StandInSetup } from '../../examples/kube-api/setup.js';
import { spawnGateway } from '../support/gateway-process.js';
import { startK8sGateway, type K8sGateway } from '../support/k8s-gateway.js';
import {
  connectCall,
  connectWebEcho,
  failureSummary,
  firstCallTo,
  now,
  pbtsCall,
  pbtsWebEcho,
  sleep,
  startLoad,
  type Load,
  type LoadReport,
} from '../support/load.js';
import { spawnPod, type PodProcess } from '../support/pod-process.js';
import { freePort, podAddresses } from '../support/ports.js';

let kube: StandInSetup;
let port: number;
let serviceNumber = 0;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
const defer = (fn: () => Promise<unknown> | unknown): void => void cleanups.push(fn);
afterEach(async () => {
  while (cleanups.length > 0) await Promise.resolve().then(cleanups.pop()!).catch(() => {});
});
beforeAll(async () => {
  kube = await startStandIn({ bookmarkIntervalMs: 500 });
  port = await freePort();
});
afterAll(async () => {
  await kube?.close();
});

/** A Service of its own per test. */
function service(): { name: string; namespace: string; target: (p?: number | string) => string } {
  const name = `echo${++serviceNumber}`;
  return { name, namespace: 'shop', target: (p = port) => `k8s:///${name}.shop:${p}` };
}

const ready = (ip: string, zone?: string): StandInEndpoint => ({ ip, ready: true, serving: true, terminating: false, ...(zone ? { zone } : {}) });
const terminating = (ip: string, zone?: string): StandInEndpoint => ({ ip, ready: false, serving: true, terminating: true, ...(zone ? { zone } : {}) });
const ipOf = (p: { address: string }): string => p.address.split(':')[0]!;

function putSlice(svc: { name: string; namespace: string }, slice: string, endpoints: StandInEndpoint[], ports = [{ name: 'grpc', port }]): void {
  kube.api.apply({ name: `${svc.name}-${slice}`, namespace: svc.namespace, service: svc.name, ports, endpoints });
}

async function pods(ips: string[]): Promise<PodProcess[]> {
  const started = await Promise.all(ips.map((ip) => spawnPod(ip, port)));
  for (const p of started) {
    defer(async () => {
      const t = setTimeout(() => void p.kill(), 3_000);
      await p.stop();
      clearTimeout(t);
    });
  }
  return started;
}

async function gateway(target: string, extra: string[] = [], kubeconfig = kube.kubeconfig): Promise<K8sGateway> {
  const gw = await startK8sGateway(target, kubeconfig, extra);
  defer(() => gw.stop());
  return gw;
}

function load(gw: K8sGateway, o: { workers: number; maxCalls: number; maxMs: number; delayMs?: number }): Load {
  const l = startLoad({
    workers: o.workers,
    maxCalls: o.maxCalls,
    maxMs: o.maxMs,
    call: (w) =>
      w === o.workers - 1
        ? pbtsCall(pbtsWebEcho(gw.httpUrl, 'text'), { delayMs: o.delayMs })
        : connectCall(connectWebEcho(gw.httpUrl), { delayMs: o.delayMs }),
  });
  defer(() => l.stop());
  return l;
}

function expectNoFailures(report: LoadReport): void {
  expect(report.failed, failureSummary(report)).toBe(0);
  expect(report.stoppedBy, 'the load hit its own bound before the experiment ended').not.toBe('maxMs');
}

describe('k8s:/// discovery against the API-server stand-in (real Pods, real gRPC-Web clients, the gateway CLI)', () => {
  it(
    'scale-out 1 → 5: each new Pod is in rotation within 1 s of its slice update, and gets calls',
    async () => {
      const svc = service();
      const all = await pods(podAddresses(5, 20));
      putSlice(svc, 'a', [ready(ipOf(all[0]!))]);
      const gw = await gateway(svc.target());
      await gw.waitForRotation([all[0]!.address]);
      const l = load(gw, { workers: 2, maxCalls: 40_000, maxMs: 45_000 });
      expect(await l.until(() => l.finished().length >= 100, 15_000)).toBe(true);

      const inRotationMs: number[] = [];
      const firstCallMs: number[] = [];
      for (let n = 2; n <= 5; n++) {
        const t = now();
        putSlice(svc, 'a', all.slice(0, n).map((p) => ready(ipOf(p))));
        inRotationMs.push(await gw.waitForRotation(all.slice(0, n).map((p) => p.address), 5_000));
        const newcomer = all[n - 1]!.address;
        expect(await l.until(() => firstCallTo(l.records, newcomer, t) !== undefined, 5_000), `a call on ${newcomer}`).toBe(true);
        firstCallMs.push(firstCallTo(l.records, newcomer, t)! - t);
      }
      const report = await l.stop();
      console.log(
        `[k8s scale-out] in rotation after the slice update: ${inRotationMs.map(Math.round).join(', ')} ms; ` +
          `first call: ${firstCallMs.map(Math.round).join(', ')} ms; ${report.calls} calls`,
      );
      expectNoFailures(report);
      for (const ms of inRotationMs) expect(ms).toBeLessThanOrEqual(1_000);
      for (const ms of firstCallMs) expect(ms).toBeLessThanOrEqual(2_000);
    },
    90_000,
  );

  it(
    'a Pod marked terminating under load: no new call on it 1 s after the update, its calls finish, then SIGTERM: 0 failed calls',
    async () => {
      const svc = service();
      const all = await pods(podAddresses(4, 30));
      const [leaving, ...staying] = all as [PodProcess, ...PodProcess[]];
      putSlice(svc, 'a', all.map((p) => ready(ipOf(p))));
      const gw = await gateway(svc.target());
      await gw.waitForRotation(all.map((p) => p.address));
      // Calls of 200 ms: some are on the leaving Pod when it is marked terminating.
      const l = load(gw, { workers: 8, maxCalls: 40_000, maxMs: 45_000, delayMs: 200 });
      expect(await l.until(() => Object.keys(l.perPod()).length === 4, 15_000), 'every Pod had calls').toBe(true);
      // The update must find calls on the leaving Pod: wait until the gateway counts one there.
      const deadline = Date.now() + 10_000;
      while ((await gw.upstream()).endpoints.find((e) => e.address === leaving.address)?.inFlight === 0) {
        if (Date.now() > deadline) throw new Error('no call in flight on the leaving Pod within 10 s');
        await sleep(20);
      }

      const t = now();
      putSlice(svc, 'a', [terminating(ipOf(leaving)), ...staying.map((p) => ready(ipOf(p)))]);
      await sleep(1_000);
      const view = await gw.upstream();
      expect(view.endpoints.find((e) => e.address === leaving.address)?.inRotation ?? false).toBe(false);
      const tQuiet = now();
      await sleep(1_000);
      await leaving.stop(); // SIGTERM: the Pod finishes what it has and exits
      putSlice(svc, 'a', staying.map((p) => ready(ipOf(p))));
      await sleep(500);
      const report = await l.stop();
      const startedAfter = l.records.filter((r) => r.start >= tQuiet && r.pod === leaving.address).length;
      console.log(
        `[k8s terminating] ${report.calls} calls, ${report.failed} failed; calls started on the terminating Pod ` +
          `in the 1 s after the update: ${l.records.filter((r) => r.start >= t && r.start < tQuiet && r.pod === leaving.address).length}, after: ${startedAfter}`,
      );
      expectNoFailures(report);
      expect(startedAfter).toBe(0);
      // Calls that were on the terminating Pod when the update came finished there, OK.
      const across = l.records.filter((r) => r.pod === leaving.address && r.start < t && r.end > t);
      expect(across.length, 'calls in flight on the terminating Pod at the update').toBeGreaterThan(0);
    },
    90_000,
  );

  it(
    '250 endpoints over 3 slices (100 + 100 + 50): the pool is their join and every one gets calls',
    async () => {
      const svc = service();
      // 250 Pods as processes would be 250 Node processes; the Pods here are in-process grpc-js
      // servers on 127.0.1.1-250 (examples/echo-pod startEchoPod), the gateway is its own process.
      const bigPort = await freePort();
      const ips = Array.from({ length: 250 }, (_, i) => `127.0.1.${i + 1}`);
      const servers: EchoPod[] = [];
      defer(() => Promise.all(servers.map((s) => s.close())));
      for (let i = 0; i < ips.length; i += 50) {
        servers.push(...(await Promise.all(ips.slice(i, i + 50).map((host) => startEchoPod({ host, port: bigPort })))));
      }
      const ports = [{ name: 'grpc', port: bigPort }];
      putSlice(svc, 'a', ips.slice(0, 100).map((ip) => ready(ip)), ports);
      putSlice(svc, 'b', ips.slice(100, 200).map((ip) => ready(ip)), ports);
      putSlice(svc, 'c', ips.slice(200).map((ip) => ready(ip)), ports);
      const gw = await gateway(svc.target('grpc'));
      await gw.waitForRotation(ips.map((ip) => `${ip}:${bigPort}`), 30_000);
      const l = load(gw, { workers: 8, maxCalls: 2_000, maxMs: 60_000 });
      const report = await l.done;
      expect(report.failed, failureSummary(report)).toBe(0);
      expect(Object.keys(report.perPod).length).toBe(250);
      // A change in one slice changes only its part of the join.
      putSlice(svc, 'c', ips.slice(200, 240).map((ip) => ready(ip)), ports);
      await gw.waitForRotation(ips.slice(0, 240).map((ip) => `${ip}:${bigPort}`), 10_000);
    },
    120_000,
  );

  it(
    'an API server restart under load: the Pods stay in use, no call fails, and the watch resumes',
    async () => {
      const svc = service();
      const all = await pods(podAddresses(3, 40));
      putSlice(svc, 'a', all.slice(0, 2).map((p) => ready(ipOf(p))));
      const gw = await gateway(svc.target());
      await gw.waitForRotation(all.slice(0, 2).map((p) => p.address));
      const l = load(gw, { workers: 2, maxCalls: 40_000, maxMs: 45_000 });
      await kube.api.stop();
      await sleep(1_500);
      expect(await gw.inRotation()).toEqual(all.slice(0, 2).map((p) => p.address).sort());
      const down = await gw.upstream();
      expect(down.resolver.failures).toBeGreaterThan(0);
      expect(down.resolver.lastError).toMatch(/unreachable/);
      putSlice(svc, 'a', all.map((p) => ready(ipOf(p)))); // while the server is down
      await kube.api.start();
      await gw.waitForRotation(all.map((p) => p.address), 10_000);
      const report = await l.stop();
      expectNoFailures(report);
      // Said once per reason, not once per retry: no two lines in a row give the same reason.
      const reasons = gw.process
        .output()
        .split('\n')
        .filter((x) => x.includes('resolve failed'))
        .map((x) => (JSON.parse(x) as { err: string }).err);
      expect(reasons.length).toBeGreaterThanOrEqual(1);
      for (let i = 1; i < reasons.length; i++) expect(reasons[i]).not.toBe(reasons[i - 1]);
    },
    90_000,
  );

  it(
    'a 410 inside the watch and a 410 as the watch status: the gateway lists again, keeps its Pods, and follows changes',
    async () => {
      const svc = service();
      const all = await pods(podAddresses(3, 50));
      putSlice(svc, 'a', [ready(ipOf(all[0]!))]);
      const gw = await gateway(svc.target());
      await gw.waitForRotation([all[0]!.address]);
      const l = load(gw, { workers: 2, maxCalls: 40_000, maxMs: 45_000 });
      const lists = () => kube.api.requests.filter((r) => r.query.watch === undefined && r.query.labelSelector?.endsWith(`=${svc.name}`)).length;
      const listsBefore = lists();
      kube.api.expireWatches(); // ERROR event with a 410 Status in the running watch
      putSlice(svc, 'a', all.slice(0, 2).map((p) => ready(ipOf(p))));
      await gw.waitForRotation(all.slice(0, 2).map((p) => p.address), 10_000);
      expect(lists()).toBeGreaterThan(listsBefore);

      kube.api.setGoneAs('status');
      try {
        await kube.api.stop(); // the watch drops; it comes back from a resourceVersion compacted meanwhile
        putSlice(svc, 'a', all.map((p) => ready(ipOf(p))));
        kube.api.compact();
        await kube.api.start();
        await gw.waitForRotation(all.map((p) => p.address), 10_000);
        expect(kube.api.requests.some((r) => r.status === 410 && r.query.watch === '1')).toBe(true);
      } finally {
        kube.api.setGoneAs('event');
      }
      expectNoFailures(await l.stop());
    },
    90_000,
  );

  it(
    '403 (RBAC taken away): the Pods stay in use, the reason is logged once with an RBAC hint and shown in /endpoints and metrics; access back → changes follow',
    async () => {
      const svc = service();
      const all = await pods(podAddresses(2, 60));
      putSlice(svc, 'a', [ready(ipOf(all[0]!))]);
      const token = `gateway-${svc.name}`;
      kube.api.setToken(token, 'allowed');
      const gw = await gateway(svc.target(), [], kube.kubeconfigWith(token));
      await gw.waitForRotation([all[0]!.address]);
      const l = load(gw, { workers: 2, maxCalls: 40_000, maxMs: 45_000 });
      kube.api.setToken(token, 'forbidden');
      kube.api.expireWatches(); // the watch ends; the list that follows is refused
      const deadline = now() + 10_000;
      let view = await gw.upstream();
      while (view.resolver.failures < 3 && now() < deadline) {
        await sleep(100);
        view = await gw.upstream();
      }
      expect(view.resolver.failures).toBeGreaterThanOrEqual(3);
      expect(view.resolver.lastError).toMatch(/^403 Forbidden: .*RBAC: grant .*get, list and watch on endpointslices/);
      expect(await gw.inRotation()).toEqual([all[0]!.address]);
      expect(await gw.metrics()).toMatch(new RegExp(`grpcweb_k8s_failures_total\\{upstream="k8s:///${svc.name}.shop:${port}"\\} ([3-9]|\\d\\d+)`));
      const logged = gw.process.output().split('\n').filter((x) => x.includes('403 Forbidden'));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain('"level":40');

      kube.api.setToken(token, 'allowed');
      putSlice(svc, 'a', all.map((p) => ready(ipOf(p))));
      await gw.waitForRotation(all.map((p) => p.address), 10_000);
      expectNoFailures(await l.stop());
    },
    90_000,
  );

  it(
    'a named port, resolved per slice: two slices give the port different numbers and both are used',
    async () => {
      const svc = service();
      const otherPort = await freePort();
      const a = await pods(['127.0.0.70']);
      const b = await Promise.all([spawnPod('127.0.0.71', otherPort)]);
      defer(() => b[0]!.stop());
      putSlice(svc, 'a', [ready('127.0.0.70')], [{ name: 'grpc', port }]);
      putSlice(svc, 'b', [ready('127.0.0.71')], [{ name: 'grpc', port: otherPort }, { name: 'metrics', port: 9090 }]);
      putSlice(svc, 'c', [ready('127.0.0.72')], [{ name: 'metrics', port: 9090 }]); // no grpc port: not used
      const gw = await gateway(svc.target('grpc'));
      await gw.waitForRotation([a[0]!.address, b[0]!.address]);
      const l = load(gw, { workers: 2, maxCalls: 200, maxMs: 30_000 });
      const report = await l.done;
      expect(report.failed, failureSummary(report)).toBe(0);
      expect(Object.keys(report.perPod).sort()).toEqual([a[0]!.address, b[0]!.address].sort());
    },
    60_000,
  );

  it(
    '--prefer-zone: calls stay on the zone\'s Pod while it is in rotation, /endpoints shows each zone; it terminates → the other zone',
    async () => {
      const svc = service();
      const all = await pods(podAddresses(3, 80));
      const [local, ...remote] = all as [PodProcess, ...PodProcess[]];
      putSlice(svc, 'a', [ready(ipOf(local), 'zone-a'), ...remote.map((p) => ready(ipOf(p), 'zone-b'))]);
      const gw = await gateway(svc.target(), ['--prefer-zone', 'zone-a']);
      await gw.waitForRotation(all.map((p) => p.address));
      const view = await gw.upstream();
      expect(view.kind).toBe('k8s');
      expect(view.preferZone).toBe('zone-a');
      expect(Object.fromEntries(view.endpoints.map((e) => [e.address, e.zone]))).toEqual({
        [local.address]: 'zone-a',
        [remote[0]!.address]: 'zone-b',
        [remote[1]!.address]: 'zone-b',
      });
      const first = load(gw, { workers: 2, maxCalls: 300, maxMs: 30_000 });
      const r1 = await first.done;
      expect(r1.failed, failureSummary(r1)).toBe(0);
      expect(Object.keys(r1.perPod)).toEqual([local.address]);

      putSlice(svc, 'a', [terminating(ipOf(local), 'zone-a'), ...remote.map((p) => ready(ipOf(p), 'zone-b'))]);
      await gw.waitForRotation(remote.map((p) => p.address));
      const second = load(gw, { workers: 2, maxCalls: 300, maxMs: 30_000 });
      const r2 = await second.done;
      expect(r2.failed, failureSummary(r2)).toBe(0);
      expect(Object.keys(r2.perPod).sort()).toEqual(remote.map((p) => p.address).sort());
    },
    60_000,
  );

  it(
    '--workers 2: every worker watches the slices itself; /endpoints merges their views (zones, and calls from both)',
    async () => {
      const svc = service();
      const all = await pods(podAddresses(2, 95));
      putSlice(svc, 'a', [ready(ipOf(all[0]!), 'zone-a')]);
      const gw = await gateway(svc.target(), ['--workers', '2']);
      await gw.waitForRotation([all[0]!.address]);
      putSlice(svc, 'a', all.map((p) => ready(ipOf(p), 'zone-a')));
      await gw.waitForRotation(all.map((p) => p.address));
      const l = load(gw, { workers: 4, maxCalls: 400, maxMs: 30_000 });
      const report = await l.done;
      expect(report.failed, failureSummary(report)).toBe(0);
      expect(Object.keys(report.perPod).sort()).toEqual(all.map((p) => p.address).sort());
      const view = (await (await fetch(`${gw.adminUrl}/endpoints`)).json()) as { gateway: { workers?: number } };
      expect(view.gateway.workers).toBe(2);
      const up = await gw.upstream();
      expect(up.endpoints.map((e) => e.zone)).toEqual(['zone-a', 'zone-a']);
      expect(up.resolver.failing).toBe(false);
      // Two watches, one per worker.
      expect(kube.api.requests.filter((r) => r.query.watch === '1' && r.query.labelSelector?.endsWith(`=${svc.name}`)).length).toBeGreaterThanOrEqual(2);
    },
    60_000,
  );

  it('without a way to the API the gateway does not start, and says what to give it (exit 1, one line)', async () => {
    const noCluster = { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '', KUBECONFIG: '', GWG_KUBECONFIG: '' };
    const cases: Array<[string[], RegExp]> = [
      [[], /^grpc-web-gateway: cannot start: k8s:\/\/\/ targets need the Kubernetes API: not in a cluster \(KUBERNETES_SERVICE_HOST\/PORT unset\); give --kubeconfig FILE\n$/],
      [['--kubeconfig', `${kube.dir}/missing`], /^grpc-web-gateway: cannot start: cannot read kubeconfig '.*\/missing': no such file\n$/],
    ];
    for (const [extra, message] of cases) {
      const gw = spawnGateway(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', 'k8s:///echo.shop:grpc', ...extra], noCluster);
      const { code } = await gw.exited;
      expect(code).toBe(1);
      expect(gw.output()).toMatch(message);
    }
  });
});

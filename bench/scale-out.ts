// The scale-out experiment of the seed article ("does gRPC load-balance when Kubernetes scales out?")
// as a figure, for the gateway and for a ClusterIP-style baseline measured in the same run.
//
//   node --import tsx bench/scale-out.ts [--pods 5] [--resolve-interval-ms 1000] [--calls 1000] [--watch-ms 5000] [--no-discovery]
//
// Both cases: one client with ONE connection calls Echo in a loop (one call at a time). The headless
// Service (a DNS server) lists 1 Pod, then 5. We record, for each new Pod, the seconds from the DNS
// change to its first call, then the per-Pod shares of the next N calls (max/min and coefficient of
// variation).
//   - baseline: grpc-js client, one channel → L4 TCP proxy (per-connection random pick among the Pods
//     it learns from the same DNS, like kube-proxy) → Pods;
//   - gateway:  connect-web gRPC-Web binary client over one HTTP/1.1 keep-alive connection → gateway
//     (dns:/// upstream, round-robin) → Pods.
// Then time-to-traffic by how the gateway discovers the Pods, in the same run and for the same Pods:
//   - dns:/// behind a DNS cache that keeps answers 30 s (Debian's dnsmasq as a forwarder, the
//     cache GKE's kube-dns puts in front of its records; NodeLocal DNSCache does the same), the
//     scale-out landing just after the cache was filled: the wait a Pod can have on such clusters;
//   - k8s:/// watching the Service's EndpointSlices on the API-server stand-in (examples/kube-api).
// Pods are real processes (examples/echo-pod), on 127.0.0.2.. one port. Bounded: a few seconds per
// phase (the 30 s cache case up to 45 s), < 2 min overall. Prints Markdown tables and writes
// bench/results/scale-out.json.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ECHO_PROTO_PATH } from '../examples/echo-pod/server.js';
import { startHeadlessDns } from '../examples/headless-dns/server.js';
import { startStandIn } from '../examples/kube-api/setup.js';
import { loadConfig } from '../src/config/index.js';
import { spawnPod, type PodProcess } from '../test/support/pod-process.js';
import { freePort, podAddresses } from '../test/support/ports.js';
import { connectCall, connectWebEcho, now, oneConnectionFetch, spread, type CallFn } from '../test/support/load.js';
import { startDnsCache } from './lib/dns-cache.js';
import { startL4Proxy } from './lib/l4-proxy.js';

const GATEWAY_BUNDLE = new URL('../dist/gateway.js', import.meta.url).href;

export interface ScaleOutOptions {
  /** Pods after the scale-out (before: 1). Default 5. */
  pods?: number;
  /** Gateway --resolve-interval and the L4 proxy's re-resolve interval. Default 1000 ms. */
  resolveIntervalMs?: number;
  /** Calls over which shares are measured once every Pod had traffic (or the watch window ended). Default 1000. */
  measureCalls?: number;
  /** Calls made before the scale-out (all on the one Pod). Default 200. */
  warmupCalls?: number;
  /** How long to wait for every new Pod to get traffic before calling it "never". Default max(5 s, 3 intervals + 1 s). */
  watchMs?: number;
  /** First loopback octet of the Pods. Default 2. */
  firstOctet?: number;
  /** Progress lines on stderr. Default false. */
  verbose?: boolean;
  /** Also time-to-traffic for dns:/// behind a 30 s DNS cache vs k8s:/// (adds up to ~50 s). Default true. */
  discovery?: boolean;
}

export interface CaseResult {
  name: string;
  client: string;
  /** Seconds from the DNS change until every new Pod had a call; null = never within watchMs. */
  secondsToAllPods: number | null;
  /** Same, per new Pod, null = never. */
  secondsToTrafficPerPod: Array<number | null>;
  /** Per-Pod calls over the measured calls, in Pod order. */
  callsPerPod: number[];
  /** max/min of per-Pod calls; null = infinite (some Pod got none). */
  maxOverMin: number | null;
  /** Coefficient of variation of per-Pod calls (population std / mean): 0 = perfectly even, 2 = all on one of 5. */
  cv: number;
  measuredCalls: number;
  callsPerSecond: number;
  failedCalls: number;
  /** Client-side TCP connections the case opened (1 = the one keep-alive connection). */
  connections: number;
}

export interface ScaleOutResult {
  date: string;
  node: string;
  cpus: number;
  pods: number;
  resolveIntervalMs: number;
  watchMs: number;
  measureCalls: number;
  podAddresses: string[];
  baseline: CaseResult;
  gateway: CaseResult;
  /** Time-to-traffic by discovery (absent with discovery: false). */
  discovery?: { dnsCacheTtlSeconds: number; dnsCached: CaseResult; k8s: CaseResult };
}

/** TTL of the cached DNS answers in the discovery comparison (kube-dns, kubeadm's old CoreDNS, NodeLocal DNSCache). */
const CACHE_TTL_S = 30;

/** Upper bound of the measuring phase of each case. */
const MEASURE_MAX_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Phase {
  secondsToTrafficPerPod: Array<number | null>;
  callsPerPod: number[];
  measured: number;
  seconds: number;
  failed: number;
}

/**
 * The experiment against one front: `call` makes one call and returns the Pod. Discovery lists the
 * first Pod, `warmup` calls are made, `scaleOut()` then lists all Pods; calls go on until every new
 * Pod had one or watchMs passed; then `measure` more calls are counted per Pod.
 */
async function experiment(
  call: CallFn,
  scaleOut: () => void,
  pods: string[],
  o: { warmup: number; measure: number; watchMs: number },
): Promise<Phase> {
  let seq = 0;
  let failed = 0;
  const one = async (): Promise<string | undefined> => {
    try {
      return await call(seq++);
    } catch {
      failed++;
      return undefined;
    }
  };
  const tWarm = now();
  for (let i = 0; i < o.warmup && now() - tWarm < 5_000; i++) await one();

  const tScale = now();
  scaleOut();
  const first = new Map<string, number>();
  const newPods = pods.slice(1);
  const maxCalls = 200_000; // bound, whatever happens
  while (now() - tScale < o.watchMs && first.size < newPods.length && seq < maxCalls) {
    const pod = await one();
    if (pod && newPods.includes(pod) && !first.has(pod)) first.set(pod, now() - tScale);
  }
  const counts = new Map<string, number>(pods.map((p) => [p, 0]));
  const t0 = now();
  let measured = 0;
  // Bounded in time too (a loaded machine can be slow): the shares are over the calls actually made.
  for (; measured < o.measure && now() - t0 < MEASURE_MAX_MS; measured++) {
    const pod = await one();
    if (pod) counts.set(pod, (counts.get(pod) ?? 0) + 1);
  }
  return {
    secondsToTrafficPerPod: newPods.map((p) => (first.has(p) ? first.get(p)! / 1000 : null)),
    callsPerPod: pods.map((p) => counts.get(p) ?? 0),
    measured,
    seconds: (now() - t0) / 1000,
    failed,
  };
}

function caseResult(name: string, client: string, phase: Phase, pods: string[], connections: number): CaseResult {
  const perPod = Object.fromEntries(pods.map((p, i) => [p, phase.callsPerPod[i]!]));
  const s = spread(perPod, pods);
  const reached = phase.secondsToTrafficPerPod.every((t) => t !== null);
  return {
    name,
    client,
    secondsToAllPods: reached ? Math.max(...(phase.secondsToTrafficPerPod as number[])) : null,
    secondsToTrafficPerPod: phase.secondsToTrafficPerPod,
    callsPerPod: phase.callsPerPod,
    maxOverMin: Number.isFinite(s.maxOverMin) ? s.maxOverMin : null,
    cv: s.cv,
    measuredCalls: phase.measured,
    callsPerSecond: phase.measured / phase.seconds,
    failedCalls: phase.failed,
    connections,
  };
}

function grpcEchoClient(address: string): { call: CallFn; close(): void } {
  const def = protoLoader.loadSync(ECHO_PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { echo: { v1: { EchoService: grpc.ServiceClientConstructor } } };
  // ONE channel, as a Go or .NET service would hold one client: the seed article's setup.
  const client = new pkg.echo.v1.EchoService(address, grpc.credentials.createInsecure());
  const echo = client['Echo'] as unknown as (
    req: object,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { pod: string }) => void,
  ) => void;
  return {
    call: (seq) =>
      new Promise<string>((resolve, reject) =>
        echo.call(client, { message: `call ${seq}` }, { deadline: Date.now() + 5_000 }, (err, res) =>
          err ? reject(err) : res?.pod ? resolve(res.pod) : reject(new Error('no pod')),
        ),
      ),
    close: () => client.close(),
  };
}

export async function runScaleOut(opts: ScaleOutOptions = {}): Promise<ScaleOutResult> {
  const n = opts.pods ?? 5;
  const intervalMs = opts.resolveIntervalMs ?? 1_000;
  const measure = opts.measureCalls ?? 1_000;
  const warmup = opts.warmupCalls ?? 200;
  const watchMs = opts.watchMs ?? Math.max(5_000, 3 * intervalMs + 1_000);
  const log = (msg: string): void => void (opts.verbose && process.stderr.write(`[scale-out] ${msg}\n`));

  const ips = podAddresses(n, opts.firstOctet ?? 2);
  const [dns, podPort] = await Promise.all([startHeadlessDns({ host: '127.0.0.1', port: 0 }), freePort()]);
  const dnsServer = `${dns.address.host}:${dns.address.port}`;
  let pods: PodProcess[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    pods = await Promise.all(ips.map((ip) => spawnPod(ip, podPort)));
    const addresses = pods.map((p) => p.address);
    log(`${n} Pods up: ${addresses.join(', ')}; DNS at ${dnsServer}`);

    // ---- baseline: grpc-js (one channel) → L4 proxy (per-connection pick) → Pods -----------------
    const baseName = 'echo-clusterip.bench.svc.cluster.local';
    dns.setRecords(baseName, [ips[0]!], 30);
    const proxy = await startL4Proxy({ name: baseName, port: podPort, dnsServer, intervalMs });
    cleanups.push(() => proxy.close());
    const grpcClient = grpcEchoClient(proxy.address);
    cleanups.push(() => grpcClient.close());
    const basePhase = await experiment(grpcClient.call, () => dns.setRecords(baseName, ips, 30), addresses, { warmup, measure, watchMs });
    const baseline = caseResult(
      'ClusterIP-style L4 proxy (one Pod per connection, random)',
      'grpc-js, one channel',
      basePhase,
      addresses,
      proxy.connections().length,
    );
    log(`baseline: proxy knew ${proxy.backends().length} Pods at the end; connections ${JSON.stringify(proxy.connections().map((c) => c.backend))}`);
    grpcClient.close();
    await proxy.close();

    // ---- gateway: gRPC-Web (one keep-alive connection) → gateway → Pods ------------------------
    const gwName = 'echo-headless.bench.svc.cluster.local';
    dns.setRecords(gwName, [ips[0]!], 30);
    const loaded = loadConfig(
      [
        '--listen', '127.0.0.1:0',
        '--admin', '127.0.0.1:0',
        '--upstream', `dns:///${gwName}:${podPort}`,
        '--dns-server', dnsServer,
        '--resolve-interval', `${intervalMs}ms`,
        '--balancer', 'round-robin',
        '--log-level', 'warn',
      ],
      {},
    );
    const gw = await readyGateway(loaded, cleanups);
    const conn = oneConnectionFetch(gw.httpUrl);
    cleanups.push(() => conn.close());
    const gwCall = connectCall(connectWebEcho(gw.httpUrl, conn.fetch));
    const gwPhase = await experiment(gwCall, () => dns.setRecords(gwName, ips, 30), addresses, { warmup, measure, watchMs });
    const gateway = caseResult(
      `grpc-web-gateway (dns:/// upstream, round-robin, --resolve-interval ${intervalMs}ms)`,
      'connect-web gRPC-Web binary, one keep-alive connection',
      gwPhase,
      addresses,
      conn.connectionsOpened(),
    );

    let discovery: ScaleOutResult['discovery'];
    if (opts.discovery !== false) {
      // ---- the same scale-out, by discovery: dns:/// behind a 30 s cache vs k8s:/// ---------------
      const few = { warmup: 50, measure: 200 };
      const cachedName = 'echo-cached.bench.svc.cluster.local';
      dns.setRecords(cachedName, [ips[0]!], CACHE_TTL_S);
      const cache = await startDnsCache(dns.address, cachedName);
      cleanups.push(() => cache.close());
      const cachedGw = await readyGateway(
        loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', `dns:///${cachedName}:${podPort}`,
          '--dns-server', `127.0.0.1:${cache.address.port}`, '--resolve-interval', `${intervalMs}ms`, '--log-level', 'warn'], {}),
        cleanups,
      );
      // The cache was filled just now (its start probe and the gateway's first lookup): the records
      // change right after, the worst phase of the TTL and the one a scale-out after a quiet period meets.
      const cachedPhase = await experiment(
        connectCall(connectWebEcho(cachedGw.httpUrl)),
        () => dns.setRecords(cachedName, ips, CACHE_TTL_S),
        addresses,
        { ...few, watchMs: (CACHE_TTL_S + 15) * 1000 },
      );
      log(`dns:/// behind a ${CACHE_TTL_S} s cache: ${JSON.stringify(cachedPhase.secondsToTrafficPerPod)}`);

      const kube = await startStandIn();
      cleanups.push(() => kube.close());
      const slice = (hosts: string[]) =>
        kube.api.apply({ name: 'echo-k8s-1', namespace: 'bench', service: 'echo-k8s', ports: [{ name: 'grpc', port: podPort }],
          endpoints: hosts.map((ip) => ({ ip, ready: true })) });
      slice([ips[0]!]);
      const k8sGw = await readyGateway(
        loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', 'k8s:///echo-k8s.bench:grpc',
          '--kubeconfig', kube.kubeconfig, '--log-level', 'warn'], {}),
        cleanups,
      );
      const k8sPhase = await experiment(connectCall(connectWebEcho(k8sGw.httpUrl)), () => slice(ips), addresses, { ...few, watchMs });
      log(`k8s:///: ${JSON.stringify(k8sPhase.secondsToTrafficPerPod)}`);
      const client = 'connect-web gRPC-Web binary';
      discovery = {
        dnsCacheTtlSeconds: CACHE_TTL_S,
        dnsCached: caseResult(`dns:/// behind a ${CACHE_TTL_S} s DNS cache (dnsmasq), --resolve-interval ${intervalMs}ms`, client, cachedPhase, addresses, 1),
        k8s: caseResult('k8s:/// (EndpointSlice watch, API-server stand-in)', client, k8sPhase, addresses, 1),
      };
    }

    return {
      discovery,
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      pods: n,
      resolveIntervalMs: intervalMs,
      watchMs,
      measureCalls: measure,
      podAddresses: addresses,
      baseline,
      gateway,
    };
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => {});
    await Promise.all(pods.map((p) => p.stop()));
    await dns.close();
  }
}

/** An in-process gateway from `loaded`, once its upstream has a Pod in rotation (at most 5 s). */
async function readyGateway(loaded: ReturnType<typeof loadConfig>, cleanups: Array<() => unknown>) {
  if (!('config' in loaded)) throw new Error('loadConfig gave no config');
  // The gateway as users run it: the built bundle (dist/ inlines the dashboard's page files,
  // which tsx cannot load from src/).
  const { startGateway } = (await import(GATEWAY_BUNDLE)) as typeof import('../src/gateway.js');
  const gw = await startGateway(loaded.config, { logger: false });
  cleanups.push(() => gw.close());
  const deadline = now() + 5_000;
  while (!gw.pools[0]!.isReady() && now() < deadline) await sleep(20);
  return gw;
}

// ---- report ----------------------------------------------------------------------------------------

const secs = (t: number | null): string => (t === null ? '∞ (never)' : `${t.toFixed(2)} s`);

export function markdownTable(r: ScaleOutResult): string {
  const row = (c: CaseResult): string =>
    `| ${c.name} | ${c.client} | ${c.secondsToAllPods === null ? `never (∞; watched ${(r.watchMs / 1000).toFixed(0)} s)` : secs(c.secondsToAllPods)} | ` +
    `${c.secondsToTrafficPerPod.map((t) => (t === null ? '∞' : t.toFixed(2))).join(' / ')} | ` +
    `${c.callsPerPod.map((x) => ((x / Math.max(1, c.callsPerPod.reduce((a, b) => a + b, 0))) * 100).toFixed(0) + '%').join(' / ')} | ` +
    `${c.maxOverMin === null ? '∞' : c.maxOverMin.toFixed(2)} | ${c.cv.toFixed(3)} | ${c.measuredCalls} | ${c.callsPerSecond.toFixed(0)} | ${c.failedCalls} | ${c.connections} |`;
  return [
    `Scale-out 1 → ${r.pods} Pods, one client with one connection, calls in a loop; shares over the next ${r.measureCalls} calls (or 15 s) once every Pod had traffic or ${(r.watchMs / 1000).toFixed(0)} s passed ` +
      `(Node ${r.node}, ${r.cpus} CPUs, re-resolve every ${r.resolveIntervalMs} ms ±10% jitter, so a new Pod is expected within ` +
      `~${((r.resolveIntervalMs * 1.1) / 1000).toFixed(2)} s + a connection handshake, depending on where in the interval the DNS change lands). ` +
      `Client, gateway / L4 proxy and DNS share one Node process; the Pods are ${r.pods} separate processes. calls/s is one sequential client's rate, informative only (it swings with machine load).`,
    '',
    '| setup | client | every new Pod had traffic after | per new Pod (s) | per-Pod share | max/min | CV | calls measured | calls/s | failed | client connections |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    row(r.baseline),
    row(r.gateway),
    ...(r.discovery
      ? [
          '',
          `Time-to-traffic by discovery, same Pods, same run: the scale-out lands just after the DNS cache was filled (the longest wait a ${r.discovery.dnsCacheTtlSeconds} s cache gives); ` +
            'the EndpointSlice is updated at the same point of the experiment.',
          '',
          '| discovery | every new Pod had traffic after | per new Pod (s) | failed |',
          '|---|---|---|---|',
          ...[r.discovery.dnsCached, r.discovery.k8s].map(
            (c) => `| ${c.name} | ${secs(c.secondsToAllPods)} | ${c.secondsToTrafficPerPod.map((t) => (t === null ? '∞' : t.toFixed(2))).join(' / ')} | ${c.failedCalls} |`,
          ),
        ]
      : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pods: { type: 'string' },
      'resolve-interval-ms': { type: 'string' },
      calls: { type: 'string' },
      'watch-ms': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      'no-discovery': { type: 'boolean', default: false },
    },
  });
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const result = await runScaleOut({
    pods: num(values.pods),
    resolveIntervalMs: num(values['resolve-interval-ms']),
    measureCalls: num(values.calls),
    watchMs: num(values['watch-ms']),
    verbose: !values.quiet,
    discovery: !values['no-discovery'],
  });
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}scale-out.json`, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(markdownTable(result) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const guard = setTimeout(() => {
    process.stderr.write('scale-out: did not finish within 180 s\n');
    process.exit(2);
  }, 180_000);
  guard.unref();
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`scale-out: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

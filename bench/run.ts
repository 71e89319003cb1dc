// npm run bench [-- --quick | --soak | --rounds N --duration S --loadgen wrk|autocannon ...]
//
// Side-by-side benchmark on loopback, every process separate: a raw grpc-js backend
// (bench/backend.ts), the gateway (node dist/cli.js), @grpc-web/proxy as the peer
// (bench/peer.cjs), and the load generators (wrk with bench/wrk-unary.lua, or autocannon;
// bench/grpc-client.ts and h2load for the direct baseline; bench/web-stream-client.ts; and
// bench/relay.ts, a bare node:http2 relay measured beside the gateway's native gRPC path).
// Cases and paths are interleaved, rounds repeated, medians taken: on a small, shared machine
// only ratios measured in the same run mean anything. Writes bench/results/latest.{json,md}
// (--soak: bench/results/soak.{json,md}) and prints the table.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CT_GRPC, h2load, makeBenchCert, probeH2, type H2LoadResult } from './h2-paths.js';
import { STREAM_METHOD, UNARY_METHOD, streamRequest } from './methods.js';
import {
  OWN_CORE,
  PINNED_DIRECT,
  PinWatch,
  allowedCpus,
  directPathFor,
  pinnedCommand,
  pinnedTarget,
  planPinning,
  type PinLayout,
  type PinMode,
  type Placement,
} from './pinning.js';
import {
  Service,
  benchJson,
  cpuSeconds,
  hasCommand,
  killAllStarted,
  machineTicks,
  peakRssMiB,
  resetPeak,
  rssMiB,
  runTool,
  settle,
} from './procs.js';
import { RELAY, relayReference } from './relay-row.js';
import { median, metCell, perRound, tallyTargets, type TargetCheck } from './stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, 'bench');
const RESULTS = join(BENCH, 'results');
const NODE = process.execPath;
const TSX = ['--import', 'tsx'];

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    loadgen: { type: 'string' },
    only: { type: 'string' },
    paths: { type: 'string' },
    'soak-calls': { type: 'string', default: '1000000' },
    'gateway-args': { type: 'string', default: '' },
    'gateway-node-args': { type: 'string', default: '' },
    'cpu-prof': { type: 'string' },
    compare: { type: 'string' },
    'compare-args': { type: 'string' },
    gateway: { type: 'string' },
    'no-scale-out': { type: 'boolean', default: false },
    'no-floor': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    pin: { type: 'string', default: 'auto' },
    'pin-cases': { type: 'string', default: 'h2web64,grpc64' },
    help: { type: 'boolean', default: false },
  },
});

if (opt.help) {
  process.stdout.write(`npm run bench -- [options]
  --quick              ~3 minute smoke: 1 round of 2 s per case and path
  --rounds N           rounds (default 3)          --duration S   seconds per case and path (default 4)
  --only a,b           only these cases: unary64,text64,unary1,mib1,stream,h2web64,grpc64
                       (h2web64: gRPC-Web over h2c and TLS; grpc64: native gRPC passthrough; both run only
                       against a gateway that answers them, e.g. --gateway /work/wt-listener/dist/cli.js;
                       grpc64 also runs the grpc-js client through bench/relay.ts, a bare node:http2 relay,
                       as "${RELAY}": a reference for the gateway's row, not a target)
  --paths a,b          only these paths (e.g. "gateway,gateway (before)" with --compare)
  --loadgen wrk|autocannon   HTTP/1.1 load generator (default: wrk if installed)
  --soak               1,000,000 calls through the gateway (--soak-calls N); RSS after vs after the first 100k
  --gateway-args "..." extra gateway flags (e.g. "--max-retries 0")
  --gateway-node-args "..."  node flags for the gateway (not for --compare's), e.g. "--max-semi-space-size=2"
  --gateway CLI_JS     bench this dist/cli.js as "gateway" instead of this checkout's (e.g. another worktree's)
  --cpu-prof DIR       run the gateway (the "gateway" path only) under node --cpu-prof, profiles written to DIR
  --compare CLI_JS     also run another build of the gateway (e.g. .tmp/bench-before/dist/cli.js) as
                       "gateway (before)" in every case, for same-run before/after ratios
  --compare-args "..." the compared gateway's extra flags instead of --gateway-args: one build, two
                       settings (e.g. --compare dist/cli.js --gateway-args "--upstream-client http2"
                       --compare-args "--upstream-client grpc-js")
  --no-floor           skip the floor reference (bench/floor-proxy.ts: node:http + grpc-js, nothing else)
  --no-scale-out       skip bench/scale-out.ts's runScaleOut section
  --no-write           print only, do not write bench/results/
  --pin auto|on|off    also run --pin-cases in the pinned layout: load client and backend on one CPU (taskset -c),
                       the gateway alone on another, beside the shared-core figures (default auto: when taskset
                       exists and 2 CPUs are allowed, else skipped with the reason; on: fail instead of skipping)
  --pin-cases a,b      the cases run pinned too (default h2web64,grpc64; unary64 may be added)
Tools: apt-get install wrk nghttp2-client (wrk drives gRPC-Web load, h2load is a second direct baseline).
`);
  process.exit(0);
}

const QUICK = opt.quick;
const ROUNDS = Number(opt.rounds ?? (QUICK ? 1 : 3));
const DURATION_S = Number(opt.duration ?? (QUICK ? 2 : 4));
const STREAM_COUNT = 100_000;
const STREAM_SIZE = 100;
const STREAM_REPS = QUICK ? 1 : 3;
const MIB = 1024 * 1024;
/** The gateway under test: this checkout's build, or --gateway's. */
const GATEWAY_CLI = opt.gateway ? resolve(opt.gateway) : join(ROOT, 'dist', 'cli.js');
const HAVE_WRK = hasCommand('wrk');
const HAVE_H2LOAD = hasCommand('h2load');
const LOADGEN = (opt.loadgen ?? (HAVE_WRK ? 'wrk' : 'autocannon')) as 'wrk' | 'autocannon';
if (LOADGEN === 'wrk' && !HAVE_WRK) throw new Error('--loadgen wrk: wrk is not installed (apt-get install wrk)');
const ALL_CASES = ['unary64', 'text64', 'unary1', 'mib1', 'stream', 'h2web64', 'grpc64'] as const;
const H2_CASES: readonly CaseId[] = ['h2web64', 'grpc64'];
type CaseId = (typeof ALL_CASES)[number];
const ONLY = opt.only ? (opt.only.split(',') as CaseId[]) : [...ALL_CASES];
for (const c of ONLY) if (!ALL_CASES.includes(c)) throw new Error(`unknown case ${c}`);
// Always in this order, whatever --only's: unary64 is each round's first load, so its round-1
// peak RSS (a target) is not the heap an HTTP/2 or 1 MiB case grew just before.
const CASES: CaseId[] = ALL_CASES.filter((c) => ONLY.includes(c));
const PINNABLE: readonly CaseId[] = ['h2web64', 'grpc64', 'unary64'];
const PIN_MODE = opt.pin as PinMode;
if (!['auto', 'on', 'off'].includes(PIN_MODE)) throw new Error(`--pin ${PIN_MODE}: auto, on or off`);
const PIN_CASES = opt['pin-cases'].split(',').filter(Boolean) as CaseId[];
for (const c of PIN_CASES) if (!PINNABLE.includes(c)) throw new Error(`--pin-cases: ${c} cannot run pinned (${PINNABLE.join(', ')} can)`);
const PIN = planPinning(PIN_MODE, hasCommand('taskset'), allowedCpus(process.pid));
/** The pinned layout of this run, when it has a case to run pinned. */
const PIN_LAYOUT = CASES.some((c) => PIN_CASES.includes(c)) ? PIN.layout : null;

const notes: string[] = [];
if (!HAVE_WRK) notes.push('wrk not installed: gRPC-Web load from autocannon (JavaScript; lower absolute figures). Install: apt-get install wrk nghttp2-client');
else if (LOADGEN === 'autocannon') notes.push('gRPC-Web load from autocannon (--loadgen autocannon)');
if (!HAVE_H2LOAD) notes.push('h2load not installed: no C direct baseline. Install: apt-get install nghttp2-client');

// ---- request bodies -----------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'gwg-bench-'));
function frame(message: Buffer): Buffer {
  const f = Buffer.alloc(5 + message.length);
  f.writeUInt32BE(message.length, 1);
  message.copy(f, 5);
  return f;
}
const BODY_100 = frame(Buffer.alloc(100, 0x62));
const BODY_MIB = frame(Buffer.alloc(MIB, 0x63));
const bodyFiles = {
  b100: join(work, 'unary-100.bin'),
  t100: join(work, 'unary-100.txt'),
  bMib: join(work, 'unary-1mib.bin'),
};
writeFileSync(bodyFiles.b100, BODY_100);
writeFileSync(bodyFiles.t100, BODY_100.toString('base64'));
writeFileSync(bodyFiles.bMib, BODY_MIB);
const CT_BINARY = 'application/grpc-web+proto';
const CT_TEXT = 'application/grpc-web-text+proto';

// ---- processes --------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ensureDist(): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  const cli = join(ROOT, 'dist', 'cli.js');
  if (existsSync(cli) && statSync(cli).mtimeMs >= newest(join(ROOT, 'src'))) return;
  process.stdout.write('dist is stale: node scripts/bundle.mjs\n');
  const r = spawnSyncOrThrow(NODE, ['scripts/bundle.mjs']);
  if (r !== 0) throw new Error('build failed');
}

function spawnSyncOrThrow(cmd: string, args: string[]): number {
  return spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' }).status ?? 1;
}

const isReadyJson = (line: string): boolean => line.includes('"ready":true');

async function startBackend(name = 'backend', at?: Placement): Promise<{ svc: Service; port: number }> {
  const svc = await Service.start(name, ...pinnedCommand(at, NODE, [...TSX, join(BENCH, 'backend.ts'), '--port', '0']), {
    ready: isReadyJson,
    cwd: ROOT,
  });
  return { svc, port: (JSON.parse(svc.readyLine()!) as { port: number }).port };
}

interface Proxy {
  id: string;
  svc: Service;
  url: string;
}

async function startGateway(
  id: string,
  backendPort: number,
  accessLog: boolean,
  cli = GATEWAY_CLI,
  extraArgs: string[] = [],
  at?: Placement,
): Promise<Proxy> {
  const port = await freePort();
  const admin = await freePort();
  const nodeArgs: string[] = [];
  if (opt['cpu-prof'] && id === 'gateway') nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opt['cpu-prof']);
  if (id !== BEFORE) nodeArgs.push(...opt['gateway-node-args'].split(' ').filter(Boolean));
  const args = [
    ...nodeArgs,
    cli,
    '--listen', `127.0.0.1:${port}`,
    '--admin', `127.0.0.1:${admin}`,
    '--upstream', `127.0.0.1:${backendPort}`,
    '--access-log', String(accessLog),
    '--log-level', accessLog ? 'info' : 'warn',
    '--shutdown-delay', '0',
    '--drain-timeout', '1s',
    ...extraArgs,
    ...(id === BEFORE && opt['compare-args'] !== undefined ? opt['compare-args'] : opt['gateway-args']).split(' ').filter(Boolean),
  ];
  const svc = await Service.start(id, ...pinnedCommand(at, NODE, args), { quietStdout: true, cwd: ROOT });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`http://127.0.0.1:${admin}/readyz`, svc);
  return { id, svc, url };
}

async function startPeer(backendPort: number): Promise<Proxy> {
  const port = await freePort();
  const svc = await Service.start(
    'peer',
    NODE,
    [join(BENCH, 'peer.cjs'), '--target', `http://127.0.0.1:${backendPort}`, '--port', String(port)],
    { ready: isReadyJson, cwd: ROOT },
  );
  return { id: 'peer', svc, url: `http://127.0.0.1:${port}` };
}

async function startFloor(backendPort: number): Promise<Proxy> {
  const svc = await Service.start(
    FLOOR,
    NODE,
    [...TSX, join(BENCH, 'floor-proxy.ts'), '--target', `127.0.0.1:${backendPort}`, '--port', '0'],
    { ready: isReadyJson, cwd: ROOT },
  );
  const port = (JSON.parse(svc.readyLine()!) as { port: number }).port;
  return { id: FLOOR, svc, url: `http://127.0.0.1:${port}` };
}

/** bench/relay.ts in front of `backendPort`, checked with one native call: a reference, not a build under test. */
async function startRelay(name: string, backendPort: number, at?: Placement): Promise<Proxy> {
  const args = [...TSX, join(BENCH, 'relay.ts'), '--target', `127.0.0.1:${backendPort}`, '--port', '0'];
  const svc = await Service.start(name, ...pinnedCommand(at, NODE, args), { ready: isReadyJson, cwd: ROOT });
  const url = `http://127.0.0.1:${(JSON.parse(svc.readyLine()!) as { port: number }).port}`;
  const why = await probeH2(url, CT_GRPC, BODY_100);
  if (why !== null) throw new Error(`${name}: bad answer: ${why}`);
  return { id: name, svc, url };
}

async function waitHttp(url: string, svc: Service): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    if (svc.child.exitCode !== null) throw new Error(`${svc.name} exited: ${svc.stderr.trim().slice(-2000)}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${svc.name}: ${url} not ready: ${svc.stderr.trim().slice(-2000)}`);
    await sleep(100);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One call through a proxy with fetch: the echoed message and an OK trailer, or throw. */
async function validate(p: Proxy, text: boolean): Promise<void> {
  const body = text ? BODY_100.toString('base64') : new Uint8Array(BODY_100);
  const r = await fetch(p.url + UNARY_METHOD, {
    method: 'POST',
    headers: { 'content-type': text ? CT_TEXT : CT_BINARY, 'x-grpc-web': '1' },
    body,
  });
  let bytes = Buffer.from(await r.arrayBuffer());
  if (text) bytes = Buffer.from(bytes.toString('latin1'), 'base64');
  const msgLen = bytes.length >= 5 ? bytes.readUInt32BE(1) : -1;
  const message = bytes.subarray(5, 5 + msgLen);
  const trailer = bytes.subarray(10 + msgLen).toString('latin1');
  if (r.status !== 200 || !message.equals(BODY_100.subarray(5)) || !/grpc-status:\s*0/.test(trailer)) {
    throw new Error(`${p.id} (${text ? 'text' : 'binary'}): bad answer: HTTP ${r.status} ${JSON.stringify(trailer)}`);
  }
}

// ---- load generators -----------------------------------------------------------------------

interface LoadResult extends H2LoadResult {
  /** the direct grpc-js client's own CPU seconds */
  clientCpuS?: number;
}

async function httpLoad(
  url: string,
  bodyFile: string,
  contentType: string,
  connections: number,
  durationS: number,
  maxCalls?: number,
  at?: Placement,
): Promise<LoadResult> {
  const timeout = (durationS + 60) * 1000;
  let r;
  if (maxCalls !== undefined && HAVE_H2LOAD && LOADGEN === 'wrk') {
    // Count-bounded (soak): wrk's threads can stop after N answers but wrk itself still waits
    // out -d, so h2load over HTTP/1.1 does these (it exits after exactly -n calls).
    return h1CountLoad(url, bodyFile, contentType, connections, maxCalls, timeout);
  }
  if (LOADGEN === 'wrk') {
    const env: NodeJS.ProcessEnv = { ...process.env, BENCH_BODY_FILE: bodyFile, BENCH_CONTENT_TYPE: contentType };
    if (maxCalls !== undefined) env['BENCH_MAX_CALLS'] = String(maxCalls);
    const wrkArgs = ['-t1', `-c${connections}`, `-d${durationS}s`, '--timeout', '10s', '-s', join(BENCH, 'wrk-unary.lua'), url];
    const res = await runTool(...pinnedCommand(at, 'wrk', wrkArgs), timeout, env, at?.onSpawn);
    r = benchJson<Omit<LoadResult, 'callsPerS'>>('wrk', res);
  } else {
    const args = [...TSX, join(BENCH, 'autocannon-client.ts'), '--url', url, '--body-file', bodyFile];
    args.push('--content-type', contentType, '--connections', String(connections), '--duration-s', String(durationS));
    if (maxCalls !== undefined) args.push('--max-calls', String(maxCalls));
    r = benchJson<Omit<LoadResult, 'callsPerS'>>('autocannon', await runTool(...pinnedCommand(at, NODE, args), timeout, undefined, at?.onSpawn));
  }
  return { ...r, callsPerS: r.calls / r.durationS };
}

async function h1CountLoad(
  url: string,
  bodyFile: string,
  contentType: string,
  connections: number,
  calls: number,
  timeoutMs: number,
): Promise<LoadResult> {
  const args = ['--h1', `-n${calls}`, `-c${connections}`, '-t1', '-d', bodyFile];
  args.push('-H', `content-type: ${contentType}`, '-H', 'x-grpc-web: 1', url);
  const res = await runTool('h2load', args, timeoutMs);
  const done = /(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(res.stdout);
  const finished = /finished in ([\d.]+)(m?s)/.exec(res.stdout);
  if (!done || !finished) throw new Error(`h2load --h1: ${res.stdout}${res.stderr}`.slice(-1500));
  const durationS = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
  const ok = Number(done[1]);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(res.stdout)?.[1];
  const meanMs = mean ? (mean.endsWith('us') ? parseFloat(mean) / 1000 : mean.endsWith('ms') ? parseFloat(mean) : parseFloat(mean) * 1000) : NaN;
  return {
    calls: ok,
    durationS,
    callsPerS: ok / durationS,
    p50Ms: meanMs, // h2load prints no percentiles without a log; the mean stands in (soak only)
    p99Ms: NaN,
    errors: Number(done[2]) + Number(done[3]) + Number(done[4]),
  };
}

/** The grpc-js client (bench/grpc-client.ts) calling `port` on loopback: the backend, or the gateway's native gRPC. */
async function grpcLoad(
  port: number,
  size: number,
  concurrency: number,
  durationS: number,
  tlsCa?: string,
  at?: Placement,
): Promise<LoadResult> {
  const args = [...TSX, join(BENCH, 'grpc-client.ts'), '--target', `127.0.0.1:${port}`];
  args.push('--size', String(size), '--concurrency', String(concurrency), '--duration-ms', String(durationS * 1000));
  if (tlsCa) args.push('--tls-ca', tlsCa);
  return benchJson<LoadResult>('grpc-client', await runTool(...pinnedCommand(at, NODE, args), (durationS + 60) * 1000, undefined, at?.onSpawn));
}

/** h2load against the backend itself: native gRPC, the C reference for the direct path. */
function h2Load(backendPort: number, concurrency: number, durationS: number): Promise<LoadResult> {
  return h2load(`http://127.0.0.1:${backendPort}${UNARY_METHOD}`, bodyFiles.b100, CT_GRPC, concurrency, durationS, join(work, 'h2load.log'));
}

interface StreamResult {
  streams: number;
  messages: number;
  errors: number;
  durationS: number;
  msgsPerS: number;
  firstMsgMs: number;
}

async function streamLoad(target: { grpcPort: number } | { url: string }): Promise<StreamResult> {
  const common = ['--count', String(STREAM_COUNT), '--size', String(STREAM_SIZE), '--reps', String(STREAM_REPS)];
  const args =
    'url' in target
      ? [...TSX, join(BENCH, 'web-stream-client.ts'), '--url', target.url, ...common]
      : [...TSX, join(BENCH, 'grpc-client.ts'), '--stream', '--target', `127.0.0.1:${target.grpcPort}`, ...common];
  return benchJson<StreamResult>('stream client', await runTool(NODE, args, 120_000));
}

// ---- measuring --------------------------------------------------------------------------------

interface Sample {
  round: number;
  case: CaseId;
  path: string;
  calls: number;
  callsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU seconds of the proxy under test during the load (/proc utime+stime). */
  proxyCpuS?: number;
  /** proxy CPU seconds per 10k calls (streams: per 100k messages) */
  cpuPer10k?: number;
  /** VmHWM of the proxy over this load (reset before), MiB */
  peakRssMiB?: number;
  backendCpuS: number;
  /** The grpc-js load client's own CPU seconds per 10k calls (it shares the machine's cores). */
  clientCpuPer10k?: number;
  msgsPerS?: number;
  firstMsgMs?: number;
  /**
   * Pinned steps: fraction of the step's wall time each pinned CPU was busy (whoever ran on it),
   * and the backend's and the gateway's own CPU over the same time.
   */
  pinnedCpus?: { loadBusy: number; gatewayBusy: number; backend: number; gateway: number };
}

/** Thrown by a pinned step whose processes were not where the layout puts them: no figure. */
class PinningFailed extends Error {}

async function measure(round: number, caseId: CaseId, step: Step, sharedBackend: Service): Promise<Sample> {
  const { path, proxy, pin } = step;
  const backend = step.backend ?? sharedBackend;
  // Start each step on a quiet machine (what the last one left running is not this one's).
  await settle();
  let watch: PinWatch | undefined;
  if (pin) {
    watch = new PinWatch();
    watch.now(backend.name, backend.pid, pin.loadCpu);
    if (proxy) watch.now(proxy.id, proxy.svc.pid, pin.gatewayCpu);
  }
  const pid = proxy?.svc.pid;
  let sampledPeak = 0;
  let resetOk = false;
  let sampler: NodeJS.Timeout | undefined;
  if (pid !== undefined) {
    resetOk = resetPeak(pid);
    sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, rssMiB(pid))), 200);
  }
  const cpu0 = pid !== undefined ? cpuSeconds(pid) : 0;
  const b0 = cpuSeconds(backend.pid);
  const t0 = performance.now();
  const ticks0 = pin ? [machineTicks(pin.loadCpu), machineTicks(pin.gatewayCpu)] : [];
  const r = await step.run(watch);
  const ticks1 = pin ? [machineTicks(pin.loadCpu), machineTicks(pin.gatewayCpu)] : [];
  const wallS = (performance.now() - t0) / 1000;
  const b1 = cpuSeconds(backend.pid);
  const misplaced = await watch?.result();
  if (misplaced) {
    clearInterval(sampler);
    throw new PinningFailed(misplaced);
  }
  const sample: Sample = {
    round,
    case: caseId,
    path,
    calls: 'messages' in r ? r.streams : r.calls,
    callsPerS: 'callsPerS' in r ? r.callsPerS : NaN,
    p50Ms: 'p50Ms' in r ? r.p50Ms : NaN,
    p99Ms: 'p99Ms' in r ? r.p99Ms : NaN,
    errors: r.errors,
    backendCpuS: b1 - b0,
  };
  if ('messages' in r) {
    sample.msgsPerS = r.msgsPerS;
    sample.firstMsgMs = r.firstMsgMs;
  }
  if ('clientCpuS' in r && r.clientCpuS !== undefined && r.calls > 0) {
    // The direct grpc-js client: its own CPU per call, for comparison with the gateway's.
    sample.proxyCpuS = r.clientCpuS;
    sample.cpuPer10k = sample.clientCpuPer10k = r.clientCpuS / (r.calls / 10_000);
  }
  if (pid !== undefined) {
    clearInterval(sampler);
    sample.proxyCpuS = cpuSeconds(pid) - cpu0;
    const per = 'messages' in r ? r.messages / 100_000 : r.calls / 10_000;
    sample.cpuPer10k = per > 0 ? sample.proxyCpuS / per : NaN;
    sample.peakRssMiB = resetOk ? peakRssMiB(pid) : Math.max(sampledPeak, rssMiB(pid));
  }
  if (pin) {
    // How busy each pinned CPU was, and how much of that the pinned processes were: the rest is
    // work from outside the bench, which pinning cannot keep off either CPU.
    const busy = ticks0.map((a, i) => (ticks1[i]!.busy - a.busy) / Math.max(1, ticks1[i]!.total - a.total));
    sample.pinnedCpus = { loadBusy: busy[0]!, gatewayBusy: busy[1]!, backend: sample.backendCpuS / wallS, gateway: (sample.proxyCpuS ?? NaN) / wallS };
    if (!proxy) sample.pinnedCpus.gateway = 0;
  }
  const extra =
    sample.msgsPerS !== undefined
      ? `${fmt(sample.msgsPerS, 0)} msg/s, first ${fmt(sample.firstMsgMs!, 2)} ms`
      : `${fmt(sample.callsPerS, 0)} calls/s, p50 ${fmt(sample.p50Ms, 2)} ms, p99 ${fmt(sample.p99Ms, 2)} ms`;
  let cpu = sample.cpuPer10k !== undefined ? `, CPU ${fmt(sample.cpuPer10k, 2)} s/10k, peak ${fmt(sample.peakRssMiB!, 0)} MiB` : '';
  // Every process of the call shares the same cores: what each spent per 10k calls.
  if (sample.clientCpuPer10k !== undefined && sample.calls > 0) {
    cpu += ` (client ${fmt(sample.clientCpuPer10k, 2)}, backend ${fmt(sample.backendCpuS / (sample.calls / 10_000), 2)} s/10k)`;
  }
  const pc = sample.pinnedCpus;
  if (pc && pin) {
    cpu += `; CPU ${pin.loadCpu} busy ${pct(pc.loadBusy)} (backend ${pct(pc.backend)}), CPU ${pin.gatewayCpu} busy ${pct(pc.gatewayBusy)} (${proxy?.id.replace(OWN_CORE, '') ?? 'gateway'} ${pct(pc.gateway)}, other ${pct(Math.max(0, pc.gatewayBusy - pc.gateway))})`;
  }
  process.stdout.write(`  r${round} ${caseId.padEnd(8)} ${path.padEnd(16)} ${extra}${cpu}${sample.errors ? `, ${sample.errors} ERRORS` : ''}\n`);
  return sample;
}

const pct = (f: number): string => `${fmt(f * 100, 0)}%`;

/** A difference in ms with its sign: "+0.150 ms", "−0.057 ms". */
function signedMs(v: number, digits: number): string {
  return `${v < 0 ? '−' : '+'}${fmt(Math.abs(v), digits)} ms`;
}

function fmt(n: number, digits: number): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// ---- the run ------------------------------------------------------------------------------------

interface Procs {
  backend: Service;
  backendPort: number;
  gateway: Proxy;
  gatewayLog: Proxy | null;
  /** The gateway with --workers 2 (a primary and two workers; CPU and RSS summed over them). */
  workers: Proxy | null;
  peer: Proxy | null;
  before: Proxy | null;
  floor: Proxy | null;
  /** The HTTP/2 paths of the gateway under test (bench/h2-paths.ts); null when no case needs them. */
  h2: H2Paths | null;
  /** bench/relay.ts on shared cores, when grpc64 runs. */
  relay: Proxy | null;
  /** The pinned layout's own processes (bench/pinning.ts); null when it does not run. */
  pinned: PinnedProcs | null;
}

/** A backend on the load client's CPU and the gateway (and its TLS twin) alone on another. */
interface PinnedProcs {
  layout: PinLayout;
  backend: Service;
  backendPort: number;
  gateway: Proxy;
  tls: Proxy | null;
  /** bench/relay.ts on the gateway's CPU, when grpc64 runs pinned. */
  relay: Proxy | null;
}

/** What the gateway answers over HTTP/2; each `...Skip` is why a path is skipped, null when it runs. */
interface H2Paths {
  /** The gateway with --tls-cert (ALPN h2), when it speaks TLS. */
  tls: Proxy | null;
  ca: string | null;
  /** the flags that made `tls` (the pinned layout starts its own TLS twin with them) */
  tlsArgs: string[];
  webH2cSkip: string | null;
  webTlsSkip: string | null;
  nativeSkip: string | null;
  nativeTlsSkip: string | null;
}

const BEFORE = 'gateway (before)';
/** The gateway under test again, with --tls-cert (the TLS rows of the HTTP/2 cases). */
const GATEWAY_TLS = 'gateway TLS';
const WORKERS = 'gateway --workers 2';
/** bench/floor-proxy.ts: node:http + grpc-js createCall and nothing else (a reference, not a product). */
const FLOOR = 'floor (node:http)';

type Step = {
  path: string;
  proxy: Proxy | null;
  /** instead of the shared backend (the pinned layout's own) */
  backend?: Service;
  /** the pinned layout: every process checked to run where it says, or the step fails */
  pin?: PinLayout;
  /** `watch` (pinned steps only) places the load tool and checks it while it runs */
  run: (watch?: PinWatch) => Promise<LoadResult | StreamResult>;
};

function stepsOf(c: CaseId, p: Procs): Step[] {
  const d = DURATION_S;
  const bp = p.backendPort;
  const steps: Step[] = [];
  const web = (path: string, proxy: Proxy | null, file: string, ct: string, conns: number): void => {
    if (proxy) steps.push({ path, proxy, run: () => httpLoad(proxy.url + UNARY_METHOD, file, ct, conns, d) });
  };
  switch (c) {
    case 'unary64':
      steps.push({ path: 'direct grpc-js', proxy: null, run: () => grpcLoad(bp, 100, 64, d) });
      if (HAVE_H2LOAD) steps.push({ path: 'direct h2load', proxy: null, run: () => h2Load(bp, 64, d) });
      web('gateway', p.gateway, bodyFiles.b100, CT_BINARY, 64);
      web(BEFORE, p.before, bodyFiles.b100, CT_BINARY, 64);
      web('gateway+log', p.gatewayLog, bodyFiles.b100, CT_BINARY, 64);
      web(WORKERS, p.workers, bodyFiles.b100, CT_BINARY, 64);
      web(FLOOR, p.floor, bodyFiles.b100, CT_BINARY, 64);
      web('peer', p.peer, bodyFiles.b100, CT_BINARY, 64);
      break;
    case 'text64':
      steps.push({ path: 'direct grpc-js', proxy: null, run: () => grpcLoad(bp, 100, 64, d) });
      web('gateway', p.gateway, bodyFiles.t100, CT_TEXT, 64);
      web(BEFORE, p.before, bodyFiles.t100, CT_TEXT, 64);
      web(WORKERS, p.workers, bodyFiles.t100, CT_TEXT, 64);
      web('peer', p.peer, bodyFiles.t100, CT_TEXT, 64);
      break;
    case 'unary1':
      steps.push({ path: 'direct grpc-js', proxy: null, run: () => grpcLoad(bp, 100, 1, d) });
      web('gateway', p.gateway, bodyFiles.b100, CT_BINARY, 1);
      web(BEFORE, p.before, bodyFiles.b100, CT_BINARY, 1);
      web(FLOOR, p.floor, bodyFiles.b100, CT_BINARY, 1);
      web('peer', p.peer, bodyFiles.b100, CT_BINARY, 1);
      break;
    case 'mib1':
      steps.push({ path: 'direct grpc-js', proxy: null, run: () => grpcLoad(bp, MIB, 1, d) });
      web('gateway', p.gateway, bodyFiles.bMib, CT_BINARY, 1);
      web(BEFORE, p.before, bodyFiles.bMib, CT_BINARY, 1);
      web('peer', p.peer, bodyFiles.bMib, CT_BINARY, 1);
      break;
    case 'stream':
      steps.push({ path: 'direct grpc-js', proxy: null, run: () => streamLoad({ grpcPort: bp }) });
      steps.push({ path: 'gateway', proxy: p.gateway, run: () => streamLoad({ url: p.gateway.url }) });
      if (p.before) {
        const before = p.before;
        steps.push({ path: BEFORE, proxy: before, run: () => streamLoad({ url: before.url }) });
      }
      if (p.peer) {
        const peer = p.peer;
        steps.push({ path: 'peer', proxy: peer, run: () => streamLoad({ url: peer.url }) });
      }
      break;
    case 'h2web64':
    case 'grpc64':
      if (p.h2) h2Steps(c, p, p.h2, steps);
      break;
  }
  if (p.pinned && PIN_CASES.includes(c)) pinnedSteps(c, p.pinned, p.h2, steps);
  return steps;
}

/**
 * The case again in the pinned layout: the grpc-js client against the pinned backend, and the
 * case's gateway paths through the gateway on its own CPU, every load tool on the backend's CPU.
 */
function pinnedSteps(c: CaseId, pin: PinnedProcs, h2: H2Paths | null, steps: Step[]): void {
  const d = DURATION_S;
  const cpu = pin.layout.loadCpu;
  const gw = pin.gateway;
  const gateway: Step[] = [];
  const add = (path: string, proxy: Proxy, run: (w: PinWatch) => Promise<LoadResult>): void => {
    gateway.push({ path: path + OWN_CORE, proxy, backend: pin.backend, pin: pin.layout, run: (w) => run(w!) });
  };
  if (c === 'unary64') {
    add('gateway', gw, (w) => httpLoad(gw.url + UNARY_METHOD, bodyFiles.b100, CT_BINARY, 64, d, undefined, w.tool(LOADGEN, cpu)));
  }
  if (c === 'h2web64' && HAVE_H2LOAD && h2?.webH2cSkip === null) {
    const log = join(work, 'h2load.log');
    add('gateway h2c h2load', gw, (w) => h2load(gw.url + UNARY_METHOD, bodyFiles.b100, CT_BINARY, 64, d, log, w.tool('h2load', cpu)));
  }
  if (c === 'grpc64' && h2?.nativeSkip === null) {
    add('gateway grpc-js', gw, (w) => grpcLoad(portOf(gw.url), 100, 64, d, undefined, w.tool('grpc-client', cpu)));
  }
  const tls = pin.tls;
  const ca = h2?.ca;
  if (c === 'grpc64' && tls && ca && h2?.nativeTlsSkip === null) {
    add('gateway TLS grpc-js', tls, (w) => grpcLoad(portOf(tls.url), 100, 64, d, ca, w.tool('grpc-client', cpu)));
  }
  if (gateway.length === 0) return; // nothing to compare the pinned direct client with
  const relay = pin.relay;
  if (c === 'grpc64' && relay) add(RELAY, relay, (w) => grpcLoad(portOf(relay.url), 100, 64, d, undefined, w.tool('grpc-client', cpu)));
  const direct = (w?: PinWatch): Promise<LoadResult> => grpcLoad(pin.backendPort, 100, 64, d, undefined, w!.tool('grpc-client', cpu));
  steps.push({ path: PINNED_DIRECT, proxy: null, backend: pin.backend, pin: pin.layout, run: direct }, ...gateway);
}

const portOf = (url: string): number => Number(new URL(url).port);

/**
 * The HTTP/2 cases: each against the backend directly and against the gateway, cleartext (h2c)
 * and TLS; a path the gateway does not answer is left out (startH2 printed why).
 */
function h2Steps(c: CaseId, p: Procs, h2: H2Paths, steps: Step[]): void {
  const d = DURATION_S;
  const bp = p.backendPort;
  const log = join(work, 'h2load.log');
  const gw = p.gateway;
  const tls = h2.tls;
  const skipped = c === 'h2web64' ? h2.webH2cSkip !== null && h2.webTlsSkip !== null : h2.nativeSkip !== null && h2.nativeTlsSkip !== null;
  if (skipped) return; // no gateway path to compare the direct ones with
  steps.push({ path: 'direct grpc-js', proxy: null, run: () => grpcLoad(bp, 100, 64, d) });
  if (HAVE_H2LOAD) steps.push({ path: 'direct h2load', proxy: null, run: () => h2Load(bp, 64, d) });
  const relay = p.relay;
  if (c === 'grpc64' && relay) steps.push({ path: RELAY, proxy: relay, run: () => grpcLoad(portOf(relay.url), 100, 64, d) });
  // --compare: the build before, cleartext only (its TLS twin is not started).
  const before = p.before;
  if (c === 'h2web64' && HAVE_H2LOAD) {
    const web = (url: string): Promise<LoadResult> => h2load(url + UNARY_METHOD, bodyFiles.b100, CT_BINARY, 64, d, log);
    if (h2.webH2cSkip === null) steps.push({ path: 'gateway h2c h2load', proxy: gw, run: () => web(gw.url) });
    if (before && h2.webH2cSkip === null) steps.push({ path: `${BEFORE} h2c h2load`, proxy: before, run: () => web(before.url) });
    if (tls && h2.webTlsSkip === null) steps.push({ path: 'gateway TLS h2load', proxy: tls, run: () => web(tls.url.replace('http:', 'https:')) });
  }
  if (c === 'grpc64' && h2.nativeSkip === null) {
    steps.push({ path: 'gateway grpc-js', proxy: gw, run: () => grpcLoad(portOf(gw.url), 100, 64, d) });
    if (HAVE_H2LOAD) steps.push({ path: 'gateway h2load', proxy: gw, run: () => h2load(gw.url + UNARY_METHOD, bodyFiles.b100, CT_GRPC, 64, d, log) });
    if (before) {
      steps.push({ path: `${BEFORE} grpc-js`, proxy: before, run: () => grpcLoad(portOf(before.url), 100, 64, d) });
      if (HAVE_H2LOAD) steps.push({ path: `${BEFORE} h2load`, proxy: before, run: () => h2load(before.url + UNARY_METHOD, bodyFiles.b100, CT_GRPC, 64, d, log) });
    }
  }
  if (c === 'grpc64' && tls && h2.ca && h2.nativeTlsSkip === null) {
    const ca = h2.ca;
    steps.push({ path: 'gateway TLS grpc-js', proxy: tls, run: () => grpcLoad(portOf(tls.url), 100, 64, d, ca) });
    if (HAVE_H2LOAD) steps.push({ path: 'gateway TLS h2load', proxy: tls, run: () => h2load(tls.url.replace('http:', 'https:') + UNARY_METHOD, bodyFiles.b100, CT_GRPC, 64, d, log) });
  }
}

/**
 * Probes the gateway's HTTP/2 paths and starts its TLS twin. Every path it does not answer is
 * printed as skipped, with the reason, and gets no row: never a figure for a path not measured.
 */
async function startH2(backendPort: number, gateway: Proxy): Promise<H2Paths> {
  const frame = BODY_100;
  const say = (what: string, why: string | null): string | null => {
    if (why !== null) process.stdout.write(`${what}: skipped: ${why}\n`);
    return why;
  };
  const h2c = await probeH2(gateway.url, CT_BINARY, frame);
  const paths: H2Paths = { tls: null, ca: null, tlsArgs: [], webH2cSkip: null, webTlsSkip: null, nativeSkip: null, nativeTlsSkip: null };
  if (h2c !== null) {
    const why = `the gateway does not speak h2c (${h2c})`;
    for (const k of ['webH2cSkip', 'webTlsSkip', 'nativeSkip', 'nativeTlsSkip'] as const) paths[k] = why;
    say('gRPC-Web over h2c, native gRPC, TLS', why);
    return paths;
  }
  paths.nativeSkip = say('native gRPC over h2c', await probeH2(gateway.url, CT_GRPC, frame));
  const cert = makeBenchCert(work);
  if (cert === null) {
    paths.webTlsSkip = paths.nativeTlsSkip = say('TLS', 'openssl could not make a certificate');
    return paths;
  }
  try {
    paths.tlsArgs = ['--tls-cert', cert.cert, '--tls-key', cert.key];
    paths.tls = await startGateway(GATEWAY_TLS, backendPort, false, GATEWAY_CLI, paths.tlsArgs);
    paths.ca = cert.cert;
  } catch (error) {
    const why = `the gateway does not speak TLS with --tls-cert (${(error as Error).message.split('\n')[0]!.slice(0, 200)})`;
    paths.webTlsSkip = paths.nativeTlsSkip = say('TLS', why);
    return paths;
  }
  const https = paths.tls.url.replace('http:', 'https:');
  paths.webTlsSkip = say('gRPC-Web over TLS (h2)', await probeH2(https, CT_BINARY, frame, cert.cert));
  paths.nativeTlsSkip = say('native gRPC over TLS', await probeH2(https, CT_GRPC, frame, cert.cert));
  return paths;
}

const CASE_TITLES: Record<CaseId, string> = {
  unary64: 'unary 100 B, 64 in flight',
  text64: 'unary 100 B text (base64), 64 in flight',
  unary1: 'unary 100 B, 1 in flight',
  mib1: 'unary 1 MiB each way, 1 in flight',
  stream: `server stream, ${STREAM_COUNT.toLocaleString('en-US')} × ${STREAM_SIZE} B`,
  h2web64: 'gRPC-Web over HTTP/2 (h2c, TLS), unary 100 B, 64 in flight on 1 connection',
  grpc64: 'native gRPC passthrough, unary 100 B, 64 in flight on 1 connection',
};

async function startAll(withPeer: boolean, withLog: boolean): Promise<Procs> {
  if (!opt.gateway) ensureDist();
  else if (!existsSync(GATEWAY_CLI)) throw new Error(`--gateway ${opt.gateway}: no such file`);
  const { svc: backend, port: backendPort } = await startBackend();
  const gateway = await startGateway('gateway', backendPort, false);
  const gatewayLog = withLog ? await startGateway('gateway+log', backendPort, true) : null;
  const workers =
    withPeer && (CASES.includes('unary64') || CASES.includes('text64'))
      ? await startGateway(WORKERS, backendPort, false, undefined, ['--workers', '2'])
      : null;
  const peer = withPeer ? await startPeer(backendPort) : null;
  const before = opt.compare ? await startGateway(BEFORE, backendPort, false, opt.compare) : null;
  const floor = withPeer && !opt['no-floor'] ? await startFloor(backendPort) : null;
  for (const p of [gateway, gatewayLog, workers, peer, before]) {
    if (!p) continue;
    await validate(p, false);
    await validate(p, true);
  }
  if (floor) await validate(floor, false);
  const h2 = withPeer && CASES.some((c) => H2_CASES.includes(c)) ? await startH2(backendPort, gateway) : null;
  const relay = withPeer && CASES.includes('grpc64') ? await startRelay('relay', backendPort) : null;
  const pinned = withPeer && PIN_LAYOUT ? await startPinned(PIN_LAYOUT, h2) : null;
  return { backend, backendPort, gateway, gatewayLog, workers, peer, before, floor, h2, relay, pinned };
}

/** The pinned layout's processes, each started under taskset (so every thread it makes inherits the CPU). */
async function startPinned(layout: PinLayout, h2: H2Paths | null): Promise<PinnedProcs> {
  process.stdout.write(`pinned layout: load client and backend on CPU ${layout.loadCpu}, gateway on CPU ${layout.gatewayCpu}; cases: ${CASES.filter((c) => PIN_CASES.includes(c)).join(', ')}\n`);
  const { svc: backend, port: backendPort } = await startBackend('backend (pinned)', { cpu: layout.loadCpu });
  const onGatewayCpu = { cpu: layout.gatewayCpu };
  const gateway = await startGateway('gateway' + OWN_CORE, backendPort, false, GATEWAY_CLI, [], onGatewayCpu);
  await validate(gateway, false);
  const tls = h2?.tls ? await startGateway(GATEWAY_TLS + OWN_CORE, backendPort, false, GATEWAY_CLI, h2.tlsArgs, onGatewayCpu) : null;
  const withRelay = CASES.includes('grpc64') && PIN_CASES.includes('grpc64');
  const relay = withRelay ? await startRelay('relay' + OWN_CORE, backendPort, onGatewayCpu) : null;
  return { layout, backend, backendPort, gateway, tls, relay };
}

async function stopAll(p: Procs): Promise<void> {
  await Promise.all([
    // Node writes the profile as the process exits: a large one on a busy machine takes longer
    // than the usual grace, and a SIGKILL then loses it.
    p.gateway.svc.stop(opt['cpu-prof'] ? 30_000 : undefined),
    p.gatewayLog?.svc.stop(),
    p.workers?.svc.stop(),
    p.peer?.svc.stop(),
    p.before?.svc.stop(),
    p.floor?.svc.stop(),
    p.h2?.tls?.svc.stop(),
    p.pinned?.gateway.svc.stop(),
    p.pinned?.tls?.svc.stop(),
    p.relay?.svc.stop(),
    p.pinned?.relay?.svc.stop(),
  ]);
  await Promise.all([p.backend.stop(), p.pinned?.backend.stop()]);
}

/** Median over rounds of one metric of one (case, path). */
function med(samples: Sample[], c: CaseId, path: string, f: (s: Sample) => number | undefined): number {
  return median(samples.filter((s) => s.case === c && s.path === path).map((s) => f(s) ?? NaN));
}

async function mainRun(): Promise<void> {
  const started = Date.now();
  process.stdout.write(
    `bench: ${ROUNDS} round(s) × ${DURATION_S} s per case and path; load: ${LOADGEN}${HAVE_H2LOAD ? ' + h2load' : ''}; cases: ${CASES.join(', ')}\n`,
  );
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  if (PIN.skip !== null && CASES.some((c) => PIN_CASES.includes(c))) process.stdout.write(`pinned layout: skipped: ${PIN.skip}\n`);
  const procs = await startAll(true, CASES.includes('unary64'));
  const samples: Sample[] = [];
  const pinFailures = new Map<string, string>();
  let idle: Record<string, number> = {};
  let idleAfter: Record<string, number> = {};
  try {
    // Idle: connected to the backend, validated, no load yet; 1 s after start, and once V8's
    // memory reducer has run (it shrinks the heap grown while loading modules after ~10 s idle).
    await sleep(1000);
    idle = { gateway: rssMiB(procs.gateway.svc.pid), peer: rssMiB(procs.peer!.svc.pid) };
    await sleep(QUICK ? 4000 : 11_000);
    idle['gatewaySettled'] = rssMiB(procs.gateway.svc.pid);
    idle['peerSettled'] = rssMiB(procs.peer!.svc.pid);
    process.stdout.write(
      `idle RSS: gateway ${fmt(idle['gateway']!, 1)} MiB (settled ${fmt(idle['gatewaySettled'], 1)}), peer ${fmt(idle['peer']!, 1)} MiB (settled ${fmt(idle['peerSettled'], 1)})\nwarm-up\n`,
    );
    // Warm-up (JIT): not recorded.
    for (const p of [procs.gateway, procs.gatewayLog, procs.workers, procs.peer, procs.before, procs.floor, procs.pinned?.gateway]) {
      if (!p) continue;
      await httpLoad(p.url + UNARY_METHOD, bodyFiles.b100, CT_BINARY, 64, 1);
      if (p !== procs.floor) await httpLoad(p.url + UNARY_METHOD, bodyFiles.t100, CT_TEXT, 16, 1);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of CASES) {
        const wanted = opt.paths?.split(',');
        const steps = stepsOf(c, procs).filter((s) => !wanted || wanted.includes(s.path));
        // Rotate the order each round so that no path always runs first (or right after the heaviest).
        const k = (round - 1) % steps.length;
        for (const step of [...steps.slice(k), ...steps.slice(0, k)]) {
          try {
            samples.push(await measure(round, c, step, procs.backend));
          } catch (error) {
            if (!(error instanceof PinningFailed)) throw error;
            // Loud, and no figure: a ratio from processes not where the label says would mislead.
            pinFailures.set(`${c}/${step.path}`, error.message);
            process.stdout.write(`  r${round} ${c.padEnd(8)} ${step.path.padEnd(16)} PINNING FAILED: ${error.message}\n`);
          }
        }
      }
    }
    await sleep(2000);
    idleAfter = { gateway: rssMiB(procs.gateway.svc.pid), peer: rssMiB(procs.peer!.svc.pid) };
  } finally {
    await stopAll(procs);
  }

  // ---- summary ----
  const paths = (c: CaseId): string[] => [...new Set(samples.filter((s) => s.case === c).map((s) => s.path))];
  const rows: Array<Record<string, unknown>> = [];
  for (const c of CASES) {
    for (const path of paths(c)) {
      rows.push({
        case: c,
        path,
        callsPerS: med(samples, c, path, (s) => s.callsPerS),
        vsDirect: perRound(samples, c, path, directPathFor(path), (s) => s.callsPerS),
        vsPeer: perRound(samples, c, path, 'peer', (s) => s.callsPerS),
        p50Ms: med(samples, c, path, (s) => s.p50Ms),
        p99Ms: med(samples, c, path, (s) => s.p99Ms),
        cpuPer10k: med(samples, c, path, (s) => s.cpuPer10k),
        cpuVsPeer: perRound(samples, c, path, 'peer', (s) => s.cpuPer10k),
        peakRssMiB: med(samples, c, path, (s) => s.peakRssMiB),
        msgsPerS: med(samples, c, path, (s) => s.msgsPerS),
        msgsVsDirect: perRound(samples, c, path, 'direct grpc-js', (s) => s.msgsPerS),
        firstMsgMs: med(samples, c, path, (s) => s.firstMsgMs),
        errors: samples.filter((s) => s.case === c && s.path === path).reduce((a, s) => a + s.errors, 0),
      });
    }
  }

  const has = (c: CaseId): boolean => CASES.includes(c);
  const checks: TargetCheck[] = [];
  const check = (target: string, value: number, met: (v: number) => boolean, show: (v: number) => string): void => {
    checks.push({ target, value: show(value), met: Number.isFinite(value) ? met(value) : null });
  };
  const x = (v: number): string => (Number.isFinite(v) ? `${fmt(v, 2)}×` : 'skipped');
  if (has('unary64')) {
    check('64 in flight: calls/s ≥ 2.5× @grpc-web/proxy', perRound(samples, 'unary64', 'gateway', 'peer', (s) => s.callsPerS), (v) => v >= 2.5, x);
    check('64 in flight: calls/s ≥ 1× direct grpc-js', perRound(samples, 'unary64', 'gateway', 'direct grpc-js', (s) => s.callsPerS), (v) => v >= 1, x);
    if (PIN_CASES.includes('unary64')) {
      const outcome = { skip: PIN.skip, failures: pinFailures };
      checks.push(pinnedTarget('64 in flight: calls/s ≥ 1× direct grpc-js', samples, 'unary64', 'gateway' + OWN_CORE, outcome, 1));
    }
    check('64 in flight: gateway CPU ≤ 2.0 s per 10k calls', med(samples, 'unary64', 'gateway', (s) => s.cpuPer10k), (v) => v <= 2, (v) => `${fmt(v, 2)} s`);
    check('64 in flight: CPU per call ≤ 1.15× the floor\'s', perRound(samples, 'unary64', 'gateway', FLOOR, (s) => s.cpuPer10k), (v) => v <= 1.15, x);
    if (procs.workers) {
      // The same throughput targets for `--workers 2` (the option for hosts with more cores;
      // here the two workers share 2 cores with the backend and the load generator).
      check(`64 in flight, ${WORKERS}: calls/s ≥ 2.5× @grpc-web/proxy`, perRound(samples, 'unary64', WORKERS, 'peer', (s) => s.callsPerS), (v) => v >= 2.5, x);
      check(`64 in flight, ${WORKERS}: calls/s ≥ 1× direct grpc-js`, perRound(samples, 'unary64', WORKERS, 'direct grpc-js', (s) => s.callsPerS), (v) => v >= 1, x);
    }
  }
  if (has('unary1')) {
    check('1 in flight: p50 ≤ direct + 0.3 ms', perRound(samples, 'unary1', 'gateway', 'direct grpc-js', (s) => s.p50Ms, 'diff'), (v) => v <= 0.3, (v) => signedMs(v, 3));
  }
  if (has('stream')) {
    check('stream: messages/s ≥ 0.8× direct', perRound(samples, 'stream', 'gateway', 'direct grpc-js', (s) => s.msgsPerS), (v) => v >= 0.8, x);
    check('stream: first message ≤ direct + 2 ms', perRound(samples, 'stream', 'gateway', 'direct grpc-js', (s) => s.firstMsgMs, 'diff'), (v) => v <= 2, (v) => signedMs(v, 2));
  }
  // Each HTTP/2 target twice: shared cores (as ever), then the gateway on its own core; with
  // `relay`, each followed by the bare relay's reference line (bench/relay-row.ts).
  const twice = (c: CaseId, target: string, gatewayPath: string, min: number, relay = false): void => {
    check(target, perRound(samples, c, gatewayPath, 'direct grpc-js', (s) => s.callsPerS), (v) => v >= min, x);
    if (relay) checks.push(relayReference(samples, c, gatewayPath, null));
    const skip = PIN.skip ?? (PIN_CASES.includes(c) ? null : 'not in --pin-cases');
    const outcome = { skip, failures: pinFailures };
    checks.push(pinnedTarget(target, samples, c, gatewayPath + OWN_CORE, outcome, min));
    if (relay) checks.push(relayReference(samples, c, gatewayPath + OWN_CORE, outcome));
  };
  if (has('h2web64')) twice('h2web64', 'gRPC-Web over h2c: calls/s ≥ 0.8× direct grpc-js', 'gateway h2c h2load', 0.8);
  if (has('grpc64')) {
    // The relay speaks h2c only: its reference stands beside the h2c rows.
    twice('grpc64', 'native gRPC passthrough (grpc-js client, h2c): calls/s ≥ 0.8× direct grpc-js', 'gateway grpc-js', 0.8, procs.relay !== null);
    twice('grpc64', 'native gRPC passthrough (grpc-js client, TLS): calls/s ≥ 0.8× direct grpc-js', 'gateway TLS grpc-js', 0.8);
  }
  if (has('mib1')) {
    check('1 MiB unary: p50 ≤ 1.3× direct', perRound(samples, 'mib1', 'gateway', 'direct grpc-js', (s) => s.p50Ms), (v) => v <= 1.3, x);
    check('1 MiB unary: CPU per call ≤ 1.0× @grpc-web/proxy', perRound(samples, 'mib1', 'gateway', 'peer', (s) => s.cpuPer10k), (v) => v <= 1, x);
  }
  check('idle RSS ≤ 60 MiB (settled)', idle['gatewaySettled'] ?? NaN, (v) => v <= 60, (v) => `${fmt(v, 1)} MiB`);
  if (has('unary64')) {
    // Round 1's: the first 64-in-flight load after the warm-up. Later rounds start with the heap
    // the 1 MiB and stream cases grew (V8 keeps it a while), which is not this case's own peak.
    const first = samples.find((s) => s.case === 'unary64' && s.path === 'gateway' && s.round === 1);
    check('peak RSS ≤ 120 MiB (64 in flight, round 1)', first?.peakRssMiB ?? NaN, (v) => v <= 120, (v) => `${fmt(v, 1)} MiB`);
  }

  if (procs.before) {
    const vs = (c: CaseId, f: (s: Sample) => number | undefined, op: 'ratio' | 'diff' = 'ratio'): number =>
      has(c) ? perRound(samples, c, 'gateway', BEFORE, f, op) : NaN;
    const cmp = {
      'unary64 calls/s': vs('unary64', (s) => s.callsPerS),
      'unary64 CPU/call': vs('unary64', (s) => s.cpuPer10k),
      'text64 calls/s': vs('text64', (s) => s.callsPerS),
      'text64 CPU/call': vs('text64', (s) => s.cpuPer10k),
      'unary1 p50 diff ms': vs('unary1', (s) => s.p50Ms, 'diff'),
      'unary1 CPU/call': vs('unary1', (s) => s.cpuPer10k),
      'mib1 p50': vs('mib1', (s) => s.p50Ms),
      'mib1 CPU/call': vs('mib1', (s) => s.cpuPer10k),
      'stream msgs/s': vs('stream', (s) => s.msgsPerS),
      'stream first msg diff ms': vs('stream', (s) => s.firstMsgMs, 'diff'),
      'stream CPU/msg': vs('stream', (s) => s.cpuPer10k),
    };
    const h2vs = (c: CaseId, path: string, f: (s: Sample) => number | undefined): number =>
      has(c) ? perRound(samples, c, `gateway ${path}`, `${BEFORE} ${path}`, f) : NaN;
    Object.assign(cmp, {
      'grpc64 grpc-js calls/s': h2vs('grpc64', 'grpc-js', (s) => s.callsPerS),
      'grpc64 grpc-js CPU/call': h2vs('grpc64', 'grpc-js', (s) => s.cpuPer10k),
      'grpc64 h2load calls/s': h2vs('grpc64', 'h2load', (s) => s.callsPerS),
      'grpc64 h2load CPU/call': h2vs('grpc64', 'h2load', (s) => s.cpuPer10k),
      'h2web64 h2c calls/s': h2vs('h2web64', 'h2c h2load', (s) => s.callsPerS),
      'h2web64 h2c CPU/call': h2vs('h2web64', 'h2c h2load', (s) => s.cpuPer10k),
    });
    process.stdout.write('\ngateway vs gateway (before), medians of same-round ratios/differences:\n');
    for (const [k, v] of Object.entries(cmp)) if (Number.isFinite(v)) process.stdout.write(`  ${k.padEnd(26)} ${fmt(v, 3)}\n`);
  }

  let scaleOut: unknown;
  const scaleOutFile = join(BENCH, 'scale-out.ts');
  if (!opt['no-scale-out'] && existsSync(scaleOutFile)) {
    try {
      const mod = (await import(pathToFileURL(scaleOutFile).href)) as { runScaleOut?: (o: unknown) => Promise<unknown> };
      if (typeof mod.runScaleOut === 'function') {
        process.stdout.write('scale-out (bench/scale-out.ts runScaleOut)\n');
        scaleOut = await mod.runScaleOut({ quick: QUICK });
      }
    } catch (error) {
      scaleOut = { error: (error as Error).message };
    }
  }

  const meta = {
    date: new Date().toISOString(),
    command: `npm run bench${QUICK ? ' -- --quick' : ''}`,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadgen: LOADGEN,
    h2load: HAVE_H2LOAD,
    rounds: ROUNDS,
    durationS: DURATION_S,
    streamReps: STREAM_REPS,
    gatewayArgs: opt['gateway-args'],
    gatewayNodeArgs: opt['gateway-node-args'],
    pinned: { layout: PIN_LAYOUT, skip: PIN.skip, cases: PIN_CASES, failures: Object.fromEntries(pinFailures) },
    wallS: (Date.now() - started) / 1000,
    notes,
  };
  const memory = { idle, idleAfterRun: idleAfter };
  const json = { meta, rows, targets: checks, memory, samples, scaleOut };
  const md = markdown(meta, rows, checks, memory, scaleOut);
  process.stdout.write('\n' + md);
  if (!opt['no-write']) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
    writeFileSync(join(RESULTS, 'latest.md'), md);
    process.stdout.write(`\nwrote bench/results/latest.json and bench/results/latest.md\n`);
  }
  if (pinFailures.size) {
    process.stderr.write(`\nbench: PINNING FAILED in ${pinFailures.size} step(s), their figures left out:\n`);
    for (const [step, why] of pinFailures) process.stderr.write(`  ${step}: ${why}\n`);
    process.exitCode = 1;
  }
}

function markdown(
  meta: Record<string, unknown>,
  rows: Array<Record<string, unknown>>,
  checks: TargetCheck[],
  memory: { idle: Record<string, number>; idleAfterRun: Record<string, number> },
  scaleOut: unknown,
): string {
  const n = (v: unknown, d: number): string => fmt(v as number, d);
  const xr = (v: unknown): string => (Number.isFinite(v as number) ? `${fmt(v as number, 2)}×` : '–');
  let md = `Measured ${String(meta['date']).slice(0, 10)} on ${meta['cpus']} × ${meta['cpuModel']}, Node ${meta['node']}; `;
  md += `load from ${meta['loadgen']}${meta['h2load'] ? ' (and h2load for the direct reference)' : ''}; `;
  md += `${meta['rounds']} interleaved round(s) of ${meta['durationS']} s per case and path, medians; `;
  md += `ratios are medians of same-round ratios.\n\n`;
  md += '| case | path | calls/s | × direct grpc-js | × peer | p50 ms | p99 ms | proxy CPU s / 10k calls | CPU × peer | proxy peak RSS MiB |\n';
  md += '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n';
  for (const r of rows) {
    if (r['case'] === 'stream') continue;
    const isPeer = r['path'] === 'peer';
    md += `| ${CASE_TITLES[r['case'] as CaseId]} | ${r['path']} | ${n(r['callsPerS'], 0)} | ${r['path'] === directPathFor(r['path'] as string) ? '1×' : xr(r['vsDirect'])} | ${isPeer ? '1×' : xr(r['vsPeer'])} | ${n(r['p50Ms'], 2)} | ${n(r['p99Ms'], 2)} | ${n(r['cpuPer10k'], 2)} | ${isPeer ? '1×' : xr(r['cpuVsPeer'])} | ${n(r['peakRssMiB'], 0)} |${Number(r['errors']) ? ` **${r['errors']} errors**` : ''}\n`;
  }
  const streams = rows.filter((r) => r['case'] === 'stream');
  if (streams.length) {
    md += `\n| ${CASE_TITLES.stream} | messages/s | × direct grpc-js | first message ms | proxy CPU s / 100k messages |\n|---|--:|--:|--:|--:|\n`;
    for (const r of streams) {
      const ratio = perRoundFromRows(r);
      md += `| ${r['path']} | ${n(r['msgsPerS'], 0)} | ${ratio} | ${n(r['firstMsgMs'], 2)} | ${n(r['cpuPer10k'], 2)} |${Number(r['errors']) ? ` **${r['errors']} errors**` : ''}\n`;
    }
  }
  md += `\nIdle RSS (connected, before load), 1 s after start / settled after ${QUICK ? 5 : 12} s: gateway ${fmt(memory.idle['gateway'] ?? NaN, 1)} / ${fmt(memory.idle['gatewaySettled'] ?? NaN, 1)} MiB, peer ${fmt(memory.idle['peer'] ?? NaN, 1)} / ${fmt(memory.idle['peerSettled'] ?? NaN, 1)} MiB; `;
  md += `after the run: gateway ${fmt(memory.idleAfterRun['gateway'] ?? NaN, 1)} MiB, peer ${fmt(memory.idleAfterRun['peer'] ?? NaN, 1)} MiB.\n`;
  md += '\n| target | measured | met |\n|---|--:|:-:|\n';
  for (const c of checks) md += `| ${c.target} | ${c.value} | ${metCell(c)} |\n`;
  const t = tallyTargets(checks);
  md += `\nTargets: ${t.met} met, ${t.notMet} not met, ${t.skipped} not measured`;
  md += t.references ? ` (and ${t.references} reference line${t.references > 1 ? 's' : ''}, not targets).\n` : '.\n';
  if (rows.some((r) => r['path'] === FLOOR)) {
    md += `\n"${FLOOR}" is bench/floor-proxy.ts: node:http and grpc-js Channel.createCall with nothing else (no Fastify, metadata, CORS, limits, logs or metrics), the least a Node proxy of this design can cost; "gateway+log" is the gateway with its access log on (to /dev/null). Peak RSS in the table: median over rounds (later rounds start with the heap the 1 MiB and stream cases grew).\n`;
  }
  if (rows.some((r) => r['path'] === RELAY)) {
    md += `\n"${RELAY}" is the same grpc-js client through bench/relay.ts: a node:http2 server forwarding each stream to one node:http2 client session to the backend, headers, trailers and resets forwarded, nothing else. It is the least any Node HTTP/2 hop costs that client, not a target; the reference lines under the native gRPC targets give it over the direct client and the gateway over it, both as medians of same-round ratios.\n`;
  }
  const pinned = meta['pinned'] as { layout: PinLayout | null; skip: string | null };
  md += pinned.layout
    ? `\nRows marked "(pinned)" and "(own core)" are the pinned layout: the load client and the backend on CPU ${pinned.layout.loadCpu} (\`taskset -c\`) in both the direct and the gateway paths, the gateway alone on CPU ${pinned.layout.gatewayCpu} (bench/relay.ts takes its place there in its own steps); their "× direct grpc-js" is over "${PINNED_DIRECT}" of the same round. The other rows share both cores among all processes.\n`
    : `\nPinned layout: ${pinned.skip ?? 'no case to run pinned'}.\n`;
  const ns = meta['notes'] as string[];
  if (ns.length) md += '\n' + ns.map((s) => `Note: ${s}`).join('\n') + '\n';
  if (scaleOut !== undefined) {
    const so = scaleOut as { markdown?: unknown };
    md += '\n### Scale-out (bench/scale-out.ts)\n\n';
    md += typeof so?.markdown === 'string' ? so.markdown + '\n' : '```json\n' + JSON.stringify(scaleOut, null, 2) + '\n```\n';
  }
  return md;
}

/** Stream rows carry their own per-round ratio (filled in by mainRun's rows). */
function perRoundFromRows(r: Record<string, unknown>): string {
  const v = r['msgsVsDirect'] as number | undefined;
  if (r['path'] === 'direct grpc-js') return '1×';
  return v !== undefined && Number.isFinite(v) ? `${fmt(v, 2)}×` : '–';
}

// ---- soak ---------------------------------------------------------------------------------------

async function soakRun(): Promise<void> {
  const total = Number(opt['soak-calls']);
  const first = Math.min(100_000, total);
  const soakLoad = HAVE_H2LOAD && LOADGEN === 'wrk' ? 'h2load --h1 (count-bounded)' : LOADGEN;
  process.stdout.write(`soak: ${total.toLocaleString('en-US')} calls through the gateway (64 in flight), load: ${soakLoad}\n`);
  const procs = await startAll(false, false);
  const gw = procs.gateway;
  let result: Record<string, unknown>;
  try {
    const idle = rssMiB(gw.svc.pid);
    // Bounded in count (the load generator stops after N answers) and in time.
    const a = await httpLoad(gw.url + UNARY_METHOD, bodyFiles.b100, CT_BINARY, 64, 600, first);
    await sleep(1000);
    const after100k = rssMiB(gw.svc.pid);
    process.stdout.write(`  after ${a.calls.toLocaleString('en-US')} calls: RSS ${fmt(after100k, 1)} MiB (${fmt(a.callsPerS, 0)} calls/s)\n`);
    const b =
      total > first
        ? await httpLoad(gw.url + UNARY_METHOD, bodyFiles.b100, CT_BINARY, 64, 1200, total - first)
        : { calls: 0, durationS: 0, callsPerS: NaN, p50Ms: NaN, p99Ms: NaN, errors: 0 };
    await sleep(1000);
    const afterAll = rssMiB(gw.svc.pid);
    const calls = a.calls + b.calls;
    const growth = afterAll / after100k - 1;
    const pass = growth <= 0.1 && calls >= total && a.errors + b.errors === 0;
    process.stdout.write(`  after ${calls.toLocaleString('en-US')} calls: RSS ${fmt(afterAll, 1)} MiB (${fmt(b.callsPerS, 0)} calls/s)\n`);
    result = {
      date: new Date().toISOString(),
      loadgen: soakLoad,
      calls,
      errors: a.errors + b.errors,
      idleRssMiB: idle,
      rssAfterFirstMiB: after100k,
      firstCalls: a.calls,
      rssAfterAllMiB: afterAll,
      peakRssMiB: peakRssMiB(gw.svc.pid),
      growth,
      pass,
      callsPerS: calls / (a.durationS + b.durationS),
    };
  } finally {
    await stopAll(procs);
  }
  const r = result;
  const md =
    `Soak (${String(r['date']).slice(0, 10)}): ${fmt(r['calls'] as number, 0)} unary calls through the gateway at 64 in flight, ${fmt(r['callsPerS'] as number, 0)} calls/s, ${r['errors']} errors.\n\n` +
    `| RSS idle | after first ${fmt(r['firstCalls'] as number, 0)} calls | after all | growth | peak | within 10% |\n|--:|--:|--:|--:|--:|:-:|\n` +
    `| ${fmt(r['idleRssMiB'] as number, 1)} MiB | ${fmt(r['rssAfterFirstMiB'] as number, 1)} MiB | ${fmt(r['rssAfterAllMiB'] as number, 1)} MiB | ${fmt((r['growth'] as number) * 100, 1)}% | ${fmt(r['peakRssMiB'] as number, 1)} MiB | ${r['pass'] ? 'pass' : '**FAIL**'} |\n`;
  process.stdout.write('\n' + md);
  if (!opt['no-write']) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'soak.json'), JSON.stringify(r, null, 2) + '\n');
    writeFileSync(join(RESULTS, 'soak.md'), md);
    process.stdout.write('\nwrote bench/results/soak.json and bench/results/soak.md\n');
  }
  if (!r['pass']) process.exitCode = 1;
}

// ---- entry --------------------------------------------------------------------------------------

const cleanup = (): void => {
  killAllStarted();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.on('SIGTERM', () => {
  cleanup();
  process.exit(143);
});

try {
  await (opt.soak ? soakRun() : mainRun());
} catch (error) {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
} finally {
  cleanup();
}

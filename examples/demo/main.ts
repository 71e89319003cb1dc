// `npm run demo`: the whole point of grpc-web-gateway in one command, on one machine, no cluster.
//
// It starts, as separate processes: example Pods (examples/echo-pod) on 127.0.0.2, 127.0.0.3, ...
// all on one port like real Pod IPs; a DNS server (examples/headless-dns) answering for their
// headless Service — or, with --discovery k8s, the API-server stand-in (examples/kube-api) serving
// their EndpointSlice; and the gateway itself (`node dist/cli.js --upstream dns:///...|k8s:///...`). Then one
// gRPC-Web client (connect-web) calls Echo in a loop over ONE keep-alive connection — the client
// a ClusterIP Service would pin to one Pod — while the Service goes from 1 Pod to 5 and then
// through a rolling update. A table shows where the calls land; the gateway's dashboard and the
// official grpc-web browser app (served from another origin) can be opened alongside.
//
//   node --import tsx examples/demo/main.ts [--duration 60s | --forever] [--help]
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/config/parse-values.js';
import { startAppServer, type AppServer } from './app-server.js';
import { Children, ROOT } from './children.js';
import { startEchoLoop, type EchoLoop } from './client.js';
import { DISCOVERY_KINDS, startDiscovery, type Discovery, type DiscoveryKind } from './discovery.js';
import { num, renderFrame, type PodRow, type PodState } from './render.js';

const HELP = `Usage: npm run demo -- [FLAGS]
       node --import tsx examples/demo/main.ts [FLAGS]

Starts example Pods, a DNS server for their headless Service, the gateway and a gRPC-Web client
(one keep-alive connection) on loopback; scales the Service from 1 Pod to 5, then rolls them, and
shows where the calls land. Everything it starts, it stops (at the end, or on Ctrl-C).

  --discovery dns|k8s  how the gateway finds the Pods: dns:/// (a headless Service's records, TTL 1s,
                       re-resolved every 1s) or k8s:/// (EndpointSlices watched on an API-server
                       stand-in) (default dns)
  --duration DURATION  how long to run (default 60s)
  --forever            run until Ctrl-C, rolling the Pods again every 30s
  --pods N             Pods after the scale-out (default 5)
  --scale-at DURATION  when to scale out from 1 Pod (default 10s)
  --roll-at DURATION   when to start the rolling update (default 20s)
  --refresh DURATION   how often the table is redrawn (default 2s)
  --rate N             calls per second, 0 = as fast as the one connection goes (default 0)
  --http-port N        gateway gRPC-Web port (default 8080, a free one if taken; 0 = any)
  --admin-port N       gateway admin/dashboard port (default 9901, a free one if taken; 0 = any)
  --app-port N         browser app port (default 8081, a free one if taken; 0 = any)
  --help               print this help
`;

interface Options {
  discovery: DiscoveryKind;
  durationMs: number;
  forever: boolean;
  pods: number;
  scaleAtMs: number;
  rollAtMs: number;
  refreshMs: number;
  rate: number;
  httpPort: number;
  adminPort: number;
  appPort: number;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      discovery: { type: 'string', default: 'dns' },
      duration: { type: 'string', default: '60s' },
      forever: { type: 'boolean', default: false },
      pods: { type: 'string', default: '5' },
      'scale-at': { type: 'string', default: '10s' },
      'roll-at': { type: 'string', default: '20s' },
      refresh: { type: 'string', default: '2s' },
      rate: { type: 'string', default: '0' },
      'http-port': { type: 'string', default: '8080' },
      'admin-port': { type: 'string', default: '9901' },
      'app-port': { type: 'string', default: '8081' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const duration = (flag: string, text: string): number => {
    try {
      return parseDuration(text);
    } catch (e) {
      throw new Error(`--${flag}: ${(e as Error).message}`);
    }
  };
  const int = (flag: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag}: '${text}' is not an integer in ${min}..${max}`);
    return n;
  };
  if (!DISCOVERY_KINDS.includes(values.discovery as DiscoveryKind)) {
    throw new Error(`--discovery: '${values.discovery}' is not one of ${DISCOVERY_KINDS.join(', ')}`);
  }
  const o: Options = {
    discovery: values.discovery as DiscoveryKind,
    durationMs: duration('duration', values.duration!),
    forever: values.forever!,
    pods: int('pods', values.pods!, 1, 50),
    scaleAtMs: duration('scale-at', values['scale-at']!),
    rollAtMs: duration('roll-at', values['roll-at']!),
    refreshMs: duration('refresh', values.refresh!),
    rate: int('rate', values.rate!, 0, 1_000_000),
    httpPort: int('http-port', values['http-port']!, 0, 65535),
    adminPort: int('admin-port', values['admin-port']!, 0, 65535),
    appPort: int('app-port', values['app-port']!, 0, 65535),
  };
  if (o.refreshMs < 200) throw new Error('--refresh: at least 200ms');
  if (o.rollAtMs < o.scaleAtMs) throw new Error('--roll-at must not come before --scale-at');
  return o;
}

// ---- small helpers -----------------------------------------------------------------------------

const sleep = (ms: number, stop: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (stop.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    stop.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(t);
      stop.removeEventListener('abort', done);
      resolve();
    }
  });

/** `preferred` if it can be bound on host right now, else 0 (any free port). */
function portOrAny(host: string, preferred: number): Promise<number> {
  if (preferred === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(0));
    srv.listen(preferred, host, () => srv.close(() => resolve(preferred)));
  });
}

/** 127.0.0.2, 127.0.0.3, ... (then 127.0.1.1, ...): a new "Pod IP" for every Pod, never reused. */
function podIp(n: number): string {
  const i = n + 1; // n=1 → 127.0.0.2
  return `127.${Math.floor(i / 65536) % 256}.${Math.floor(i / 256) % 256}.${(i % 256) || 1}`;
}

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (entry.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function mtime(file: string): number {
  return existsSync(file) ? statSync(file).mtimeMs : 0;
}

/** dist/ (the CLI users run) and the browser app bundle, built when missing or older than their sources. */
function buildIfNeeded(say: (s: string) => void): { appBuilt: boolean } {
  if (mtime(path.join(ROOT, 'dist/cli.js')) < newestMtime(path.join(ROOT, 'src'), '.ts')) {
    say('building dist/ (node scripts/bundle.mjs) ...');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/bundle.mjs')], { cwd: ROOT, stdio: 'inherit' });
  }
  const app = path.join(ROOT, 'examples/browser-app');
  if (!existsSync(path.join(app, 'index.html'))) return { appBuilt: false };
  const bundle = mtime(path.join(app, 'dist/app.js'));
  if (bundle < mtime(path.join(app, 'app.ts')) || bundle === 0) {
    try {
      say('bundling the browser app (scripts/build-browser-app.mjs) ...');
      execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-browser-app.mjs')], { cwd: ROOT, stdio: 'inherit' });
    } catch {
      say('  could not bundle the browser app; running without it');
      return { appBuilt: false };
    }
  }
  return { appBuilt: existsSync(path.join(app, 'dist/app.js')) };
}

// ---- the demo ----------------------------------------------------------------------------------

interface Pod {
  /** 1 for 127.0.0.2, 2 for 127.0.0.3, ...: start order, used to sort the table. */
  n: number;
  address: string;
  pid: number;
  state: PodState;
  /** When it entered / left DNS, and when its process exited (ms epoch). */
  joinedAt?: number;
  leftAt?: number;
  goneAt?: number;
  /** The demo is stopping it (so its exit is expected). */
  stopping: boolean;
  stop(): Promise<void>;
}

interface GatewayView {
  state: string;
  failures: number;
}

async function run(o: Options): Promise<number> {
  const tty = process.stdout.isTTY === true;
  const out = (s = ''): void => void process.stdout.write(s + '\n');
  const children = new Children();
  const stopController = new AbortController();
  const stop = stopController.signal;
  let interrupted = false;
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    // Under `npm run demo`, one Ctrl-C arrives twice: from the terminal and forwarded by npm.
    // Only a second Ctrl-C a moment later means "stop now".
    if (firstSignalAt > 0 && Date.now() - firstSignalAt < 1000) return;
    if (firstSignalAt > 0) {
      out(`\n${sig} again: killing every child process now`);
      children.killAll();
      if (tty) process.stdout.write('\x1b[?25h');
      process.exit(130);
    }
    firstSignalAt = Date.now();
    interrupted = true;
    stopController.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  let app: AppServer | undefined;
  let discovery: Discovery | undefined;
  let client: EchoLoop | undefined;
  let renderTimer: NodeJS.Timeout | undefined;
  const pods: Pod[] = [];
  const events: Array<{ at: number; text: string }> = [];
  let t0 = Infinity;
  // Events before the client starts (the first Pod joining the gateway) are not news.
  const event = (text: string): void => {
    if (Date.now() >= t0) events.push({ at: Date.now(), text });
  };

  try {
    const { appBuilt } = buildIfNeeded(out);

    // -- discovery (DNS or the API server), the first Pod, the gateway ------------------------
    const found = (discovery = await startDiscovery(o.discovery, children));
    let podCount = 0;
    let podPort = 0;
    const startPod = async (): Promise<Pod> => {
      const n = ++podCount;
      const ip = podIp(n);
      let child;
      try {
        child = await children.startPod(ip, podPort);
      } catch (e) {
        if (/EADDRNOTAVAIL|address not available/i.test(String((e as Error).message))) {
          throw new Error(
            `cannot listen on ${ip}: this system has no 127.0.0.0/8 loopback range (macOS: sudo ifconfig lo0 alias ${ip} up, for 127.0.0.2 up to 127.0.0.20)`,
          );
        }
        throw e;
      }
      podPort = Number(child.address.slice(child.address.lastIndexOf(':') + 1));
      const pod: Pod = {
        n,
        address: child.address,
        pid: child.pid,
        state: 'new',
        stopping: false,
        stop: async () => {
          pod.stopping = true;
          await children.stop(child);
          pod.state = 'gone';
          pod.goneAt = Date.now();
        },
      };
      void child.exited.then(() => {
        if (pod.state !== 'gone') {
          pod.state = 'gone';
          pod.goneAt = Date.now();
          if (!stop.aborted && !pod.stopping) event(`Pod ${pod.address} exited unexpectedly`);
        }
      });
      pods.push(pod);
      return pod;
    };
    const inDns = (): Pod[] => pods.filter((p) => p.joinedAt !== undefined && p.leftAt === undefined);
    const leaving = (): Pod[] => pods.filter((p) => p.leftAt !== undefined && p.state !== 'gone');
    const publish = async (): Promise<void> => {
      await found.publish(inDns().map((p) => p.address), leaving().map((p) => p.address));
    };

    const firstPod = await startPod();
    firstPod.joinedAt = Date.now();
    await publish();

    const [httpPort, adminPort, appPort] = await Promise.all([
      portOrAny('127.0.0.1', o.httpPort),
      portOrAny('127.0.0.1', o.adminPort),
      portOrAny('127.0.0.1', o.appPort),
    ]);
    const gatewayArgs = [
      ...found.gatewayArgs(podPort),
      '--listen', `127.0.0.1:${httpPort}`,
      '--admin', `127.0.0.1:${adminPort}`,
      // The demo stops its client before the gateway, so there is nothing to wait for; and one log
      // line per call (thousands a second) would only fill the log file.
      '--shutdown-delay', '0',
      '--no-access-log',
    ];
    const logFile = path.join(os.tmpdir(), `grpc-web-gateway-demo-${process.pid}.log`);
    const gatewayEvents = (e: Record<string, unknown>): void => {
      const ep = typeof e.endpoint === 'string' ? e.endpoint : '';
      if (e.msg === 'Pod added') event(`gateway: ${ep} added to the pool`);
      else if (e.msg === 'Pod left discovery; draining') event(`gateway: ${ep} left ${found.where}, draining (${String(e.inFlight)} in flight)`);
      else if (e.msg === 'Pod is terminating; draining') event(`gateway: ${ep} is terminating, draining (${String(e.inFlight)} in flight)`);
      else if (e.msg === 'Pod removed') event(`gateway: ${ep} removed`);
      else if (e.msg === 'Pod state' && e.state === 'READY') event(`gateway: ${ep} READY`);
      else if (typeof e.level === 'number' && e.level >= 40) event(`gateway ${e.level >= 50 ? 'error' : 'warning'}: ${String(e.msg)} ${ep}`);
    };
    const gateway = await children.startGateway(gatewayArgs, logFile, gatewayEvents);
    const end = Date.now() + 15_000;
    for (;;) {
      const ok = await fetch(`${gateway.adminUrl}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > end || stop.aborted) throw new Error(stop.aborted ? 'interrupted' : 'the gateway did not become ready in 15 s');
      await sleep(50, stop);
    }

    if (appBuilt) app = await startAppServer(path.join(ROOT, 'examples/browser-app'), '127.0.0.1', appPort);
    const appUrl = app ? `${app.url}?gateway=${gateway.httpUrl}` : undefined;

    // -- header --------------------------------------------------------------------------------
    const plan = [
      `1 Pod`,
      `${o.pods} Pods at ${o.scaleAtMs / 1000}s`,
      `rolling update at ${o.rollAtMs / 1000}s`,
      o.forever ? 'again every 30s until Ctrl-C' : `end at ${o.durationMs / 1000}s (Ctrl-C ends sooner)`,
    ].join(' → ');
    const header = [
      'grpc-web-gateway demo: one gRPC-Web client on ONE keep-alive connection, a headless Service that scales and rolls.',
      'Behind a ClusterIP Service that connection would pin every call to one Pod; the gateway spreads each call.',
      `  gateway     node dist/cli.js ${gatewayArgs.join(' ')}`,
      `              pid ${gateway.pid}, log ${logFile}`,
      `  gRPC-Web    ${gateway.httpUrl}`,
      `  dashboard   ${gateway.adminUrl}/`,
      appUrl ? `  browser app ${appUrl}   (official grpc-web client, another origin: real CORS)` : '  browser app (not built: examples/browser-app is missing)',
      `  ${found.describe}`,
      `  plan        ${plan}`,
    ];
    for (const line of header) out(line);
    out(`  pids        ${found.pids}, gateway ${gateway.pid}, pod ${firstPod.address} ${firstPod.pid}`);
    out();

    // -- the client and the table --------------------------------------------------------------
    t0 = Date.now();
    const elapsed = (at = Date.now()): number => (at - t0) / 1000;
    client = startEchoLoop(gateway.httpUrl, { rate: o.rate });
    const stats = client.stats;
    let phase = 'before scale-out';
    let scaleOut: { at: number; pods: Pod[]; allTrafficS?: number } | undefined;
    const rolled: Array<{ pod: Pod; trafficS?: number }> = [];
    const announce = (list: Pod[]): void => {
      for (const p of list) event(`Pod ${p.address} started (pid ${p.pid})`);
    };

    let lastCounts = new Map<string, number>();
    let lastDrawAt = Date.now();
    let eventsShown = 0;
    let gatewayView = new Map<string, GatewayView>();
    const refreshGatewayView = async (): Promise<void> => {
      try {
        const r = await fetch(`${gateway.adminUrl}/endpoints`, { signal: AbortSignal.timeout(1000) });
        const body = (await r.json()) as {
          upstreams: Array<{ endpoints: Array<{ address: string; state: string; draining: boolean; failures: number }> }>;
        };
        const view = new Map<string, GatewayView>();
        for (const u of body.upstreams)
          for (const e of u.endpoints) view.set(e.address, { state: e.draining ? 'draining' : e.state, failures: e.failures });
        gatewayView = view;
      } catch {
        /* keep the previous view */
      }
    };
    const checkTraffic = (): void => {
      if (scaleOut && scaleOut.allTrafficS === undefined && scaleOut.pods.every((p) => stats.firstCall.has(p.address))) {
        scaleOut.allTrafficS = Math.max(...scaleOut.pods.map((p) => (stats.firstCall.get(p.address)! - scaleOut!.at) / 1000));
        event(`every new Pod has traffic: the last one ${scaleOut.allTrafficS.toFixed(1)} s after the change in ${found.where}`);
      }
      for (const r of rolled) {
        const first = stats.firstCall.get(r.pod.address);
        if (r.trafficS === undefined && first !== undefined) r.trafficS = (first - r.pod.joinedAt!) / 1000;
      }
    };

    const draw = async (final = false): Promise<void> => {
      await refreshGatewayView();
      checkTraffic();
      const now = Date.now();
      for (const p of pods) if (p.state === 'new' && p.joinedAt !== undefined && now - p.joinedAt > 2 * o.refreshMs) p.state = 'serving';
      const visible = pods
        .filter((p) => p.joinedAt !== undefined && (p.goneAt === undefined || now - p.goneAt < 3 * o.refreshMs))
        .sort((a, b) => a.n - b.n);
      const counts = new Map(stats.perPod);
      const rows: PodRow[] = visible.map((p) => {
        const total = counts.get(p.address) ?? 0;
        const g = gatewayView.get(p.address);
        return {
          address: p.address,
          calls: total - (lastCounts.get(p.address) ?? 0),
          total,
          state: p.state,
          gateway: g?.state ?? '-',
          failed: g?.failures ?? 0,
        };
      });
      const intervalS = Math.max(0.1, (now - lastDrawAt) / 1000);
      lastCounts = counts;
      lastDrawAt = now;
      // On a terminal the last few events; in a log, each event once.
      const shown = tty ? events.slice(-8) : events.slice(eventsShown);
      eventsShown = events.length;
      const lines = renderFrame(
        {
          elapsedS: elapsed(now),
          phase: final ? `${phase} (final)` : phase,
          intervalS,
          rows,
          ok: stats.ok,
          failed: stats.failed,
          connections: stats.connections,
          events: shown.map((e) => `t=${elapsed(e.at).toFixed(1).padStart(5)}s  ${e.text}`),
        },
        { ascii: !tty },
      );
      if (stats.errors.length > 0) lines.push(`  last errors: ${stats.errors.join('; ')}`);
      if (tty) {
        // Redraw in place: home, each line clearing its rest, then clear below.
        const screen = [...header, '', ...lines].map((l) => l + '\x1b[K').join('\n');
        process.stdout.write(`\x1b[H${screen}\n\x1b[J`);
      } else {
        out(lines.join('\n'));
        out();
      }
    };
    if (tty) process.stdout.write('\x1b[?25l\x1b[2J');
    let drawing = tty ? draw().catch(() => {}) : Promise.resolve();
    renderTimer = setInterval(() => {
      drawing = drawing.then(() => draw()).catch(() => {});
    }, o.refreshMs);

    // -- the scenario: scale out, roll, (forever: roll again) ----------------------------------
    const scenario = (async () => {
      await sleep(o.scaleAtMs - elapsed() * 1000, stop);
      if (stop.aborted || o.pods < 2) return;
      phase = `scaling out: starting ${o.pods - 1} Pods`;
      const added = await Promise.all(Array.from({ length: o.pods - 1 }, () => startPod()));
      if (stop.aborted) return;
      const at = Date.now();
      for (const p of added) p.joinedAt = at;
      await publish();
      scaleOut = { at, pods: added };
      event(`${found.where}: now ${inDns().length} Pods (+ ${added.map((p) => p.address).join(', ')})`);
      announce(added);
      phase = 'scaled out';

      let rollAt = o.rollAtMs;
      for (let round = 1; ; round++) {
        await sleep(rollAt - elapsed() * 1000, stop);
        if (stop.aborted) return;
        const old = inDns();
        const stopping: Promise<void>[] = [];
        try {
          for (const [i, victim] of old.entries()) {
            if (stop.aborted) return;
            phase = `rolling update${round > 1 ? ` #${round}` : ''} ${i + 1}/${old.length}`;
            const fresh = await startPod(); // "Ready" once it listens
            if (stop.aborted) return;
            fresh.joinedAt = Date.now();
            await publish();
            rolled.push({ pod: fresh });
            event(`${found.where}: + ${fresh.address} (replaces ${victim.address})`);
            announce([fresh]);
            await sleep(1000, stop);
            if (stop.aborted) return;
            victim.leftAt = Date.now();
            victim.state = 'draining';
            await publish();
            event(`${found.where}: - ${victim.address}${o.discovery === 'k8s' ? ' (terminating)' : ''}; SIGTERM in 2 s`);
            // Like a Pod's preStop grace: the gateway re-resolves every 1 s, then it stops gracefully.
            stopping.push(
              sleep(2000, stop).then(async () => {
                await victim.stop();
                // Once the demo is ending, the DNS server (or API stand-in) is being stopped too:
                // publishing then would fail for a reason that is not a problem.
                if (stop.aborted) return;
                await publish(); // an EndpointSlice drops the endpoint once the Pod is gone
                event(`Pod ${victim.address} stopped (pid ${victim.pid})`);
              }),
            );
          }
        } finally {
          // Even when the demo ends mid-roll, every pending stop settles before the scenario does,
          // so nothing runs (or rejects unheard) while the end stops the other children.
          const settled = await Promise.allSettled(stopping);
          const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed && !stop.aborted) throw failed.reason;
        }
        phase = `rolled${round > 1 ? ` ${round} times` : ''}`;
        if (!o.forever) return;
        rollAt = elapsed() * 1000 + 30_000;
      }
    })();

    let scenarioError: unknown;
    const scenarioSettled = scenario.catch((e: unknown) => {
      if (stop.aborted) return;
      scenarioError = e;
      event(`scenario failed: ${(e as Error).message}`);
      stopController.abort();
    });
    const aborted = new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([o.forever ? aborted : sleep(o.durationMs, stop), aborted]);
    const wasInterrupted = interrupted;
    stopController.abort();
    await scenarioSettled;

    // -- the end: stop the client, last table, summary ----------------------------------------
    const clientStoppedAt = Date.now();
    await client.stop();
    client = undefined;
    clearInterval(renderTimer);
    await drawing;
    phase = wasInterrupted ? 'interrupted' : 'done';
    // A last frame, unless the previous one is too recent for its per-interval numbers to mean much.
    if (Date.now() - lastDrawAt >= o.refreshMs / 2) await draw(true);
    if (tty) process.stdout.write('\x1b[?25h');

    checkTraffic();
    const total = stats.ok + stats.failed;
    const runS = elapsed();
    const problems: string[] = [];
    out(`Summary after ${runS.toFixed(0)} s${wasInterrupted ? ' (interrupted)' : ''}`);
    out(`  calls          ${num(total)} (${num(Math.round(total / Math.max(runS, 1)))}/s), failed ${num(stats.failed)}`);
    out(`  client         1 gRPC-Web client, ${stats.connections} keep-alive connection${stats.connections === 1 ? '' : 's'} to the gateway`);
    if (scaleOut) {
      if (scaleOut.allTrafficS !== undefined) {
        out(`  scale-out      1 → ${o.pods} Pods: every new Pod had traffic ${scaleOut.allTrafficS.toFixed(1)} s after it was added to ${found.where}`);
      } else {
        const missing = scaleOut.pods.filter((p) => !stats.firstCall.has(p.address)).map((p) => p.address);
        out(`  scale-out      1 → ${o.pods} Pods: ${missing.length} new Pod(s) never got traffic: ${missing.join(', ')}`);
        problems.push('a new Pod never got traffic');
      }
    } else {
      out('  scale-out      did not happen (ended before --scale-at)');
    }
    if (rolled.length > 0) {
      const got = rolled.filter((r) => r.trafficS !== undefined);
      const slowest = Math.max(0, ...got.map((r) => r.trafficS!));
      // A replacement that joined in the last second of the run may simply not have had its turn yet.
      const missing = rolled.filter((r) => r.trafficS === undefined && !wasInterrupted && clientStoppedAt - r.pod.joinedAt! > 1000);
      out(
        `  rolling update ${rolled.length} Pod(s) replaced one by one; each new one had traffic within ${slowest.toFixed(1)} s` +
          (missing.length > 0 ? `; ${missing.length} never did: ${missing.map((r) => r.pod.address).join(', ')}` : ''),
      );
      if (missing.length > 0) problems.push('a replacement Pod never got traffic');
    }
    if (stats.failed > 0) problems.push(`${stats.failed} failed calls (${stats.errors.join('; ')})`);
    if (scenarioError) problems.push(`scenario failed: ${(scenarioError as Error).message}`);
    out('  per Pod (whole run):');
    for (const p of pods.filter((p) => p.joinedAt !== undefined).sort((a, b) => a.n - b.n)) {
      const first = stats.firstCall.get(p.address);
      const after =
        p === firstPod
          ? 'the first Pod'
          : first !== undefined
            ? `first call ${((first - p.joinedAt!) / 1000).toFixed(1).padStart(4)} s after joining ${found.where}`
            : clientStoppedAt - p.joinedAt! <= 1000
              ? `no calls yet (joined ${((clientStoppedAt - p.joinedAt!) / 1000).toFixed(1)} s before the end)`
              : 'no calls';
      out(`    ${p.address.padEnd(18)} ${num(stats.perPod.get(p.address) ?? 0).padStart(9)} calls   ${after}`);
    }
    out(`  dashboard was  ${gateway.adminUrl}/   browser app was ${appUrl ?? '-'}`);
    if (problems.length === 0) return 0;
    out(`  PROBLEMS: ${problems.join('; ')}`);
    return 1;
  } catch (e) {
    if (tty) process.stdout.write('\x1b[?25h');
    if (!interrupted) {
      process.stderr.write(`demo: ${(e as Error).message}\n`);
      return 1;
    }
    return 0;
  } finally {
    clearInterval(renderTimer);
    await client?.stop().catch(() => {});
    await app?.close();
    await children.stopAll();
    await discovery?.close();
    const pids = children.started.map((c) => c.pid);
    const left = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    out(`  stopped        ${pids.length} child processes (pids ${pids.join(' ')}); still running: ${left.length === 0 ? 'none' : left.join(' ')}`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return;
  }
  process.exitCode = await run(options);
}

void main();

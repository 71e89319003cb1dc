// --workers N on the real CLI: N worker processes share the listener (node:cluster), each with
// its own connections to every Pod; the primary serves the admin port for all of them,
// restarts a worker that dies, and turns SIGTERM into one orderly drain of every worker.
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import type { EndpointsView } from '../../src/admin/endpoints.js';
import { nodeClient, type EchoClient } from '../support/clients.js';
import { spawnHeadlessDns, type DnsProcess } from '../support/dns-process.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from '../support/gateway-process.js';
import { sleep } from '../support/load.js';
import { freePort } from '../support/ports.js';

let pods: EchoPod[] = [];
let gateway: GatewayProcess | null = null;
let blocker: Server | null = null;
let dns: DnsProcess | null = null;
afterEach(async () => {
  await dns?.stop();
  dns = null;
  gateway?.kill('SIGKILL');
  // The workers leave by themselves when their primary's IPC channel closes.
  await Promise.all(pods.map((p) => p.close()));
  blocker?.close();
  pods = [];
  gateway = null;
  blocker = null;
});

interface LogLine {
  msg: string;
  /** test/support/hold-workers.mjs: this worker is held before it loads the gateway. */
  held?: number;
  signal?: string | null;
  listening?: boolean;
  exitCode?: number;
  endpoint?: string;
  worker?: number;
  role?: string;
  pid?: number;
  code?: number | null;
}

function logLines(g: GatewayProcess): LogLine[] {
  return g
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)
    .map((l) => (l.held === undefined ? l : { ...l, msg: 'held' }));
}

/**
 * A bound on start-ups (workers, readiness), not a measure: on a machine shared by many test
 * runs, N worker processes loading the bundle at once can take tens of seconds.
 */
const START_MS = 60_000;

async function waitForLog(g: GatewayProcess, pred: (l: LogLine) => boolean, timeoutMs = START_MS): Promise<LogLine> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = logLines(g).find(pred);
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`no such log line within ${timeoutMs} ms:\n${g.output().slice(-2000)}`);
    await sleep(25);
  }
}

async function setUp(extra: string[] = []) {
  pods = [await startEchoPod({ host: '127.0.0.2', port: 0 }), await startEchoPod({ host: '127.0.0.3', port: 0 })];
  const [http, admin] = [await freePort(), await freePort()];
  gateway = spawnGateway([
    '--listen', `127.0.0.1:${http}`,
    '--admin', `127.0.0.1:${admin}`,
    '--upstream', pods.map((p) => p.address).join(','),
    '--workers', '2',
    '--log-level', 'info',
    ...extra,
  ]);
  const adminUrl = `http://127.0.0.1:${admin}`;
  await waitForStatus(`${adminUrl}/readyz`, 200, START_MS);
  return { baseUrl: `http://127.0.0.1:${http}`, adminUrl };
}

/** `total` unary calls, `concurrency` at a time (several keep-alive connections, so both workers get some). */
async function calls(client: EchoClient, total: number, concurrency: number): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const r = await client.unary({ message: 'hi' });
        if (!r.ok) failures.push(`${r.status.code} ${r.status.details}`);
      }
    }),
  );
  return failures;
}

function metricSum(text: string, name: string, filter = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && (l[name.length] === '{' || l[name.length] === ' ') && l.includes(filter))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('--workers 2', { timeout: 120_000 }, () => {
  it('serves calls from every worker; /endpoints and /metrics add the workers up', async () => {
    const { baseUrl, adminUrl } = await setUp();
    const failures = await calls(nodeClient('connect', baseUrl), 300, 16);
    expect(failures).toEqual([]);

    // Each access-log line names its worker: both took calls. The lines travel through the
    // workers' stdout pipes, so the last ones may arrive a moment after the last answer.
    const callLines = () => logLines(gateway!).filter((l) => l.msg === 'call' && l.worker !== undefined);
    for (const end = Date.now() + START_MS; callLines().length < 300 && Date.now() < end; ) await sleep(25);
    const perWorker = new Map<number, number>();
    for (const l of callLines()) perWorker.set(l.worker!, (perWorker.get(l.worker!) ?? 0) + 1);
    expect([...perWorker.keys()].sort()).toEqual([1, 2]);
    expect([...perWorker.values()].reduce((a, b) => a + b, 0)).toBe(300);

    const view = (await (await fetch(`${adminUrl}/endpoints`)).json()) as EndpointsView;
    expect(view.gateway.workers).toBe(2);
    expect(view.gateway.calls?.total).toBe(300);
    const endpoints = view.upstreams[0]!.endpoints;
    expect(endpoints.map((e) => e.address).sort()).toEqual(pods.map((p) => p.address).sort());
    // One connection per Pod per worker, and every call attempt counted once.
    for (const e of endpoints) expect(e).toMatchObject({ state: 'READY', connections: 2, healthy: true });
    expect(endpoints.reduce((sum, e) => sum + e.calls, 0)).toBe(300);

    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(metricSum(metrics, 'grpcweb_calls_total', 'code="OK"')).toBe(300);
    expect(metricSum(metrics, 'grpcweb_endpoint_connections')).toBe(4);
    // Pod states are the same in every worker: merged, not added.
    expect(metricSum(metrics, 'grpcweb_upstream_endpoints', 'state="READY"')).toBe(2);
    expect(metricSum(metrics, 'grpcweb_gateway_info')).toBe(1);
  });

  it('every worker resolves the headless Service itself: a Pod added to DNS gets calls from both', async () => {
    const first = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const port = Number(first.address.split(':')[1]);
    pods = [first];
    dns = await spawnHeadlessDns();
    const name = 'echo-headless.workers.svc.cluster.local';
    await dns.set(name, ['127.0.0.2'], 1);
    const http = await freePort();
    gateway = spawnGateway([
      '--listen', `127.0.0.1:${http}`,
      '--admin', `127.0.0.1:${await freePort()}`,
      '--upstream', `dns:///${name}:${port}`,
      '--dns-server', `${dns.address.host}:${dns.address.port}`,
      '--resolve-interval', '300ms',
      '--workers', '2',
      '--log-level', 'info',
    ]);
    await waitForLog(gateway, (l) => l.msg === 'worker listening' && l.worker === 1);
    await waitForLog(gateway, (l) => l.msg === 'worker listening' && l.worker === 2);
    const client = nodeClient('connect', `http://127.0.0.1:${http}`);
    expect(await calls(client, 100, 8)).toEqual([]);

    pods.push(await startEchoPod({ host: '127.0.0.3', port }));
    await dns.set(name, ['127.0.0.2', '127.0.0.3'], 1);
    const added = Date.now();
    // Calls on several connections (so on both workers) until each worker has sent one to the new Pod.
    const newPod = `127.0.0.3:${port}`;
    const workersOnNewPod = () =>
      new Set(logLines(gateway!).filter((l) => l.msg === 'call' && l.endpoint === newPod).map((l) => l.worker));
    // Each worker gets there within about one resolve interval of its own; the bound is only
    // room for a loaded machine (the balancing tests measure how soon a new Pod gets traffic).
    while (workersOnNewPod().size < 2 && Date.now() - added < START_MS) expect(await calls(client, 40, 8)).toEqual([]);
    expect([...workersOnNewPod()].sort()).toEqual([1, 2]);
  });

  it('restarts a worker that dies and keeps serving, still ready', async () => {
    const { baseUrl, adminUrl } = await setUp(['--access-log', 'false']);
    const first = await waitForLog(gateway!, (l) => l.msg === 'worker listening' && l.worker === 1);
    await waitForLog(gateway!, (l) => l.msg === 'worker listening' && l.worker === 2);
    process.kill(first.pid!, 'SIGKILL');
    await waitForLog(gateway!, (l) => l.msg === 'worker died; restarting it' && l.worker === 1);
    const replacement = await waitForLog(gateway!, (l) => l.msg === 'worker listening' && l.worker === 3);
    expect(replacement.pid).not.toBe(first.pid);
    await waitForStatus(`${adminUrl}/readyz`, 200, 1000);
    expect(await calls(nodeClient('pbts-binary', baseUrl), 100, 8)).toEqual([]);
    const view = (await (await fetch(`${adminUrl}/endpoints`)).json()) as EndpointsView;
    expect(view.gateway.workers).toBe(2);
  });

  it('SIGTERM: readiness drops at once, every worker finishes its streams, exit 0', async () => {
    const { baseUrl, adminUrl } = await setUp(['--shutdown-delay', '500ms', '--drain-timeout', '10s']);
    const client = nodeClient('connect', baseUrl);
    // Streams on several connections, so both workers hold some when the signal comes.
    let streaming = 0;
    const streams = Array.from({ length: 6 }, () => {
      let first = true;
      return client.stream({ count: 10, intervalMs: 150 }, { onMessage: () => first && ((first = false), streaming++) });
    });
    for (const end = Date.now() + START_MS; streaming < 6 && Date.now() < end; ) await sleep(20);
    expect(streaming).toBe(6);
    gateway!.kill('SIGTERM');
    // Only a stopping primary answers 503 once ready (its admin listener closes with the last worker).
    await waitForStatus(`${adminUrl}/readyz`, 503, START_MS);
    for (const s of await Promise.all(streams)) {
      expect(s.status.code).toBe(0);
      expect(s.messages).toHaveLength(10);
    }
    const { code } = await gateway!.exited;
    expect(code).toBe(0);
    // Done when the streams are, not at the drain timeout: the clients' idle keep-alive
    // connections are closed as the workers drain. A worker whose drain ran into the timeout
    // would have said so.
    expect(gateway!.output()).not.toContain('drain timeout');
    const exits = logLines(gateway!).filter((l) => l.msg === 'worker exited');
    expect(exits.map((l) => l.code)).toEqual([0, 0]);
  });

  it('stops with exit 1 when a worker cannot start (listen port taken), instead of restarting it forever', async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker!.listen(0, '127.0.0.1', () => resolve((blocker!.address() as { port: number }).port)),
    );
    pods = [await startEchoPod({ host: '127.0.0.2', port: 0 })];
    gateway = spawnGateway(['--listen', `127.0.0.1:${port}`, '--upstream', pods[0]!.address, '--workers', '2']);
    const { code } = await gateway.exited;
    expect(code).toBe(1);
    expect(gateway.output()).toContain('EADDRINUSE');
    expect(gateway.output()).toContain('worker failed to start; stopping');
  });
});

// A worker is "starting" from its fork until its listener is up, and has no signal handler for
// the first part of that (Node boots and loads the bundle). test/support/hold-workers.mjs holds
// chosen workers right there, for as long as the test needs, so these cases do not depend on
// catching a real start-up at the right millisecond.
const HOLD_WORKERS = fileURLToPath(new URL('../support/hold-workers.mjs', import.meta.url));

async function spawnHeld(held: number[]): Promise<{ baseUrl: string; adminUrl: string; heldPids: number[] }> {
  pods = [await startEchoPod({ host: '127.0.0.2', port: 0 })];
  const [http, admin] = [await freePort(), await freePort()];
  gateway = spawnGateway(
    [
      '--listen', `127.0.0.1:${http}`,
      '--admin', `127.0.0.1:${admin}`,
      '--upstream', pods[0]!.address,
      '--workers', '2',
      '--shutdown-delay', '0s',
      '--log-level', 'info',
    ],
    { NODE_OPTIONS: `--import=${HOLD_WORKERS}`, GWG_TEST_HOLD_WORKERS: held.join(',') },
  );
  const heldPids: number[] = [];
  for (const id of held) heldPids.push((await waitForLog(gateway, (l) => l.msg === 'held' && l.held === id)).pid!);
  return { baseUrl: `http://127.0.0.1:${http}`, adminUrl: `http://127.0.0.1:${admin}`, heldPids };
}

describe('--workers 2: a worker stopped before it is ready is no start-up failure', { timeout: 120_000 }, () => {
  it('SIGTERM while every worker is still starting (no handler yet, so the signal ends it): exit 0', async () => {
    await spawnHeld([1, 2]);
    gateway!.kill('SIGTERM');
    const { code } = await gateway!.exited;
    const exits = logLines(gateway!).filter((l) => l.msg === 'worker exited');
    expect(exits.map((l) => l.signal).sort()).toEqual(['SIGTERM', 'SIGTERM']);
    expect(gateway!.output()).not.toContain('worker failed to start');
    expect(code).toBe(0);
  });

  it("Ctrl-C before the workers are ready, the workers' SIGINT seen before the primary's own: exit 0", async () => {
    const { heldPids } = await spawnHeld([1, 2]);
    // Ctrl-C signals the whole process group; take the order that used to fail: the primary
    // sees its starting workers die of SIGINT before its own SIGINT arrives.
    for (const pid of heldPids) process.kill(pid, 'SIGINT');
    for (const id of [1, 2]) {
      const died = await waitForLog(gateway!, (l) => l.msg === 'worker died; restarting it' && l.worker === id);
      expect(died).toMatchObject({ signal: 'SIGINT', listening: false });
    }
    gateway!.kill('SIGINT');
    const { code } = await gateway!.exited;
    expect(gateway!.output()).not.toContain('worker failed to start');
    expect(logLines(gateway!).find((l) => l.msg === 'all workers stopped')).toMatchObject({ exitCode: 0 });
    expect(code).toBe(0);
  });

  it('a worker SIGKILLed before it is ready is replaced: the gateway becomes ready, serves, and stops with exit 0', async () => {
    const { baseUrl, adminUrl, heldPids } = await spawnHeld([1]);
    process.kill(heldPids[0]!, 'SIGKILL');
    const died = await waitForLog(gateway!, (l) => l.msg === 'worker died; restarting it' && l.worker === 1);
    expect(died).toMatchObject({ signal: 'SIGKILL', listening: false });
    await waitForLog(gateway!, (l) => l.msg === 'worker listening' && l.worker === 3);
    await waitForStatus(`${adminUrl}/readyz`, 200, START_MS);
    expect(await calls(nodeClient('connect', baseUrl), 50, 4)).toEqual([]);
    gateway!.kill('SIGTERM');
    const { code } = await gateway!.exited;
    expect(logLines(gateway!).filter((l) => l.msg === 'worker exited').map((l) => l.code)).toEqual([0, 0]);
    expect(code).toBe(0);
  });

  it('SIGTERM as soon as the primary has started, whatever each worker is doing then: exit 0', async () => {
    pods = [await startEchoPod({ host: '127.0.0.2', port: 0 })];
    gateway = spawnGateway([
      '--listen', `127.0.0.1:${await freePort()}`,
      '--admin', `127.0.0.1:${await freePort()}`,
      '--upstream', pods[0]!.address,
      '--workers', '2',
      '--log-level', 'info',
    ]);
    await waitForLog(gateway, (l) => l.msg === 'primary started');
    gateway.kill('SIGTERM');
    const { code } = await gateway.exited;
    expect(gateway.output()).not.toContain('worker failed to start');
    expect(code).toBe(0);
  });
});

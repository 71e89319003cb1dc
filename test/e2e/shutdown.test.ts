// Graceful shutdown with Kubernetes semantics, on the real CLI process: SIGTERM turns /readyz
// 503 at once, calls keep being served for --shutdown-delay, then in-flight calls and streams
// finish (up to --drain-timeout), and the process exits 0. Under load, no call is lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { nodeClient } from '../support/clients.js';
import { spawnHeadlessDns, type DnsProcess } from '../support/dns-process.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';

let pod: EchoPod | null = null;
let gateway: GatewayProcess | null = null;
let embedded: ChildProcess | null = null;
let dns: DnsProcess | null = null;
let blocker: Server | null = null;
afterEach(async () => {
  gateway?.kill('SIGKILL');
  embedded?.kill('SIGKILL');
  await dns?.stop();
  await pod?.close();
  blocker?.close();
  pod = null;
  gateway = null;
  embedded = null;
  dns = null;
  blocker = null;
});

/**
 * A bound on start-ups (a process, its readiness), not a measure: on a machine shared by many
 * test runs a start can take tens of seconds, and waiting longer only costs time when it fails.
 */
const START_MS = 60_000;

async function waitUntil(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !predicate(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
  }
}

async function setUp(extra: string[]) {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  const [http, admin] = [await freePort(), await freePort()];
  gateway = spawnGateway([
    '--listen', `127.0.0.1:${http}`,
    '--admin', `127.0.0.1:${admin}`,
    '--upstream', pod.address,
    '--log-level', 'warn',
    ...extra,
  ]);
  const readyz = `http://127.0.0.1:${admin}/readyz`;
  await waitForStatus(readyz, 200, START_MS);
  return { baseUrl: `http://127.0.0.1:${http}`, readyz };
}

describe('graceful shutdown (SIGTERM)', { timeout: 120_000 }, () => {
  it('loses no call under load: readiness drops at once, serving continues through the delay, streams finish, exit 0', async () => {
    // Exit by itself; the drain timeout would log a warning (this log level shows it).
    const { baseUrl, readyz } = await setUp(['--shutdown-delay', '3s', '--drain-timeout', '10s']);
    const client = nodeClient('connect', baseUrl);
    const failures: string[] = [];
    let sending = true;
    let notReady = false;
    let ok = 0;
    let okAfterNotReady = 0;
    // Eight callers in a loop, each call taking ~50 ms at the Pod; bounded by `sending` and a count.
    const loops = Array.from({ length: 8 }, async () => {
      for (let i = 0; sending && i < 2000; i++) {
        const afterNotReady = notReady;
        const r = await client.unary({ message: 'x', delayMs: 50 });
        if (!r.ok) failures.push(`${r.status.code} ${r.status.details}`);
        else if (afterNotReady) okAfterNotReady++;
        else ok++;
      }
    });
    // A stream that outlives the shutdown delay: 20 messages 200 ms apart.
    const stream = client.stream({ count: 20, intervalMs: 200 });
    await waitUntil('calls flowing', () => ok >= 8, START_MS);

    const signalled = Date.now();
    gateway!.kill('SIGTERM');
    // "At once": readiness is 503 while the gateway still serves, i.e. before its delay ends.
    await waitForStatus(readyz, 503, START_MS);
    notReady = true;
    // Calls sent after readiness dropped are still served: like a load balancer that takes a
    // moment to see the endpoint gone, the callers stop once each has had such a call answered
    // (order, not a fixed pause; the 3 s delay leaves room for it on a loaded machine).
    await waitUntil('calls answered after readiness dropped', () => okAfterNotReady >= 8 || failures.length > 0, START_MS);
    sending = false;
    await Promise.all(loops);

    const s = await stream;
    expect(s.status.code).toBe(0);
    expect(s.messages).toHaveLength(20);
    const { code } = await gateway!.exited;
    expect(code).toBe(0);
    expect(failures).toEqual([]);
    expect(Date.now() - signalled).toBeGreaterThan(3000);
    // ...and it is over when the stream is, not at the drain timeout: the callers' keep-alive
    // connections, idle once their last call ends, are closed during the drain. Had the drain
    // run into its timeout, the gateway would have said so.
    expect(gateway!.output()).not.toContain('drain timeout');
  });

  it('cuts streams still running at the drain timeout with a gRPC status, not a truncated body', async () => {
    const { baseUrl } = await setUp(['--shutdown-delay', '0s', '--drain-timeout', '500ms']);
    const client = nodeClient('pbts-text', baseUrl);
    let streaming!: () => void;
    const firstMessage = new Promise<void>((resolve) => (streaming = resolve));
    const stream = client.stream({ count: 100, intervalMs: 100 }, { onMessage: () => streaming() });
    await firstMessage;
    gateway!.kill('SIGTERM');
    const s = await stream;
    expect(s.messages.length).toBeGreaterThan(0);
    expect(s.messages.length).toBeLessThan(100);
    expect(s.status.code).toBe(14); // UNAVAILABLE: "gateway is shutting down"
    expect((await gateway!.exited).code).toBe(0);
  });

  it('exits at once on a second signal', async () => {
    const { baseUrl, readyz } = await setUp(['--shutdown-delay', '60s']);
    const client = nodeClient('connect', baseUrl);
    let streaming!: () => void;
    const firstMessage = new Promise<void>((resolve) => (streaming = resolve));
    void client.stream({ count: 100, intervalMs: 100 }, { onMessage: () => streaming() });
    await firstMessage;
    gateway!.kill('SIGTERM');
    // The first signal has been taken (readiness dropped) before the second comes.
    await waitForStatus(readyz, 503, START_MS);
    const second = Date.now();
    gateway!.kill('SIGTERM');
    const { code } = await gateway!.exited;
    expect(code).toBe(1);
    // At once: not after the 60 s delay, nor a drain; the bound only leaves room for a loaded machine.
    expect(Date.now() - second).toBeLessThan(15_000);
  });
});

// A program that embeds the gateway (test/support/embedded-gateway.mjs imports dist/gateway.js)
// must exit by itself once shutdown() or close() has resolved: no timer, interval, socket or
// server of the gateway's may outlive the stop. The child reports what is still alive
// (process.getActiveResourcesInfo()) and exits 3 if it has not exited 20 s after the command:
// room for a loaded machine, and still well inside the 30 s default drain timeout whose timer
// used to be left running.
const EMBEDDED = fileURLToPath(new URL('../support/embedded-gateway.mjs', import.meta.url));

interface EmbeddedEvent {
  event: 'started' | 'start-failed' | 'stopped' | 'still-alive';
  httpUrl?: string;
  adminUrl?: string | null;
  message?: string;
  resources?: string[];
}

function spawnEmbedded(flags: string[]) {
  const child = spawn(process.execPath, [EMBEDDED, JSON.stringify(flags)], { stdio: ['pipe', 'pipe', 'pipe'] });
  embedded = child;
  const events: EmbeddedEvent[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    events.push(JSON.parse(line) as EmbeddedEvent);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  /** Its first event: started, or start-failed. */
  const first = async (): Promise<EmbeddedEvent> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (events.length > 0) resolve(events[0]!);
        else if (child.exitCode !== null) reject(new Error(`embedding program exited ${child.exitCode}: ${stderr}`));
        else waiters.push(check);
      };
      check();
      void exited.then(check);
    });
  return {
    first,
    command: (cmd: string) => child.stdin!.end(`${cmd}\n`),
    /**
     * Its exit code and what it reported, event names only, except a 'still-alive' event in
     * full: it names what kept the process alive.
     */
    exit: async () => ({
      code: await exited,
      events: events.map((e) => (e.event === 'still-alive' ? e : e.event)),
      stderr,
    }),
  };
}

async function embeddedFlags(shutdownDelay = '0s', extra: string[] = []): Promise<string[]> {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  return ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--upstream', pod.address, '--shutdown-delay', shutdownDelay, ...extra];
}

describe('a program that embeds startGateway() (dist/gateway.js) exits by itself', { timeout: 120_000 }, () => {
  it('after shutdown() with the default 30 s drain timeout: a headless Service, health checks, admin and keep-alive clients leave nothing running', async () => {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    dns = await spawnHeadlessDns({ startTimeoutMs: START_MS });
    const name = 'echo-headless.embedded.svc.cluster.local';
    await dns.set(name, ['127.0.0.2'], 1);
    const child = spawnEmbedded([
      '--listen', '127.0.0.1:0',
      '--admin', '127.0.0.1:0',
      '--upstream', `dns:///${name}:${pod.address.split(':')[1]}`,
      '--dns-server', `${dns.address.host}:${dns.address.port}`,
      '--resolve-interval', '200ms',
      '--health-check-interval', '200ms',
      '--shutdown-delay', '0s',
    ]);
    const started = await child.first();
    expect(started.event).toBe('started');
    await waitForStatus(`${started.adminUrl}/readyz`, 200, START_MS);
    // Keep-alive connections stay open afterwards, as browsers' and scrapers' do.
    const client = nodeClient('connect', started.httpUrl!);
    for (let i = 0; i < 5; i++) expect((await client.unary({ message: 'hi' })).ok).toBe(true);
    expect((await fetch(`${started.adminUrl}/metrics`)).status).toBe(200);

    child.command('shutdown');
    expect(await child.exit()).toEqual({ code: 0, events: ['started', 'stopped'], stderr: '' });
  });

  it('after close(), and after close() cuts a shutdown() still in its --shutdown-delay', async () => {
    for (const [command, shutdownDelay] of [
      ['close', '0s'],
      ['close-during-shutdown', '60s'],
    ] as const) {
      const child = spawnEmbedded(await embeddedFlags(shutdownDelay));
      const started = await child.first();
      expect((await nodeClient('pbts-binary', started.httpUrl!).unary({ message: 'hi' })).ok).toBe(true);
      child.command(command);
      expect({ command, ...(await child.exit()) }).toEqual({
        command,
        code: 0,
        events: ['started', 'stopped'],
        stderr: '',
      });
      await pod?.close();
      pod = null;
    }
  });

  it('after a drain cut by --drain-timeout: the stream still running gets UNAVAILABLE', async () => {
    const child = spawnEmbedded(await embeddedFlags('0s', ['--drain-timeout', '300ms']));
    const started = await child.first();
    let onFirst!: () => void;
    const first = new Promise<void>((resolve) => (onFirst = resolve));
    const stream = nodeClient('connect', started.httpUrl!).stream(
      { count: 100, intervalMs: 100 },
      { onMessage: () => onFirst() },
    );
    await first;
    child.command('shutdown');
    const s = await stream;
    expect(s.status.code).toBe(14);
    expect(s.messages.length).toBeLessThan(100);
    expect(await child.exit()).toEqual({ code: 0, events: ['started', 'stopped'], stderr: '' });
  });

  it('after startGateway() rejects (listen port taken)', async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker!.listen(0, '127.0.0.1', () => resolve((blocker!.address() as { port: number }).port)),
    );
    const flags = await embeddedFlags();
    flags[1] = `127.0.0.1:${port}`;
    const child = spawnEmbedded(flags);
    const failed = await child.first();
    expect(failed.event).toBe('start-failed');
    expect(failed.message).toContain('EADDRINUSE');
    expect(await child.exit()).toEqual({ code: 0, events: ['start-failed'], stderr: '' });
  });
});

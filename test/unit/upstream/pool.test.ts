import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamOptions } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/upstream/logger.js';
import { PodPool } from '../../../src/upstream/pool.js';
import type { ResolvedAddress, Resolver, ResolverListener } from '../../../src/upstream/types.js';
import { startRawPod, type RawPod } from '../../support/raw-pod.js';

/** The pool's resolver, driven by the test: what DNS would say, said directly. */
class ManualResolver implements Resolver {
  listener: ResolverListener | null = null;
  refreshes = 0;
  start(listener: ResolverListener) {
    this.listener = listener;
  }
  set(addresses: ResolvedAddress[]) {
    this.listener!.onAddresses(addresses);
  }
  refresh() {
    this.refreshes++;
  }
  stop() {}
  stats() {
    return { lookups: 0, failures: 0, lastSuccess: 0 };
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const options = (o: Partial<UpstreamOptions> = {}): UpstreamOptions => ({
  balancer: 'round-robin',
  connectTimeoutMs: 2000,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  maxRetries: 2,
  streamsPerConnection: 100,
  maxConnectionsPerEndpoint: 4,
  drainTimeoutMs: 5000,
  healthCheckIntervalMs: 0,
  healthCheckTimeoutMs: 1000,
  ...o,
});

interface Result {
  status: StatusObject;
  message?: string;
  endpoint?: string;
}

function call(pool: PodPool, deadlineMs = 5000): { done: Promise<Result>; cancel(): void } {
  let resolve!: (r: Result) => void;
  const done = new Promise<Result>((r) => (resolve = r));
  let message: string | undefined;
  const c = pool.call(
    { method: '/test.Pod/Who', metadata: new Metadata(), deadline: Date.now() + deadlineMs, message: Buffer.from('hi') },
    {
      onHeaders() {},
      onMessage(m) {
        message = m.toString();
        c.requestNext();
      },
      onStatus(status, endpoint) {
        resolve({ status, message, endpoint });
      },
    },
  );
  return { done, cancel: () => c.cancel() };
}

const until = async (predicate: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

let pods: RawPod[] = [];
let pools: PodPool[] = [];
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close(0)));
  await Promise.all(pods.map((p) => p.close()));
  pods = [];
  pools = [];
});

function makePool(o: Partial<UpstreamOptions> = {}) {
  const resolver = new ManualResolver();
  const pool = new PodPool({
    name: 'test',
    target: { kind: 'dns', text: 'dns:///test:1', name: 'test', port: 1 },
    resolver,
    options: options(o),
    maxMessageBytes: 4 << 20,
    logger: silentLogger,
  });
  pool.start();
  pools.push(pool);
  return { pool, resolver };
}

describe('PodPool', () => {
  it('connects to every Pod at once and spreads calls round-robin over them', async () => {
    const port = await freePort();
    pods = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((h) => startRawPod(h, port)));
    const { pool, resolver } = makePool();
    resolver.set(pods.map((p) => ({ host: p.address.split(':')[0]!, port })));
    // Connections open before any call arrives.
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    const results = await Promise.all(Array.from({ length: 30 }, () => call(pool).done));
    for (const r of results) expect(r.status.code).toBe(Status.OK);
    for (const pod of pods) expect(pod.calls).toBe(10);
    expect(new Set(results.map((r) => r.message))).toEqual(new Set(pods.map((p) => p.address)));
  });

  it('parks a call until a Pod is ready instead of failing it', async () => {
    const port = await freePort();
    const { pool, resolver } = makePool();
    const pending = call(pool);
    await new Promise((r) => setTimeout(r, 100));
    pods = [await startRawPod('127.0.0.2', port)];
    resolver.set([{ host: '127.0.0.2', port }]);
    const r = await pending.done;
    expect(r.status.code).toBe(Status.OK);
    expect(r.message).toBe(`127.0.0.2:${port}`);
  });

  it('fails a parked call UNAVAILABLE after the connect timeout, DEADLINE_EXCEEDED when the deadline is sooner', async () => {
    const { pool } = makePool({ connectTimeoutMs: 200 });
    const started = Date.now();
    const r = await call(pool).done;
    expect(r.status.code).toBe(Status.UNAVAILABLE);
    expect(r.status.details).toMatch(/no ready Pod/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const d = await call(pool, 50).done;
    expect(d.status.code).toBe(Status.DEADLINE_EXCEEDED);
  });

  it('cancels a parked call at once', async () => {
    const { pool } = makePool();
    const c = call(pool);
    c.cancel();
    expect((await c.done).status.code).toBe(Status.CANCELLED);
  });

  it('drains a Pod that leaves DNS: its in-flight call finishes, new calls go elsewhere, then it is removed', async () => {
    const port = await freePort();
    const slow = await startRawPod('127.0.0.2', port, { delayMs: 500 });
    const fast = await startRawPod('127.0.0.3', port);
    pods = [slow, fast];
    const { pool, resolver } = makePool();
    resolver.set([{ host: '127.0.0.2', port }]);
    await until(() => pool.isReady());
    const inFlight = call(pool);
    await until(() => slow.calls === 1);
    resolver.set([{ host: '127.0.0.3', port }]);
    const draining = pool.snapshot().endpoints.find((e) => e.address === slow.address)!;
    expect(draining.draining).toBe(true);
    await until(() => pool.isReady());
    const next = await call(pool).done;
    expect(next.message).toBe(fast.address);
    const r = await inFlight.done;
    expect(r.status.code).toBe(Status.OK);
    expect(r.message).toBe(slow.address);
    await until(() => pool.snapshot().endpoints.length === 1);
    expect(pool.snapshot().endpoints[0]!.address).toBe(fast.address);
  });

  it('cancels calls still on a removed Pod when its drain times out', async () => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { delayMs: 3000 })];
    const { pool, resolver } = makePool({ drainTimeoutMs: 200 });
    resolver.set([{ host: '127.0.0.2', port }]);
    await until(() => pool.isReady());
    const c = call(pool);
    await until(() => pods[0]!.calls === 1);
    resolver.set([]);
    const r = await c.done;
    expect(r.status.code).toBe(Status.UNAVAILABLE);
    expect(r.status.details).toMatch(/drain timed out/);
    expect(pool.snapshot().endpoints).toHaveLength(0);
  });

  it('retries on another Pod a call the first one refused before doing anything', async () => {
    const port = await freePort();
    const bad = await startRawPod('127.0.0.2', port, { failWith: Status.UNAVAILABLE });
    const good = await startRawPod('127.0.0.3', port);
    pods = [bad, good];
    const { pool, resolver } = makePool();
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    const results = await Promise.all(Array.from({ length: 10 }, () => call(pool).done));
    for (const r of results) {
      expect(r.status.code).toBe(Status.OK);
      expect(r.message).toBe(good.address);
    }
    expect(bad.calls).toBeGreaterThan(0);
    expect(pool.retries).toBe(bad.calls);
  });

  it('does not retry application errors', async () => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { failWith: Status.NOT_FOUND }), await startRawPod('127.0.0.3', port)];
    const { pool, resolver } = makePool();
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    const results = await Promise.all(Array.from({ length: 10 }, () => call(pool).done));
    expect(results.filter((r) => r.status.code === Status.NOT_FOUND)).toHaveLength(5);
    expect(pool.retries).toBe(0);
  });

  it('takes a Pod that drops out of rotation at once and asks DNS again', async () => {
    const port = await freePort();
    const a = await startRawPod('127.0.0.2', port);
    const b = await startRawPod('127.0.0.3', port);
    pods = [b];
    const { pool, resolver } = makePool();
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    a.forceClose();
    await until(() => pool.snapshot().endpoints.find((e) => e.address === a.address)!.state !== 'READY');
    expect(resolver.refreshes).toBeGreaterThan(0);
    const results = await Promise.all(Array.from({ length: 10 }, () => call(pool).done));
    for (const r of results) expect(r.message).toBe(b.address);
  });

  it('opens more connections to a Pod when calls exceed the per-connection threshold', async () => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { delayMs: 300 })];
    const { pool, resolver } = makePool({ streamsPerConnection: 2, maxConnectionsPerEndpoint: 3 });
    resolver.set([{ host: '127.0.0.2', port }]);
    await until(() => pool.isReady());
    const first = Array.from({ length: 4 }, () => call(pool).done);
    await until(() => pool.snapshot().endpoints[0]!.connections >= 2);
    await new Promise((r) => setTimeout(r, 100));
    const second = Array.from({ length: 8 }, () => call(pool).done);
    const results = await Promise.all([...first, ...second]);
    for (const r of results) expect(r.status.code).toBe(Status.OK);
    expect(pool.snapshot().endpoints[0]!.connections).toBe(3);
  });

  it('lets in-flight calls finish on close, and refuses new ones', async () => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { delayMs: 200 })];
    const { pool, resolver } = makePool();
    resolver.set([{ host: '127.0.0.2', port }]);
    await until(() => pool.isReady());
    const c = call(pool);
    await until(() => pods[0]!.calls === 1);
    const closed = pool.close(2000);
    const late = await call(pool).done;
    expect(late.status.code).toBe(Status.UNAVAILABLE);
    expect((await c.done).status.code).toBe(Status.OK);
    await closed;
  });

  it('takes a Pod that answers NOT_SERVING out of rotation and back when it serves again', async () => {
    const port = await freePort();
    let status = 1;
    const flaky = await startRawPod('127.0.0.2', port, { health: () => status });
    const steady = await startRawPod('127.0.0.3', port); // no health service: UNIMPLEMENTED = alive
    pods = [flaky, steady];
    const { pool, resolver } = makePool({ healthCheckIntervalMs: 50, healthCheckTimeoutMs: 500 });
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    status = 2; // NOT_SERVING
    await until(() => pool.snapshot().endpoints.find((e) => e.address === flaky.address)!.healthy === false);
    expect(pool.snapshot().endpoints.find((e) => e.address === steady.address)!.healthy).toBe(true);
    expect(resolver.refreshes).toBeGreaterThan(0);
    const during = await Promise.all(Array.from({ length: 10 }, () => call(pool).done));
    for (const r of during) expect(r.message).toBe(steady.address);
    status = 1;
    await until(() => pool.snapshot().endpoints.every((e) => e.healthy));
    const after = await Promise.all(Array.from({ length: 10 }, () => call(pool).done));
    expect(new Set(after.map((r) => r.message))).toEqual(new Set([flaky.address, steady.address]));
  });

  it('keeps serving through Pods that all fail their health checks rather than failing every call', async () => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { health: () => 2 })];
    const { pool, resolver } = makePool({ healthCheckIntervalMs: 50, healthCheckTimeoutMs: 500 });
    resolver.set([{ host: '127.0.0.2', port }]);
    await until(() => pool.snapshot().endpoints[0]?.healthy === false);
    const r = await call(pool).done;
    expect(r.status.code).toBe(Status.OK);
  });
});


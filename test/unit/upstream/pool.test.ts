import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamClientName, UpstreamOptions } from '../../../src/config/types.js';
import type { PodPool } from '../../../src/upstream/pool.js';
import { startRawPod, type RawPod } from '../../support/raw-pod.js';
import { upstreamClientUnderTest, UPSTREAM_CLIENTS } from '../../support/upstream-options.js';
import { closePools, makePool, until } from './pool-harness.js';

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

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

let pods: RawPod[] = [];
afterEach(async () => {
  await closePools();
  await Promise.all(pods.map((p) => p.close()));
  pods = [];
});

/** A slow Pod (127.0.0.2) in the pool with a call in flight on it, and a fast one (127.0.0.3) not yet in. */
async function callOnSlowPod(client: UpstreamClientName = upstreamClientUnderTest()) {
  const port = await freePort();
  const slow = await startRawPod('127.0.0.2', port, { delayMs: 500 });
  const fast = await startRawPod('127.0.0.3', port);
  pods = [slow, fast];
  const { pool, resolver } = makePool({ client });
  resolver.set([{ host: '127.0.0.2', port }]);
  await until(() => pool.isReady());
  const inFlight = call(pool);
  await until(() => slow.calls === 1);
  return { port, slow, fast, pool, resolver, inFlight };
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
    expect(r.status.details).toBe('no ready backend'); // the upstream's name is for the log only
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    // Cut by its own deadline, every time, whatever the timers' luck: 50 at once, some with a
    // deadline just below the connect timeout.
    const cut = await Promise.all(Array.from({ length: 50 }, (_, i) => call(pool, i % 2 ? 50 : 199).done));
    for (const d of cut) expect(d.status.code).toBe(Status.DEADLINE_EXCEEDED);
  });

  it('cancels a parked call at once', async () => {
    const { pool } = makePool();
    const c = call(pool);
    c.cancel();
    expect((await c.done).status.code).toBe(Status.CANCELLED);
  });

  it.each(UPSTREAM_CLIENTS)('drains a Pod that leaves DNS: its in-flight call finishes, new calls go elsewhere, then it is removed (%s)', async (client) => {
    const { port, slow, fast, pool, resolver, inFlight } = await callOnSlowPod(client);
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

  it.each(UPSTREAM_CLIENTS)('cancels calls still on a removed Pod when its drain times out (%s)', async (client) => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { delayMs: 3000 })];
    const { pool, resolver } = makePool({ client, podDrainTimeoutMs: 200 });
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

  it.each(UPSTREAM_CLIENTS)('never sends again a call a Pod answered UNAVAILABLE: one call, exactly one handler run (%s)', async (client) => {
    const port = await freePort();
    const shedding = await startRawPod('127.0.0.2', port, { failWith: Status.UNAVAILABLE });
    const good = await startRawPod('127.0.0.3', port);
    pods = [shedding, good];
    const { pool, resolver } = makePool({ client });
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    const results = await Promise.all(Array.from({ length: 20 }, () => call(pool).done));
    expect(shedding.calls + good.calls).toBe(20);
    expect(results.filter((r) => r.status.code === Status.UNAVAILABLE)).toHaveLength(shedding.calls);
    expect(shedding.calls).toBe(10);
    expect(pool.retries).toEqual({ transparent: 0, policy: 0 });
  });

  it.each(UPSTREAM_CLIENTS)('never sends again a call whose Pod went away while its handler ran (%s)', async (client) => {
    const port = await freePort();
    const dying = await startRawPod('127.0.0.2', port, { delayMs: 5000 });
    const good = await startRawPod('127.0.0.3', port);
    pods = [good];
    const { pool, resolver } = makePool({ client });
    resolver.set([{ host: '127.0.0.2', port }]);
    await until(() => pool.isReady());
    const first = call(pool);
    await until(() => dying.calls === 1);
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    dying.forceClose();
    const r = await first.done;
    expect(r.status.code).not.toBe(Status.OK);
    expect(good.calls).toBe(0);
    expect(pool.retries.transparent).toBe(0);
  });

  it.each(UPSTREAM_CLIENTS)('sends elsewhere, safely, the calls a Pod never processed: a Pod shutting down gracefully under load loses no call and runs none twice (%s)', async (client) => {
    const port = await freePort();
    const leaving = await startRawPod('127.0.0.2', port, { delayMs: 5 });
    const staying = await startRawPod('127.0.0.3', port, { delayMs: 5 });
    pods = [staying];
    const { pool, resolver } = makePool({ client });
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    // A stream of calls, a new one every turn of the event loop, while the Pod sends GOAWAY and
    // closes its listener (grpc-js tryShutdown): the calls picked for it in the window before the
    // gateway sees the GOAWAY are refused or find no connection, and must go to the other Pod.
    const results: Promise<Result>[] = [];
    let stop = false;
    const loop = () => {
      if (stop || results.length >= 2000) return;
      results.push(call(pool).done);
      setImmediate(loop);
    };
    loop();
    await until(() => leaving.calls >= 20);
    await leaving.close();
    await until(() => staying.calls >= 50);
    stop = true;
    const all = await Promise.all(results);
    expect(all.filter((r) => r.status.code !== Status.OK).map((r) => r.status)).toEqual([]);
    expect(leaving.calls + staying.calls).toBe(all.length);
  });

  describe('--retry-on: retries of answers, for the methods declared idempotent only', () => {
    const retryOn = (methods: string[], o: Partial<NonNullable<UpstreamOptions['retryPolicy']>> = {}) => ({
      retryPolicy: { codes: [Status.UNAVAILABLE], methods, maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, budgetPercent: 20, ...o },
    });

    it('retries a covered method on another Pod, with the attempts bounded', async () => {
      const port = await freePort();
      const shedding = await startRawPod('127.0.0.2', port, { failWith: Status.UNAVAILABLE });
      const good = await startRawPod('127.0.0.3', port);
      pods = [shedding, good];
      const { pool, resolver } = makePool(retryOn(['/test.Pod/']));
      resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
      await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
      // One at a time, so the budget's minimum of 3 is never in the way.
      const results: Result[] = [];
      for (let i = 0; i < 10; i++) results.push(await call(pool).done);
      for (const r of results) expect(r.message).toBe(good.address);
      expect(good.calls).toBe(10);
      expect(shedding.calls).toBeGreaterThan(0);
      expect(pool.retries).toEqual({ transparent: 0, policy: shedding.calls });
    });

    it('leaves every other method alone', async () => {
      const port = await freePort();
      const shedding = await startRawPod('127.0.0.2', port, { failWith: Status.UNAVAILABLE });
      pods = [shedding, await startRawPod('127.0.0.3', port)];
      const { pool, resolver } = makePool(retryOn(['/test.Pod/Get', '/other.Service/']));
      resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
      await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
      const results = await Promise.all(Array.from({ length: 10 }, () => call(pool).done));
      expect(results.filter((r) => r.status.code === Status.UNAVAILABLE)).toHaveLength(5);
      expect(shedding.calls).toBe(5);
      expect(pool.retries.policy).toBe(0);
    });

    it('stops at --retry-attempts and when the server pushes back with a negative grpc-retry-pushback-ms', async () => {
      const port = await freePort();
      const a = await startRawPod('127.0.0.2', port, { failWith: Status.UNAVAILABLE });
      const b = await startRawPod('127.0.0.3', port, { failWith: Status.UNAVAILABLE });
      const c = await startRawPod('127.0.0.4', port, { failWith: Status.UNAVAILABLE, failTrailers: { 'grpc-retry-pushback-ms': '-1' } });
      pods = [a, b, c];
      const { pool, resolver } = makePool(retryOn(['/test.Pod/']));
      resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
      await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
      const r = await call(pool).done;
      expect(r.status.code).toBe(Status.UNAVAILABLE);
      expect(a.calls + b.calls).toBe(3); // maxAttempts 3: the first and two retries
      resolver.set([{ host: '127.0.0.4', port }, { host: '127.0.0.3', port }]);
      await until(() => pool.snapshot().endpoints.filter((e) => e.state === 'READY' && !e.draining).length === 2);
      for (let i = 0; i < 4 && c.calls === 0; i++) await call(pool).done;
      const before = b.calls;
      expect(c.calls).toBe(1);
      expect(b.calls - before).toBe(0); // the call c refused with pushback -1 went nowhere else
    });

    it('spends at most the retry budget when every Pod sheds load: retries cannot multiply an overload', async () => {
      const port = await freePort();
      const a = await startRawPod('127.0.0.2', port, { failWith: Status.UNAVAILABLE, delayMs: 50 });
      const b = await startRawPod('127.0.0.3', port, { failWith: Status.UNAVAILABLE, delayMs: 50 });
      pods = [a, b];
      const { pool, resolver } = makePool(retryOn(['/test.Pod/'], { budgetPercent: 20 }));
      resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
      await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
      const results = await Promise.all(Array.from({ length: 30 }, () => call(pool).done));
      for (const r of results) expect(r.status.code).toBe(Status.UNAVAILABLE);
      // 30 calls in progress: 20% = 6 retrying calls at most, each with 2 retries at most.
      // Without the budget: 90 handler runs.
      expect(a.calls + b.calls).toBeLessThanOrEqual(30 + 6 * 2);
      expect(pool.snapshot().retryBudgetExhausted).toBeGreaterThanOrEqual(30 - 6);
    });
  });

  it('does not retry application errors', async () => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { failWith: Status.NOT_FOUND }), await startRawPod('127.0.0.3', port)];
    const { pool, resolver } = makePool();
    resolver.set([{ host: '127.0.0.2', port }, { host: '127.0.0.3', port }]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    const results = await Promise.all(Array.from({ length: 10 }, () => call(pool).done));
    expect(results.filter((r) => r.status.code === Status.NOT_FOUND)).toHaveLength(5);
    expect(pool.retries).toEqual({ transparent: 0, policy: 0 });
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
    const { pool, resolver } = makePool({ streamsPerConnection: 2, maxConnectionsPerPod: 3 });
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

  it.each(UPSTREAM_CLIENTS)('lets in-flight calls finish on close, and refuses new ones (%s)', async (client) => {
    const port = await freePort();
    pods = [await startRawPod('127.0.0.2', port, { delayMs: 200 })];
    const { pool, resolver } = makePool({ client });
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

  it('in panic mode, wakes a call parked during a reconnect as soon as the Pod is back (not at the connect timeout)', async () => {
    const port = await freePort();
    const pod = await startRawPod('127.0.0.2', port, { health: () => 2 });
    const { pool, resolver } = makePool({ healthCheckIntervalMs: 50, healthCheckTimeoutMs: 500, connectTimeoutMs: 4000 });
    resolver.set([{ host: '127.0.0.2', port }]);
    await until(() => pool.snapshot().endpoints[0]?.healthy === false);
    expect(pool.snapshot().panic).toBe(true);
    expect(pool.snapshot().endpoints[0]!.inRotation).toBe(true);
    pod.forceClose();
    await until(() => !pool.isReady());
    expect(pool.snapshot().endpoints[0]!.inRotation).toBe(false);
    const parked = call(pool, 10_000);
    const started = Date.now();
    pods = [await startRawPod('127.0.0.2', port, { health: () => 2 })];
    const r = await parked.done;
    expect(r.status.code).toBe(Status.OK);
    expect(Date.now() - started).toBeLessThan(4000);
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


describe('PodPool with addresses that carry draining and zone (k8s:/// discovery)', () => {
  it('a draining address drains the Pod exactly like one that left, and is never added when unknown', async () => {
    const { port, slow, fast, pool, resolver, inFlight } = await callOnSlowPod();
    // Terminating but still serving: listed, marked draining. A terminating Pod never seen before stays out.
    resolver.set([
      { host: '127.0.0.2', port, draining: true },
      { host: '127.0.0.3', port },
      { host: '127.0.0.4', port, draining: true },
    ]);
    expect(pool.snapshot().endpoints.map((e) => [e.address, e.draining])).toEqual([
      [slow.address, true],
      [fast.address, false],
    ]);
    await until(() => pool.isReady());
    expect((await call(pool).done).message).toBe(fast.address);
    expect((await inFlight.done).message).toBe(slow.address);
    await until(() => pool.snapshot().endpoints.length === 1);
    expect(slow.calls).toBe(1);
  });

  it('--prefer-zone: calls stay in the zone while it has Pods in rotation, else go to all', async () => {
    const port = await freePort();
    pods = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((h) => startRawPod(h, port)));
    const { pool, resolver } = makePool({ preferZone: 'z1' });
    resolver.set([
      { host: '127.0.0.2', port, zone: 'z1' },
      { host: '127.0.0.3', port, zone: 'z2' },
      { host: '127.0.0.4', port, zone: 'z2' },
    ]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    expect(pool.snapshot().endpoints.map((e) => e.zone)).toEqual(['z1', 'z2', 'z2']);
    expect(pool.snapshot().preferZone).toBe('z1');
    for (const r of await Promise.all(Array.from({ length: 12 }, () => call(pool).done))) expect(r.message).toBe(pods[0]!.address);
    // The zone's only Pod terminates: the other zone takes the calls.
    resolver.set([
      { host: '127.0.0.2', port, zone: 'z1', draining: true },
      { host: '127.0.0.3', port, zone: 'z2' },
      { host: '127.0.0.4', port, zone: 'z2' },
    ]);
    const elsewhere = await Promise.all(Array.from({ length: 12 }, () => call(pool).done));
    expect(new Set(elsewhere.map((r) => r.message))).toEqual(new Set([pods[1]!.address, pods[2]!.address]));
    // A Pod that moves into the zone (its slice says so) takes them back.
    resolver.set([
      { host: '127.0.0.3', port, zone: 'z1' },
      { host: '127.0.0.4', port, zone: 'z2' },
    ]);
    for (const r of await Promise.all(Array.from({ length: 6 }, () => call(pool).done))) expect(r.message).toBe(pods[1]!.address);
  });
});

// Calls whose request is a stream of messages (client streaming, bidi) through a real PodPool to
// real grpc-js Pods: each message as it arrives, backpressure, half-close, metadata and
// trailers, cancel, deadline, and retries only while the whole request is at hand.
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import type { PodPool } from '../../../src/upstream/pool.js';
import type { UpstreamStreamCall } from '../../../src/upstream/types.js';
import { freePort } from '../../support/ports.js';
import { startRefuser } from '../../support/refuser-pod.js';
import { startHoldingPod, startStreamPod, type StreamPod } from '../../support/stream-pod.js';
import { upstreamClientUnderTest, UPSTREAM_CLIENTS } from '../../support/upstream-options.js';
import { closePools, makePool, until } from './pool-harness.js';

interface StreamCall {
  call: UpstreamStreamCall;
  headers: Metadata | null;
  messages: string[];
  status: Promise<StatusObject>;
  /** Writes one message and resolves once the pool has taken it (its `sent`). */
  send(text: string | Buffer): Promise<void>;
}

function open(pool: PodPool, method: string, metadata = new Metadata(), deadlineMs = 10_000): StreamCall {
  let resolve!: (s: StatusObject) => void;
  const result: StreamCall = {
    call: null as unknown as UpstreamStreamCall,
    headers: null,
    messages: [],
    status: new Promise((r) => (resolve = r)),
    send: (text) => new Promise((sent) => result.call.write(Buffer.isBuffer(text) ? text : Buffer.from(text), sent)),
  };
  result.call = pool.callStream(
    { method, metadata, deadline: Date.now() + deadlineMs },
    {
      onHeaders: (m) => (result.headers = m),
      onMessage: (m) => {
        result.messages.push(m.toString());
        result.call.requestNext();
      },
      onStatus: (s) => resolve(s),
    },
  );
  return result;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  await closePools();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function poolFor(address: string, o: Parameters<typeof makePool>[0] = {}) {
  const { pool, resolver } = makePool(o);
  const [host, port] = address.split(':');
  resolver.set([{ host: host!, port: Number(port) }]);
  await until(() => pool.isReady());
  return { pool };
}

async function podPool(o: Parameters<typeof makePool>[0] = {}): Promise<{ pool: PodPool; pod: StreamPod }> {
  const pod = await startStreamPod('127.0.0.2');
  cleanups.push(() => pod.forceClose());
  return { ...(await poolFor(pod.address, o)), pod };
}

describe('streamed requests through the pool', () => {
  it('client streaming: each message reaches the Pod as it arrives; the answer follows the half-close', async () => {
    const { pool, pod } = await podPool();
    const metadata = new Metadata();
    metadata.set('x-echo-user', 'ada');
    const c = open(pool, '/test.Stream/Collect', metadata);
    for (const [i, text] of ['one', 'two', 'three'].entries()) {
      await c.send(text);
      // The Pod has it before the next one is even written: nothing waits for the whole request.
      await until(() => pod.calls[0]?.messages.length === i + 1);
    }
    expect(pod.calls[0]!.ended).toBe(false);
    c.call.end();
    const status = await c.status;
    expect(status.code).toBe(Status.OK);
    expect(c.messages).toEqual(['one|two|three']);
    expect(c.headers!.get('x-pod')).toEqual([pod.address]);
    expect(c.headers!.get('x-echo-user')).toEqual(['ada']);
    expect(status.metadata.get('trailer-x-echo-user')).toEqual(['ada']);
    expect(pod.calls).toHaveLength(1);
  });

  it('bidi: messages interleave both ways, each echoed before the next is written', async () => {
    const { pool } = await podPool();
    const c = open(pool, '/test.Stream/Chat');
    for (let i = 0; i < 20; i++) {
      await c.send(`m${i}`);
      await until(() => c.messages.length === i + 1);
    }
    c.call.end();
    expect((await c.status).code).toBe(Status.OK);
    expect(c.messages).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });

  it('backpressure: a Pod that stops reading stops taking messages; they all arrive once it reads again', async () => {
    const { pool, pod } = await podPool();
    pod.paused = true;
    const c = open(pool, '/test.Stream/Collect');
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const cap = 64 * 1024 * 1024;
    let written = 0;
    let stalled = false;
    // Write as fast as the pool takes messages, until it stops taking them for a while.
    while (written < cap) {
      const taken = await Promise.race([c.send(chunk).then(() => true), new Promise<false>((r) => setTimeout(r, 500, false))]);
      if (!taken) {
        stalled = true;
        break;
      }
      written += chunk.length;
    }
    expect(stalled).toBe(true);
    // What is held between the client and the Pod is bounded (grpc-js's per-call buffer and
    // the HTTP/2 windows), not everything the client would send.
    expect(written).toBeLessThan(8 * 1024 * 1024);
    pod.resume();
    await until(() => pod.calls[0]!.messages.length === written / chunk.length + 1, 10_000);
    c.call.end();
    expect((await c.status).code).toBe(Status.OK);
  });

  it.each(UPSTREAM_CLIENTS)('cancel mid-stream: the Pod gets RST_STREAM(CANCEL), the caller CANCELLED (%s)', async (client) => {
    const pod = await startHoldingPod('127.0.0.5');
    cleanups.push(() => pod.close());
    const { pool } = await poolFor(pod.address, { client });
    const c = open(pool, '/test.Stream/Chat');
    await c.send('hello');
    await until(() => c.messages.length === 1);
    c.call.cancel();
    expect((await c.status).code).toBe(Status.CANCELLED);
    await until(() => pod.rstCodes.length === 1);
    expect(pod.rstCodes).toEqual([http2.constants.NGHTTP2_CANCEL]);
  });

  it.each(UPSTREAM_CLIENTS)('deadline: a stream that outlives it ends DEADLINE_EXCEEDED, and the Pod gets RST_STREAM(CANCEL) (%s)', async (client) => {
    const pod = await startHoldingPod('127.0.0.5');
    cleanups.push(() => pod.close());
    const { pool } = await poolFor(pod.address, { client });
    const c = open(pool, '/test.Stream/Chat', new Metadata(), 300);
    await c.send('hello');
    const status = await c.status;
    expect(status.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(status.details).toBe('Deadline exceeded'); // grpc-js's wording names the Pod
    await until(() => pod.rstCodes.length === 1);
    expect(pod.rstCodes).toEqual([http2.constants.NGHTTP2_CANCEL]);
  });

  describe('retries: only with the whole request at hand', () => {
    const messages = ['alpha', 'bravo', 'charlie'];
    /** Bytes on the wire of `messages` as gRPC frames: the refuser waits for all of them. */
    const framed = messages.reduce((n, m) => n + 5 + m.length, 0);

    async function refuserAndPod(retryBufferBytes: number, client = upstreamClientUnderTest()) {
      const port = await freePort('127.0.0.3');
      const refuser = await startRefuser('127.0.0.3', port, framed);
      cleanups.push(() => refuser.close());
      const pod = await startStreamPod('127.0.0.4', port);
      cleanups.push(() => pod.forceClose());
      const { pool, resolver } = makePool({ retryBufferBytes, client });
      resolver.set([
        { host: '127.0.0.3', port },
        { host: '127.0.0.4', port },
      ]);
      await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
      return { pool, pod, refuser };
    }

    async function collect(pool: PodPool) {
      const c = open(pool, '/test.Stream/Collect');
      for (const m of messages) await c.send(m);
      c.call.end();
      return { status: await c.status, answer: c.messages[0] };
    }

    it.each(UPSTREAM_CLIENTS)('a streamed call the Pod refused is sent whole to another Pod (%s)', async (client) => {
      const { pool, pod, refuser } = await refuserAndPod(256 * 1024, client);
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await collect(pool));
      for (const r of results) expect(r).toMatchObject({ status: { code: Status.OK }, answer: 'alpha|bravo|charlie' });
      // Round-robin sent two of them to the refuser first; each ran once, on the other Pod.
      expect(refuser.seen.streams).toBeGreaterThanOrEqual(2);
      expect(pod.calls).toHaveLength(4);
      expect(pod.calls.every((c) => c.messages.map(String).join('|') === 'alpha|bravo|charlie')).toBe(true);
    });

    it('past --retry-buffer-size the request is let go as it is sent, and a refused call fails instead', async () => {
      const { pool, pod, refuser } = await refuserAndPod(8);
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await collect(pool));
      const failed = results.filter((r) => r.status.code !== Status.OK);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(refuser.seen.streams).toBeGreaterThanOrEqual(failed.length);
      for (const r of failed) expect(r.status).toMatchObject({ code: Status.UNAVAILABLE, details: 'Stream refused by server' });
      // The Pod ran exactly the calls that succeeded, none of the refused ones.
      expect(pod.calls).toHaveLength(results.length - failed.length);
    });
  });
});

describe('the --retry-on policy for streamed requests', () => {
  async function twoFailingPods(retryBufferBytes: number) {
    const port = await freePort('127.0.0.6');
    const pods = [await startStreamPod('127.0.0.6', port), await startStreamPod('127.0.0.7', port)];
    for (const pod of pods) cleanups.push(() => pod.forceClose());
    const retryPolicy = { codes: [Status.UNAVAILABLE], methods: ['/test.Stream/'], maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, budgetPercent: 100 };
    const { pool, resolver } = makePool({ retryBufferBytes, retryPolicy });
    resolver.set(pods.map((p) => ({ host: p.address.split(':')[0]!, port })));
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    return { pool, pods };
  }

  const failing = () => {
    const metadata = new Metadata();
    metadata.set('x-fail', String(Status.UNAVAILABLE));
    return metadata;
  };

  it('retries a trailers-only UNAVAILABLE on the other Pod with every message, up to --retry-attempts', async () => {
    const { pool, pods } = await twoFailingPods(256 * 1024);
    const c = open(pool, '/test.Stream/Collect', failing());
    for (const m of ['one', 'two']) await c.send(m);
    c.call.end();
    expect((await c.status).code).toBe(Status.UNAVAILABLE);
    const attempts = pods.flatMap((p) => p.calls);
    expect(attempts).toHaveLength(3);
    for (const a of attempts) expect(a.messages.map(String)).toEqual(['one', 'two']);
    expect(pods.every((p) => p.calls.length > 0)).toBe(true);
  });

  it('never once the request outgrew --retry-buffer-size', async () => {
    const { pool, pods } = await twoFailingPods(4);
    const c = open(pool, '/test.Stream/Collect', failing());
    for (const m of ['one', 'two']) await c.send(m);
    c.call.end();
    expect((await c.status).code).toBe(Status.UNAVAILABLE);
    expect(pods.flatMap((p) => p.calls)).toHaveLength(1);
  });

  it('never once the Pod sent its response headers (the call is committed)', async () => {
    const { pool, pods } = await twoFailingPods(256 * 1024);
    const metadata = failing();
    metadata.set('x-headers-first', '1');
    const c = open(pool, '/test.Stream/Collect', metadata);
    for (const m of ['one', 'two']) await c.send(m);
    c.call.end();
    expect((await c.status).code).toBe(Status.UNAVAILABLE);
    expect(c.headers).not.toBeNull();
    expect(pods.flatMap((p) => p.calls)).toHaveLength(1);
  });
});


// What grpc-js's transport gives the pool, and what the node:http2 client must give as well to be
// the default: connection attempts that end, the Pod's stream limit, sessions that outlive their
// stream ids, bounded headers, and Pods that do not speak HTTP/2 at all — never a crash, never a
// hang, never a call mistaken for one the Pod did not process.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import net from 'node:net';
import { createSecureContext } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { podTlsOptions } from '../../../../src/upstream/http2/tls.js';
import { freePort } from '../../../support/ports.js';
import { startRawPod } from '../../../support/raw-pod.js';
import { closeConnections, connection, ready, run, waitFor } from './harness.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  closeConnections();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP listener on 127.0.0.2 that does `onSocket` with each connection it accepts. */
async function tcpPod(onSocket: (socket: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { address: `127.0.0.2:${(server.address() as net.AddressInfo).port}`, accepted: () => sockets.size };
}

/** A node:http2 Pod answering every stream as a gRPC server would (OK, one empty message), after `holdMs`. */
async function h2Pod(o: { settings?: http2.Settings; holdMs?: number; headers?: Record<string, string> } = {}) {
  const server = http2.createServer({ settings: o.settings ?? {} });
  const sessions = new Set<http2.ServerHttp2Session>();
  const ids: number[] = [];
  let open = 0;
  let mostOpen = 0;
  server.on('session', (s) => sessions.add(s));
  server.on('stream', (stream) => {
    ids.push(stream.id!);
    mostOpen = Math.max(mostOpen, ++open);
    stream.on('close', () => open--);
    stream.on('error', () => {});
    stream.resume();
    const answer = () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...o.headers }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.alloc(5));
    };
    if (o.holdMs) setTimeout(answer, o.holdMs);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return {
    address: `127.0.0.2:${(server.address() as net.AddressInfo).port}`,
    ids,
    sessions: () => sessions.size,
    mostOpen: () => mostOpen,
  };
}

describe('http2 client parity: connection attempts end', () => {
  it.each([
    ['cleartext', false],
    ['TLS', true],
  ])('%s: a Pod that accepts TCP and never answers is TRANSIENT_FAILURE after --connect-timeout, and tried again', async (_name, tls) => {
    const pod = await tcpPod(() => {});
    const [host, port] = pod.address.split(':') as [string, string];
    const podTls = tls ? podTlsOptions(createSecureContext({}), null, host, Number(port)) : null;
    const { connection: c, states } = connection(pod.address, { connectTimeoutMs: 300 }, podTls);
    expect(c.state).toBe('CONNECTING');
    await waitFor(() => states.includes('TRANSIENT_FAILURE'), 'TRANSIENT_FAILURE');
    const { status } = await run(c, '/test.Pod/Who', [Buffer.from('x')]).done;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details).toContain('no HTTP/2 SETTINGS from the Pod within 300 ms');
    expect(status).toMatchObject({ neverProcessed: true });
    // Backoff from 250 ms: another attempt follows, which ends the same way.
    await waitFor(() => pod.accepted() >= 2, 'a second attempt');
    await waitFor(() => states.filter((s) => s === 'TRANSIENT_FAILURE').length >= 2, 'a second TRANSIENT_FAILURE');
  });

  it.each([
    ['answers HTTP/1.1', (s: net.Socket) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'))],
    ['sends garbage', (s: net.Socket) => s.write(Buffer.from('\x16\x03\x01 this is not HTTP/2 at all'))],
  ])('a Pod that %s: TRANSIENT_FAILURE, its calls UNAVAILABLE and never processed, the process unharmed', async (_name, onSocket) => {
    const pod = await tcpPod(onSocket);
    const { connection: c, states } = connection(pod.address, { connectTimeoutMs: 5000 });
    await waitFor(() => states.includes('TRANSIENT_FAILURE'), 'TRANSIENT_FAILURE');
    const { status } = await run(c, '/test.Pod/Who', [Buffer.from('x')]).done;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, neverProcessed: true });
    await waitFor(() => pod.accepted() >= 2, 'tried again with backoff');
  });
});

describe('http2 client parity: streams', () => {
  it("the Pod's SETTINGS_MAX_CONCURRENT_STREAMS: calls beyond it wait on the session, none fails", async () => {
    const pod = await h2Pod({ settings: { maxConcurrentStreams: 2 }, holdMs: 100 });
    const { connection: c } = await ready(pod.address);
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => run(c, '/test.Pod/Who', [Buffer.from('x')]).done));
    expect(outcomes.map((o) => o.status.code)).toEqual(Array(6).fill(grpc.status.OK));
    expect(pod.mostOpen()).toBe(2);
    expect(pod.sessions()).toBe(1);
  });

  it('a session that used its last stream id is replaced: its calls finish, the next go to a new session', async () => {
    const pod = await h2Pod();
    const { connection: c } = await ready(pod.address, { lastStreamId: 5 });
    for (let i = 0; i < 7; i++) {
      await waitFor(() => c.state === 'READY', 'READY');
      expect((await run(c, '/test.Pod/Who', [Buffer.from('x')]).done).status.code).toBe(grpc.status.OK);
    }
    // ids 1, 3, 5 on each session: never past the last one.
    expect(pod.ids).toEqual([1, 3, 5, 1, 3, 5, 1]);
    expect(pod.sessions()).toBe(3);
  });

  it('response headers beyond the header list limits: RESOURCE_EXHAUSTED, maybe processed, the session still serves', async () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`m${i}`, 'v']));
    const pod = await h2Pod({ headers: many });
    const { connection: c } = await ready(pod.address);
    const { status } = await run(c, '/test.Pod/Who', [Buffer.from('x')]).done;
    expect(status).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, neverProcessed: false });
    expect(c.state).toBe('READY');
  });
});

/** A grpc-js Pod whose /t.Pod/Huge answers with one trailer field larger than HPACK's 64 KiB limit. */
async function hugeTrailerPod() {
  const server = new grpc.Server();
  const identity = (b: Buffer) => b;
  server.register(
    '/t.Pod/Huge',
    (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const trailers = new grpc.Metadata();
      trailers.set('x-huge', 'x'.repeat(100_000));
      callback(null, Buffer.from('ok'), trailers);
    },
    identity,
    identity,
    'unary',
  );
  server.register(
    '/t.Pod/Small',
    (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from('ok')),
    identity,
    identity,
    'unary',
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.2:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.2:${port}`;
}

describe('http2 client parity: a grpc-js Pod', () => {
  it('a trailer field above 64 KiB kills the session without an event: the first deadline there pings it, it is replaced', async () => {
    const address = await hugeTrailerPod();
    const { connection: c, states } = await ready(address, { keepalivePingTimeoutMs: 300 });
    const { status } = await run(c, '/t.Pod/Huge', [Buffer.from('x')], { deadlineMs: 500 }).done;
    // Node sent GOAWAY(COMPRESSION_ERROR) and stopped reading; the grpc-js Pod keeps the TCP
    // connection open, so only the deadline ends the call.
    expect(status).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, neverProcessed: false });
    await waitFor(() => states.includes('IDLE'), 'the dead session replaced');
    await waitFor(() => c.state === 'READY', 'a new session READY');
    expect((await run(c, '/t.Pod/Small', [Buffer.from('x')], { deadlineMs: 5000 }).done).status.code).toBe(grpc.status.OK);
  });


  it('1 MiB request messages, four calls at once on one session: every one reaches the Pod', async () => {
    const pod = await startRawPod('127.0.0.2', await freePort());
    cleanups.push(() => pod.forceClose());
    const { connection: c } = await ready(pod.address);
    const big = Buffer.alloc(1 << 20, 7);
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => run(c, '/test.Pod/Who', [big]).done));
    expect(outcomes.map((o) => o.status.code)).toEqual(Array(4).fill(grpc.status.OK));
    expect(pod.calls).toBe(4);
  });
});

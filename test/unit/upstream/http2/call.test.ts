// The node:http2 client against real grpc-js servers (and Node http2 servers for what grpc-js
// servers never send): framing, metadata, statuses, limits, deadlines, cancel, backpressure.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startStreamPod, type StreamPod } from '../../../support/stream-pod.js';
import { closeConnections, ready, run, waitFor } from './harness.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  closeConnections();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function streamPod(host: string): Promise<StreamPod> {
  const pod = await startStreamPod(host);
  cleanups.push(() => pod.forceClose());
  return pod;
}

/** A Node http2 server that answers every stream with `answer`. */
async function rawServer(
  host: string,
  answer: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
): Promise<string> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    answer(stream, headers);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  return `${host}:${port}`;
}

describe('http2 client: calls to grpc-js servers', () => {
  it('unary: the message, the response headers and trailers, metadata both ways (-bin as bytes)', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address);
    const metadata = new grpc.Metadata();
    metadata.set('x-echo-text', 'hello');
    metadata.set('x-echo-bin', Buffer.from([0, 1, 2, 255]));
    const { call, done } = run(connection, '/test.Stream/Unary', [Buffer.from('ping')], { metadata });
    const outcome = await done;
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(outcome.messages.map(String)).toEqual(['ping']);
    expect(outcome.headers!.get('x-pod')).toEqual([pod.address]);
    expect(outcome.headers!.get('x-echo-text')).toEqual(['hello']);
    expect(outcome.headers!.get('x-echo-bin')).toEqual([Buffer.from([0, 1, 2, 255])]);
    expect(outcome.status.metadata.get('trailer-x-echo-bin')).toEqual([Buffer.from([0, 1, 2, 255])]);
    expect(outcome.status.metadata.get('grpc-status')).toEqual([]);
    expect(pod.calls[0]!.metadata.get('x-echo-bin')).toEqual([Buffer.from([0, 1, 2, 255])]);
    expect(call.getPeer()).toBe(pod.address);
  });

  it('server streaming: 1 MiB messages split over many DATA frames arrive whole, in order', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address);
    const { done } = run(connection, '/test.Stream/Serve', [Buffer.from(`3:${1 << 20}`)]);
    const outcome = await done;
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(outcome.messages.map((m) => m.length)).toEqual([1 << 20, 1 << 20, 1 << 20]);
    outcome.messages.forEach((m, i) => expect(m.every((b) => b === i)).toBe(true));
  });

  it('client streaming and bidi: request messages in order, each sent when the last was taken', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address);
    const collect = await run(connection, '/test.Stream/Collect', ['a', 'b', 'c'].map((s) => Buffer.from(s))).done;
    expect(collect.messages.map(String)).toEqual(['a|b|c']);
    const chat = await run(connection, '/test.Stream/Chat', ['x', 'y'].map((s) => Buffer.from(s))).done;
    expect(chat.messages.map(String)).toEqual(['x', 'y']);
    expect(chat.status.code).toBe(grpc.status.OK);
  });

  it('a failure answered trailers-only: its status, its percent-decoded message, no headers reported', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address);
    const metadata = new grpc.Metadata();
    metadata.set('x-fail', String(grpc.status.UNAVAILABLE));
    const outcome = await run(connection, '/test.Stream/Unary', [Buffer.from('m')], { metadata }).done;
    expect(outcome.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(outcome.status.details).toBe('failing on purpose: 1 messages');
    expect(outcome.received).toBe(false);
    expect(outcome.status.neverProcessed).toBe(false); // the application answered: it ran
  });

  it('a method the server lacks: UNIMPLEMENTED from its trailers', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address);
    const outcome = await run(connection, '/test.Stream/Nope', [Buffer.from('m')]).done;
    expect(outcome.status.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('a response message above the limit: RESOURCE_EXHAUSTED, and the stream is reset', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address, { maxMessageBytes: 1000 });
    const outcome = await run(connection, '/test.Stream/Serve', [Buffer.from('1:2000')]).done;
    expect(outcome.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await waitFor(() => pod.calls[0]?.ended === true, 'the Pod saw the reset');
  });

  it('a request message above the limit: RESOURCE_EXHAUSTED, the Pod never gets it', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address, { maxMessageBytes: 1000 });
    const outcome = await run(connection, '/test.Stream/Collect', [Buffer.alloc(2000)]).done;
    expect(outcome.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(pod.calls.every((c) => c.messages.length === 0)).toBe(true);
  });

  it('the deadline: grpc-timeout reaches the Pod; when it passes, DEADLINE_EXCEEDED and RST_STREAM', async () => {
    let timeout: string | undefined;
    let reset = -1;
    const address = await rawServer('127.0.0.3', (stream, headers) => {
      timeout = headers['grpc-timeout'] as string;
      stream.on('close', () => (reset = stream.rstCode));
    });
    const { connection } = await ready(address);
    const outcome = await run(connection, '/test.Pod/Hang', [Buffer.from('m')], { deadlineMs: 150 }).done;
    expect(outcome.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(outcome.status.details).toMatch(/^Deadline exceeded after /);
    await waitFor(() => reset !== -1, 'the server saw the stream end');
    expect(reset).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(timeout).toMatch(/^1[0-5]\dm$/);
  });

  it('cancelWithStatus: the status at once, RST_STREAM(CANCEL) to the Pod', async () => {
    let reset = -1;
    const address = await rawServer('127.0.0.3', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.on('close', () => (reset = stream.rstCode));
    });
    const { connection } = await ready(address);
    const { call, done, outcome } = run(connection, '/test.Pod/Hang', [Buffer.from('x')]);
    await waitFor(() => outcome.received, 'the response headers');
    call.cancelWithStatus(grpc.status.CANCELLED, 'Cancelled by the client');
    const end = await done;
    expect(end.status).toMatchObject({ code: grpc.status.CANCELLED, details: 'Cancelled by the client', neverProcessed: false });
    await waitFor(() => reset !== -1, 'the server saw the stream end');
    expect(reset).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it('backpressure: one message per startRead; the rest wait in the Pod (flow control), none is lost', async () => {
    const pod = await streamPod('127.0.0.2');
    const { connection } = await ready(pod.address);
    const { call, done, outcome } = run(connection, '/test.Stream/Serve', [Buffer.from(`200:${16 * 1024}`)], { manualReads: true });
    await waitFor(() => outcome.messages.length === 1, 'the first message');
    // Without reads, the Pod can only write what the stream's flow-control window and its own
    // buffers hold, not the whole 3.2 MB.
    await waitFor(() => pod.calls[0]!.sent > 1, 'the Pod wrote more');
    await new Promise((r) => setTimeout(r, 200));
    expect(outcome.messages.length).toBe(1);
    expect(pod.calls[0]!.sent).toBeLessThan(200);
    for (let i = 1; i < 200; i++) {
      call.startRead();
      await waitFor(() => outcome.messages.length === i + 1, `message ${i}`);
    }
    const end = await done;
    expect(end.status.code).toBe(grpc.status.OK);
    expect(end.messages.length).toBe(200);
  });
});

describe('http2 client: an answer cut short', () => {
  it('trailers OK, then the connection drops while messages wait unread: UNAVAILABLE, never OK', async () => {
    let serverStreamClosed = false;
    const server = http2.createServer();
    const sockets: Socket[] = [];
    server.on('connection', (socket: Socket) => sockets.push(socket));
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.on('close', () => (serverStreamClosed = true));
      const message = Buffer.alloc(16 * 1024, 7);
      for (let i = 0; i < 3; i++) stream.write(Buffer.concat([Buffer.from([0, 0, 0, 0x40, 0]), message]));
      stream.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.3', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { connection } = await ready(`127.0.0.3:${(server.address() as { port: number }).port}`);
    const { done, outcome } = run(connection, '/test.Pod/Three', [Buffer.from('m')], { manualReads: true });
    await waitFor(() => outcome.messages.length === 1 && serverStreamClosed, 'one message read, the answer sent whole');
    // The TCP connection cut (no GOAWAY): Node destroys the client's session, and with it the
    // stream and the two messages it held unread.
    for (const socket of sockets) socket.destroy();
    const end = await done;
    expect(end.messages.length).toBe(1);
    expect(end.status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'Connection dropped', neverProcessed: false });
  });
});

describe('http2 client: answers that are not gRPC', () => {
  it('an HTTP status without grpc-status maps to its gRPC code (503 → UNAVAILABLE, 404 → UNIMPLEMENTED)', async () => {
    let code = 503;
    const address = await rawServer('127.0.0.3', (stream) => {
      stream.respond({ ':status': code, 'content-type': 'text/html' });
      stream.end('<html>busy</html>');
    });
    const { connection } = await ready(address);
    const a = await run(connection, '/test.Pod/Who', [Buffer.from('m')]).done;
    expect(a.status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'Received HTTP status code 503' });
    expect(a.received).toBe(false);
    code = 404;
    const b = await run(connection, '/test.Pod/Who', [Buffer.from('m')]).done;
    expect(b.status.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('a message split at every byte is reassembled; a stream that ends inside a message is INTERNAL', async () => {
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 5]), Buffer.from('hello')]);
    let cut = false;
    const address = await rawServer('127.0.0.3', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok%20then' }));
      const bytes = cut ? frame.subarray(0, 7) : frame;
      let i = 0;
      const next = () => {
        if (i < bytes.length) stream.write(bytes.subarray(i, ++i), next);
        else stream.end();
      };
      next();
    });
    const { connection } = await ready(address);
    const whole = await run(connection, '/test.Pod/Who', [Buffer.from('m')]).done;
    expect(whole.messages.map(String)).toEqual(['hello']);
    expect(whole.status).toMatchObject({ code: grpc.status.OK, details: 'ok then' });
    cut = true;
    const truncated = await run(connection, '/test.Pod/Who', [Buffer.from('m')]).done;
    expect(truncated.status.code).toBe(grpc.status.INTERNAL);
  });

  it('a compressed message the gateway never asked for: INTERNAL', async () => {
    const address = await rawServer('127.0.0.3', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' });
      stream.end(Buffer.from([1, 0, 0, 0, 1, 0]));
    });
    const { connection } = await ready(address);
    const outcome = await run(connection, '/test.Pod/Who', [Buffer.from('m')]).done;
    expect(outcome.status.code).toBe(grpc.status.INTERNAL);
  });

  it('sends the request headers gRPC requires: POST, te: trailers, content-type, :authority, grpc-timeout', async () => {
    let seen: http2.IncomingHttpHeaders = {};
    let body = Buffer.alloc(0);
    const address = await rawServer('127.0.0.3', (stream, headers) => {
      seen = headers;
      stream.on('data', (c: Buffer) => (body = Buffer.concat([body, c])));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
      });
    });
    const { connection } = await ready(address);
    const outcome = await run(connection, '/pkg.S/M', [Buffer.from('m')], { deadlineMs: 60_000 }).done;
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(seen).toMatchObject({
      ':method': 'POST',
      ':scheme': 'http',
      ':path': '/pkg.S/M',
      ':authority': address,
      te: 'trailers',
      'content-type': 'application/grpc',
      'user-agent': 'grpc-web-gateway (node:http2)',
    });
    expect(seen['grpc-timeout']).toMatch(/^[5-6]\d{4}m$/);
    expect(body).toEqual(Buffer.from([0, 0, 0, 0, 1, 0x6d])); // one 5-byte prefix, the message as it was
  });
});

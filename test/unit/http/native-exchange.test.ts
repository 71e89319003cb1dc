// The native gRPC exchange between a real grpc-js client and real grpc-js Pods (a real PodPool):
// every call type, metadata and trailers, deadline, cancel, large messages, backpressure both
// ways, and bad input. The front end here is Node's http2 server with the gateway's native front
// (admission, then the exchange or the refusal writer), as the gateway's listener has it.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionContext } from '../../../src/http/admission.js';
import { CallBounds } from '../../../src/http/bounds.js';
import type { ExchangeSettings } from '../../../src/http/exchange.js';
import { compileTrustProxy } from '../../../src/http/forwarding.js';
import type { RequestHandler } from '../../../src/http/listener.js';
import { requestIds, withNativeFront } from '../../../src/http/native-front.js';
import type { CallRecord, RefusalReason } from '../../../src/http/types.js';
import type { PodPool } from '../../../src/upstream/pool.js';
import { Router } from '../../../src/upstream/router.js';
import { nativeClient, unary, type NativeClient } from '../../support/native-client.js';
import { startHoldingPod, startStreamPod, type StreamPod } from '../../support/stream-pod.js';
import { closePools, makePool, until } from '../upstream/pool-harness.js';

const MAX_MESSAGE = 4 << 20;

interface FrontEnd {
  address: string;
  records: CallRecord[];
  refusals: RefusalReason[];
  bounds: CallBounds;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  // Pools first: a Pod's server closes only once the gateway's connections to it are gone.
  await closePools();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Node's http2 (h2c) with the native front, over `pool`. */
async function frontEnd(pool: PodPool, maxBufferedRequestBytes = 32 << 20, maxConcurrentCalls = 100): Promise<FrontEnd> {
  const log = pino({ level: 'silent' });
  const records: CallRecord[] = [];
  const refusals: RefusalReason[] = [];
  const bounds = new CallBounds({ maxConcurrentCalls, maxBufferedRequestBytes }, log);
  const settings: ExchangeSettings = {
    maxRequestBytes: Infinity,
    maxMessageBytes: MAX_MESSAGE,
    accessLog: false,
    exposeExtra: [],
    observer: { callStarted() {}, callEnded: (r) => records.push(r), refused: (r) => refusals.push(r) },
    bounds,
  };
  const context: AdmissionContext = {
    cors: { allowOrigins: ['*'], allowCredentials: false, maxAgeSeconds: 0, allowHeaders: [], exposeHeaders: [] },
    limits: { maxHeadersCount: 100, maxCallDurationMs: 0 },
    router: new Router([], pool),
    trust: compileTrustProxy(false),
  };
  // The gateway's own front for native calls; nothing else is sent here.
  const notNative: RequestHandler = (_req, res) => {
    res.writeHead(500);
    res.end();
  };
  const server = http2.createServer(withNativeFront(notNative, { admission: context, settings, logger: log, nextRequestId: requestIds(), closing: () => false }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as { port: number };
  return { address: `127.0.0.1:${port}`, records, refusals, bounds };
}

async function setup(o: { pod?: StreamPod; maxBufferedRequestBytes?: number; maxConcurrentCalls?: number } = {}) {
  const pod = o.pod ?? (await startStreamPod('127.0.0.2'));
  cleanups.push(() => pod.forceClose());
  const { pool, resolver } = makePool();
  const [host, port] = pod.address.split(':');
  resolver.set([{ host: host!, port: Number(port) }]);
  await until(() => pool.isReady());
  const front = await frontEnd(pool, o.maxBufferedRequestBytes, o.maxConcurrentCalls);
  const client = nativeClient(front.address);
  cleanups.push(() => client.close());
  return { pod, pool, front, client };
}

const echoMetadata = () => {
  const m = new grpc.Metadata();
  m.set('x-echo-user', 'ada');
  m.set('x-echo-trace-bin', Buffer.from([0, 1, 255]));
  return m;
};

function collect(client: NativeClient, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}) {
  let resolve!: (r: { error: grpc.ServiceError | null; answer?: Buffer }) => void;
  const done = new Promise<{ error: grpc.ServiceError | null; answer?: Buffer }>((r) => (resolve = r));
  const call = client.Collect(metadata, options, (error, answer) => resolve({ error, answer }));
  return { call, done };
}

/** A raw HTTP/2 request: what came back (headers with their END_STREAM flag, body, trailers). */
async function rawRequest(address: string, path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}) {
  const session = http2.connect(`http://${address}`);
  cleanups.push(() => session.close());
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  stream.end(body);
  return new Promise<{ headers: http2.IncomingHttpHeaders; endStream: boolean; body: Buffer; trailers?: http2.IncomingHttpHeaders }>((resolve) => {
    let answer: http2.IncomingHttpHeaders = {};
    let endStream = false;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h, flags) => {
      answer = h;
      endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('close', () => resolve({ headers: answer, endStream, body: Buffer.concat(chunks), trailers }));
  });
}

const frame = (flags: number, message: Buffer) => {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
};

describe('native gRPC exchange', () => {
  it('unary: the answer, response headers and trailers, request metadata (text and -bin) both ways', async () => {
    const { client, pod, front } = await setup();
    const r = await unary(client, 'hello', echoMetadata());
    expect(r.error).toBeUndefined();
    expect(r.answer!.toString()).toBe('hello');
    expect(r.headers!.get('x-pod')).toEqual([pod.address]);
    expect(r.headers!.get('x-echo-user')).toEqual(['ada']);
    expect(r.headers!.get('x-echo-trace-bin')).toEqual([Buffer.from([0, 1, 255])]);
    expect(r.trailers!.get('trailer-x-echo-user')).toEqual(['ada']);
    expect(pod.calls[0]!.metadata.get('x-echo-trace-bin')).toEqual([Buffer.from([0, 1, 255])]);
    expect(front.records).toMatchObject([{ method: '/test.Stream/Unary', code: 0, endpoint: pod.address }]);
  });

  it('server streaming: every message, then the trailers', async () => {
    const { client } = await setup();
    const call = client.Serve(Buffer.from('25'), echoMetadata());
    const got: string[] = [];
    call.on('data', (m: Buffer) => got.push(m.toString()));
    const status = await new Promise<grpc.StatusObject>((r) => call.on('status', r));
    expect(status.code).toBe(grpc.status.OK);
    expect(status.metadata.get('trailer-x-echo-user')).toEqual(['ada']);
    expect(got).toEqual(Array.from({ length: 25 }, (_, i) => `message ${i}`));
  });

  it('client streaming: each message reaches the Pod as it arrives; the answer after the half-close', async () => {
    const { client, pod } = await setup();
    const { call, done } = collect(client);
    for (const [i, text] of ['one', 'two', 'three'].entries()) {
      call.write(Buffer.from(text));
      await until(() => pod.calls[0]?.messages.length === i + 1);
    }
    expect(pod.calls[0]!.ended).toBe(false);
    call.end();
    const { error, answer } = await done;
    expect(error).toBeNull();
    expect(answer!.toString()).toBe('one|two|three');
  });

  it('bidi: messages interleave both ways (each echoed before the next is written)', async () => {
    const { client } = await setup();
    const call = client.Chat(echoMetadata());
    const got: string[] = [];
    call.on('data', (m: Buffer) => got.push(m.toString()));
    const headers = new Promise<grpc.Metadata>((r) => call.on('metadata', r));
    for (let i = 0; i < 30; i++) {
      call.write(Buffer.from(`m${i}`));
      await until(() => got.length === i + 1);
    }
    expect((await headers).get('x-echo-user')).toEqual(['ada']);
    call.end();
    const status = await new Promise<grpc.StatusObject>((r) => call.on('status', r));
    expect(status.code).toBe(grpc.status.OK);
    expect(status.metadata.get('trailer-x-echo-user')).toEqual(['ada']);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`));
  });

  it("a Pod's error before any message: trailers-only, one HEADERS frame ending the stream, with its trailing metadata", async () => {
    const { client, front } = await setup();
    const metadata = echoMetadata();
    metadata.set('x-fail', String(grpc.status.FAILED_PRECONDITION));
    const r = await unary(client, 'x', metadata);
    expect(r.error).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: 'failing on purpose: 1 messages' });
    expect(r.error!.metadata.get('trailer-x-echo-user')).toEqual(['ada']);
    const raw = await rawRequest(front.address, '/test.Stream/Unary', frame(0, Buffer.from('x')), { 'x-fail': '9' });
    expect(raw.endStream).toBe(true);
    expect(raw.headers).toMatchObject({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '9' });
    expect(raw.body.length).toBe(0);
  });

  /** A Pod that holds every call (and records the RST codes it gets), behind the front end. */
  async function throughHoldingPod() {
    const holding = await startHoldingPod('127.0.0.5');
    cleanups.push(() => holding.close());
    const { pool, resolver } = makePool();
    resolver.set([{ host: '127.0.0.5', port: Number(holding.address.split(':')[1]) }]);
    await until(() => pool.isReady());
    const front = await frontEnd(pool);
    const client = nativeClient(front.address);
    cleanups.push(() => client.close());
    return { holding, client, front };
  }

  it('deadline: grpc-timeout becomes the upstream deadline; the client reads DEADLINE_EXCEEDED', async () => {
    const { holding, client } = await throughHoldingPod();
    const call = client.Chat(new grpc.Metadata(), { deadline: Date.now() + 400 });
    call.on('error', () => {});
    call.write(Buffer.from('hi'));
    const status = await new Promise<grpc.StatusObject>((r) => call.on('status', r));
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The Pod's call ended with a cancel from the gateway's side (its own deadline), not left hanging.
    await until(() => holding.rstCodes.length === 1);
    expect(holding.rstCodes).toEqual([http2.constants.NGHTTP2_CANCEL]);
  });

  it('RST_STREAM from the client cancels the call upstream at once', async () => {
    const { holding, client, front } = await throughHoldingPod();
    const call = client.Chat();
    call.on('error', () => {});
    const got: Buffer[] = [];
    call.on('data', (m: Buffer) => got.push(m));
    call.write(Buffer.from('hi'));
    await until(() => got.length === 1);
    call.cancel();
    await until(() => holding.rstCodes.length === 1);
    expect(holding.rstCodes).toEqual([http2.constants.NGHTTP2_CANCEL]);
    await until(() => front.records.length === 1);
    expect(front.records[0]!.code).toBe(grpc.status.CANCELLED);
    expect(front.bounds.callsInFlight).toBe(0);
  });

  it('large messages pass untouched both ways; one above --max-message-size is refused RESOURCE_EXHAUSTED', async () => {
    const { client, front } = await setup();
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const r = await unary(client, big);
    expect(r.answer!.equals(big)).toBe(true);
    const tooBig = await unary(client, Buffer.alloc(MAX_MESSAGE + 1));
    expect(tooBig.error).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(tooBig.error!.details).toContain('exceeds the limit');
    expect(front.refusals).toEqual(['too_large']);
  });

  it('response backpressure: a client that stops reading stops the Pod; everything arrives once it reads', async () => {
    const { client, pod } = await setup();
    const size = 64 * 1024;
    const count = 1000; // 64 MiB in all
    const call = client.Serve(Buffer.from(`${count}:${size}`));
    let received = 0;
    call.on('data', () => {
      received++;
      if (received === 1) call.pause();
    });
    // Wait until the Pod can write no more: bounded by flow-control windows and buffers.
    let last = -1;
    const end = Date.now() + 20_000;
    while (pod.calls[0]?.sent !== last && Date.now() < end) {
      last = pod.calls[0]?.sent ?? -1;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(pod.calls[0]!.sent).toBeLessThan(count);
    expect(pod.calls[0]!.sent * size).toBeLessThan(24 << 20);
    call.resume();
    const status = await new Promise<grpc.StatusObject>((r) => call.on('status', r));
    expect(status.code).toBe(grpc.status.OK);
    expect(received).toBe(count);
  });

  it('request backpressure: a Pod that stops reading holds the client; bytes held by the gateway stay bounded', async () => {
    const { client, pod, front } = await setup();
    pod.paused = true;
    const { call, done } = collect(client);
    const chunk = Buffer.alloc(64 * 1024, 'y');
    let written = 0;
    // Write while the client's stream accepts more (grpc-js's own backpressure), up to 64 MiB.
    while (written < 64 << 20) {
      written += chunk.length;
      if (!call.write(chunk)) {
        const drained = await Promise.race([new Promise((r) => call.once('drain', () => r(true))), new Promise((r) => setTimeout(r, 1000, false))]);
        if (!drained) break;
      }
    }
    expect(written).toBeLessThan(64 << 20);
    expect(front.bounds.bufferedBytes).toBeLessThan(2 << 20);
    pod.resume();
    call.end();
    const { error } = await done;
    expect(error).toBeNull();
    expect(pod.calls[0]!.messages.length).toBe(written / chunk.length);
  });

  it('a malformed frame, or one compressed with an unsupported encoding, is refused cleanly: trailers-only, the connection serves on', async () => {
    const { front, client, pod } = await setup();
    const malformed = await rawRequest(front.address, '/test.Stream/Unary', frame(0x02, Buffer.from('x')));
    expect(malformed.headers).toMatchObject({ ':status': 200, 'grpc-status': String(grpc.status.INTERNAL) });
    expect(decodeURIComponent(String(malformed.headers['grpc-message']))).toContain('unexpected frame flags 0x02');
    const compressed = await rawRequest(front.address, '/test.Stream/Unary', frame(0x01, Buffer.from('x')), { 'grpc-encoding': 'br' });
    expect(compressed.headers).toMatchObject({ 'grpc-status': String(grpc.status.UNIMPLEMENTED), 'grpc-accept-encoding': 'identity,deflate,gzip' });
    const cut = await rawRequest(front.address, '/test.Stream/Unary', frame(0, Buffer.from('hello')).subarray(0, 7));
    expect(cut.headers).toMatchObject({ 'grpc-status': String(grpc.status.INTERNAL) });
    expect(front.refusals).toEqual(['malformed_request', 'unsupported_encoding', 'malformed_request']);
    // Refused on the packet that brought them: none reached the Pod.
    expect(pod.calls).toHaveLength(0);
    expect(front.bounds.callsInFlight).toBe(0);
    expect(front.bounds.bufferedBytes).toBe(0);
    expect((await unary(client, 'still here')).answer!.toString()).toBe('still here');
  });

  it('--max-concurrent-calls reached: RESOURCE_EXHAUSTED trailers-only, the slot comes back when the stream ends', async () => {
    const { client, front } = await setup({ maxConcurrentCalls: 1 });
    const chat = client.Chat();
    const echoed: Buffer[] = [];
    chat.on('data', (m: Buffer) => echoed.push(m));
    chat.write(Buffer.from('holding the one slot'));
    await until(() => echoed.length === 1);
    const refused = await unary(client, 'x');
    expect(refused.error).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'the gateway has too many calls in flight; retry later' });
    expect(front.refusals).toEqual(['max_concurrent_calls']);
    chat.end();
    await new Promise((r) => chat.on('status', r));
    await until(() => front.bounds.callsInFlight === 0);
    expect((await unary(client, 'now')).answer!.toString()).toBe('now');
  });

  it('no route: UNIMPLEMENTED trailers-only, as a gRPC server answers an unknown method', async () => {
    const { front } = await setup();
    const raw = await rawRequest(front.address, '/not-a-method', frame(0, Buffer.from('x')));
    expect(raw.endStream).toBe(true);
    expect(raw.headers).toMatchObject({ ':status': 200, 'grpc-status': String(grpc.status.UNIMPLEMENTED) });
  });
});

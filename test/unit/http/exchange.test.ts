// Exchange (one gRPC-Web call over HTTP/1.1) against a fake upstream the test drives by hand:
// trailers-only answers, a unary answer in one write, batching, backpressure both ways, and the
// client going away. A real node:http server and raw client sockets; no Fastify, no Pod.
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CallBounds } from '../../../src/http/bounds.js';
import { Exchange, type ExchangeSettings } from '../../../src/http/exchange.js';
import { noopObserver } from '../../../src/http/types.js';
import { encodeMessageFrame, parseWebContentType } from '../../../src/protocol/index.js';
import type { CallListener, CallRequest, Upstream, UpstreamCall } from '../../../src/upstream/types.js';

/** One call as the fake upstream saw it; the test plays the Pod through `listener`. */
interface FakeCall {
  request: CallRequest;
  listener: CallListener;
  /** requestNext() calls: how many more messages the exchange has asked for. */
  asked: number;
  cancelled: boolean;
}

class FakeUpstream {
  readonly calls: FakeCall[] = [];
  private waiters: Array<(c: FakeCall) => void> = [];
  readonly upstream = {
    name: 'fake',
    call: (request: CallRequest, listener: CallListener): UpstreamCall => {
      const c: FakeCall = { request, listener, asked: 0, cancelled: false };
      this.calls.push(c);
      for (const w of this.waiters.splice(0)) w(c);
      return {
        requestNext: () => void c.asked++,
        cancel: () => {
          c.cancelled = true;
          listener.onStatus(status(Status.CANCELLED, 'Cancelled by the client'), undefined);
        },
      };
    },
  } as unknown as Upstream;

  next(): Promise<FakeCall> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

const status = (code: number, details = '', metadata = new Metadata()): StatusObject => ({ code, details, metadata });

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** res.write calls, and what reached the socket (one _write or _writev each). */
const writes = { count: 0, socket: 0 };

async function serve(fake: FakeUpstream, contentType = 'application/grpc-web+proto'): Promise<number> {
  const settings: ExchangeSettings = {
    maxRequestBytes: 1 << 20,
    maxMessageBytes: 4 << 20,
    accessLog: false,
    exposeExtra: [],
    observer: noopObserver,
    bounds: new CallBounds({ maxConcurrentCalls: 10, maxBufferedRequestBytes: 1 << 20 }, { warn() {} }),
  };
  server = createServer((req, res) => {
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    res.write = ((...a: unknown[]) => (writes.count++, write(...a))) as typeof res.write;
    const socket = req.socket as unknown as Record<'_write' | '_writev', (...a: unknown[]) => void>;
    for (const name of ['_write', '_writev'] as const) {
      const original = socket[name].bind(socket);
      socket[name] = (...a: unknown[]) => (writes.socket++, original(...a));
    }
    new Exchange({
      settings,
      req,
      res,
      log: pino({ level: 'silent' }),
      baseHeaders: {},
      contentType: parseWebContentType(contentType)!,
      method: '/test.S/M',
      route: '',
      upstream: fake.upstream,
      metadata: new Metadata(),
      deadline: Infinity,
      crossOrigin: false,
      clientAddress: '127.0.0.1',
    }).begin();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server!.address() as AddressInfo).port;
}

function post(port: number, body: Buffer): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/test.S/M', headers: { 'content-type': 'application/grpc-web+proto' } }, resolve);
    req.on('error', reject);
    req.end(body);
  });
}

async function bodyOf(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Response frames (messages and the 0x80 trailer frame), as a gRPC-Web client reads them. */
function frames(bytes: Buffer): Array<{ flags: number; data: Buffer }> {
  const out: Array<{ flags: number; data: Buffer }> = [];
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at + 1);
    out.push({ flags: bytes[at]!, data: bytes.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** A server with a fake upstream, and one call posted to it that has reached the upstream. */
async function oneCall(request = 'q'): Promise<{ call: FakeCall; response: Promise<IncomingMessage> }> {
  const fake = new FakeUpstream();
  const port = await serve(fake);
  const pending = fake.next();
  const response = post(port, encodeMessageFrame(Buffer.from(request)));
  return { call: await pending, response };
}

describe('Exchange', () => {
  it('hands the one request message upstream, and answers trailers-only when nothing came before the status', async () => {
    const { call, response } = await oneCall('hello');
    expect(call.request.message.toString()).toBe('hello');
    call.listener.onStatus(status(Status.UNAVAILABLE, 'no ready backend'), undefined);
    const res = await response;
    expect(res.statusCode).toBe(200);
    expect(res.headers['grpc-status']).toBe('14');
    expect(res.headers['grpc-message']).toBe('no ready backend');
    expect((await bodyOf(res)).length).toBe(0);
  });

  it('writes a unary answer (headers, message, trailer) that arrives within one turn as one socket write', async () => {
    const { call, response } = await oneCall();
    const headers = new Metadata();
    headers.set('x-pod', 'a');
    writes.socket = 0;
    call.listener.onHeaders(headers);
    call.listener.onMessage(Buffer.from('answer'));
    // grpc-js delivers the status a few ticks after the message, within the same turn of the
    // event loop: after Node's own write cork (one tick) has ended, before the exchange's has.
    await new Promise<void>((r) => process.nextTick(() => process.nextTick(r)));
    call.listener.onStatus(status(Status.OK, 'OK'), '10.0.0.1:50051');
    const res = await response;
    expect(res.headers['x-pod']).toBe('a');
    const out = frames(await bodyOf(res));
    expect(out.map((f) => [f.flags, f.data.toString()])).toEqual([
      [0, 'answer'],
      [0x80, 'grpc-status: 0\r\n'],
    ]);
    expect(writes.socket).toBe(1); // headers, frame and trailer: one writev
  });

  it('collects the small messages of one turn into one write (batching)', async () => {
    const { call, response } = await oneCall();
    writes.count = 0;
    for (let i = 0; i < 100; i++) call.listener.onMessage(Buffer.alloc(100, i));
    await new Promise((r) => setImmediate(r));
    expect(writes.count).toBe(1);
    expect(call.asked).toBe(100);
    call.listener.onStatus(status(Status.OK), undefined);
    const out = frames(await bodyOf(await response));
    expect(out).toHaveLength(101);
    expect(out[99]!.data[0]).toBe(99);
  });

  it('stops asking the Pod for messages while the client does not read, and asks again once it drains', async () => {
    const { call, response } = await oneCall();
    const res = await new Promise<IncomingMessage>((resolve) => {
      call.listener.onMessage(Buffer.alloc(1024));
      void response.then(resolve);
    });
    res.pause(); // a browser that does not read
    const big = Buffer.alloc(1 << 20, 7);
    let sent = 1;
    // Play a Pod that sends the next message only when asked (grpc-js's startRead).
    while (sent < 64 && call.asked === sent) {
      call.listener.onMessage(big);
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(sent).toBeLessThan(64); // the exchange stopped asking
    const stalledAt = call.asked;
    res.resume();
    const end = Date.now() + 5000;
    while (call.asked === stalledAt && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(call.asked).toBe(stalledAt + 1);
    call.listener.onStatus(status(Status.OK), undefined);
    await bodyOf(res);
  });

  it('cancels the upstream call when the client goes away mid-stream', async () => {
    const { call, response } = await oneCall();
    call.listener.onMessage(Buffer.from('first'));
    const res = await response;
    res.socket.destroy();
    const end = Date.now() + 5000;
    while (!call.cancelled && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(call.cancelled).toBe(true);
  });

  it('refuses a second request message before anything goes upstream', async () => {
    const fake = new FakeUpstream();
    const port = await serve(fake);
    const res = await post(port, Buffer.concat([encodeMessageFrame(Buffer.from('a')), encodeMessageFrame(Buffer.from('b'))]));
    expect(res.headers['grpc-status']).toBe(String(Status.UNIMPLEMENTED));
    await bodyOf(res);
    expect(fake.calls).toHaveLength(0);
  });

});

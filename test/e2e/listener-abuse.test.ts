// What a hostile or broken client can do to the listener, sent as raw bytes (test/support/
// h2-frames.ts): floods of SETTINGS and PING, rapid reset (HEADERS then RST_STREAM, over and
// over), streams past --max-concurrent-streams, a preface trickled byte by byte, connections past
// --max-connections over h2c and TLS. Each is refused or bounded by the gateway or by Node's own
// HTTP/2 stack (nghttp2), whose behaviour is pinned here, and other clients keep being served.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nodeClient } from '../support/clients.js';
import { h2cFetch, type H2cFetch } from '../support/h2c-fetch.js';
import { ERROR, FLAG, FRAME, emptySettings, frame, goawayCode, grpcWebHeaders, headerBlock, parseFrames, ping, rawH2c, rstStream, type RawH2 } from '../support/h2-frames.js';
import { makeCa, makeCert } from '../support/tls.js';
import { testGatewayEnv } from '../support/upstream-options.js';

let pod: EchoPod;
const gateways: Gateway[] = [];
let h2c: H2cFetch;

async function start(flags: string[]): Promise<Gateway> {
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, ...flags], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  const gw = await startGateway(result.config, { logger: false });
  gateways.push(gw);
  for (let i = 0; i < 500 && !gw.pools[0]!.isReady(); i++) await new Promise((r) => setTimeout(r, 10));
  return gw;
}

let gw: Gateway;
let port: number;
beforeAll(async () => {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  gw = await start(['--max-concurrent-streams', '3', '--headers-timeout', '1s', '--max-concurrent-calls', '20']);
  port = Number(new URL(gw.httpUrl).port);
  h2c = h2cFetch();
});
afterAll(async () => {
  h2c?.close();
  for (const g of gateways) await g.close();
  await pod?.close();
});

/** A call over h2c (its own connection) and one over HTTP/1.1 both succeed. */
async function othersServed(): Promise<void> {
  const [a, b] = await Promise.all([
    nodeClient('connect', gw.httpUrl, h2c.fetch).unary({ message: 'other client' }),
    nodeClient('connect', gw.httpUrl).unary({ message: 'other client' }),
  ]);
  expect(a.ok && b.ok).toBe(true);
}

const closedWithin = (c: RawH2, ms: number): Promise<boolean> =>
  Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

/** Writes `batch` up to `times` times, yielding between writes, while the connection is open. */
async function flood(c: RawH2, batch: Buffer, times: number): Promise<number> {
  let sent = 0;
  for (; sent < times && !c.socket.destroyed; sent++) {
    c.socket.write(batch);
    await new Promise((r) => setImmediate(r));
  }
  return sent;
}

describe('HTTP/2 floods (h2c, raw frames)', () => {
  it.each([
    ['SETTINGS', emptySettings],
    ['PING', () => ping(7)],
  ] as const)('a %s flood from a client that does not read its ACKs closes that connection; others are served', async (_name, make) => {
    const c = await rawH2c('127.0.0.1', port, { read: false });
    const batch = Buffer.concat(Array.from({ length: 1_000 }, make));
    const flooding = flood(c, batch, 200);
    await othersServed();
    const sent = await flooding;
    // nghttp2 bounds the ACKs it queues for a client: past that it ends the session.
    expect(await closedWithin(c, 10_000)).toBe(true);
    expect(sent).toBeLessThan(200);
    await othersServed();
  });

  it('rapid reset: after about 1000 HEADERS + RST_STREAM, nghttp2 sends GOAWAY and takes no more streams; no call reaches a Pod, every call slot comes back', async () => {
    const calls = pod.calls();
    const c = await rawH2c('127.0.0.1', port);
    let sent = 0;
    for (let id = 1; id < 20_000 * 2 && !c.socket.destroyed; id += 2) {
      c.socket.write(Buffer.concat([grpcWebHeaders(id, '/echo.v1.EchoService/Echo'), rstStream(id, ERROR.CANCEL)]));
      sent++;
      if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    const end = Date.now() + 10_000;
    while (goawayCode(c.received()) === null && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    // nghttp2's stream reset rate limit (a burst of 1000, then 33 a second) answers GOAWAY
    // INTERNAL_ERROR; the streams above its last-stream-id were never processed.
    expect(goawayCode(c.received())).toBe(ERROR.INTERNAL_ERROR);
    const goaway = parseFrames(c.received()).find((f) => f.type === FRAME.GOAWAY)!;
    const lastStreamId = goaway.payload.readUInt32BE(0) & 0x7fffffff;
    expect(lastStreamId).toBeLessThan(2 * 1_200);
    expect(sent).toBe(20_000);
    // Reset before their request ended: nothing went upstream.
    expect(pod.calls()).toBe(calls);
    c.socket.destroy();
    // --max-concurrent-calls is 20: had the reset streams kept their call slots, these would be refused.
    for (let i = 0; i < 3; i++) await othersServed();
  });

  it('streams past --max-concurrent-streams are refused (RST_STREAM REFUSED_STREAM), the others go on', async () => {
    const c = await rawH2c('127.0.0.1', port);
    // Ten server streams opened at once, none ended: three may be open.
    c.socket.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => grpcWebHeaders(2 * i + 1, '/echo.v1.EchoService/ServerStream'))));
    const end = Date.now() + 5_000;
    const refused = () => parseFrames(c.received()).filter((f) => f.type === FRAME.RST_STREAM && f.payload.readUInt32BE(0) === ERROR.REFUSED_STREAM);
    while (refused().length < 7 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(refused().map((f) => f.streamId)).toEqual([7, 9, 11, 13, 15, 17, 19]);
    c.socket.destroy();
    await othersServed();
  });
});

describe('HTTP/2 header blocks', () => {
  it('a header block above --max-header-size (16KiB), sent after the client acknowledged the gateway\'s SETTINGS, is refused (RST_STREAM ENHANCE_YOUR_CALM)', async () => {
    const c = await rawH2c('127.0.0.1', port);
    const end = Date.now() + 5_000;
    while (!parseFrames(c.received()).some((f) => f.type === FRAME.SETTINGS) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    // Node enforces its advertised header list size only once the client has acknowledged it.
    c.socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    await new Promise((r) => setTimeout(r, 200));
    const block = (n: number) =>
      headerBlock([[':method', 'GET'], [':scheme', 'http'], [':authority', 'gateway'], [':path', '/healthz'], ['x-big', 'a'.repeat(n)]]);
    c.socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block(1_000)));
    // 20 KB of header list: a HEADERS frame and a CONTINUATION, each within the 16 KiB frame size.
    const big = block(20_000);
    c.socket.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 3, big.subarray(0, 16_000)));
    c.socket.write(frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 3, big.subarray(16_000)));
    const rst = () => parseFrames(c.received()).find((f) => f.type === FRAME.RST_STREAM && f.streamId === 3);
    while (rst() === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(rst()?.payload.readUInt32BE(0)).toBe(ERROR.ENHANCE_YOUR_CALM);
    // The small one was answered: the connection itself is fine.
    expect(parseFrames(c.received()).some((f) => f.type === FRAME.HEADERS && f.streamId === 1)).toBe(true);
    c.socket.destroy();
  });
});

describe('--request-timeout over HTTP/2', () => {
  it('a stream whose request body never ends is reset (RST_STREAM CANCEL) after --request-timeout; the connection\'s other streams go on', async () => {
    const g = await start(['--request-timeout', '1s', '--headers-timeout', '1s']);
    const c = await rawH2c('127.0.0.1', Number(new URL(g.httpUrl).port));
    const started = Date.now();
    // Headers without END_STREAM, then nothing.
    c.socket.write(grpcWebHeaders(1, '/echo.v1.EchoService/Echo'));
    const reset = () => parseFrames(c.received()).find((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
    while (reset() === undefined && Date.now() - started < 8_000) await new Promise((r) => setTimeout(r, 50));
    expect(reset()?.payload.readUInt32BE(0)).toBe(ERROR.CANCEL);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // A complete request on the same connection is answered.
    c.socket.write(grpcWebHeaders(3, '/echo.v1.EchoService/Echo', false));
    c.socket.write(frame(FRAME.DATA, FLAG.END_STREAM, 3, Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69])));
    const answered = () => parseFrames(c.received()).some((f) => f.type === FRAME.HEADERS && f.streamId === 3);
    const end = Date.now() + 5_000;
    while (!answered() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(answered()).toBe(true);
    expect(await closedWithin(c, 100)).toBe(false);
    c.socket.destroy();
  });
});

describe('the connection preface', () => {
  it('a preface trickled one byte at a time is cut at --headers-timeout (1s), long before it completes', async () => {
    const started = Date.now();
    let sent = 0;
    const socket = netConnect(port, '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
    const timer = setInterval(() => {
      if (sent < preface.length && !socket.destroyed) socket.write(preface.subarray(sent, ++sent));
    }, 250);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 8_000))]);
    clearInterval(timer);
    expect(socket.destroyed).toBe(true);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(sent).toBeLessThan(preface.length);
    await othersServed();
  });
});

describe('--max-connections counts every transport', () => {
  it('h2c: past the bound, a connection is closed as it is accepted', async () => {
    const g = await start(['--max-connections', '2']);
    const p = Number(new URL(g.httpUrl).port);
    const open = [await rawH2c('127.0.0.1', p), await rawH2c('127.0.0.1', p)];
    const third = await rawH2c('127.0.0.1', p);
    expect(await closedWithin(third, 5_000)).toBe(true);
    expect(parseFrames(third.received())).toEqual([]);
    // The two within the bound got the server's SETTINGS and stay open.
    expect(await closedWithin(open[0]!, 300)).toBe(false);
    expect(parseFrames(open[1]!.received()).some((f) => f.type === FRAME.SETTINGS)).toBe(true);
    for (const c of open) c.socket.destroy();
  });

  it('TLS: past the bound, a connection is closed before its handshake', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gwg-abuse-'));
    try {
      const ca = await makeCa(dir);
      const cert = await makeCert(ca, { cn: 'gateway', sans: ['127.0.0.1'] });
      const g = await start(['--max-connections', '2', '--tls-cert', cert.cert, '--tls-key', cert.key]);
      const connectH2 = () =>
        new Promise<ClientHttp2Session | Error>((resolve) => {
          const s = http2Connect(g.httpUrl, { ca: readFileSync(ca.cert) });
          s.once('connect', () => resolve(s));
          s.once('error', (e) => resolve(e));
        });
      const a = await connectH2();
      const b = await connectH2();
      expect(a).not.toBeInstanceOf(Error);
      expect(b).not.toBeInstanceOf(Error);
      const c = await connectH2();
      expect(c).toBeInstanceOf(Error);
      for (const s of [a, b]) (s as ClientHttp2Session).destroy();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

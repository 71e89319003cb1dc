// gRPC-Web over HTTP/2 behaves exactly as over HTTP/1.1: the real clients (connect-web,
// protobuf-ts text and binary) over h2c with prior knowledge (Node's http2 client as their
// fetch), against a real echo Pod, on the same port that serves HTTP/1.1.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { NODE_CLIENTS, nodeClient } from '../support/clients.js';
import { h2cFetch, type H2cFetch } from '../support/h2c-fetch.js';
import { until } from '../support/until.js';
import { testGatewayEnv } from '../support/upstream-options.js';

let pod: EchoPod;
let gw: Gateway;
let h2c: H2cFetch;

async function startGw(flags: string[]): Promise<Gateway> {
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, ...flags], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  const g = await startGateway(result.config, { logger: false });
  for (let i = 0; i < 500 && !g.pools[0]!.isReady(); i++) await new Promise((r) => setTimeout(r, 10));
  return g;
}

beforeAll(async () => {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  gw = await startGw(['--max-request-size', '64KiB', '--max-headers', '30', '--max-concurrent-streams', '7', '--allow-origin', 'https://app.example']);
  h2c = h2cFetch();
});
afterAll(async () => {
  h2c?.close();
  await gw?.close();
  await pod?.close();
});

/** EchoRequest { message = "hi" } as one gRPC-Web frame. */
const ECHO_FRAME = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69]);
const ECHO_PATH = '/echo.v1.EchoService/Echo';

describe('one cleartext port, two protocols', () => {
  it('serves HTTP/1.1 and h2c (prior knowledge) on the same port', async () => {
    const overHttp1 = await nodeClient('connect', gw.httpUrl).unary({ message: 'one' });
    const overH2c = await nodeClient('connect', gw.httpUrl, h2c.fetch).unary({ message: 'two' });
    expect(overHttp1.ok && overH2c.ok).toBe(true);
    expect(overH2c.response?.message).toBe('two');
    // Node's http2 client speaks nothing but HTTP/2: the call above went over it.
    expect(h2c.session(gw.httpUrl).remoteSettings.maxConcurrentStreams).toBe(7);
  });

  it('curl --http2-prior-knowledge and curl --http1.1 make the same call', async () => {
    const curl = (flag: string) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(
          'curl',
          ['-sS', flag, '--data-binary', '@-', '-H', 'content-type: application/grpc-web+proto', '-o', '/dev/null', '-w', '%{http_version} %{http_code} %{size_download}', gw.httpUrl + ECHO_PATH],
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        );
        child.stdin!.end(ECHO_FRAME);
      });
    const [h2, h1] = await Promise.all([curl('--http2-prior-knowledge'), curl('--http1.1')]);
    const [h2Version, h2Code, h2Size] = h2.split(' ');
    const [h1Version, h1Code, h1Size] = h1.split(' ');
    expect([h2Version, h2Code]).toEqual(['2', '200']);
    expect([h1Version, h1Code]).toEqual(['1.1', '200']);
    // The same answer (message frame and trailer frame) either way.
    expect(h2Size).toBe(h1Size);
    expect(Number(h2Size)).toBeGreaterThan(20);
  });
});

describe.each(NODE_CLIENTS)('%s over h2c', (kind) => {
  const client = () => nodeClient(kind, gw.httpUrl, h2c.fetch);

  it('unary, with metadata both ways', async () => {
    const r = await client().unary({ message: 'md' }, { metadata: { 'x-echo-id': 'id-7' } });
    expect(r.ok).toBe(true);
    expect(r.response?.pod).toBe(pod.address);
    expect(r.headers['x-echo-id']).toBe('id-7');
    expect(r.trailers['trailer-x-echo-id']).toBe('id-7');
  });

  it('a server stream arrives message by message, its status in the trailer frame', async () => {
    const r = await client().stream({ count: 4, intervalMs: 200, failAfter: 3, statusCode: 10, statusMessage: 'stopped here' });
    expect(r.messages.map((m) => m.index)).toEqual([0, 1, 2]);
    expect(r.status).toEqual({ code: 10, details: 'stopped here' });
    expect(r.arrivals[2]! - r.arrivals[0]!).toBeGreaterThan(300);
  });

  it('grpc-timeout becomes the upstream deadline (the Pod reports what it was given)', async () => {
    const r = await client().unary({ message: 't' }, { timeoutMs: 5_000 });
    expect(r.ok).toBe(true);
    const left = Number(r.headers['x-deadline-ms']);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(5_000);
  });

  it('a refused upload ends its own stream, not the connection: the next call shares it', async () => {
    const before = h2c.session(gw.httpUrl);
    const big = await client().unary({ payload: new Uint8Array(100 * 1024) });
    expect(big.status.code).toBe(8);
    expect(big.status.details).toMatch(/65536-byte limit/);
    const next = await client().unary({ message: 'after' });
    expect(next.ok).toBe(true);
    expect(h2c.session(gw.httpUrl)).toBe(before);
    expect(before.closed || before.destroyed).toBe(false);
  });

  it('more request headers than --max-headers are refused RESOURCE_EXHAUSTED, as over HTTP/1.1', async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 40; i++) many[`x-echo-h${i}`] = String(i);
    const r = await client().unary({ message: 'hi' }, { metadata: many });
    expect(r.status.code).toBe(8);
    expect(r.status.details).toMatch(/more than 30 request headers/);
    // 25 headers and the 4 pseudo-headers: within the bound (pseudo-headers are no header lines).
    const fewer: Record<string, string> = {};
    for (let i = 0; i < 22; i++) fewer[`x-echo-h${i}`] = String(i);
    expect((await client().unary({ message: 'hi' }, { metadata: fewer })).ok).toBe(true);
  });
});

describe('over h2c, as over HTTP/1.1', () => {
  it('answers a CORS preflight', async () => {
    const r = await h2c.fetch(gw.httpUrl + ECHO_PATH, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-grpc-web,content-type' },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(r.headers.get('access-control-allow-headers')).toBe('x-grpc-web,content-type');
  });

  it('takes $httpHeaders from an allowed origin and refuses it from another (403)', async () => {
    const query = `?%24httpHeaders=${encodeURIComponent('content-type:application/grpc-web+proto\r\nx-grpc-web:1\r\n')}`;
    const post = (origin: string) =>
      h2c.fetch(gw.httpUrl + ECHO_PATH + query, { method: 'POST', body: ECHO_FRAME, headers: { origin, 'content-type': 'text/plain' } });
    const ok = await post('https://app.example');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/grpc-web+proto');
    expect((await ok.arrayBuffer()).byteLength).toBeGreaterThan(20);
    const refused = await post('https://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('grpc-status')).toBe('7');
    await refused.arrayBuffer();
  });

  it('a client that resets the stream (RST_STREAM CANCEL) cancels the upstream call', async () => {
    const before = pod.cancelledCalls();
    const abort = new AbortController();
    const r = await nodeClient('connect', gw.httpUrl, h2c.fetch).stream(
      { count: 100, intervalMs: 50 },
      { signal: abort.signal, onMessage: (_m, i) => i === 1 && abort.abort() },
    );
    expect(r.ok).toBe(false);
    expect(r.messages.length).toBeLessThan(10);
    expect(await until(() => pod.cancelledCalls() > before, 5_000)).toBe(true);
  });
});

describe('graceful stop over HTTP/2', () => {
  it('sends GOAWAY: a stream already open finishes, the connection takes no new one, the stop ends with the stream', async () => {
    const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, '--shutdown-delay', '0', '--drain-timeout', '20s'], testGatewayEnv());
    if (!('config' in result)) throw new Error('not a config');
    const g = await startGateway(result.config, { logger: false });
    const own = h2cFetch();
    try {
      await until(() => g.pools[0]!.isReady(), 5_000);
      const client = nodeClient('connect', g.httpUrl, own.fetch);
      let goaway = false;
      let streamed: Awaited<ReturnType<typeof client.stream>> | undefined;
      await new Promise<void>((resolve) => {
        void client
          .stream({ count: 8, intervalMs: 150 }, { onMessage: (_m, i) => i === 0 && resolve() })
          .then((r) => (streamed = r));
      });
      own.session(g.httpUrl).once('goaway', () => (goaway = true));
      const started = Date.now();
      await g.shutdown();
      // The stop waited for the stream (about a second), not for the 20 s drain timeout.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(goaway).toBe(true);
      expect(await until(() => streamed !== undefined, 5_000)).toBe(true);
      expect(streamed!.ok).toBe(true);
      expect(streamed!.messages.length).toBe(8);
    } finally {
      own.close();
      await g.close();
    }
  });
});

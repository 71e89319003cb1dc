// Limits, timeouts and CORS settings, each checked for its effect on the wire through a real
// gateway in front of a real echo Pod (connect-web and raw HTTP/1.1 where the wire is the point).
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nodeClient } from '../support/clients.js';
import { testGatewayEnv } from '../support/upstream-options.js';

let pod: EchoPod | null = null;
let gw: Gateway | null = null;
afterEach(async () => {
  await gw?.close();
  await pod?.close();
  gw = null;
  pod = null;
});

async function gateway(flags: string[]): Promise<Gateway> {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, ...flags], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  gw = await startGateway(result.config, { logger: false });
  for (let i = 0; i < 200 && !gw.pools[0]!.isReady(); i++) await new Promise((r) => setTimeout(r, 10));
  return gw;
}

/** EchoRequest { message = "hi" } as one gRPC-Web frame. */
const ECHO_FRAME = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69]);
const ECHO_PATH = '/echo.v1.EchoService/Echo';

async function post(url: string, body: Buffer, headers: Record<string, string> = {}) {
  const r = await fetch(url, {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', ...headers },
  });
  await r.arrayBuffer();
  return r;
}

describe('limits and timeouts', () => {
  it('--max-call-duration ends a long stream with DEADLINE_EXCEEDED', async () => {
    const g = await gateway(['--max-call-duration', '400ms']);
    const started = Date.now();
    const r = await nodeClient('connect', g.httpUrl).stream({ count: 20, intervalMs: 100 });
    expect(r.status.code).toBe(4);
    expect(r.messages.length).toBeGreaterThan(0);
    expect(r.messages.length).toBeLessThan(20);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('--max-request-size refuses a larger body with RESOURCE_EXHAUSTED, then serves the next call', async () => {
    const g = await gateway(['--max-request-size', '64']);
    const big = Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.alloc(100)]);
    const r = await post(g.httpUrl + ECHO_PATH, big);
    expect(r.status).toBe(200);
    expect(r.headers.get('grpc-status')).toBe('8');
    expect(decodeURIComponent(r.headers.get('grpc-message')!)).toMatch(/64-byte limit/);
    const ok = await post(g.httpUrl + ECHO_PATH, ECHO_FRAME);
    expect(ok.headers.get('grpc-status')).toBeNull(); // a normal answer: status in the trailer frame
    expect(ok.status).toBe(200);
  });

  it('--max-header-size answers 431 to a request whose headers are larger', async () => {
    const g = await gateway(['--max-header-size', '2KiB']);
    const r = await post(g.httpUrl + ECHO_PATH, ECHO_FRAME, { 'x-echo-big': 'a'.repeat(4096) });
    expect(r.status).toBe(431);
    expect((await nodeClient('connect', g.httpUrl).unary({ message: 'after' })).ok).toBe(true);
  });

  it('--max-headers refuses a request with more headers (RESOURCE_EXHAUSTED) instead of dropping some', async () => {
    // fetch itself sends about a dozen headers (host, accept, user-agent, sec-fetch-mode, ...).
    const g = await gateway(['--max-headers', '30']);
    const client = nodeClient('connect', g.httpUrl);
    const many: Record<string, string> = {};
    for (let i = 0; i < 40; i++) many[`x-echo-h${i}`] = String(i);
    const refused = await client.unary({ message: 'hi' }, { metadata: many });
    expect(refused.ok).toBe(false);
    expect(refused.status.code).toBe(8);
    expect(refused.status.details).toMatch(/more than 30 request headers/);
    const few: Record<string, string> = {};
    for (let i = 0; i < 5; i++) few[`x-echo-h${i}`] = String(i);
    const ok = await client.unary({ message: 'hi' }, { metadata: few });
    expect(ok.ok).toBe(true);
    expect(Object.keys(ok.headers).filter((k) => k.startsWith('x-echo-h'))).toHaveLength(5);
  });

  it('--keepalive-timeout is what the gateway announces and keeps idle connections for', async () => {
    const g = await gateway(['--keepalive-timeout', '7s']);
    const r = await post(g.httpUrl + ECHO_PATH, ECHO_FRAME);
    expect(r.headers.get('keep-alive')).toBe('timeout=7');
  });

  it('--headers-timeout closes a connection whose headers never finish', async () => {
    const g = await gateway(['--headers-timeout', '1s', '--request-timeout', '2s']);
    const { port } = new URL(g.httpUrl);
    const socket = connect(Number(port), '127.0.0.1');
    const started = Date.now();
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.write(`POST ${ECHO_PATH} HTTP/1.1\r\nHost: x\r\nx-slow: `); // and never more
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('CORS settings', () => {
  const APP = 'https://app.example.com';

  async function preflight(url: string, origin: string, requestHeaders: string) {
    const r = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
    });
    await r.arrayBuffer();
    return r;
  }

  it('allows only the listed origins, with credentials', async () => {
    const g = await gateway(['--allow-origin', APP, '--allow-origin', '/https:\\/\\/[a-z]+\\.preview\\.example\\.com/', '--allow-credentials']);
    const ok = await preflight(g.httpUrl + ECHO_PATH, APP, 'content-type,x-grpc-web');
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const preview = await preflight(g.httpUrl + ECHO_PATH, 'https://pr.preview.example.com', 'content-type');
    expect(preview.headers.get('access-control-allow-origin')).toBe('https://pr.preview.example.com');
    const other = await preflight(g.httpUrl + ECHO_PATH, 'https://evil.example.net', 'content-type');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const suffix = await preflight(g.httpUrl + ECHO_PATH, 'https://pr.preview.example.com.evil.net', 'content-type');
    expect(suffix.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('--cors-allow-header switches from mirroring to a fixed list', async () => {
    const g = await gateway(['--cors-allow-header', 'x-tenant']);
    const r = await preflight(g.httpUrl + ECHO_PATH, APP, 'x-grpc-web,x-tenant,x-other');
    const allowed = r.headers.get('access-control-allow-headers')!.split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['x-grpc-web', 'x-user-agent', 'grpc-timeout', 'x-tenant']));
    expect(allowed).not.toContain('x-other');
  });

  it('by default mirrors whatever headers the browser asks for', async () => {
    const g = await gateway([]);
    const r = await preflight(g.httpUrl + ECHO_PATH, APP, 'x-grpc-web,x-anything-custom');
    expect(r.headers.get('access-control-allow-headers')).toBe('x-grpc-web,x-anything-custom');
    expect(r.headers.get('access-control-max-age')).toBe('86400');
  });

  it('--cors-expose-header adds to the per-response expose list', async () => {
    const g = await gateway(['--cors-expose-header', 'x-extra']);
    const r = await post(g.httpUrl + ECHO_PATH, ECHO_FRAME, { origin: APP, 'x-echo-id': '7' });
    const exposed = r.headers.get('access-control-expose-headers')!.split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['grpc-status', 'grpc-message', 'x-echo-id', 'x-pod', 'x-extra']));
  });
});

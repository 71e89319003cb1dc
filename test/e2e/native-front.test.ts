// gRPC clients' native calls enter before Fastify (src/http/native-front.ts): what they are
// answered, what the Pod is told and what the log says must read as through Fastify's call route,
// and every other request on the same HTTP/2 connection must still reach Fastify.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nativeClient, unary } from '../support/native-client.js';
import { startStreamPod, type StreamPod } from '../support/stream-pod.js';
import { until } from '../support/until.js';
import { testGatewayEnv } from '../support/upstream-options.js';

type LogLine = Record<string, unknown>;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
});

async function setup(flags: string[] = []): Promise<{ gw: Gateway; pod: StreamPod; lines: LogLine[]; address: string }> {
  const pod = await startStreamPod('127.0.0.2');
  cleanups.push(() => pod.forceClose());
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, ...flags], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  const gw = await startGateway(result.config, { logger });
  cleanups.push(() => gw.close());
  expect(await until(() => gw.pools[0]!.isReady(), 10_000)).toBe(true);
  return { gw, pod, lines, address: gw.httpUrl.replace('http://', '') };
}

const FRAME = Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69]);

/** One POST over an open h2c session: the answer's headers and trailers. */
function post(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders) {
  const stream = session.request({ ':method': 'POST', ':path': path, te: 'trailers', ...headers });
  stream.end(FRAME);
  return new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    let answer: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (answer = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', () => {});
    stream.on('error', reject);
    stream.on('close', () => resolve({ headers: answer, trailers }));
  });
}

describe('native gRPC calls enter before Fastify', () => {
  it('a gRPC client (no Origin) is answered without CORS headers; gRPC-Web and a page\'s native request on the same connection still get @fastify/cors\'s', async () => {
    const { gw } = await setup();
    const session = http2.connect(gw.httpUrl);
    cleanups.push(() => session.close());

    const native = await post(session, '/test.Stream/Unary', { 'content-type': 'application/grpc' });
    expect(native.headers[':status']).toBe(200);
    expect(native.headers['content-type']).toBe('application/grpc');
    expect(native.headers['grpc-accept-encoding']).toBe('identity,deflate,gzip');
    expect(native.headers['x-pod']).toBeDefined();
    expect(native.headers['access-control-allow-origin']).toBeUndefined();
    expect(native.trailers['grpc-status']).toBe('0');

    const fromPage = await post(session, '/test.Stream/Unary', { 'content-type': 'application/grpc', origin: 'https://app.example' });
    expect(fromPage.headers['access-control-allow-origin']).toBe('*');
    expect(fromPage.trailers['grpc-status']).toBe('0');

    const web = await post(session, '/test.Stream/Unary', { 'content-type': 'application/grpc-web+proto' });
    expect(web.headers['access-control-allow-origin']).toBe('*');
    expect(web.headers['content-type']).toBe('application/grpc-web+proto');
  });

  it('the access log line as through Fastify: the client\'s x-request-id as reqId, else an id from the one counter both front ends draw from', async () => {
    const { gw, lines, address } = await setup();
    const client = nativeClient(address);
    cleanups.push(() => client.close());
    const traced = new grpc.Metadata();
    traced.set('x-request-id', 'trace-42');
    expect((await unary(client, 'one', traced)).answer?.toString()).toBe('one');
    expect((await unary(client, 'two')).answer?.toString()).toBe('two');
    // gRPC-Web over h2c goes through Fastify, whose ids must not repeat the native front's.
    const session = http2.connect(gw.httpUrl);
    cleanups.push(() => session.close());
    for (let i = 0; i < 3; i++) await post(session, '/test.Stream/Unary', { 'content-type': 'application/grpc-web+proto' });
    expect((await unary(client, 'three')).answer?.toString()).toBe('three');

    expect(await until(() => lines.filter((l) => l.msg === 'call').length === 6, 5_000)).toBe(true);
    const calls = lines.filter((l) => l.msg === 'call');
    expect(calls[0]).toMatchObject({ reqId: 'trace-42', method: '/test.Stream/Unary', grpcStatus: 0, client: '127.0.0.1', http: '2.0' });
    const generated = calls.slice(1).map((l) => l.reqId as string);
    for (const id of generated) expect(id).toMatch(/^req-[0-9a-z]+$/);
    expect(new Set(generated).size).toBe(5);
  });

  it('refused at admission: the same trailers-only status and one "call refused" line, with reqId and client', async () => {
    const { address, lines } = await setup();
    const client = nativeClient(address);
    cleanups.push(() => client.close());
    const noRoute = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest('/not-a-method', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (error) => resolve(error)),
    );
    expect(noRoute?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(noRoute?.details).toBe('no route for /not-a-method');
    const badTimeout = await new Promise<{ headers: http2.IncomingHttpHeaders }>((resolve) => {
      const session = http2.connect(`http://${address}`);
      cleanups.push(() => session.close());
      void post(session, '/test.Stream/Unary', { 'content-type': 'application/grpc', 'grpc-timeout': 'soon' }).then(resolve);
    });
    expect(badTimeout.headers[':status']).toBe(200);
    expect(badTimeout.headers['grpc-status']).toBe(String(grpc.status.INTERNAL));
    expect(badTimeout.headers['grpc-message']).toBe("invalid grpc-timeout 'soon'");

    const refused = lines.filter((l) => l.msg === 'call refused');
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatchObject({ method: '/not-a-method', grpcStatus: grpc.status.UNIMPLEMENTED, reason: 'no_route', client: '127.0.0.1', httpStatus: 200 });
    expect(refused[1]).toMatchObject({ reason: 'malformed_request', grpcStatus: grpc.status.INTERNAL, client: '127.0.0.1' });
    for (const line of refused) expect(line.reqId).toMatch(/^req-[0-9a-z]+$/);
  });

  it('--trust-proxy: the Pod is told x-forwarded-for as through Fastify, and the log names the forwarded client, refused or not', async () => {
    const { pod, address, lines } = await setup(['--trust-proxy', 'loopback']);
    const client = nativeClient(address);
    cleanups.push(() => client.close());
    const forwarded = new grpc.Metadata();
    forwarded.set('x-forwarded-for', '198.51.100.9, 203.0.113.7');
    expect((await unary(client, 'hi', forwarded)).answer?.toString()).toBe('hi');
    // The chain ends at the first address not trusted (203.0.113.7): what it says came before is its own.
    expect(pod.calls.at(-1)!.metadata.get('x-forwarded-for')).toEqual(['203.0.113.7, 127.0.0.1']);
    const refused = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest('/not-a-method', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), forwarded, (error) => resolve(error)),
    );
    expect(refused?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(await until(() => lines.some((l) => l.msg === 'call'), 5_000)).toBe(true);
    expect(lines.find((l) => l.msg === 'call')).toMatchObject({ client: '203.0.113.7' });
    expect(lines.find((l) => l.msg === 'call refused')).toMatchObject({ client: '203.0.113.7' });
  });
});

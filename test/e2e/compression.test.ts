// Compressed request messages through the gateway: a grpc-js client told to compress
// (grpc.default_compression_algorithm) on every call type, gRPC-Web frames compressed by hand
// (no browser client compresses), and what cannot be inflated: a decompression bomb, corrupt
// data, an unknown encoding, the flag without an encoding. The Pods are grpc-js servers that
// record every message they receive, in order.
import * as grpc from '@grpc/grpc-js';
import { deflateSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { h2cFetch } from '../support/h2c-fetch.js';
import { nativeClient, unary, type NativeClient } from '../support/native-client.js';
import { startStreamPod, type StreamPod } from '../support/stream-pod.js';
import { until } from '../support/until.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
});

/** grpc-js's numbers for grpc.default_compression_algorithm. */
const ALGORITHM = { deflate: 1, gzip: 2 } as const;

interface Setup {
  gw: Gateway;
  pod: StreamPod;
  /** The gateway's log lines (access log and refusals). */
  lines: Array<Record<string, unknown>>;
}

async function setup(flags: string[] = []): Promise<Setup> {
  const pod = await startStreamPod('127.0.0.2');
  cleanups.push(() => pod.forceClose());
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, ...flags], {});
  if (!('config' in result)) throw new Error('not a config');
  const gw = await startGateway(result.config, { logger });
  cleanups.push(() => gw.close());
  expect(await until(() => gw.pools[0]!.isReady(), 10_000)).toBe(true);
  return { gw, pod, lines };
}

function compressingClient(gw: Gateway, algorithm: keyof typeof ALGORITHM): NativeClient {
  const client = nativeClient(gw.httpUrl.replace('http://', ''), grpc.credentials.createInsecure(), {
    'grpc.default_compression_algorithm': ALGORITHM[algorithm],
  });
  cleanups.push(() => client.close());
  return client;
}

const frame = (flags: number, message: Buffer): Buffer => {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
};

/** A native gRPC request made by hand over h2c: its answer's headers (trailers-only for a refusal). */
async function nativeRequest(gw: Gateway, body: Buffer, headers: Record<string, string>, method = 'Unary'): Promise<Headers> {
  const h2 = h2cFetch();
  cleanups.push(() => h2.close());
  const response = await h2.fetch(`${gw.httpUrl}/test.Stream/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc', te: 'trailers', ...headers },
    body: new Uint8Array(body),
  });
  await response.arrayBuffer();
  return response.headers;
}

/** A message large enough to take zlib a while, and compressible (grpc-js compresses every message). */
const bulky = (size: number, seed: string): Buffer => Buffer.from(seed.repeat(Math.ceil(size / seed.length)).slice(0, size));

describe('compressed request messages', () => {
  it.each(['gzip', 'deflate'] as const)(
    '%s from a grpc-js client: unary, client streaming and bidi reach the Pod inflated, in order',
    async (algorithm) => {
      const { gw, pod, lines } = await setup();
      const client = compressingClient(gw, algorithm);

      const big = bulky(256 << 10, 'compress me ');
      const u = await unary(client, big);
      expect(u.error).toBeUndefined();
      expect(u.answer!.equals(big)).toBe(true);
      // It travelled compressed: the gateway received a small fraction of the message's size.
      const unaryLine = () => lines.find((l) => l.msg === 'call' && l.method === '/test.Stream/Unary');
      expect(await until(() => unaryLine() !== undefined, 5_000)).toBe(true);
      expect(unaryLine()!.bytesIn as number).toBeLessThan(big.length / 20);

      // A large message followed by small ones: each is inflated off the event loop, and a small
      // one inflates much sooner; the Pod must still get them in the order they were sent.
      const sent = [bulky(2 << 20, 'first '), Buffer.from('b'), bulky(512 << 10, 'third '), Buffer.from('d'), Buffer.from('e')];
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const call = client.Collect(new grpc.Metadata(), {}, (error, a) => (error ? reject(error) : resolve(a!)));
        for (const m of sent) call.write(m);
        call.end();
      });
      expect(answer.equals(Buffer.from(sent.map((m) => m.toString()).join('|')))).toBe(true);
      const collected = pod.calls.find((c) => c.method === 'Collect')!;
      expect(collected.messages.map((m) => m.length)).toEqual(sent.map((m) => m.length));
      // Still compressed after the client read the gateway's grpc-accept-encoding on the first answer.
      const collectLine = () => lines.find((l) => l.msg === 'call' && l.method === '/test.Stream/Collect');
      expect(await until(() => collectLine() !== undefined, 5_000)).toBe(true);
      expect(collectLine()!.bytesIn as number).toBeLessThan((2 << 20) / 20);

      const chat = client.Chat();
      const echoed: Buffer[] = [];
      chat.on('data', (m: Buffer) => echoed.push(m));
      const chatted = Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? bulky(300 << 10, `m${i} `) : Buffer.from(`m${i}`)));
      for (const m of chatted) chat.write(m);
      chat.end();
      expect((await new Promise<grpc.StatusObject>((r) => chat.on('status', r))).code).toBe(grpc.status.OK);
      expect(echoed.map((m) => m.toString())).toEqual(chatted.map((m) => m.toString()));
    },
  );

  it('gRPC-Web frames compressed with gzip (binary) and deflate (text) reach the Pod inflated', async () => {
    const { gw, pod } = await setup();
    const message = Buffer.from('hello from a compressing gRPC-Web client');
    const calls = [
      { type: 'application/grpc-web+proto', encoding: 'gzip', body: (m: Buffer) => frame(1, gzipSync(m)) },
      { type: 'application/grpc-web-text', encoding: 'deflate', body: (m: Buffer) => Buffer.from(frame(1, deflateSync(m)).toString('base64')) },
    ];
    for (const c of calls) {
      const response = await fetch(`${gw.httpUrl}/test.Stream/Unary`, {
        method: 'POST',
        headers: { 'content-type': c.type, 'x-grpc-web': '1', 'grpc-encoding': c.encoding },
        body: new Uint8Array(c.body(message)),
      });
      expect(response.status).toBe(200);
      let body = Buffer.from(await response.arrayBuffer());
      if (c.type.endsWith('-text')) body = Buffer.from(body.toString(), 'base64');
      // First frame: the Pod's echo, uncompressed (flag 0); then the trailer frame with status 0.
      expect(body[0]).toBe(0);
      expect(body.subarray(5, 5 + body.readUInt32BE(1)).equals(message)).toBe(true);
      expect(body.subarray(5 + body.readUInt32BE(1)).toString()).toContain('grpc-status: 0');
    }
    expect(pod.calls.filter((c) => c.method === 'Unary').map((c) => c.messages[0]!.toString())).toEqual([message.toString(), message.toString()]);
  });

  it('what cannot be inflated is refused, logged once, never reaches a Pod, and the gateway serves on', async () => {
    const { gw, pod, lines } = await setup(['--max-message-size', '1MiB']);
    const refused = (reason: string) => lines.filter((l) => l.msg === 'call refused' && l.reason === reason);

    // A bomb: 64 MiB of zeros in 64 KiB of gzip, against a 1 MiB message limit.
    const bomb = await nativeRequest(gw, frame(1, gzipSync(Buffer.alloc(64 << 20))), { 'grpc-encoding': 'gzip' });
    expect(bomb.get('grpc-status')).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    expect(decodeURIComponent(bomb.get('grpc-message')!)).toBe('request message decompresses to more than the limit of 1048576 bytes');

    const corrupt = await nativeRequest(gw, frame(1, Buffer.from('definitely not gzip')), { 'grpc-encoding': 'gzip' });
    expect(corrupt.get('grpc-status')).toBe(String(grpc.status.INTERNAL));
    expect(decodeURIComponent(corrupt.get('grpc-message')!)).toBe('request message is not valid gzip data');

    const unknown = await nativeRequest(gw, frame(1, Buffer.from('x')), { 'grpc-encoding': 'snappy' });
    expect(unknown.get('grpc-status')).toBe(String(grpc.status.UNIMPLEMENTED));
    expect(unknown.get('grpc-accept-encoding')).toBe('identity,deflate,gzip');

    for (const headers of [{}, { 'grpc-encoding': 'identity' }] as Array<Record<string, string>>) {
      const flagOnly = await nativeRequest(gw, frame(1, gzipSync(Buffer.from('x'))), headers);
      expect(flagOnly.get('grpc-status')).toBe(String(grpc.status.INTERNAL));
      expect(decodeURIComponent(flagOnly.get('grpc-message')!)).toContain('without a grpc-encoding header');
    }

    // The same over gRPC-Web: an unknown encoding, and a bomb in one small frame.
    const web = (body: Buffer, encoding: string) =>
      fetch(`${gw.httpUrl}/test.Stream/Unary`, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', 'grpc-encoding': encoding },
        body: new Uint8Array(body),
      });
    const webUnknown = await web(frame(1, Buffer.from('x')), 'br');
    expect(webUnknown.headers.get('grpc-status')).toBe(String(grpc.status.UNIMPLEMENTED));
    expect(webUnknown.headers.get('grpc-accept-encoding')).toBe('identity,deflate,gzip');
    const webBomb = await web(frame(1, gzipSync(Buffer.alloc(8 << 20))), 'gzip');
    expect(webBomb.headers.get('grpc-status')).toBe(String(grpc.status.RESOURCE_EXHAUSTED));

    expect(pod.calls).toHaveLength(0);
    expect(refused('too_large')).toHaveLength(2);
    expect(refused('malformed_request')).toHaveLength(3);
    expect(refused('unsupported_encoding')).toHaveLength(2);
    for (const line of lines) expect(JSON.stringify(line)).not.toContain('snappy');

    // A client that compresses still gets through on the same gateway.
    const client = compressingClient(gw, 'gzip');
    expect((await unary(client, 'still here')).answer!.toString()).toBe('still here');
  });

  it('a bomb later in a stream: the call is refused, and cancelled on the Pod, which never gets the bomb', async () => {
    const { gw, pod } = await setup(['--max-message-size', '1MiB']);
    const body = Buffer.concat([frame(1, gzipSync(Buffer.from('first'))), frame(1, gzipSync(Buffer.alloc(16 << 20)))]);
    const answer = await nativeRequest(gw, body, { 'grpc-encoding': 'gzip' }, 'Collect');
    expect(answer.get('grpc-status')).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    // The first message went on to the Pod as soon as it was inflated (usually it gets there before
    // the cancellation does); the call never ends normally there, and the bomb never arrives.
    expect(await until(() => pod.calls.every((c) => c.ended), 5_000)).toBe(true);
    expect(pod.calls.length).toBeLessThanOrEqual(1);
    for (const c of pod.calls) expect(c.messages.map((m) => m.toString())).toEqual(c.messages.length === 0 ? [] : ['first']);
  });

  it('native answers say what the gateway inflates (grpc-accept-encoding), so clients keep compressing', async () => {
    const { gw } = await setup();
    const headers = await nativeRequest(gw, frame(0, Buffer.from('plain')), {});
    expect(headers.get('grpc-status')).toBeNull(); // not trailers-only: the Pod answered
    expect(headers.get('grpc-accept-encoding')).toBe('identity,deflate,gzip');
  });
});

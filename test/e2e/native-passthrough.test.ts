// Native gRPC byte passthrough (--upstream-client http2): DATA goes on as it came, both ways, while
// the gateway still reads every 5-byte prefix (--max-message-size), keeps --retry-buffer-size's
// rule, and leaves calls that compress to the message path. Real ends: grpc-js clients and Pods,
// and node:http2 ones where the test must choose how the bytes are cut into DATA frames.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nativeClient } from '../support/native-client.js';
import { freePort } from '../support/ports.js';
import { startRefuser } from '../support/refuser-pod.js';
import { startStreamPod } from '../support/stream-pod.js';
import { until } from '../support/until.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
});

/** A gateway over the http2 client (passthrough needs it), whatever GWG_UPSTREAM_CLIENT says. */
async function passthroughGateway(pod: string, flags: string[] = []): Promise<{ gw: Gateway; target: string }> {
  const argv = ['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod, '--log-level', 'warn', '--upstream-client', 'http2', ...flags];
  const loaded = loadConfig(argv, {});
  if (!('config' in loaded)) throw new Error('not a config');
  const gw = await startGateway(loaded.config, { logger: false });
  cleanups.push(() => gw.close());
  expect(await until(() => gw.pools[0]!.isReady(), 10_000)).toBe(true);
  return { gw, target: gw.httpUrl.replace('http://', '') };
}

const framed = (...messages: string[]): Buffer =>
  Buffer.concat(messages.flatMap((m) => [Buffer.from([0, 0, 0, 0, Buffer.byteLength(m)]), Buffer.from(m)]));

/** A node:http2 Pod on /test.Raw/Echo that records each DATA chunk and answers with `answer`'s chunks, one at a time. */
async function chunkPod(host: string, answer: Buffer[]) {
  const received: Buffer[] = [];
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => received.push(chunk));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // One write per chunk, each after the last left: one DATA frame each.
      const next = (i: number): void => {
        if (i === answer.length) stream.end();
        else stream.write(answer[i], () => setTimeout(() => next(i + 1), 20));
      };
      next(0);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  return { address: `${host}:${port}`, received };
}

describe('native gRPC byte passthrough (http2 client)', () => {
  it('DATA passes as it came both ways: many messages in one DATA frame, one message over many', async () => {
    const whole = framed('one', 'two', 'three');
    const long = framed('a message cut into pieces, prefix included');
    const client = [whole, long.subarray(0, 3), long.subarray(3, 9), long.subarray(9)];
    const pod = await chunkPod('127.0.0.2', [framed('x', 'yy', 'zzz'), long.subarray(0, 2), long.subarray(2)]);
    const { target } = await passthroughGateway(pod.address);

    const session = http2.connect(`http://${target}`);
    cleanups.push(() => session.close());
    const req = session.request({ ':method': 'POST', ':path': '/test.Raw/Echo', 'content-type': 'application/grpc', te: 'trailers' });
    const got: Buffer[] = [];
    req.on('data', (chunk: Buffer) => got.push(chunk));
    const trailers = new Promise<http2.IncomingHttpHeaders>((r) => req.on('trailers', r));
    for (const [i, chunk] of client.entries()) {
      req.write(chunk);
      // Each chunk reaches the Pod before the next leaves, so none is merged with another on the way.
      expect(await until(() => Buffer.concat(pod.received).length === Buffer.concat(client.slice(0, i + 1)).length, 5_000)).toBe(true);
    }
    req.end();
    expect((await trailers)['grpc-status']).toBe('0');
    // The message path would have cut these into messages and framed each again.
    expect(pod.received.map((c) => c.toString('hex'))).toEqual(client.map((c) => c.toString('hex')));
    expect(got.map((c) => c.toString('hex'))).toEqual([framed('x', 'yy', 'zzz'), long.subarray(0, 2), long.subarray(2)].map((c) => c.toString('hex')));
  });

  it('grpc-js both ends: messages of 1 B to 300 KiB (many DATA frames each) arrive intact both ways on a bidi call', async () => {
    const pod = await startStreamPod('127.0.0.2');
    cleanups.push(() => pod.forceClose());
    const { target } = await passthroughGateway(pod.address);
    const client = nativeClient(target);
    cleanups.push(() => client.close());
    const sizes = [1, 100, 16_379, 16_384, 70_000, 300 * 1024, 7];
    const sent = sizes.map((n, i) => Buffer.alloc(n, i + 1).fill(`m${i}`, 0, Math.min(n, 2)));
    const chat = client.Chat();
    const echoed: Buffer[] = [];
    chat.on('data', (m: Buffer) => echoed.push(m));
    for (const m of sent) chat.write(m);
    chat.end();
    expect((await new Promise<grpc.StatusObject>((r) => chat.on('status', r))).code).toBe(grpc.status.OK);
    expect(pod.calls[0]!.messages.map((m) => m.length)).toEqual(sizes);
    expect(Buffer.concat(pod.calls[0]!.messages).equals(Buffer.concat(sent))).toBe(true);
    expect(Buffer.concat(echoed).equals(Buffer.concat(sent))).toBe(true);
  });

  it('a message over --max-message-size in the middle of a stream: RESOURCE_EXHAUSTED, and the Pod\'s stream is cancelled', async () => {
    const pod = await startStreamPod('127.0.0.2');
    cleanups.push(() => pod.forceClose());
    const { target } = await passthroughGateway(pod.address, ['--max-message-size', '1KiB']);
    const client = nativeClient(target);
    cleanups.push(() => client.close());
    const chat = client.Chat();
    const echoed: string[] = [];
    chat.on('data', (m: Buffer) => echoed.push(m.toString()));
    chat.on('error', () => {});
    chat.write(Buffer.from('fits'));
    expect(await until(() => echoed.length === 1, 5_000)).toBe(true);
    chat.write(Buffer.alloc(1025, 1));
    const status = await new Promise<grpc.StatusObject>((r) => chat.on('status', r));
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toBe('message of 1025 bytes exceeds the limit of 1024');
    expect(await until(() => pod.calls[0]!.ended, 5_000)).toBe(true);
    expect(pod.calls[0]!.messages.map(String)).toEqual(['fits']);
  });

  describe('--retry-buffer-size: a refused stream is sent again only with every byte still held', () => {
    const messages = ['alpha', 'bravo', 'charlie'];
    /** The Pod refuses each stream once the whole request arrived (before it could process it). */
    async function refuser() {
      const host = '127.0.0.3';
      const port = await freePort(host);
      const pod = await startRefuser(host, port, framed(...messages).length);
      cleanups.push(() => pod.close());
      return { address: `${host}:${port}`, seen: pod.seen };
    }

    async function collect(bufferSize: string) {
      const pod = await refuser();
      const { target } = await passthroughGateway(pod.address, ['--retry-buffer-size', bufferSize, '--max-retries', '2']);
      const client = nativeClient(target);
      cleanups.push(() => client.close());
      const error = await new Promise<grpc.ServiceError | null>((resolve) => {
        const call = client.Collect(new grpc.Metadata(), {}, (e) => resolve(e));
        for (const m of messages) call.write(Buffer.from(m));
        call.end();
      });
      return { error, streams: pod.seen.streams };
    }

    it('within the buffer, the call is retried (here on the same, only Pod) up to --max-retries', async () => {
      const { error, streams } = await collect('256KiB');
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(streams).toBe(3);
    });

    it('past it, the bytes are let go as they are sent and the call is never retried', async () => {
      const { error, streams } = await collect('8B');
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(streams).toBe(1);
    });
  });
});

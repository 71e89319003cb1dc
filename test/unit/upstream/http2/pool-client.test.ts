// --upstream-client reaches the pool: the same PodPool speaks grpc-js or the node:http2 client to
// the same grpc-js Pod, which tells them apart by their User-Agent; and a Pod that refuses the
// stream costs the http2 client no second attempt on it, only a transparent retry on another Pod.
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamClientName } from '../../../../src/config/types.js';
import { startStreamPod } from '../../../support/stream-pod.js';
import { closePools, makePool, until } from '../pool-harness.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  await closePools();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function unary(pool: ReturnType<typeof makePool>['pool'], message: string) {
  return new Promise<{ status: StatusObject; endpoint: string | undefined; messages: string[] }>((resolve) => {
    const messages: string[] = [];
    const call = pool.call(
      { method: '/test.Stream/Unary', metadata: new Metadata(), deadline: Date.now() + 10_000, message: Buffer.from(message) },
      {
        onHeaders: () => {},
        onMessage: (m) => {
          messages.push(m.toString());
          call.requestNext();
        },
        onStatus: (status, endpoint) => resolve({ status, endpoint, messages }),
      },
    );
  });
}

describe('--upstream-client in the pool', () => {
  it.each([
    ['grpc-js', /^grpc-node-js\//],
    ['http2', /^grpc-web-gateway \(node:http2\)$/],
  ] as Array<[UpstreamClientName, RegExp]>)('%s: the Pod answers, and sees that client', async (client, userAgent) => {
    const pod = await startStreamPod('127.0.0.2');
    cleanups.push(() => pod.forceClose());
    const { pool, resolver } = makePool({ client });
    const [host, port] = pod.address.split(':');
    resolver.set([{ host: host!, port: Number(port) }]);
    await until(() => pool.isReady());
    const answer = await unary(pool, 'hello');
    expect(answer.status.code).toBe(Status.OK);
    expect(answer.messages).toEqual(['hello']);
    expect(String(pod.calls[0]!.metadata.get('user-agent')[0])).toMatch(userAgent);
  });

  it('http2: a Pod that refuses the stream is left for another Pod at once (one stream on it, not two)', async () => {
    const good = await startStreamPod('127.0.0.3');
    cleanups.push(() => good.forceClose());
    const port = Number(good.address.split(':')[1]);
    const refuser = http2.createServer();
    let refused = 0;
    refuser.on('stream', (stream) => {
      refused++;
      stream.on('error', () => {});
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    await new Promise<void>((r) => refuser.listen(port, '127.0.0.2', r));
    cleanups.push(() => new Promise<void>((r) => refuser.close(() => r())));
    const { pool, resolver } = makePool({ client: 'http2', balancer: 'round-robin' });
    resolver.set([
      { host: '127.0.0.2', port },
      { host: '127.0.0.3', port },
    ]);
    await until(() => pool.snapshot().endpoints.every((e) => e.state === 'READY'));
    for (let i = 0; i < 4; i++) {
      const answer = await unary(pool, `m${i}`);
      expect(answer.status.code).toBe(Status.OK);
      expect(answer.endpoint).toBe(good.address);
    }
    expect(good.calls.length).toBe(4);
    expect(refused).toBe(pool.retries.transparent);
    expect(refused).toBeGreaterThan(0);
  });
});

// Memory on a long-lived HTTP/2 connection: once a call has ended, nothing in the gateway keeps its
// HTTP/2 streams (the client's stream to the gateway, the gateway's stream to the Pod) reachable,
// while the connection stays open. Real parts: connect-web over one h2c connection (Node's http2
// client as its fetch), an echo Pod in its own process, the gateway in this process so that the
// garbage collector can be asked what is still alive (v8.queryObjects counts the live instances of
// a class after a full collection). The gateway's intervals are held still (fake setInterval, real
// everything else), so that nothing periodic may let go of what a call left behind: only the
// call's own end may.
import * as grpc from '@grpc/grpc-js';
import type { ClientHttp2Stream } from 'node:http2';
import { queryObjects, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nodeClient } from '../support/clients.js';
import { h2cFetch, type H2cFetch } from '../support/h2c-fetch.js';
import { spawnPod, type PodProcess } from '../support/pod-process.js';
import { until } from '../support/until.js';
import { testGatewayEnv } from '../support/upstream-options.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let pod: PodProcess;
let gw: Gateway;
let h2c: H2cFetch;

beforeAll(async () => {
  pod = await spawnPod('127.0.0.2', 0);
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterAll(async () => {
  await pod?.stop();
  vi.useRealTimers();
});

// A gateway and a client connection of its own per test: what one test leaves alive is not counted in another's.
beforeEach(async () => {
  // The defaults that matter here: --request-timeout 60s, so every gRPC-Web stream is watched for
  // its deadline, and --headers-timeout 30s, so that watch is swept every 5 s.
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, '--log-level', 'warn'], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  gw = await startGateway(result.config, { logger: false });
  expect(await until(() => gw.pools[0]!.isReady(), 10_000)).toBe(true);
  h2c = h2cFetch();
});
afterEach(async () => {
  h2c.close();
  await gw.close();
});

/**
 * queryObjects(Http2Stream) counts every object that inherits from it: the streams, and the
 * prototypes of its two subclasses, ClientHttp2Stream and ServerHttp2Stream.
 */
const SUBCLASS_PROTOTYPES = 2;

/** Node's Http2Stream, the class of every HTTP/2 stream, client or server side (not exported). */
async function http2StreamClass(): Promise<new (...args: never[]) => unknown> {
  const probe: ClientHttp2Stream = h2c.session(gw.httpUrl).request({ ':method': 'GET', ':path': '/healthz' });
  probe.resume();
  await new Promise((r) => probe.once('close', r));
  return Object.getPrototypeOf(Object.getPrototypeOf(probe)).constructor;
}

/** Collects (bounded) until no HTTP/2 stream is alive in this process; returns how many are. */
async function liveStreamsAfterGc(): Promise<number> {
  const Http2Stream = await http2StreamClass();
  let live = Infinity;
  // Node lets a stream go a few ticks after its 'close': collect until none is left.
  await until(() => {
    gc();
    live = (queryObjects(Http2Stream) as number) - SUBCLASS_PROTOTYPES;
    return live === 0;
  }, 10_000);
  return live;
}

/** EchoRequest { message = "hi" }, as grpc-js sends it with identity serializers. */
const ECHO_REQUEST = Buffer.from([0x0a, 0x02, 0x68, 0x69]);
const identity = (b: Buffer): Buffer => b;

describe('per-call memory on one open HTTP/2 connection', () => {
  it('gRPC-Web over h2c: after 300 calls on one connection, no HTTP/2 stream of theirs is still reachable, with no periodic sweep in between', async () => {
    const client = nodeClient('connect', gw.httpUrl, h2c.fetch);
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => client.unary({ message: `m${batch}.${i}` })));
      expect(results.every((r) => r.ok)).toBe(true);
    }
    const session = h2c.session(gw.httpUrl);
    // The --request-timeout watch used to keep every stream it had seen until its sweep, up to
    // 5 s after the stream ended: on a busy connection, thousands of them.
    expect(await liveStreamsAfterGc()).toBe(0);
    // The same connection still open (one was used throughout, and is still usable).
    expect(h2c.session(gw.httpUrl)).toBe(session);
    expect((await client.unary({ message: 'after' })).ok).toBe(true);
  });

  it('native gRPC: after 300 calls on one grpc-js channel, no HTTP/2 stream of theirs is still reachable', async () => {
    const client = new grpc.Client(gw.httpUrl.replace('http://', ''), grpc.credentials.createInsecure());
    const echo = (): Promise<Buffer> =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest('/echo.v1.EchoService/Echo', identity, identity, ECHO_REQUEST, (e, answer) => (e ? reject(e) : resolve(answer!))),
      );
    try {
      for (let batch = 0; batch < 10; batch++) {
        const answers = await Promise.all(Array.from({ length: 30 }, echo));
        expect(answers.every((a) => a.includes(Buffer.from('hi')))).toBe(true);
      }
      expect(await liveStreamsAfterGc()).toBe(0);
      expect(client.getChannel().getConnectivityState(false)).toBe(grpc.connectivityState.READY);
    } finally {
      client.close();
    }
  });
});

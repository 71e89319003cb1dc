// --request-timeout over HTTP/2 (src/http/stream-deadlines.ts) with Node's http2 server and client
// on loopback: a stream whose request never ends is reset at its deadline, and a stream that has
// closed is let go at once, not kept (with all it references) until the next sweep. Whether a
// stream is still held is read from the garbage collector itself: WeakRefs to the server's streams,
// cleared only once nothing reaches them, checked after forced collections.
import { connect, constants, createServer, type ClientHttp2Session, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamDeadlines } from '../../../src/http/stream-deadlines.js';
import { until } from '../../support/until.js';

setFlagsFromString('--expose-gc');
/** The collector, from a fresh context: the flag above only reaches contexts made after it. */
const gc = runInNewContext('gc') as () => void;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

interface Served {
  session: ClientHttp2Session;
  /** One WeakRef per stream the server saw. */
  streams: Array<WeakRef<ServerHttp2Stream>>;
  closed: () => number;
}

/** An h2c server whose every stream is watched by `deadlines` and, once its body has arrived, answered. */
async function serve(deadlines: StreamDeadlines): Promise<Served> {
  const streams: Array<WeakRef<ServerHttp2Stream>> = [];
  let closed = 0;
  const server: Http2Server = createServer();
  server.on('stream', (stream) => {
    deadlines.watch(stream);
    streams.push(new WeakRef(stream));
    stream.on('close', () => closed++);
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      // A stream reset at its deadline ends its readable side too: nothing to answer then.
      if (stream.closed) return;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  cleanups.push(() => {
    deadlines.stop();
    session.destroy();
    server.close();
  });
  return { session, streams, closed: () => closed };
}

/** One POST with a body, answered; resolves when the client's stream has closed. */
function call(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': '/call' });
    req.on('error', () => {});
    req.resume();
    req.on('close', () => resolve());
    req.end(Buffer.alloc(100));
  });
}

const alive = (refs: Array<WeakRef<object>>): number => refs.filter((r) => r.deref() !== undefined).length;

describe('StreamDeadlines', () => {
  it('lets a closed stream go when it closes: after 200 calls on one open connection none of their streams stays reachable, with no sweep in between', async () => {
    // A sweep an hour away: only the stream's own close may drop it.
    const s = await serve(new StreamDeadlines(60_000, 3_600_000));
    for (let batch = 0; batch < 4; batch++) await Promise.all(Array.from({ length: 50 }, () => call(s.session)));
    expect(await until(() => s.closed() === 200, 10_000)).toBe(true);
    expect(s.streams).toHaveLength(200);
    // The connection stays open. Node lets a stream go a few ticks after 'close': collect until none is left.
    expect(
      await until(() => {
        gc();
        return alive(s.streams) === 0;
      }, 10_000),
    ).toBe(true);
    expect(s.session.closed).toBe(false);
  });

  it('still resets a stream whose request never ends, at its deadline, and leaves the connection\'s other streams alone', async () => {
    const s = await serve(new StreamDeadlines(300, 50));
    const stuck = s.session.request({ ':method': 'POST', ':path': '/stuck' });
    stuck.on('error', () => {});
    stuck.write(Buffer.alloc(10));
    let reset: number | undefined;
    stuck.on('close', () => (reset = stuck.rstCode));
    await call(s.session);
    expect(await until(() => reset !== undefined, 10_000)).toBe(true);
    expect(reset).toBe(constants.NGHTTP2_CANCEL);
    await call(s.session);
    expect(s.session.closed).toBe(false);
  });
});

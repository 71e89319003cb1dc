// The two facts the transparent-retry rule needs, as the node:http2 client reports them on the
// status itself (AttemptStatus.neverProcessed), each produced against a real server: never
// processed when there was no connection, the stream was refused (RST_STREAM REFUSED_STREAM) or
// it was above a GOAWAY's last-stream-id; maybe processed once a stream existed and anything else
// happened (another reset code, the connection dropped, the deadline, the application's status).
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { neverProcessed } from '../../../../src/upstream/retry/index.js';
import { clientStatus } from '../../../../src/upstream/status-text.js';
import { freePort } from '../../../support/ports.js';
import { startRawPod } from '../../../support/raw-pod.js';
import { closeConnections, connection, ready, run, waitFor } from './harness.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  closeConnections();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Node http2 server; `onStream` gets each stream and its session. */
async function h2Server(host: string, onStream: (stream: http2.ServerHttp2Stream, session: http2.Http2Session) => void) {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    onStream(stream, stream.session!);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return `${host}:${(server.address() as { port: number }).port}`;
}

const ok = (stream: http2.ServerHttp2Stream) =>
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });

describe('http2 client: never processed', () => {
  it('no connection (nothing listens): UNAVAILABLE, never processed, the client reads "no ready backend"', async () => {
    const { connection: c, states } = connection(`127.0.0.9:${await freePort()}`);
    await waitFor(() => states.includes('TRANSIENT_FAILURE'), 'TRANSIENT_FAILURE');
    const { status, received } = await run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, neverProcessed: true });
    expect(status.details).toMatch(/^No connection established\. Last error: .*ECONNREFUSED/);
    expect(neverProcessed(status, received)).toBe(true);
    expect(clientStatus(status, received).status.details).toBe('no ready backend');
  });

  it('RST_STREAM(REFUSED_STREAM): never processed, and the client itself did not send it again', async () => {
    let streams = 0;
    const address = await h2Server('127.0.0.3', (stream) => {
      streams++;
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    const { connection: c } = await ready(address);
    const { status, received } = await run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'Stream refused by server', neverProcessed: true });
    expect(neverProcessed(status, received)).toBe(true);
    expect(streams).toBe(1);
  });

  it("a stream above GOAWAY's last-stream-id is never processed; the one at it finishes there", async () => {
    const held: http2.ServerHttp2Stream[] = [];
    let firstSession: http2.Http2Session | null = null;
    const address = await h2Server('127.0.0.3', (stream, session) => {
      firstSession ??= session;
      if (session !== firstSession) return ok(stream);
      held.push(stream);
      if (held.length < 2) return;
      // Two streams arrived (ids 1 and 3): only the first is taken, and answered after the GOAWAY.
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, held[0]!.id!);
      setImmediate(() => ok(held[0]!));
    });
    const { connection: c, states } = await ready(address);
    const first = run(c, '/test.Pod/Who', [Buffer.from('a')]).done;
    const second = run(c, '/test.Pod/Who', [Buffer.from('b')]).done;
    const [a, b] = await Promise.all([first, second]);
    expect(a.status).toMatchObject({ code: grpc.status.OK, neverProcessed: false });
    expect(b.status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'Stream refused by server', neverProcessed: true });
    expect(neverProcessed(b.status, b.received)).toBe(true);
    // The GOAWAY retired that session: the next calls get a new one.
    await waitFor(() => states.includes('IDLE') && c.state === 'READY', 'a new session');
    expect((await run(c, '/test.Pod/Who', [Buffer.from('c')]).done).status.code).toBe(grpc.status.OK);
  });

  it('a grpc-js Pod that shut down (GOAWAY, listener closed): later calls never reach it', async () => {
    const port = await freePort();
    const pod = await startRawPod('127.0.0.4', port);
    const { connection: c } = await ready(pod.address);
    await pod.close();
    await waitFor(() => c.state !== 'READY', 'the GOAWAY seen');
    const { status, received } = await run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, neverProcessed: true });
    expect(neverProcessed(status, received)).toBe(true);
    expect(pod.calls).toBe(0);
  });
});

describe('http2 client: maybe processed (never retried transparently)', () => {
  it('UNAVAILABLE from the application, trailers-only', async () => {
    const port = await freePort();
    const pod = await startRawPod('127.0.0.5', port, { failWith: grpc.status.UNAVAILABLE });
    cleanups.push(() => pod.close());
    const { connection: c } = await ready(pod.address);
    const { status, received } = await run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, neverProcessed: false });
    expect(pod.calls).toBe(1);
    expect(neverProcessed(status, received)).toBe(false);
  });

  it('the connection drops while the handler runs', async () => {
    const port = await freePort();
    const pod = await startRawPod('127.0.0.6', port, { delayMs: 5000 });
    const { connection: c } = await ready(pod.address);
    const pending = run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    await waitFor(() => pod.calls === 1, 'the handler started');
    pod.forceClose();
    const { status, received } = await pending;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'Connection dropped', neverProcessed: false });
    expect(neverProcessed(status, received)).toBe(false);
  });

  it('RST_STREAM with another code (INTERNAL_ERROR, NO_ERROR) after the stream was created', async () => {
    let code: number = http2.constants.NGHTTP2_INTERNAL_ERROR;
    const address = await h2Server('127.0.0.3', (stream) => stream.close(code));
    const { connection: c } = await ready(address);
    const a = await run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    expect(a.status).toMatchObject({ code: grpc.status.INTERNAL, neverProcessed: false });
    code = http2.constants.NGHTTP2_NO_ERROR;
    const b = await run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    expect(b.status).toMatchObject({ code: grpc.status.INTERNAL, neverProcessed: false });
  });

  it('a GOAWAY with an error code drops the streams at or below its last-stream-id: maybe processed', async () => {
    const address = await h2Server('127.0.0.3', (stream, session) => {
      session.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR, stream.id!);
    });
    const { connection: c } = await ready(address);
    const { status, received } = await run(c, '/test.Pod/Who', [Buffer.from('hi')]).done;
    expect(status.code).not.toBe(grpc.status.OK);
    expect(status.neverProcessed).toBe(false);
    expect(neverProcessed(status, received)).toBe(false);
  });

  it('the deadline', async () => {
    const address = await h2Server('127.0.0.3', () => {});
    const { connection: c } = await ready(address);
    const { status, received } = await run(c, '/test.Pod/Who', [Buffer.from('hi')], { deadlineMs: 100 }).done;
    expect(status).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, neverProcessed: false });
    expect(neverProcessed(status, received)).toBe(false);
  });
});

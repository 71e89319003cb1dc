// Which requests the native front takes before Fastify, on a real node:http2 server: a gRPC
// client's native POST, and nothing else — not once the server is closing (Fastify answers 503).
import http2 from 'node:http2';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CallBounds } from '../../../src/http/bounds.js';
import type { RequestHandler } from '../../../src/http/listener.js';
import { requestIds, withNativeFront } from '../../../src/http/native-front.js';
import { noopObserver, type CallObserver } from '../../../src/http/types.js';
import { Router } from '../../../src/upstream/router.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server whose stand-in for Fastify answers 418; `closing` as the app's state. */
async function front(
  state: { closing: boolean },
  observer: CallObserver = noopObserver,
  log: Logger = pino({ level: 'silent' }),
): Promise<http2.ClientHttp2Session> {
  const fastify: RequestHandler = (_req, res) => {
    res.writeHead(418);
    res.end();
  };
  const handler = withNativeFront(fastify, {
    admission: {
      cors: { allowOrigins: ['*'], allowCredentials: false, maxAgeSeconds: 0, allowHeaders: [], exposeHeaders: [] },
      limits: { maxHeadersCount: 100, maxCallDurationMs: 0 },
      router: new Router([], null),
      trust: null,
    },
    settings: {
      maxRequestBytes: Infinity,
      maxMessageBytes: 1 << 20,
      accessLog: false,
      exposeExtra: [],
      observer,
      bounds: new CallBounds({ maxConcurrentCalls: 10, maxBufferedRequestBytes: 1 << 20 }, log),
    },
    logger: log,
    nextRequestId: requestIds(),
    closing: () => state.closing,
  });
  const server = http2.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const session = http2.connect(`http://127.0.0.1:${port}`);
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  cleanups.push(() => session.close());
  return session;
}

function ask(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<http2.IncomingHttpHeaders> {
  const stream = session.request({ ':path': '/no-method', ...headers });
  stream.end();
  return new Promise((resolve) => {
    stream.on('response', resolve);
    stream.resume();
  });
}

const NATIVE = { ':method': 'POST', 'content-type': 'application/grpc+proto' };

describe('withNativeFront', () => {
  it("takes a gRPC client's native POST (here refused: no route, as admission answers it)", async () => {
    const answer = await ask(await front({ closing: false }), NATIVE);
    expect(answer[':status']).toBe(200);
    expect(answer['grpc-status']).toBe('12');
    expect(answer['grpc-message']).toBe('no route for /no-method');
  });

  it('leaves to Fastify: gRPC-Web, other methods, a native request with an Origin, and every request once closing', async () => {
    const state = { closing: false };
    const session = await front(state);
    expect((await ask(session, { ':method': 'POST', 'content-type': 'application/grpc-web+proto' }))[':status']).toBe(418);
    expect((await ask(session, { ':method': 'GET', 'content-type': 'application/grpc' }))[':status']).toBe(418);
    expect((await ask(session, { ...NATIVE, origin: 'https://app.example' }))[':status']).toBe(418);
    state.closing = true;
    expect((await ask(session, NATIVE))[':status']).toBe(418);
  });

  it('an unexpected error is answered INTERNAL as a native gRPC status, saying nothing of it, and logged once', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    let thrown = false;
    const observer: CallObserver = {
      ...noopObserver,
      callStarted() {
        if (thrown) return;
        thrown = true;
        throw new Error('metrics backend exploded');
      },
    };
    // Thrown while the no-route refusal is counted, before anything was written.
    const answer = await ask(await front({ closing: false }, observer, log), NATIVE);
    expect(answer[':status']).toBe(200);
    expect(answer['grpc-status']).toBe('13');
    expect(answer['grpc-message']).toBe('internal gateway error');
    const errors = lines.filter((l) => l.msg === 'unhandled error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.reqId).toMatch(/^req-/);
  });
});

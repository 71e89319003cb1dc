// The serving port's transport: the Node server that accepts client connections and hands every
// request, HTTP/1.1 or HTTP/2, to one handler (Fastify's), so that one app answers preflights,
// health checks and calls whatever carried them. It owns what is decided per connection —
// which protocol, header size and timeouts, idle keep-alive, HTTP/2 settings, the
// --max-connections bound — and nothing about calls.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { LimitsConfig } from '../config/types.js';
import { limitConnections } from './bounds.js';
import { awaitPreface } from './preface.js';

export type RequestHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

export interface ListenerOptions {
  limits: LimitsConfig;
  /** Told of each connection closed because --max-connections are open. */
  connectionRefused: () => void;
}

/** Node refuses a headers timeout above the request timeout. */
export function effectiveHeadersTimeout(limits: LimitsConfig): number {
  return limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs;
}

/** :method, :scheme, :authority, :path: a request's pseudo-headers, besides its header lines. */
const PSEUDO_HEADERS = 4;

/**
 * What one HTTP/2 client connection may cost. Node's own defaults for what is not set here
 * (maxSessionInvalidFrames, maxSessionRejectedStreams, nghttp2's stream reset rate limit against
 * rapid reset) stay, and test/e2e/listener-abuse.test.ts pins what they do.
 */
function http2Options(limits: LimitsConfig) {
  return {
    // Past this much buffered per session, new streams are refused (ENHANCE_YOUR_CALM).
    maxSessionMemory: 10,
    // PINGs and SETTINGS this side sent that may go unacknowledged at once (Node's defaults, named).
    maxOutstandingPings: 10,
    maxOutstandingSettings: 10,
    // Node resets a stream past this many header lines (ENHANCE_YOUR_CALM), which clients report
    // as an unknown error. Admission counts lines against --max-headers and says "too many", as on
    // HTTP/1.1; here only the size bound below may bind (RFC 9113 counts 32 bytes per line).
    maxHeaderListPairs: Math.max(limits.maxHeadersCount + 1, Math.ceil(limits.maxHeaderBytes / 32)) + PSEUDO_HEADERS,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
      enablePush: false,
    },
  };
}

/** The HTTP/2 side: sessions on sockets the listener hands over, tracked for a graceful stop. */
function http2Side(limits: LimitsConfig, handler: RequestHandler): { server: Http2Server; sessions: Set<ServerHttp2Session> } {
  const server = createHttp2Server(http2Options(limits), handler);
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // An idle connection goes, as an idle HTTP/1.1 keep-alive one does; close() lets open streams finish.
    if (limits.httpIdleTimeoutMs > 0) session.setTimeout(limits.httpIdleTimeoutMs, () => session.close());
  });
  return { server, sessions };
}

/**
 * The serving port: HTTP/1.1 and h2c (HTTP/2 with prior knowledge) on one cleartext listener.
 * The returned server is a Node http.Server (Fastify's, with its timeouts and connection
 * tracking); connections that open with the HTTP/2 preface are handed to an HTTP/2 server that
 * does not listen itself. Its close() also sends every HTTP/2 session a GOAWAY (open streams
 * finish), and closeAllConnections() ends them.
 */
export function createListener(options: ListenerOptions, handler: RequestHandler): Server {
  const { limits } = options;
  const headersTimeout = effectiveHeadersTimeout(limits);
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.httpIdleTimeoutMs,
      // Node enforces the two timeouts above only when it sweeps its connections, every 30 s by
      // default: a 30 s headers timeout could take a minute. Sweep often enough to be exact.
      connectionsCheckingInterval: Math.max(250, Math.min(5_000, headersTimeout / 4)),
    },
    handler as (req: IncomingMessage, res: ServerResponse) => void,
  );
  // One more than the limit: Node silently drops headers past maxHeadersCount (content-type
  // among them, making a confusing 415), so keep one extra to tell "too many" and say so.
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  // Before the protocol is told: a refused connection is never read.
  if (limits.maxClientConnections > 0) limitConnections(server, limits.maxClientConnections, options.connectionRefused);

  const http2 = http2Side(limits, handler);
  // The http.Server's own 'connection' listener starts its HTTP/1.1 parser on the socket; it runs
  // only once the first bytes have said HTTP/1.1.
  const [parseHttp1] = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeListener('connection', parseHttp1!);
  server.on('connection', (socket: Socket) => {
    if (socket.destroyed) return;
    awaitPreface(socket, headersTimeout, (isHttp2) => {
      if (isHttp2) {
        // The HTTP/2 session reads the socket itself, the preface put back included.
        http2.server.emit('connection', socket);
      } else {
        parseHttp1!.call(server, socket);
        // The HTTP/1.1 parser reads what was put back only once the socket flows again.
        socket.resume();
      }
    });
  });
  stopsHttp2Too(server, http2.sessions);
  return server;
}

/** Extends the server's close() and closeAllConnections() to the HTTP/2 sessions it handed over. */
function stopsHttp2Too(server: Server, sessions: Set<ServerHttp2Session>): void {
  const close = server.close;
  const closeAll = server.closeAllConnections;
  server.close = function (this: Server, callback?: (error?: Error) => void) {
    // GOAWAY: no new streams; the session ends once its open streams have.
    for (const session of sessions) session.close();
    return close.call(this, callback);
  };
  server.closeAllConnections = function (this: Server) {
    closeAll.call(this);
    for (const session of sessions) session.destroy();
  };
}

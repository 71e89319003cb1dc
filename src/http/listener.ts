// The serving port's transport: the Node server that accepts client connections and hands every
// request, HTTP/1.1 or HTTP/2, to one handler (Fastify's), so that one app answers preflights,
// health checks and calls whatever carried them. It owns what is decided per connection —
// which protocol, header size and timeouts, idle keep-alive, HTTP/2 settings, the
// --max-connections bound — and nothing about calls.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { LimitsConfig, ListenerTlsConfig } from '../config/types.js';
import { parseContentType } from '../protocol/index.js';
import { limitConnections } from './bounds.js';
import { awaitPreface } from './preface.js';
import { StreamDeadlines } from './stream-deadlines.js';
import { CertificateReloader, initialTlsOptions } from './tls.js';

export type RequestHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

export interface ListenerOptions {
  limits: LimitsConfig;
  /** null: cleartext, HTTP/1.1 and h2c. */
  tls: ListenerTlsConfig | null;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
  /** Told of each connection closed because --max-connections are open. */
  connectionRefused: () => void;
}

/** Node refuses a headers timeout above the request timeout. */
function effectiveHeadersTimeout(limits: LimitsConfig): number {
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
    // Megabytes one connection may hold buffered; past it, new streams are refused (ENHANCE_YOUR_CALM).
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

interface Http2Side {
  server: Http2Server;
  /** Tracked for a graceful stop. */
  sessions: Set<ServerHttp2Session>;
  /** --request-timeout per stream; null when it is 0. */
  deadlines: StreamDeadlines | null;
}

/** The HTTP/2 side: sessions on sockets the listener hands over. */
function http2Side(limits: LimitsConfig, handler: RequestHandler, sweepMs: number): Http2Side {
  const server = createHttp2Server(http2Options(limits), handler);
  const sessions = new Set<ServerHttp2Session>();
  const deadlines = limits.requestTimeoutMs > 0 ? new StreamDeadlines(limits.requestTimeoutMs, sweepMs) : null;
  if (deadlines !== null) {
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      // A native gRPC request is a stream that may rightly last as long as the call (client
      // streaming, bidi): its bounds are the call's deadline and --max-call-duration.
      if (!stream.endAfterHeaders && parseContentType(headers['content-type'])?.mode !== 'native') deadlines.watch(stream);
    });
  }
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // An idle connection goes, as an idle HTTP/1.1 keep-alive one does; close() lets open streams finish.
    if (limits.httpIdleTimeoutMs > 0) session.setTimeout(limits.httpIdleTimeoutMs, () => session.close());
  });
  return { server, sessions, deadlines };
}

/**
 * The serving port. Cleartext: HTTP/1.1 and h2c (HTTP/2 with prior knowledge), told apart by the
 * connection preface. TLS: ALPN offers h2 and http/1.1, the certificate is reloaded when its
 * files change, and --tls-client-ca requires client certificates. Either way the returned server
 * is Node's http(s).Server (Fastify's, with its timeouts and connection tracking); connections
 * that speak HTTP/2 are handed to an HTTP/2 server that does not listen itself, and the same
 * handler serves both. Its close() also sends every HTTP/2 session a GOAWAY (open streams
 * finish), and closeAllConnections() ends them.
 */
export function createListener(options: ListenerOptions, handler: RequestHandler): Server {
  const { limits } = options;
  const headersTimeout = effectiveHeadersTimeout(limits);
  // Node enforces the two timeouts below only when it sweeps its connections, every 30 s by
  // default: a 30 s headers timeout could take a minute. Sweep often enough to be exact.
  const sweepMs = Math.max(250, Math.min(5_000, headersTimeout / 4));
  const httpOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.httpIdleTimeoutMs,
    connectionsCheckingInterval: sweepMs,
  };
  const http1Handler = handler as (req: IncomingMessage, res: ServerResponse) => void;
  const tls = options.tls === null ? null : { files: options.tls, ...initialTlsOptions(options.tls) };
  const secure =
    tls === null
      ? null
      : createHttpsServer(
          {
            ...httpOptions,
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            ALPNProtocols: ['h2', 'http/1.1'],
            requestCert: tls.ca !== undefined,
            rejectUnauthorized: tls.ca !== undefined,
            // A handshake is part of getting a request's headers: the same bound.
            handshakeTimeout: headersTimeout,
          },
          http1Handler,
        );
  const server: Server = secure ?? createServer(httpOptions, http1Handler);
  // One more than the limit: Node silently drops headers past maxHeadersCount (content-type
  // among them, making a confusing 415), so keep one extra to tell "too many" and say so.
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  // Counted as TCP connections are accepted, before any handshake or preface: a refused
  // connection is never read.
  if (limits.maxClientConnections > 0) limitConnections(server, limits.maxClientConnections, options.connectionRefused);

  const http2 = http2Side(limits, handler, sweepMs);
  // The server's own listener of this event starts its HTTP/1.1 parser on the socket; it runs
  // only once the connection has said HTTP/1.1.
  const event = tls === null ? 'connection' : 'secureConnection';
  const [parseHttp1] = server.listeners(event) as Array<(socket: Socket) => void>;
  server.removeListener(event, parseHttp1!);
  if (tls === null) {
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
  } else {
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') http2.server.emit('connection', socket);
      else parseHttp1!.call(server, socket);
    });
  }
  const reloader = secure === null ? null : new CertificateReloader(tls!.files, secure, tls!.material, options.log);
  reloader?.start();
  extendClose(server, http2.sessions, () => {
    reloader?.stop();
    http2.deadlines?.stop();
  });
  return server;
}

/**
 * Extends the server's close() and closeAllConnections() to the HTTP/2 sessions it handed over;
 * `onClose` stops what else the listener runs (the certificate reloader, the stream deadlines).
 */
function extendClose(server: Server, sessions: Set<ServerHttp2Session>, onClose: () => void): void {
  const close = server.close;
  const closeAll = server.closeAllConnections;
  server.close = function (this: Server, callback?: (error?: Error) => void) {
    onClose();
    // GOAWAY: no new streams; the session ends once its open streams have.
    for (const session of sessions) session.close();
    return close.call(this, callback);
  };
  server.closeAllConnections = function (this: Server) {
    closeAll.call(this);
    for (const session of sessions) session.destroy();
  };
}

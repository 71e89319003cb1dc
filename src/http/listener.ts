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
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { LimitsConfig, ListenerTlsConfig } from '../config/types.js';
import { limitConnections } from './bounds.js';
import { awaitPreface } from './preface.js';
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
  const httpOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.httpIdleTimeoutMs,
    // Node enforces the two timeouts above only when it sweeps its connections, every 30 s by
    // default: a 30 s headers timeout could take a minute. Sweep often enough to be exact.
    connectionsCheckingInterval: Math.max(250, Math.min(5_000, headersTimeout / 4)),
  };
  const http1Handler = handler as (req: IncomingMessage, res: ServerResponse) => void;
  const tls = options.tls === null ? null : initialTlsOptions(options.tls);
  const server: Server =
    tls === null
      ? createServer(httpOptions, http1Handler)
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
  // One more than the limit: Node silently drops headers past maxHeadersCount (content-type
  // among them, making a confusing 415), so keep one extra to tell "too many" and say so.
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  // Counted as TCP connections are accepted, before any handshake or preface: a refused
  // connection is never read.
  if (limits.maxClientConnections > 0) limitConnections(server, limits.maxClientConnections, options.connectionRefused);

  const http2 = http2Side(limits, handler);
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
  const reloader = tls === null ? null : new CertificateReloader(options.tls!, server as unknown as TlsServer, tls.material, options.log);
  reloader?.start();
  extendClose(server, http2.sessions, () => reloader?.stop());
  return server;
}

/**
 * Extends the server's close() and closeAllConnections() to the HTTP/2 sessions it handed over;
 * `onClose` stops what else the listener runs (the certificate reloader).
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

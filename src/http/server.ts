import cors from '@fastify/cors';
import { status as Status } from '@grpc/grpc-js';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Config } from '../config/types.js';
import type { WebContentType } from '../protocol/index.js';
import type { Router } from '../upstream/router.js';
import { admit, type AdmissionContext } from './admission.js';
import { BurstLog, CallBounds, limitConnections } from './bounds.js';
import { corsOptions } from './cors.js';
import { Exchange, type ExchangeSettings } from './exchange.js';
import { compileTrustProxy } from './forwarding.js';
import { MessagePool } from './message-pool.js';
import { reasonForStatus, refuseCall } from './refusal.js';
import { noopObserver, type CallObserver, type RefusalReason } from './types.js';

export interface HttpServerOptions {
  config: Config;
  router: Router;
  logger: FastifyBaseLogger;
  observer?: CallObserver;
}

const FALLBACK_CONTENT_TYPE: WebContentType = Object.freeze({
  mode: 'binary',
  codec: 'proto',
  response: 'application/grpc-web+proto',
}) as WebContentType;

/**
 * The gRPC-Web front end: a Fastify instance whose one POST route hands each call to an
 * Exchange. Bodies are not parsed by Fastify: the exchange reads the raw stream frame by frame.
 */
export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance<Server, IncomingMessage, ServerResponse>> {
  const { config, router } = options;
  const limits = config.limits;
  const observer = options.observer ?? noopObserver;
  const trust = compileTrustProxy(config.trustProxy);
  // Node refuses a headers timeout above the request timeout.
  const headersTimeout =
    limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs;
  const bounds = new CallBounds(limits, options.logger);
  const connectionsLog = new BurstLog(options.logger, 'max-connections', limits.maxClientConnections, 'connections');

  const app = Fastify<Server, IncomingMessage, ServerResponse>({
    loggerInstance: options.logger,
    // One access-log line per call is written by the exchange, with the gRPC status in it.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    // The same predicate decides what the Pod is told in x-forwarded-* (see forwarding.ts).
    trustProxy: trust ?? false,
    keepAliveTimeout: limits.httpIdleTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: 0,
    return503OnClosing: true,
    serverFactory: (handler) => {
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
        handler,
      );
      // One more than the limit: Node silently drops headers past maxHeadersCount (content-type
      // among them, making a confusing 415), so keep one extra to tell "too many" and say so.
      server.maxHeadersCount = limits.maxHeadersCount + 1;
      if (limits.maxClientConnections > 0) {
        limitConnections(server, limits.maxClientConnections, () => {
          observer.refused('max_connections');
          connectionsLog.hit();
        });
      }
      return server;
    },
  });

  const settings: ExchangeSettings = {
    maxRequestBytes: limits.maxRequestBytes,
    maxMessageBytes: limits.maxMessageBytes,
    accessLog: config.accessLog,
    exposeExtra: config.cors.exposeHeaders,
    observer,
    bounds,
    messagePool: new MessagePool(),
  };
  app.addHook('onClose', async () => {
    bounds.stop();
    connectionsLog.stop();
  });

  // Leave every body unread: the exchange streams it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  // Never a stack trace to a client: any unexpected error is INTERNAL, logged once.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    request.log.error({ err: error }, 'unhandled error');
    refuse(request, reply, observer, error.statusCode && error.statusCode < 500 ? error.statusCode : 500, Status.INTERNAL, 'internal gateway error');
  });

  await app.register(cors, corsOptions(config.cors));

  // A call is handled in the route's onRequest hook (it runs after @fastify/cors's): the reply is
  // hijacked or sent right there, so Fastify's preParsing, body parser, preValidation and
  // preHandler stages and the handler dispatch never run for it (the Exchange reads the raw body
  // stream itself). The hook never calls `done`; a synchronous throw still reaches the error
  // handler through Fastify's hook runner (README, Performance, has what this saves).
  const admission: AdmissionContext = { cors: config.cors, limits, router, trust };
  const handleCall = (request: FastifyRequest, reply: FastifyReply): void => {
    const req = request.raw;
    const socket = req.socket as TLSSocket;
    const verdict = admit(
      {
        headers: req.headers,
        headerCount: req.rawHeaders.length / 2,
        url: req.url ?? '/',
        peer: socket.remoteAddress,
        encrypted: socket.encrypted === true,
        ips: () => request.ips,
        log: request.log,
      },
      admission,
    );
    if ('refusal' in verdict) {
      const r = verdict.refusal;
      refuse(request, reply, observer, r.httpStatus, r.code, r.message, r.contentType ?? undefined, r.route, r.reason);
      return;
    }
    reply.hijack();
    // The admitted call becomes the exchange's init as it is: no copy of it per call.
    new Exchange(
      Object.assign(verdict.call, {
        settings,
        req,
        res: reply.raw,
        log: request.log,
        baseHeaders: reply.getHeaders() as OutgoingHttpHeaders,
      }),
    ).begin();
  };
  app.route({
    method: 'POST',
    url: '/*',
    onRequest: (request, reply) => {
      handleCall(request, reply);
    },
    handler: () => {
      // Never reached: the onRequest hook above always answers or hijacks.
    },
  });

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'],
    url: '/*',
    handler: (request, reply) => {
      reply.header('allow', 'POST, OPTIONS');
      // Not returned: the reply is hijacked, and Fastify would try to send a returned one again.
      refuse(request, reply, observer, 405, Status.UNIMPLEMENTED, `method ${request.method} not allowed: gRPC-Web calls are POST`, undefined, '', 'method_not_allowed');
    },
  });

  /**
   * Answer a call the gateway refuses on its headers, before any Pod is involved, through the
   * same writer as the exchange's refusals. `route` is the matched prefix, once one matched.
   */
  function refuse(
    request: FastifyRequest,
    reply: FastifyReply,
    observer: CallObserver,
    httpStatus: number,
    code: Status,
    message: string,
    contentType: WebContentType = FALLBACK_CONTENT_TYPE,
    route = '',
    reason: RefusalReason = reasonForStatus(httpStatus),
  ): FastifyReply {
    // An error after the exchange began answering: that answer stands, nothing more can be said.
    if (reply.raw.headersSent) return reply;
    observer.callStarted();
    // Written on the raw response, like every other answer: the headers @fastify/cors chose are kept.
    const baseHeaders = reply.getHeaders() as OutgoingHttpHeaders;
    reply.hijack();
    refuseCall(
      {
        req: request.raw,
        res: reply.raw,
        baseHeaders,
        contentType,
        exposeExtra: request.headers.origin !== undefined ? config.cors.exposeHeaders : null,
        route,
        method: request.url.split('?', 1)[0]!,
        client: request.ip,
        durationMs: 0,
        bytesIn: 0,
        log: request.log,
        observer,
      },
      { httpStatus, code, message, reason },
    );
    return reply;
  }

  return app;
}

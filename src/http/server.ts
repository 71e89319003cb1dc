import cors from '@fastify/cors';
import { status as Status } from '@grpc/grpc-js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Config } from '../config/types.js';
import type { Router } from '../upstream/router.js';
import type { AdmissionContext } from './admission.js';
import { BurstLog, CallBounds } from './bounds.js';
import { refuseFastifyRequest, registerCallRoutes } from './call-routes.js';
import { corsOptions } from './cors.js';
import type { ExchangeSettings } from './exchange.js';
import { compileTrustProxy } from './forwarding.js';
import { registerHealthRoutes, type Readiness } from './health.js';
import { createListener, type RequestHandler } from './listener.js';
import { REQUEST_ID_HEADER, requestIds, withNativeFront } from './native-front.js';
import { noopObserver, type CallObserver } from './types.js';

export interface HttpServerOptions {
  config: Config;
  router: Router;
  logger: FastifyBaseLogger;
  observer?: CallObserver;
  /** The gateway's one readiness source, answered at /readyz as on the admin port. */
  readiness: Readiness;
}

/**
 * The serving port: one Fastify app (CORS preflights, health, the call route, errors) on the listener
 * of ./listener.ts, with gRPC clients' native calls over HTTP/2 taken before it (./native-front.ts).
 * Bodies are not parsed by Fastify: each call's exchange reads the raw stream frame by frame.
 */
export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance<Server, IncomingMessage, ServerResponse>> {
  const { config, router } = options;
  const limits = config.limits;
  const observer = options.observer ?? noopObserver;
  const trust = compileTrustProxy(config.trustProxy);
  const bounds = new CallBounds(limits, options.logger);
  const connectionsLog = new BurstLog(options.logger, 'max-connections', limits.maxClientConnections, 'connections');
  const settings: ExchangeSettings = {
    maxRequestBytes: limits.maxRequestBytes,
    maxMessageBytes: limits.maxMessageBytes,
    accessLog: config.accessLog,
    exposeExtra: config.cors.exposeHeaders,
    observer,
    bounds,
  };
  const admission: AdmissionContext = { cors: config.cors, limits, router, trust };
  const nextRequestId = requestIds();
  let closing = false;

  const app = Fastify<Server, IncomingMessage, ServerResponse>({
    loggerInstance: options.logger,
    // One access-log line per call is written by the exchange, with the gRPC status in it.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: REQUEST_ID_HEADER,
    genReqId: nextRequestId,
    // The same predicate decides what the Pod is told in x-forwarded-* (see forwarding.ts).
    trustProxy: trust ?? false,
    keepAliveTimeout: limits.httpIdleTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: 0,
    return503OnClosing: true,
    serverFactory: (handler) =>
      createListener(
        {
          limits,
          tls: config.tls,
          log: options.logger,
          connectionRefused: () => {
            observer.refused('max_connections');
            connectionsLog.hit();
          },
        },
        // Fastify's handler serves Node's HTTP/2 compatibility request and response as they are.
        withNativeFront(handler as RequestHandler, { admission, settings, logger: options.logger, nextRequestId, closing: () => closing }),
      ),
  });

  // Fastify has set its own closing state by now: from here on it answers every request 503.
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
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
    const httpStatus = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
    refuseFastifyRequest(request, reply, settings, { httpStatus, code: Status.INTERNAL, message: 'internal gateway error' });
  });

  await app.register(cors, corsOptions(config.cors));

  registerHealthRoutes(app, options.readiness);
  // What cloud load balancers check by default (ALB: GET / on the traffic port; GKE Ingress without a
  // readiness probe on the serving port: the same): 200 while the process serves, as /healthz.
  app.get('/', async () => ({ status: 'ok' }));

  registerCallRoutes(app, admission, settings);
  return app;
}

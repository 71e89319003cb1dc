// The routes that carry calls: every POST goes through ./call-entry.ts (admission, then an
// exchange or a refusal); any other method is refused 405. Fastify is adapted here, and only
// here, to that entry (FastifyCall).
import { status as Status } from '@grpc/grpc-js';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { AdmissionContext } from './admission.js';
import { refuseRequest, startCall, type CallSource, type RequestRefusal } from './call-entry.js';
import type { ExchangeSettings } from './exchange.js';
import type { RawRequest, RawResponse } from './types.js';

/** A request Fastify routed, as the call entry sees it. */
class FastifyCall implements CallSource {
  constructor(
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
  ) {}

  get req(): RawRequest {
    return this.request.raw;
  }

  get res(): RawResponse {
    return this.reply.raw as RawResponse;
  }

  get log(): FastifyBaseLogger {
    return this.request.log;
  }

  ips(): readonly string[] | undefined {
    return this.request.ips;
  }

  ip(): string {
    return this.request.ip;
  }

  baseHeaders(): OutgoingHttpHeaders {
    return this.reply.getHeaders() as OutgoingHttpHeaders;
  }

  takeOver(): void {
    this.reply.hijack();
  }
}

/** Answers a Fastify request the gateway refuses itself; the headers @fastify/cors chose are kept. */
export function refuseFastifyRequest(request: FastifyRequest, reply: FastifyReply, settings: ExchangeSettings, r: RequestRefusal): void {
  refuseRequest(new FastifyCall(request, reply), settings, r);
}

/** Registers the call route (POST) and the 405 answer to every other method. */
export function registerCallRoutes(app: FastifyInstance, admission: AdmissionContext, settings: ExchangeSettings): void {
  // A call is handled in the route's onRequest hook (it runs after @fastify/cors's): the reply is
  // hijacked or sent right there, so Fastify's preParsing, body parser, preValidation and
  // preHandler stages and the handler dispatch never run for it (the Exchange reads the raw body
  // stream itself). The hook never calls `done`; a synchronous throw still reaches the error
  // handler through Fastify's hook runner (README, Performance, has what this saves).
  app.route({
    method: 'POST',
    url: '/*',
    onRequest: (request, reply) => {
      startCall(new FastifyCall(request, reply), admission, settings);
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
      refuseFastifyRequest(request, reply, settings, {
        httpStatus: 405,
        code: Status.UNIMPLEMENTED,
        message: `method ${request.method} not allowed: gRPC-Web calls are POST`,
        reason: 'method_not_allowed',
      });
    },
  });
}

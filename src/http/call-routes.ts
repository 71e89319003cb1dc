// The routes that carry calls: every POST goes through admission (./admission.ts) and becomes an
// Exchange or a refusal; any other method is refused 405. Fastify is adapted here, and only here,
// to the transport-independent admission step and to the one refusal writer (./refusal.ts).
import { status as Status } from '@grpc/grpc-js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { WebContentType } from '../protocol/index.js';
import { admit, type AdmissionContext } from './admission.js';
import { Exchange, type ExchangeSettings } from './exchange.js';
import { NativeExchange, type NativeExchangeInit } from './native-exchange.js';
import { reasonForStatus, refuseCall } from './refusal.js';
import type { RawRequest, RefusalReason } from './types.js';

const FALLBACK_CONTENT_TYPE: WebContentType = Object.freeze({
  mode: 'binary',
  codec: 'proto',
  response: 'application/grpc-web+proto',
}) as WebContentType;

/**
 * The request's header lines, as --max-headers counts them: an HTTP/2 request's pseudo-headers
 * (:method, :path, ...), which come first, are the request line, not headers.
 */
function headerLines(req: RawRequest): number {
  const raw = req.rawHeaders;
  let n = raw.length / 2;
  if (req.httpVersionMajor === 2) for (let i = 0; i < raw.length && raw[i]!.charCodeAt(0) === 0x3a; i += 2) n--;
  return n;
}

/** What a refusal of a Fastify request says, beyond the request itself. */
export interface FastifyRefusal {
  httpStatus: number;
  code: Status;
  message: string;
  contentType?: WebContentType | null;
  /** The matched route prefix, once one matched. */
  route?: string;
  reason?: RefusalReason;
}

/**
 * Answers a request the gateway refuses before any Pod is involved, through the same writer as
 * the exchange's refusals. The headers @fastify/cors chose are kept.
 */
export function refuseRequest(request: FastifyRequest, reply: FastifyReply, settings: ExchangeSettings, r: FastifyRefusal): void {
  // An error after the exchange began answering: that answer stands, nothing more can be said.
  if (reply.raw.headersSent) return;
  settings.observer.callStarted();
  // Written on the raw response, like every other answer.
  const baseHeaders = reply.getHeaders() as OutgoingHttpHeaders;
  reply.hijack();
  refuseCall(
    {
      req: request.raw,
      res: reply.raw,
      baseHeaders,
      contentType: r.contentType ?? FALLBACK_CONTENT_TYPE,
      exposeExtra: request.headers.origin !== undefined ? settings.exposeExtra : null,
      route: r.route ?? '',
      method: request.url.split('?', 1)[0]!,
      client: request.ip,
      durationMs: 0,
      bytesIn: 0,
      log: request.log,
      observer: settings.observer,
    },
    { httpStatus: r.httpStatus, code: r.code, message: r.message, reason: r.reason ?? reasonForStatus(r.httpStatus) },
  );
}

/** Registers the call route (POST) and the 405 answer to every other method. */
export function registerCallRoutes(app: FastifyInstance, admission: AdmissionContext, settings: ExchangeSettings): void {
  // A call is handled in the route's onRequest hook (it runs after @fastify/cors's): the reply is
  // hijacked or sent right there, so Fastify's preParsing, body parser, preValidation and
  // preHandler stages and the handler dispatch never run for it (the Exchange reads the raw body
  // stream itself). The hook never calls `done`; a synchronous throw still reaches the error
  // handler through Fastify's hook runner (README, Performance, has what this saves).
  const handleCall = (request: FastifyRequest, reply: FastifyReply): void => {
    const req = request.raw;
    const socket = req.socket as TLSSocket;
    const verdict = admit(
      {
        headers: req.headers,
        headerCount: headerLines(req),
        url: req.url ?? '/',
        httpVersion: req.httpVersion,
        peer: socket.remoteAddress,
        encrypted: socket.encrypted === true,
        ips: () => request.ips,
        log: request.log,
      },
      admission,
    );
    if ('refusal' in verdict) {
      refuseRequest(request, reply, settings, verdict.refusal);
      return;
    }
    reply.hijack();
    // The admitted call becomes the exchange's init as it is: no copy of it per call.
    const init = { settings, req, res: reply.raw, log: request.log, baseHeaders: reply.getHeaders() as OutgoingHttpHeaders };
    if (verdict.call.contentType.mode === 'native') {
      // Admission lets native gRPC in over HTTP/2 only.
      new NativeExchange(Object.assign(verdict.call, init as typeof init & Pick<NativeExchangeInit, 'req' | 'res'>)).begin();
    } else {
      new Exchange(Object.assign(verdict.call, init)).begin();
    }
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
      refuseRequest(request, reply, settings, {
        httpStatus: 405,
        code: Status.UNIMPLEMENTED,
        message: `method ${request.method} not allowed: gRPC-Web calls are POST`,
        reason: 'method_not_allowed',
      });
    },
  });
}

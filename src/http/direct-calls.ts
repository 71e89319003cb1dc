// The way in for gRPC-Web calls over HTTP/1.1: a POST with a gRPC-Web content type goes from the
// Node server's request handler straight to admission and its exchange (call-routes.ts
// startCall), skipping Fastify's router, request and reply objects, hook runner and per-request
// logger, which a call never uses. Everything else goes to Fastify as before: preflights, health,
// other methods, $httpHeaders requests (no gRPC-Web content type), HTTP/2 streams, and every
// request once the server is closing (Fastify's 503 and connection: close).
import { status as Status } from '@grpc/grpc-js';
import type { IncomingMessage } from 'node:http';
import { parseWebContentType } from '../protocol/index.js';
import type { AdmissionContext } from './admission.js';
import { refuseCallRequest, startCall, type CallRequest } from './call-routes.js';
import { corsResponseHeaders } from './cors.js';
import type { ExchangeSettings } from './exchange.js';
import { forwardedChain } from './forwarding.js';
import type { RequestHandler } from './listener.js';
import type { CallLog, RawResponse } from './types.js';

/** A request's id: the client's, else the next of the server's sequence (./server.ts gives Fastify both). */
export const REQUEST_ID_HEADER = 'x-request-id';
let lastRequestId = 0;

/** Fastify's default format (req-1, req-2, ... in base 36), one sequence for both ways in. */
export function nextRequestId(): string {
  // Wraps at the largest small integer, as Fastify's own does, so the counter never turns into a float.
  lastRequestId = (lastRequestId + 1) & 0x7fffffff;
  return `req-${lastRequestId.toString(36)}`;
}

export interface DirectCallsOptions {
  admission: AdmissionContext;
  settings: ExchangeSettings;
  /** The server's logger; a call's own is its child with reqId, as Fastify makes it. */
  logger: { child(bindings: { reqId: string }): CallLog };
  /** The request's id (x-request-id, else the server's sequence), as Fastify gives its requests. */
  genReqId: (req: IncomingMessage) => string;
  /** The server has begun closing: Fastify answers from then on. */
  closing: () => boolean;
  /** Fastify's own handler, for everything that is not a call. */
  fastify: RequestHandler;
}

/** A call's logger, made on first use: most calls log nothing (no access log, no refusal). */
class RequestLog implements CallLog {
  private log: CallLog | null = null;

  constructor(
    private readonly options: DirectCallsOptions,
    private readonly req: IncomingMessage,
  ) {}

  private get child(): CallLog {
    return (this.log ??= this.options.logger.child({ reqId: this.options.genReqId(this.req) }));
  }

  debug(fields: object, message: string): void {
    this.child.debug(fields, message);
  }
  info(fields: object, message: string): void {
    this.child.info(fields, message);
  }
  warn(fields: object, message: string): void {
    this.child.warn(fields, message);
  }
  error(fields: object, message: string): void {
    this.child.error(fields, message);
  }
}

/** The serving port's request handler: HTTP/1.1 gRPC-Web calls straight in, the rest to Fastify. */
export function directCalls(options: DirectCallsOptions): RequestHandler {
  const { admission, settings, fastify } = options;
  const trust = admission.trust;
  return (req, res) => {
    if (req.method !== 'POST' || req.httpVersionMajor === 2 || parseWebContentType(req.headers['content-type']) === null || options.closing()) {
      fastify(req, res);
      return;
    }
    const http1 = req as IncomingMessage;
    const peer = http1.socket.remoteAddress;
    const ips = trust === null ? () => undefined : () => forwardedChain(peer, http1.headers['x-forwarded-for'], trust);
    const call: CallRequest = {
      req: http1,
      res: res as RawResponse,
      log: new RequestLog(options, http1),
      baseHeaders: corsResponseHeaders(admission.cors, http1.headers.origin),
      ips,
      client: () => ips()?.at(-1) ?? peer ?? '',
    };
    try {
      startCall(call, admission, settings);
    } catch (error) {
      // What Fastify's error handler does for the calls it routes: INTERNAL, logged once.
      call.log.error({ err: error }, 'unhandled error');
      if (!res.headersSent) refuseCallRequest(call, settings, { httpStatus: 500, code: Status.INTERNAL, message: 'internal gateway error' });
    }
  };
}

// Where every call enters, whichever front end received it — Fastify's call route
// (./call-routes.ts) or the native gRPC front (./native-front.ts): the request goes through the one
// admission step (./admission.ts) and becomes an exchange, or an answer of the one refusal writer
// (./refusal.ts). A front end says only how its request looks (CallSource).
import { status as Status } from '@grpc/grpc-js';
import type { FastifyBaseLogger } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { WebContentType } from '../protocol/index.js';
import { admit, type AdmissionContext } from './admission.js';
import { Exchange, type ExchangeSettings } from './exchange.js';
import { NativeExchange, type NativeExchangeInit } from './native-exchange.js';
import { reasonForStatus, refuseCall } from './refusal.js';
import type { RawRequest, RawResponse, RefusalReason } from './types.js';

/** One request that may be a call, as its front end received it. */
export interface CallSource {
  readonly req: RawRequest;
  readonly res: RawResponse;
  /** The request's logger (it carries reqId). */
  readonly log: FastifyBaseLogger;
  /** The trusted-proxy chain, peer first (Fastify's request.ips); undefined when no proxy is trusted. */
  ips(): readonly string[] | undefined;
  /** The client as the log names a request refused before admission vouched for one (Fastify's request.ip). */
  ip(): string;
  /** Headers decided for the answer before the call began (@fastify/cors's). */
  baseHeaders(): OutgoingHttpHeaders;
  /** From here on the answer is written on the raw response (Fastify: the reply is hijacked). */
  takeOver(): void;
}

/** What a refusal of a request says, beyond the request itself. */
export interface RequestRefusal {
  httpStatus: number;
  code: Status;
  message: string;
  contentType?: WebContentType | null;
  /** The matched route prefix, once one matched. */
  route?: string;
  reason?: RefusalReason;
}

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

/** Admits the request and starts its exchange, or answers it with the refusal admission gave. */
export function startCall(source: CallSource, admission: AdmissionContext, settings: ExchangeSettings): void {
  const { req, log } = source;
  const socket = req.socket as TLSSocket;
  const verdict = admit(
    {
      headers: req.headers,
      headerCount: headerLines(req),
      url: req.url ?? '/',
      httpVersion: req.httpVersion,
      peer: socket.remoteAddress,
      encrypted: socket.encrypted === true,
      ips: () => source.ips(),
      log,
    },
    admission,
  );
  if ('refusal' in verdict) {
    refuseRequest(source, settings, verdict.refusal);
    return;
  }
  source.takeOver();
  // The admitted call becomes the exchange's init as it is: no copy of it per call.
  const init = { settings, req, res: source.res, log, baseHeaders: source.baseHeaders() };
  if (verdict.call.contentType.mode === 'native') {
    // Admission lets native gRPC in over HTTP/2 only.
    new NativeExchange(Object.assign(verdict.call, init as typeof init & Pick<NativeExchangeInit, 'req' | 'res'>)).begin();
  } else {
    new Exchange(Object.assign(verdict.call, init)).begin();
  }
}

/** Answers a request the gateway refuses before any Pod is involved, through the one refusal writer. */
export function refuseRequest(source: CallSource, settings: ExchangeSettings, r: RequestRefusal): void {
  const { req, res } = source;
  // An error after the exchange began answering: that answer stands, nothing more can be said.
  if (res.headersSent) return;
  settings.observer.callStarted();
  const baseHeaders = source.baseHeaders();
  source.takeOver();
  refuseCall(
    {
      req,
      res,
      baseHeaders,
      contentType: r.contentType ?? FALLBACK_CONTENT_TYPE,
      exposeExtra: req.headers.origin !== undefined ? settings.exposeExtra : null,
      route: r.route ?? '',
      method: (req.url ?? '/').split('?', 1)[0]!,
      client: source.ip(),
      durationMs: 0,
      bytesIn: 0,
      log: source.log,
      observer: settings.observer,
    },
    { httpStatus: r.httpStatus, code: r.code, message: r.message, reason: r.reason ?? reasonForStatus(r.httpStatus) },
  );
}

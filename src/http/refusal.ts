// The one refusal writer: every request the gateway answers itself instead of a Pod (a bad
// request, no route, a bound reached) is answered, counted and logged here, whether it is
// refused on its headers (server.ts) or while its body arrives (exchange.ts).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { encodeGrpcMessage, exposeHeadersValue, type WebContentType } from '../protocol/index.js';
import type { CallObserver, RefusalReason } from './types.js';

export interface Refusal {
  /** 200 for a trailers-only gRPC answer; 4xx/5xx when the request is not a gRPC-Web call at all. */
  httpStatus: number;
  code: number;
  message: string;
  reason: RefusalReason;
}

/** The request a refusal answers, and what of it the log and metrics need. */
export interface RefusedRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Headers already decided for the response (CORS, from @fastify/cors). */
  baseHeaders: OutgoingHttpHeaders;
  /** The response content type of a trailers-only answer (the request's, or plain gRPC-Web). */
  contentType: WebContentType;
  /** --cors-expose-header extras when the request is cross-origin; null when it is not. */
  exposeExtra: readonly string[] | null;
  /** The matched route prefix, "" when none matched. */
  route: string;
  /** The request path. */
  method: string;
  client: string;
  durationMs: number;
  bytesIn: number;
  log: { warn(fields: object, message: string): void };
  observer: CallObserver;
}

/** Refusals of the per-process bounds are logged once per burst (./bounds.ts), not once each. */
const BURST_LOGGED: ReadonlySet<RefusalReason> = new Set(['max_concurrent_calls', 'max_buffered_request_bytes']);

/** Paths are the client's: at most this much of one goes into a log line. */
const LOGGED_PATH_CHARS = 256;

export function loggablePath(path: string): string {
  return path.length <= LOGGED_PATH_CHARS ? path : `${path.slice(0, LOGGED_PATH_CHARS)}…`;
}

/** The reason of a refusal known only by its HTTP status. */
export function reasonForStatus(httpStatus: number): RefusalReason {
  switch (httpStatus) {
    case 403:
      return 'origin_not_allowed';
    case 405:
      return 'method_not_allowed';
    case 415:
      return 'unsupported_media_type';
    default:
      return httpStatus >= 400 && httpStatus < 500 ? 'malformed_request' : 'internal';
  }
}

/** A request body that was announced and has not been read to its end. */
function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Answers, counts and logs a refused call. gRPC-Web clients read grpc-status/grpc-message
 * from the headers (trailers-only); a 4xx/5xx also says what is wrong in plain text.
 */
export function refuseCall(r: RefusedRequest, refusal: Refusal): void {
  const headers: OutgoingHttpHeaders = {
    ...r.baseHeaders,
    'content-type': refusal.httpStatus === 200 ? r.contentType.response : 'text/plain; charset=utf-8',
    'grpc-status': String(refusal.code),
    'grpc-message': encodeGrpcMessage(refusal.message),
  };
  if (r.exposeExtra !== null) headers['access-control-expose-headers'] = exposeHeadersValue(r.exposeExtra);
  const unread = bodyUnread(r.req);
  // The rest of the body is never read: do not leave it in the connection for the next request.
  if (unread) headers.connection = 'close';
  const body = refusal.httpStatus === 200 ? '' : `${refusal.message}\n`;
  r.res.writeHead(refusal.httpStatus, headers);
  r.res.end(body);
  // Let what the client still sends flow into nothing until the connection closes.
  if (unread) r.req.resume();

  r.observer.refused(refusal.reason);
  r.observer.callEnded({
    route: r.route,
    method: r.method,
    code: refusal.code,
    durationMs: r.durationMs,
    bytesIn: r.bytesIn,
    bytesOut: Buffer.byteLength(body),
    endpoint: undefined,
  });
  if (BURST_LOGGED.has(refusal.reason)) return;
  r.log.warn(
    {
      method: loggablePath(r.method),
      httpStatus: refusal.httpStatus,
      grpcStatus: refusal.code,
      grpcMessage: refusal.message,
      reason: refusal.reason,
      bytesIn: r.bytesIn,
      client: r.client,
    },
    'call refused',
  );
}

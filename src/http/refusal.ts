// The one refusal writer: every request the gateway answers itself instead of a Pod (a bad
// request, no route, a bound reached) is answered, counted and logged here, whether it is
// refused on its headers (call-routes.ts) or while its body arrives (exchange.ts), over HTTP/1.1
// or HTTP/2.
import type { OutgoingHttpHeaders } from 'node:http';
import { encodeGrpcMessage, exposeHeadersValue, type WebContentType } from '../protocol/index.js';
import type { CallObserver, RawRequest, RawResponse, RefusalReason } from './types.js';

export interface Refusal {
  /** 200 for a trailers-only gRPC answer; 4xx/5xx when the request is not a gRPC-Web call at all. */
  httpStatus: number;
  code: number;
  message: string;
  reason: RefusalReason;
}

/** The request a refusal answers, and what of it the log and metrics need. */
export interface RefusedRequest {
  req: RawRequest;
  res: RawResponse;
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

/**
 * How long the unread body of a refused request is still received (and dropped) before the
 * connection is closed. Closing at once, with that body still arriving, makes the kernel reset
 * the connection, and clients then lose the answer they were sent (a 5.5 MB upload refused
 * after its first chunk saw no answer at all). Bounded in time and bytes: draining costs only
 * the reading.
 */
export const LINGER_MS = 2_000;
export const LINGER_BYTES = 16 * 1024 * 1024;

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
function bodyUnread(req: RawRequest): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Receives and drops the rest of `req`, then ends `res` (and so the connection). */
function drainThenEnd(req: RawRequest, res: RawResponse): void {
  let dropped = 0;
  const end = (): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', end);
    res.off('close', end);
    res.end();
  };
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) end();
  };
  const timer = setTimeout(end, LINGER_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', end);
  res.once('close', end);
  req.resume();
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
  const body = refusal.httpStatus === 200 ? '' : `${refusal.message}\n`;
  if (r.req.httpVersionMajor === 2) {
    // One stream of a multiplexed connection: the answer ends it, and Node then resets the
    // stream's upload with NO_ERROR (RFC 9113, 8.1), so the rest of the body stops there and
    // the connection, with the client's other calls, goes on. No connection-specific header
    // (connection: close) exists in HTTP/2.
    r.res.writeHead(refusal.httpStatus, headers);
    r.res.end(body);
  } else if (bodyUnread(r.req)) {
    // The rest of the body is never used: the connection closes after it (see LINGER_MS). The
    // answer is complete on the wire at once (content-length), so clients can act on it.
    headers.connection = 'close';
    headers['content-length'] = Buffer.byteLength(body);
    r.res.writeHead(refusal.httpStatus, headers);
    r.res.flushHeaders();
    if (body.length > 0) r.res.write(body);
    drainThenEnd(r.req, r.res);
  } else {
    r.res.writeHead(refusal.httpStatus, headers);
    r.res.end(body);
  }

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

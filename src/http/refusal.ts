// The one refusal writer: every request the gateway answers itself instead of a Pod (a bad
// request, no route, a bound reached) is answered, counted and logged here, whether it is
// refused on its headers (call-routes.ts) or while its body arrives (exchange.ts), over HTTP/1.1
// or HTTP/2.
import type { OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { ACCEPTED_ENCODINGS, encodeGrpcMessage, exposeHeadersValue, type WebContentType } from '../protocol/index.js';
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

/** What an exchange knows of its call when it refuses it (both exchanges' inits have it). */
export interface RefusingExchange {
  req: RawRequest;
  res: RawResponse;
  baseHeaders: OutgoingHttpHeaders;
  contentType: WebContentType;
  crossOrigin: boolean;
  route: string;
  method: string;
  clientAddress: string;
  log: RefusedRequest['log'];
  settings: { exposeExtra: readonly string[]; observer: CallObserver };
}

/** Refuses a call an exchange has begun (`started`: performance.now() when it did). */
export function refuseExchange(x: RefusingExchange, started: number, bytesIn: number, refusal: Refusal): void {
  refuseCall(
    {
      req: x.req,
      res: x.res,
      baseHeaders: x.baseHeaders,
      contentType: x.contentType,
      exposeExtra: x.crossOrigin ? x.settings.exposeExtra : null,
      route: x.route,
      method: x.method,
      client: x.clientAddress,
      durationMs: performance.now() - started,
      bytesIn,
      log: x.log,
      observer: x.settings.observer,
    },
    refusal,
  );
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
  if (r.contentType.mode === 'native') {
    // Admission lets native gRPC in over HTTP/2 only.
    refuseNative(r.res as Http2ServerResponse, r.contentType.response, refusal);
    account(r, refusal, 0);
    return;
  }
  const headers: OutgoingHttpHeaders = {
    ...r.baseHeaders,
    'content-type': refusal.httpStatus === 200 ? r.contentType.response : 'text/plain; charset=utf-8',
    'grpc-status': String(refusal.code),
    'grpc-message': encodeGrpcMessage(refusal.message),
  };
  if (r.exposeExtra !== null) headers['access-control-expose-headers'] = exposeHeadersValue(r.exposeExtra);
  // What the client may compress with instead (gRPC's compression.md).
  if (refusal.reason === 'unsupported_encoding') headers['grpc-accept-encoding'] = ACCEPTED_ENCODINGS;
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
  account(r, refusal, Buffer.byteLength(body));
}

/**
 * A native gRPC call is always answered the way gRPC clients read a status: HTTP 200 and
 * grpc-status, trailers-only (one HEADERS frame that ends the stream: Node's compatibility
 * writeHead + end would send headers and an empty trailer block apart, which clients read as no
 * status) before the answer began, else as the trailers of the answer. A request stream still
 * arriving is then reset with NO_ERROR by Node, as gRPC servers do; the connection goes on.
 * Like every native answer it says which encodings the gateway inflates (grpc-accept-encoding).
 */
function refuseNative(res: Http2ServerResponse, contentType: string, refusal: Refusal): void {
  const status = { 'grpc-status': String(refusal.code), 'grpc-message': encodeGrpcMessage(refusal.message) };
  if (res.stream.destroyed) return;
  if (res.headersSent) {
    res.addTrailers(status);
    res.end();
  } else {
    res.stream.respond({ ':status': 200, 'content-type': contentType, 'grpc-accept-encoding': ACCEPTED_ENCODINGS, ...status }, { endStream: true });
  }
}

/** Counts and logs a refusal (`bytesOut`: what the answer's body carried). */
function account(r: RefusedRequest, refusal: Refusal, bytesOut: number): void {
  r.observer.refused(refusal.reason);
  r.observer.callEnded({
    route: r.route,
    method: r.method,
    code: refusal.code,
    durationMs: r.durationMs,
    bytesIn: r.bytesIn,
    bytesOut,
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

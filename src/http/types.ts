import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** A request as the serving port's handler gets it: over HTTP/1.1, or HTTP/2 (Node's compatibility API). */
export type RawRequest = IncomingMessage | Http2ServerRequest;
// `write` restated once: the two classes overload it differently, which TypeScript cannot call
// through a union; Node's Http2ServerResponse has flushHeaders, its type declarations do not.
export type RawResponse = (ServerResponse | Http2ServerResponse) & { write(chunk: Uint8Array | string): boolean; flushHeaders(): void };

/**
 * The response holds more than its high-water mark: wait for 'drain' before writing more. An
 * HTTP/2 response has no writableNeedDrain of its own; its stream has.
 */
export function needsDrain(res: RawResponse): boolean {
  return 'stream' in res ? res.stream.writableNeedDrain : res.writableNeedDrain;
}

/**
 * Why the gateway answered a request itself instead of a Pod: the `reason` label of
 * grpcweb_refused_total. A fixed set, so no client can add label values.
 */
export const REFUSAL_REASONS = [
  /** Content type is not gRPC-Web (415). */
  'unsupported_media_type',
  /** Native gRPC (application/grpc) over HTTP/1.1 (505). */
  'needs_http2',
  /** HTTP method other than POST/OPTIONS (405). */
  'method_not_allowed',
  /** The path is no gRPC method, or no route matches it (UNIMPLEMENTED). */
  'no_route',
  /** Bad frame, base64, grpc-timeout, metadata or $httpHeaders (400). */
  'malformed_request',
  /** A message above --max-message-size or a body above --max-request-size. */
  'too_large',
  /** More request headers than --max-headers. */
  'too_many_headers',
  /** No request message, or more than one (UNIMPLEMENTED, as a gRPC server answers). */
  'not_one_message',
  /** A compressed request message (UNIMPLEMENTED). */
  'compressed',
  /** A preflight-less request from an origin --allow-origin does not allow (403). */
  'origin_not_allowed',
  /** --max-concurrent-calls reached. */
  'max_concurrent_calls',
  /** --max-buffered-request-bytes reached. */
  'max_buffered_request_bytes',
  /** --max-connections reached: a connection, not a call, was refused. */
  'max_connections',
  /** An error of the gateway itself (500). */
  'internal',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** One finished call, as the metrics and the access log see it. */
export interface CallRecord {
  /** The route prefix that matched ("" when none did). */
  route: string;
  /** gRPC path, "/package.Service/Method" (as the client sent it: the metrics decide what becomes a label). */
  method: string;
  code: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  /** The Pod that answered; undefined when none did (refused, or no Pod reached). */
  endpoint: string | undefined;
}

/** What the front end reports; the admin side implements it with prom-client. */
export interface CallObserver {
  callStarted(): void;
  callEnded(record: CallRecord): void;
  /** A request or connection the gateway refused (a refused call also ends with callEnded). */
  refused(reason: RefusalReason): void;
}

export const noopObserver: CallObserver = { callStarted() {}, callEnded() {}, refused() {} };

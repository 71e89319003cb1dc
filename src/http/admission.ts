// Admission: one step from a request's headers to a call, or to a refusal. It decides everything
// that can be decided before the body arrives — content type, $httpHeaders and the origin check
// that replaces a preflight, route, deadline, credentials and metadata — and knows nothing of
// the transport or of Fastify, so that every front end (HTTP/1.1 today) admits calls the same way.
import { status as Status, type Metadata } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import type { CorsConfig, LimitsConfig } from '../config/types.js';
import {
  HeaderError,
  TimeoutFormatError,
  isBrowserOwnedHeader,
  parseContentType,
  parseGrpcTimeout,
  parseHttpHeadersParam,
  parseWebContentType,
  type WebContentType,
} from '../protocol/index.js';
import type { Router } from '../upstream/router.js';
import type { Upstream } from '../upstream/types.js';
import { isOriginAllowed, withheldCredentials } from './cors.js';
import { clientView, type TrustProxyFn } from './forwarding.js';
import { loggablePath, type Refusal } from './refusal.js';
import { requestMetadata } from './request-metadata.js';

/** What admission needs of a request, whatever carried it. */
export interface AdmissionRequest {
  headers: IncomingHttpHeaders;
  /** Header lines received (Node's rawHeaders.length / 2): more than allowed is refused, not cut. */
  headerCount: number;
  /** Path and query, as received. */
  url: string;
  /** As Node reports it: '1.1' or '2.0' (native gRPC needs HTTP/2). */
  httpVersion: string;
  /** The TCP peer. */
  peer: string | undefined;
  /** The connection is TLS (what the Pod is told in x-forwarded-proto). */
  encrypted: boolean;
  /** The trusted-proxy chain, peer first (Fastify's request.ips); read only when the peer is trusted. */
  ips: () => readonly string[] | undefined;
  log: { debug(fields: object, message: string): void };
}

/** What admission reads of the gateway: built once per server. */
export interface AdmissionContext {
  cors: CorsConfig;
  limits: Pick<LimitsConfig, 'maxHeadersCount' | 'maxCallDurationMs'>;
  router: Router;
  trust: TrustProxyFn | null;
}

/** An admitted call: everything an exchange needs to start it. */
export interface AdmittedCall {
  contentType: WebContentType;
  /** gRPC path, "/package.Service/Method". */
  method: string;
  route: string;
  upstream: Upstream;
  metadata: Metadata;
  /** Absolute, ms since the epoch; Infinity for none. */
  deadline: number;
  crossOrigin: boolean;
  /** The client as far as the gateway can vouch for it (the access log's `client`). */
  clientAddress: string;
}

/** A refused request, with what the refusal writer needs beyond the Refusal itself. */
export interface AdmissionRefusal extends Refusal {
  /** The type to answer a trailers-only refusal with; null when the request is not gRPC-Web. */
  contentType: WebContentType | null;
  /** The matched route prefix, "" until one matched. */
  route: string;
}

export type Admission = { call: AdmittedCall } | { refusal: AdmissionRefusal };

/**
 * "/package.Service/Method": two non-empty segments of proto names, which are never
 * percent-encoded: a path with a '%' is no method and never reaches a Pod.
 */
const GRPC_PATH = /^\/[^/?%]+\/[^/?%]+$/;

const refused = (
  httpStatus: number,
  code: Status,
  message: string,
  reason: Refusal['reason'],
  contentType: WebContentType | null = null,
  route = '',
): { refusal: AdmissionRefusal } => ({ refusal: { httpStatus, code, message, reason, contentType, route } });

const isBrowserOwned = ([name]: [string, string]): boolean => isBrowserOwnedHeader(name);

/**
 * grpc-web's suppressCorsPreflight: the request's headers ride in the $httpHeaders query
 * parameter so that it is a "simple" request and skips the preflight. The origin check a
 * preflight would have made happens here instead, before anything reaches a Pod. Returns the
 * headers (browser-owned ones dropped), null when there is no such parameter, or a refusal.
 */
function httpHeadersParam(
  query: string,
  request: AdmissionRequest,
  cors: CorsConfig,
): Array<[string, string]> | null | { refusal: AdmissionRefusal } {
  const values = new URLSearchParams(query).getAll('$httpHeaders');
  // Given twice, it is nobody's client: treat the request as not gRPC-Web at all.
  if (values.length !== 1) return null;
  const origin = request.headers.origin;
  if (origin !== undefined && !isOriginAllowed(cors.allowOrigins, origin)) {
    return refused(403, Status.PERMISSION_DENIED, `origin ${origin} is not allowed`, 'origin_not_allowed');
  }
  let extra: Array<[string, string]>;
  try {
    extra = parseHttpHeadersParam(values[0]!);
  } catch (error) {
    return refused(400, Status.INTERNAL, `invalid $httpHeaders: ${(error as Error).message}`, 'malformed_request');
  }
  // A script cannot set these as headers; neither may it through the query parameter.
  if (extra.some(isBrowserOwned)) {
    request.log.debug({ dropped: extra.filter(isBrowserOwned).map(([name]) => name) }, '$httpHeaders: browser-owned headers dropped');
    extra = extra.filter((header) => !isBrowserOwned(header));
  }
  return extra;
}

/** From a request's headers to a call to start, or a refusal to write. Never throws on input. */
export function admit(request: AdmissionRequest, context: AdmissionContext): Admission {
  const { headers } = request;
  const { limits } = context;
  if (request.headerCount > limits.maxHeadersCount) {
    return refused(200, Status.RESOURCE_EXHAUSTED, `more than ${limits.maxHeadersCount} request headers`, 'too_many_headers');
  }
  const q = request.url.indexOf('?');
  const path = q === -1 ? request.url : request.url.slice(0, q);

  let contentType = parseContentType(headers['content-type']);
  let extra: Array<[string, string]> | null = null;
  let timeoutHeader = headers['grpc-timeout'];
  if (contentType === null && q !== -1) {
    const param = httpHeadersParam(request.url.slice(q + 1), request, context.cors);
    if (param !== null && 'refusal' in param) return param;
    extra = param;
    for (const [name, value] of extra ?? []) {
      if (name === 'content-type') contentType = parseWebContentType(value);
      else if (name === 'grpc-timeout') timeoutHeader = value;
    }
  }
  if (contentType?.mode === 'native' && request.httpVersion !== '2.0') {
    return refused(
      505,
      Status.UNIMPLEMENTED,
      `native gRPC (${contentType.response}) needs HTTP/2; over HTTP/1.1 use gRPC-Web (application/grpc-web)`,
      'needs_http2',
    );
  }
  if (contentType === null) {
    return refused(
      415,
      Status.INTERNAL,
      `content-type '${headers['content-type'] ?? ''}' is not gRPC-Web (application/grpc-web[+proto] or application/grpc-web-text[+proto])`,
      'unsupported_media_type',
    );
  }
  const match = GRPC_PATH.test(path) ? context.router.route(path) : null;
  if (match === null) return refused(200, Status.UNIMPLEMENTED, `no route for ${loggablePath(path)}`, 'no_route', contentType);

  let deadline = Infinity;
  if (typeof timeoutHeader === 'string') {
    try {
      deadline = Date.now() + parseGrpcTimeout(timeoutHeader);
    } catch (error) {
      if (!(error instanceof TimeoutFormatError)) throw error;
      return refused(400, Status.INTERNAL, `invalid grpc-timeout '${timeoutHeader}'`, 'malformed_request', contentType, match.prefix);
    }
  }
  if (limits.maxCallDurationMs > 0) deadline = Math.min(deadline, Date.now() + limits.maxCallDurationMs);

  // extra !== null: the request carried no gRPC-Web content type of its own, so no preflight.
  const withheld = withheldCredentials(context.cors, headers, extra !== null);
  if (withheld !== null) {
    request.log.debug({ origin: headers.origin, withheld }, 'credentials not forwarded: no CORS consent for this origin');
  }
  const forwardedProto = headers['x-forwarded-proto'] as string | undefined;
  const client = clientView(request.peer, request.encrypted, context.trust, forwardedProto, request.ips);

  let metadata: Metadata;
  try {
    metadata = requestMetadata(headers, extra, withheld, client);
  } catch (error) {
    if (!(error instanceof HeaderError)) throw error;
    return refused(400, Status.INTERNAL, error.message, 'malformed_request', contentType, match.prefix);
  }
  return {
    call: {
      contentType,
      method: path,
      route: match.prefix,
      upstream: match.upstream,
      metadata,
      deadline,
      crossOrigin: headers.origin !== undefined,
      clientAddress: client.address ?? '',
    },
  };
}

// gRPC statuses from what an HTTP/2 response says (grpc/grpc doc/PROTOCOL-HTTP2.md): trailers
// (or Trailers-Only headers), the HTTP status when a proxy answered instead of a gRPC server, and
// the RST_STREAM code of a stream that ended without trailers. The wording follows grpc-js's, so
// logs and the client-facing rewrites (../status-text.ts) read the same with either client.
import type { IncomingHttpHeaders } from 'node:http2';
import { constants } from 'node:http2';
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { decodeGrpcMessage } from '../../protocol/grpc-message.js';
import type { AttemptStatus } from '../retry/transparent.js';

/** PROTOCOL-HTTP2.md's mapping for a response without grpc-status. */
export function statusOfHttp(httpStatus: number): Status {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

export function httpStatusText(httpStatus: number): StatusObject {
  return make(statusOfHttp(httpStatus), `Received HTTP status code ${httpStatus}`);
}

/** The status carried by trailers (or Trailers-Only headers); `httpStatus` from the response headers. */
export function statusOfTrailers(headers: IncomingHttpHeaders, httpStatus: number): StatusObject {
  const raw = headers['grpc-status'];
  if (raw === undefined) {
    return httpStatus !== 200 ? httpStatusText(httpStatus) : make(Status.UNKNOWN, 'No status received');
  }
  let metadata: Metadata;
  try {
    metadata = Metadata.fromHttp2Headers(headers);
  } catch (error) {
    return make(Status.UNKNOWN, (error as Error).message);
  }
  metadata.remove('grpc-status');
  metadata.remove('grpc-message');
  const value = Number(raw);
  const code = Number.isInteger(value) && value >= 0 && value <= 16 ? (value as Status) : Status.UNKNOWN;
  const message = headers['grpc-message'];
  const details = typeof message === 'string' ? decodeGrpcMessage(message) : '';
  return { code, details, metadata };
}

/** A stream that closed without trailers, by its RST_STREAM code (not REFUSED_STREAM: see the call). */
export function statusOfReset(rstCode: number, httpStatus: number): StatusObject {
  switch (rstCode) {
    case constants.NGHTTP2_NO_ERROR:
      return httpStatus !== 0 && httpStatus !== 200
        ? httpStatusText(httpStatus)
        : make(Status.INTERNAL, `Received RST_STREAM with code ${rstCode} (Call ended without gRPC status)`);
    case constants.NGHTTP2_CANCEL:
      return make(Status.CANCELLED, 'Call cancelled');
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return make(Status.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return make(Status.PERMISSION_DENIED, 'Protocol not secure enough');
    case constants.NGHTTP2_INTERNAL_ERROR:
      return make(Status.INTERNAL, `Received RST_STREAM with code ${rstCode} (Internal server error)`);
    default:
      return make(Status.INTERNAL, `Received RST_STREAM with code ${rstCode}`);
  }
}

export function make(code: Status, details: string, neverProcessed?: boolean): AttemptStatus {
  const status: AttemptStatus = { code, details, metadata: new Metadata() };
  if (neverProcessed !== undefined) status.neverProcessed = neverProcessed;
  return status;
}

/** grpc-timeout for `ms` milliseconds: at most 8 digits, the finest unit that fits (as grpc-js). */
export function grpcTimeout(ms: number): string {
  const wait = Math.max(0, ms);
  if (wait < 1e8) return `${Math.ceil(wait)}m`;
  if (wait / 1000 < 1e8) return `${Math.ceil(wait / 1000)}S`;
  if (wait / 60_000 < 1e8) return `${Math.ceil(wait / 60_000)}M`;
  return `${Math.ceil(wait / 3_600_000)}H`;
}

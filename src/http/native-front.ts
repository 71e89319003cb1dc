// Native gRPC calls over HTTP/2 enter before Fastify. A gRPC client's call is a POST with a
// native content type and no Origin (no browser, so nothing for CORS to say), and it is the one
// request the gateway serves at the rate of a backend: Fastify's request and reply, routing,
// hooks and @fastify/cors would be work per call that decides nothing for it. Such a request goes
// from the listener straight to the call entry (./call-entry.ts: the same admission step, exchange
// and refusal writer as every call); every other request — gRPC-Web, health, preflights,
// anything over HTTP/1.1, a native request from a browser page — and every request once the
// server is closing (Fastify answers those 503) still reaches Fastify.
import { status as Status } from '@grpc/grpc-js';
import type { FastifyBaseLogger } from 'fastify';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { parseContentType, type WebContentType } from '../protocol/index.js';
import type { AdmissionContext } from './admission.js';
import { refuseRequest, startCall, type CallSource } from './call-entry.js';
import type { ExchangeSettings } from './exchange.js';
import { forwardedChain, type TrustProxyFn } from './forwarding.js';
import type { RequestHandler } from './listener.js';
import type { RawResponse } from './types.js';

/** The header that names a request's id (Fastify's requestIdHeader too). */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Request ids for requests without an x-request-id, from one counter for both front ends (given
 * to Fastify as genReqId), in Fastify's own form.
 */
export function requestIds(): () => string {
  let next = 0;
  // Kept a small integer (a V8 SMI), as Fastify keeps its own.
  return () => `req-${(next = (next + 1) & 0x7fffffff).toString(36)}`;
}

export interface NativeFrontOptions {
  admission: AdmissionContext;
  settings: ExchangeSettings;
  /** The server's logger: each call's is its child with the reqId, as Fastify's are. */
  logger: FastifyBaseLogger;
  nextRequestId: () => string;
  /** The app is closing: Fastify then answers every request 503 (return503OnClosing). */
  closing: () => boolean;
}

const NO_HEADERS: OutgoingHttpHeaders = Object.freeze({}) as OutgoingHttpHeaders;

/** A gRPC client's native call: what this front takes instead of Fastify. */
function nativeCallType(req: Http2ServerRequest, headers: IncomingHttpHeaders): WebContentType | null {
  if (req.method !== 'POST' || headers.origin !== undefined) return null;
  const type = parseContentType(headers['content-type']);
  return type?.mode === 'native' ? type : null;
}

/** A native call that did not pass through Fastify, as the call entry sees it. */
class NativeCall implements CallSource {
  readonly log: FastifyBaseLogger;

  constructor(
    readonly req: Http2ServerRequest,
    readonly res: RawResponse,
    private readonly trust: TrustProxyFn | null,
    options: NativeFrontOptions,
  ) {
    const id = req.headers[REQUEST_ID_HEADER];
    this.log = options.logger.child({ reqId: typeof id === 'string' && id !== '' ? id : options.nextRequestId() });
  }

  ips(): readonly string[] | undefined {
    return forwardedChain(this.req.socket.remoteAddress, this.req.headers['x-forwarded-for'], this.trust);
  }

  ip(): string {
    const chain = this.ips();
    return (chain === undefined ? this.req.socket.remoteAddress : chain[chain.length - 1]) ?? '';
  }

  baseHeaders(): OutgoingHttpHeaders {
    return NO_HEADERS;
  }

  takeOver(): void {
    // The raw response is all there is.
  }
}

/** The serving port's handler: native gRPC calls over HTTP/2 to the call entry, the rest to Fastify's `handler`. */
export function withNativeFront(handler: RequestHandler, options: NativeFrontOptions): RequestHandler {
  const { admission, settings } = options;
  return (req, res) => {
    const type = req.httpVersionMajor === 2 ? nativeCallType(req as Http2ServerRequest, req.headers) : null;
    if (type === null || options.closing()) {
      handler(req, res);
      return;
    }
    const call = new NativeCall(req as Http2ServerRequest, res as RawResponse, admission.trust, options);
    try {
      startCall(call, admission, settings);
    } catch (error) {
      // Never a stack trace to a client, as Fastify's error handler (server.ts) ensures there.
      call.log.error({ err: error }, 'unhandled error');
      refuseRequest(call, settings, { httpStatus: 500, code: Status.INTERNAL, message: 'internal gateway error', contentType: type });
    }
  };
}

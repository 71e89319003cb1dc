import { status as Status, type Metadata, type StatusObject } from '@grpc/grpc-js';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import {
  Base64Decoder,
  Base64Error,
  FLAG_COMPRESSED,
  FLAG_TRAILER,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  encodeBase64,
  encodeGrpcMessage,
  encodeMessageFrames,
  encodeTrailerFrame,
  frameHeader,
} from '../protocol/index.js';
import type { CallListener, UpstreamCall } from '../upstream/types.js';
import type { AdmittedCall } from './admission.js';
import type { CallBounds } from './bounds.js';
import { recordCall } from './call-record.js';
import { CallShare } from './call-share.js';
import { loggablePath, refuseExchange } from './refusal.js';
import { responseHeaderBlock } from './response-headers.js';
import { needsDrain, type CallObserver, type RawRequest, type RawResponse, type RefusalReason } from './types.js';

/** Settings every exchange of one server shares (built once). */
export interface ExchangeSettings {
  maxRequestBytes: number;
  maxMessageBytes: number;
  accessLog: boolean;
  /** --cors-expose-header extras, exposed on every response to a cross-origin request. */
  exposeExtra: readonly string[];
  observer: CallObserver;
  /** The process-wide bounds (calls in flight, request bytes buffered). */
  bounds: CallBounds;
}

/** An admitted call (./admission.ts) and the HTTP exchange (HTTP/1.1 or HTTP/2) that carries it. */
export interface ExchangeInit extends AdmittedCall {
  settings: ExchangeSettings;
  req: RawRequest;
  res: RawResponse;
  log: FastifyBaseLogger;
  /** Headers already decided for the response (CORS, from @fastify/cors). */
  baseHeaders: OutgoingHttpHeaders;
}

/** Above this size a binary message is written after its 5-byte header instead of copied behind it. */
const COPY_LIMIT = 16 * 1024;
/**
 * Smaller messages are collected and written together, as one buffer, when the event loop turn
 * ends (see `flush`) or once this many framed bytes are waiting. One write per batch instead of
 * one per message: Node's chunked encoding turns every res.write into four socket writes (size,
 * CRLF, data, CRLF), so a corked batch of 150 messages of 100 B was a writev of 600 pieces. This
 * is also the most a stream holds here beyond what res.write reports (backpressure).
 */
const BATCH_BYTES = 16 * 1024;

/**
 * One gRPC-Web call: reads and decodes the request body, starts the upstream call, and
 * streams the answer back, frame by frame, as the Pod sends it. It is the upstream call's
 * listener itself, so the per-message path allocates nothing but the frame.
 */
export class Exchange implements CallListener {
  private readonly started = performance.now();
  private readonly base64: Base64Decoder | null;
  private readonly frames: FrameDecoder;
  /** The one request message, once it has arrived. */
  private message: Buffer | null = null;
  /** Its slot of --max-concurrent-calls and request bytes of --max-buffered-request-bytes. */
  private readonly share: CallShare;
  /** Response messages not written yet (see BATCH_BYTES), and their size once framed. */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private upstreamCall: UpstreamCall | null = null;
  private responseHeaders: Metadata | null = null;
  private headersSent = false;
  /** The socket is corked by onMessage until `flush` runs (see there). */
  private corked = false;
  /** The response is complete (or the client is gone): nothing more may be written. */
  private finished = false;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(private readonly x: ExchangeInit) {
    this.base64 = x.contentType.mode === 'text' ? new Base64Decoder() : null;
    // gRPC-Web calls are unary or server streaming: a second message is refused at its first byte.
    this.frames = new FrameDecoder(x.settings.maxMessageBytes, 1);
    this.share = new CallShare(x.settings.bounds);
  }

  begin(): void {
    const { req, res } = this.x;
    this.x.settings.observer.callStarted();
    if (!this.share.start()) {
      this.failRequest(200, Status.RESOURCE_EXHAUSTED, 'the gateway has too many calls in flight; retry later', 'max_concurrent_calls');
      return;
    }
    res.on('close', this.onResponseClose);
    req.on('data', this.onRequestData);
    req.on('end', this.onRequestEnd);
    req.on('error', this.onRequestError);
  }

  // ---- request side -------------------------------------------------------------------
  private readonly onRequestData = (chunk: Buffer): void => {
    if (this.finished) return;
    this.bytesIn += chunk.length;
    if (this.bytesIn > this.x.settings.maxRequestBytes) {
      this.failRequest(
        200,
        Status.RESOURCE_EXHAUSTED,
        `request body exceeds the ${this.x.settings.maxRequestBytes}-byte limit`,
        'too_large',
      );
      return;
    }
    if (!this.share.reserve(chunk.length)) {
      this.failRequest(200, Status.RESOURCE_EXHAUSTED, 'the gateway is buffering too many request bytes; retry later', 'max_buffered_request_bytes');
      return;
    }
    try {
      const bytes = this.base64 ? this.base64.push(chunk) : chunk;
      if (bytes.length > 0) this.acceptFrames(this.frames.push(bytes));
    } catch (error) {
      this.rejectBody(error);
    }
  };

  private readonly onRequestEnd = (): void => {
    if (this.finished) return;
    try {
      if (this.base64) {
        const tail = this.base64.end();
        if (tail.length > 0) this.acceptFrames(this.frames.push(tail));
      }
      this.frames.end();
    } catch (error) {
      this.rejectBody(error);
      return;
    }
    if (this.finished) return;
    if (this.message === null) {
      this.failRequest(200, Status.UNIMPLEMENTED, `received no request message for ${loggablePath(this.x.method)}`, 'not_one_message');
      return;
    }
    this.upstreamCall = this.x.upstream.call(
      {
        method: this.x.method,
        metadata: this.x.metadata,
        deadline: this.x.deadline,
        message: this.message,
      },
      this,
    );
  };

  private readonly onRequestError = (): void => {
    // The client reset the connection mid-request: 'close' on the response follows.
  };

  /** The decoder returns at most one frame per call (see its maxFrames). */
  private acceptFrames(frames: ReturnType<FrameDecoder['push']>): void {
    for (const frame of frames) {
      if (frame.flags & FLAG_TRAILER) throw new FrameError('bad-flags', 'request carries a trailer frame');
      if (frame.flags & FLAG_COMPRESSED) {
        this.failRequest(200, Status.UNIMPLEMENTED, 'compressed request messages are not supported', 'compressed');
        return;
      }
      this.message = frame.data;
    }
  }

  private rejectBody(error: unknown): void {
    if (error instanceof FrameError && error.reason === 'too-large') {
      this.failRequest(200, Status.RESOURCE_EXHAUSTED, error.message, 'too_large');
    } else if (error instanceof FrameError && error.reason === 'too-many') {
      // The status and wording a gRPC server (grpc-js) gives for the same mistake.
      this.failRequest(
        200,
        Status.UNIMPLEMENTED,
        `received a second request message for ${loggablePath(this.x.method)}: a gRPC-Web call carries exactly one`,
        'not_one_message',
      );
    } else if (error instanceof FrameError || error instanceof Base64Error) {
      this.failRequest(400, Status.INTERNAL, `malformed gRPC-Web request: ${error.message}`, 'malformed_request');
    } else {
      this.x.log.error({ err: error }, 'unexpected error decoding a request');
      this.failRequest(500, Status.INTERNAL, 'internal gateway error', 'internal');
    }
  }

  /** Answer a request the gateway refuses (before any upstream call). */
  private failRequest(httpStatus: number, code: Status, message: string, reason: RefusalReason): void {
    if (this.finished) return;
    this.finished = true;
    const x = this.x;
    x.req.removeListener('data', this.onRequestData);
    this.share.end();
    refuseExchange(x, this.started, this.bytesIn, { httpStatus, code, message, reason });
  }

  // ---- upstream side (CallListener) -----------------------------------------------------
  onHeaders(metadata: Metadata): void {
    this.responseHeaders = metadata;
  }

  onMessage(message: Buffer): void {
    if (this.finished) return;
    const { res } = this.x;
    if (!this.headersSent) this.sendHeaders();
    if (!this.corked) {
      // Hold this answer's writes until the event loop has run the I/O callbacks of this turn:
      // a unary answer's message and status arrive in the same HTTP/2 read, so headers, frame
      // and trailer leave in one writev instead of two (Node would flush the first write on the
      // next tick, before the status comes through grpc-js), and a stream's messages that
      // arrived together leave together, as one batch. The status (res.end) flushes at once.
      this.corked = true;
      res.cork();
      setImmediate(this.flush);
    }
    if (this.base64 === null && message.length > COPY_LIMIT) {
      // Pending messages first: frames must leave in order.
      this.writePending();
      this.bytesOut += message.length + FRAME_HEADER_BYTES;
      res.cork();
      res.write(frameHeader(0, message.length));
      res.write(message);
      res.uncork();
    } else {
      this.pending.push(message);
      this.pendingBytes += FRAME_HEADER_BYTES + message.length;
      if (this.pendingBytes >= BATCH_BYTES) this.writePending();
    }
    // A write that res refused (client slower than the Pod) stops reading upstream until it
    // drains; messages collected below BATCH_BYTES leave at the flush either way.
    if (needsDrain(res)) res.once('drain', this.onDrain);
    else this.upstreamCall!.requestNext();
  }

  /** Writes the collected messages as one buffer (base64 text as one string in text mode). */
  private writePending(): void {
    if (this.pending.length === 0) return;
    let bytes = encodeMessageFrames(this.pending, this.pendingBytes);
    this.pending.length = 0;
    this.pendingBytes = 0;
    if (this.base64) bytes = encodeBase64(bytes);
    this.bytesOut += bytes.length;
    this.x.res.write(bytes);
  }

  private readonly flush = (): void => {
    if (!this.corked) return;
    this.corked = false;
    if (this.finished) return;
    this.writePending();
    this.x.res.uncork();
  };

  private readonly onDrain = (): void => {
    if (!this.finished) this.upstreamCall!.requestNext();
  };

  onStatus(status: StatusObject, endpoint: string | undefined, note?: string): void {
    if (this.finished) {
      // The client left first; this is the cancellation coming back.
      this.logCall(Status.CANCELLED, 'client went away', endpoint);
      return;
    }
    this.finished = true;
    const { res } = this.x;
    if (!this.headersSent) {
      // Trailers-only: status in the HTTP headers, empty body (an empty 0x80 frame here
      // breaks connect-es; this is what Envoy sends too).
      const headers = this.responseHeaderBlock(status.metadata);
      headers['grpc-status'] = String(status.code);
      if (status.details) headers['grpc-message'] = encodeGrpcMessage(status.details);
      this.headersSent = true;
      res.writeHead(200, headers);
      res.end();
    } else {
      let trailer = encodeTrailerFrame(
        status.code,
        // grpc-js reports "OK" as the details of every success: no need to send it.
        status.code === Status.OK ? '' : status.details,
        status.metadata.toHttp2Headers() as Record<string, string | string[] | undefined>,
      );
      if (this.base64) trailer = encodeBase64(trailer);
      this.writePending();
      this.bytesOut += trailer.length;
      // end() uncorks the socket fully: the pending flush has nothing left to do.
      this.corked = false;
      res.end(trailer);
    }
    this.logCall(status.code, status.details, endpoint, note);
  }

  private sendHeaders(): void {
    this.headersSent = true;
    this.x.res.writeHead(200, this.responseHeaderBlock(null));
  }

  private responseHeaderBlock(trailing: Metadata | null): OutgoingHttpHeaders {
    const x = this.x;
    return responseHeaderBlock(x.baseHeaders, x.contentType.response, this.responseHeaders, trailing, x.crossOrigin ? x.settings.exposeExtra : null);
  }

  // ---- client gone ------------------------------------------------------------------------
  private readonly onResponseClose = (): void => {
    if (this.finished) return;
    // The browser closed the connection before the answer was complete: cancel upstream now.
    this.finished = true;
    if (this.upstreamCall) this.upstreamCall.cancel();
    else this.logCall(Status.CANCELLED, 'client went away before sending the whole request', undefined);
  };

  /** `note`: what the upstream side knows and the client is not told (see CallListener.onStatus). */
  private logCall(code: number, message: string, endpoint: string | undefined, note?: string): void {
    this.share.end();
    recordCall(this.x, this.started, code, message, endpoint, note, this.bytesIn, this.bytesOut);
  }
}

// One native gRPC call over HTTP/2, passed through: request DATA → length-prefixed messages →
// the upstream call, each message as it arrives; the Pod's messages → DATA as they arrive; its
// status → real HTTP/2 trailers (or trailers-only when no message came). Every call type works
// the same way: unary and server streaming are simply streams of one request message.
import { status as Status, type Metadata, type StatusObject } from '@grpc/grpc-js';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { FastifyBaseLogger } from 'fastify';
import {
  FLAG_COMPRESSED,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  encodeGrpcMessage,
  encodeMessageFrame,
  frameHeader,
  isForwardableResponseHeader,
} from '../protocol/index.js';
import type { CallListener, UpstreamStreamCall } from '../upstream/types.js';
import type { AdmittedCall } from './admission.js';
import { recordCall } from './call-record.js';
import type { ExchangeSettings } from './exchange.js';
import { responseHeaderBlock } from './response-headers.js';
import { CallShare } from './call-share.js';
import { refuseExchange } from './refusal.js';
import type { RawResponse, RefusalReason } from './types.js';

/** An admitted native call and the HTTP/2 stream that carries it. */
export interface NativeExchangeInit extends AdmittedCall {
  settings: ExchangeSettings;
  req: Http2ServerRequest;
  /** As the refusal writer types it (RawResponse), and what this exchange writes with. */
  res: RawResponse & Http2ServerResponse;
  log: FastifyBaseLogger;
  /** Headers already decided for the response (CORS, for a request that carries an Origin). */
  baseHeaders: OutgoingHttpHeaders;
}

/** Above this size a message is written after its 5-byte header instead of copied behind it. */
const COPY_LIMIT = 16 * 1024;

export class NativeExchange implements CallListener {
  private readonly started = performance.now();
  private readonly frames: FrameDecoder;
  private call: UpstreamStreamCall | null = null;
  /** Decoded request messages the upstream call has not taken yet, and their bytes. */
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  /** A message is on its way to the Pod (its `sent` has not come back). */
  private sending = false;
  private requestEnded = false;
  private halfClosed = false;
  /** Its slot of --max-concurrent-calls and request bytes of --max-buffered-request-bytes. */
  private readonly share: CallShare;
  private responseHeaders: Metadata | null = null;
  /** The answer is complete, refused, or the client is gone: nothing more may be written. */
  private finished = false;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(private readonly x: NativeExchangeInit) {
    this.frames = new FrameDecoder(x.settings.maxMessageBytes);
    this.share = new CallShare(x.settings.bounds);
  }

  begin(): void {
    const { req, res, settings } = this.x;
    settings.observer.callStarted();
    if (!this.share.start()) {
      this.refuse(Status.RESOURCE_EXHAUSTED, 'the gateway has too many calls in flight; retry later', 'max_concurrent_calls');
      return;
    }
    res.on('close', this.onResponseClose);
    // The Pod gets the call at the first request message (or the request's end), or at the end of
    // this event-loop turn if none came with the headers (a bidi server may speak first) — not at
    // the headers themselves: a stream the client resets or spoils in the same packet (rapid
    // reset, a malformed frame) then never reaches a Pod.
    setImmediate(this.startUpstream);
    req.on('data', this.onRequestData);
    req.on('end', this.onRequestEnd);
    req.on('error', () => {
      // A reset stream: 'close' on the response follows.
    });
  }

  private readonly startUpstream = (): void => {
    if (this.finished || this.call !== null) return;
    this.call = this.x.upstream.callStream({ method: this.x.method, metadata: this.x.metadata, deadline: this.x.deadline }, this);
  };

  // ---- request side -------------------------------------------------------------------
  private readonly onRequestData = (chunk: Buffer): void => {
    if (this.finished) return;
    this.bytesIn += chunk.length;
    if (!this.share.reserve(chunk.length)) {
      this.refuse(Status.RESOURCE_EXHAUSTED, 'the gateway is buffering too many request bytes; retry later', 'max_buffered_request_bytes');
      return;
    }
    let frames;
    try {
      frames = this.frames.push(chunk);
    } catch (error) {
      this.rejectFrame(error);
      return;
    }
    for (const frame of frames) {
      if (frame.flags & FLAG_COMPRESSED) {
        this.refuse(Status.UNIMPLEMENTED, 'compressed request messages are not supported: send grpc-encoding identity', 'compressed');
        return;
      }
      this.queue.push(frame.data);
      this.queuedBytes += frame.data.length;
    }
    // Only a well-formed message starts the call: a refused request never reaches a Pod.
    if (frames.length > 0) this.startUpstream();
    this.pump();
  };

  private readonly onRequestEnd = (): void => {
    if (this.finished) return;
    try {
      this.frames.end();
    } catch (error) {
      this.rejectFrame(error);
      return;
    }
    this.startUpstream();
    this.requestEnded = true;
    this.pump();
  };

  /**
   * Hands the Pod one message at a time. While one is on its way the request stream is paused,
   * so a Pod that reads slowly slows the client down through HTTP/2 flow control instead of
   * filling the gateway's memory.
   */
  private pump(): void {
    if (this.sending || this.finished) return;
    const message = this.queue.shift();
    if (message !== undefined) {
      this.queuedBytes -= message.length;
      this.sending = true;
      this.x.req.pause();
      this.call!.write(message, this.onSent);
      return;
    }
    if (this.requestEnded && !this.halfClosed) {
      this.halfClosed = true;
      this.call!.end();
    } else if (!this.requestEnded) {
      this.x.req.resume();
    }
  }

  private readonly onSent = (): void => {
    this.sending = false;
    // What is still reserved is what is held here and in the upstream's retry buffer.
    this.share.keep(this.frames.pending + this.queuedBytes + this.call!.heldBytes);
    this.pump();
  };

  private rejectFrame(error: unknown): void {
    if (error instanceof FrameError && error.reason === 'too-large') {
      this.refuse(Status.RESOURCE_EXHAUSTED, error.message, 'too_large');
    } else if (error instanceof FrameError) {
      this.refuse(Status.INTERNAL, `malformed gRPC request: ${error.message}`, 'malformed_request');
    } else {
      this.x.log.error({ err: error }, 'unexpected error decoding a request');
      this.refuse(Status.INTERNAL, 'internal gateway error', 'internal');
    }
  }

  /** The gateway ends the call itself: the Pod's side is cancelled, the client told why. */
  private refuse(code: Status, message: string, reason: RefusalReason): void {
    if (this.finished) return;
    this.finished = true;
    const x = this.x;
    x.req.removeListener('data', this.onRequestData);
    this.call?.cancel();
    this.share.end();
    refuseExchange(x, this.started, this.bytesIn, { httpStatus: 200, code, message, reason });
  }

  // ---- upstream side (CallListener) -----------------------------------------------------
  onHeaders(metadata: Metadata): void {
    this.responseHeaders = metadata;
  }

  onMessage(message: Buffer): void {
    if (this.finished) return;
    const { res } = this.x;
    if (!res.headersSent) res.writeHead(200, this.headerBlock());
    let more: boolean;
    if (message.length > COPY_LIMIT) {
      res.write(frameHeader(0, message.length));
      more = res.write(message);
    } else {
      more = res.write(encodeMessageFrame(message));
    }
    this.bytesOut += FRAME_HEADER_BYTES + message.length;
    // The next message is read from the Pod only once the client has taken this one.
    if (more) this.call!.requestNext();
    else res.once('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    if (!this.finished) this.call!.requestNext();
  };

  onStatus(status: StatusObject, endpoint: string | undefined, note?: string): void {
    if (this.finished) {
      // The client left or the gateway refused first: this is the cancellation coming back.
      if (this.share.active) this.logCall(Status.CANCELLED, 'client went away', endpoint);
      return;
    }
    this.finished = true;
    const { res } = this.x;
    const fields: OutgoingHttpHeaders = { 'grpc-status': String(status.code) };
    // grpc-js reports "OK" as the details of every success: no need to send it.
    if (status.code !== Status.OK && status.details) fields['grpc-message'] = encodeGrpcMessage(status.details);
    const trailing = status.metadata.toHttp2Headers();
    if (res.stream.destroyed) {
      // Reset between the last check and now: nothing can be said any more.
    } else if (!res.headersSent) {
      // Trailers-only: one HEADERS frame that ends the stream (Node's compatibility response
      // would send the headers and an empty trailer block apart, which clients read as no status).
      const headers = this.headerBlock(status.metadata);
      res.stream.respond({ ...headers, ...fields, ':status': 200 }, { endStream: true });
    } else {
      for (const name in trailing) {
        if (isForwardableResponseHeader(name) && trailing[name] !== undefined) fields[name] = trailing[name];
      }
      res.addTrailers(fields);
      res.end();
    }
    this.logCall(status.code, status.details, endpoint, note);
  }

  /** The response headers (trailing metadata too in a trailers-only answer); no CORS exposure: no browser reads these. */
  private headerBlock(trailing: Metadata | null = null): OutgoingHttpHeaders {
    return responseHeaderBlock(this.x.baseHeaders, this.x.contentType.response, this.responseHeaders, trailing, null);
  }

  // ---- client gone ------------------------------------------------------------------------
  private readonly onResponseClose = (): void => {
    if (this.finished) return;
    // RST_STREAM from the client (or its connection gone) before the answer ended: cancel upstream.
    this.finished = true;
    if (this.call) this.call.cancel();
    else this.logCall(Status.CANCELLED, 'client went away before the call reached a Pod', undefined);
  };

  private logCall(code: number, message: string, endpoint: string | undefined, note?: string): void {
    this.share.end();
    recordCall(this.x, this.started, code, message, endpoint, note, this.bytesIn, this.bytesOut);
  }
}

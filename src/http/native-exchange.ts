// One native gRPC call over HTTP/2, passed through. Where the Pods' client allows (http2) and
// the call does not compress, byte for byte: request DATA goes to the Pod's stream as it came and
// the Pod's DATA back as it came, the gateway reading only the 5-byte prefixes (size, flags).
// Otherwise request DATA → length-prefixed messages (inflated if compressed) → the upstream call,
// each message as it arrives, and the Pod's messages → DATA as they arrive. Either way its status
// → real HTTP/2 trailers (or trailers-only when nothing came). Every call type works the same
// way: unary and server streaming are simply streams of one request message.
import { status as Status, type Metadata, type StatusObject } from '@grpc/grpc-js';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { FastifyBaseLogger } from 'fastify';
import {
  ACCEPTED_ENCODINGS,
  FLAG_COMPRESSED,
  FRAME_HEADER_BYTES,
  compressedMessageRule,
  type Frame,
  FrameDecoder,
  FrameError,
  FrameScanner,
  type MessageEncoding,
} from '../protocol/index.js';
import type { CallListener, UpstreamStreamCall } from '../upstream/types.js';
import type { AdmittedCall } from './admission.js';
import { recordCall } from './call-record.js';
import type { ExchangeSettings } from './exchange.js';
import { endAnswer, writeMessage } from './native-answer.js';
import { responseHeaderBlock } from './response-headers.js';
import { CallShare } from './call-share.js';
import { compressedMessageEncoding, inflateMessage, type MessageRefusal } from './message-inflate.js';
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

export class NativeExchange implements CallListener {
  private readonly started = performance.now();
  /** Byte passthrough: request DATA goes to the Pod as it came, only its prefixes read (scanner). */
  private readonly scanner: FrameScanner | null;
  /** Otherwise the request is cut into messages (each may be inflated) and the Pod frames them again. */
  private readonly frames: FrameDecoder | null;
  private call: UpstreamStreamCall | null = null;
  /** Decoded request frames the upstream call has not taken yet, and their bytes. */
  private readonly queue: Frame[] = [];
  private queuedBytes = 0;
  /** A message is being inflated or is on its way to the Pod (its `sent` has not come back). */
  private sending = false;
  private inflating = false;
  /** The encoding of the call's compressed messages, once the first one came. */
  private encoding: MessageEncoding | null = null;
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
    const max = x.settings.maxMessageBytes;
    // Calls that compress keep the message path: the gateway inflates, since not every Pod can (README "Native gRPC").
    const passthrough = x.upstream.passthrough === true && compressedMessageRule(x.req.headers['grpc-encoding']) === 'missing';
    this.scanner = passthrough ? new FrameScanner(max) : null;
    this.frames = passthrough ? null : new FrameDecoder(max);
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
    // While the first message is being inflated, the call waits for it: if it cannot be
    // inflated, the refused call never reaches a Pod.
    if (this.finished || this.call !== null || this.inflating) return;
    const { method, metadata, deadline } = this.x;
    this.call = this.x.upstream.callStream({ method, metadata, deadline, framed: this.scanner !== null }, this);
  };

  // ---- request side -------------------------------------------------------------------
  private readonly onRequestData = (chunk: Buffer): void => {
    if (this.finished) return;
    this.bytesIn += chunk.length;
    if (!this.share.reserve(chunk.length)) {
      this.refuse(Status.RESOURCE_EXHAUSTED, 'the gateway is buffering too many request bytes; retry later', 'max_buffered_request_bytes');
      return;
    }
    if (this.scanner !== null) {
      this.passOn(chunk);
      return;
    }
    let frames;
    try {
      frames = this.frames!.push(chunk);
    } catch (error) {
      this.rejectFrame(error);
      return;
    }
    for (const frame of frames) {
      if ((frame.flags & FLAG_COMPRESSED) !== 0 && this.encoding === null) {
        const encoding = compressedMessageEncoding(this.x.req);
        if (typeof encoding !== 'string') {
          this.refuseMessage(encoding);
          return;
        }
        this.encoding = encoding;
      }
      this.queue.push(frame);
      this.queuedBytes += frame.data.length;
    }
    // Only a well-formed message starts the call (pump): a refused request never reaches a Pod.
    this.pump();
  };

  /** Byte passthrough: the chunk goes to the Pod as it is once its prefixes passed. */
  private passOn(chunk: Buffer): void {
    let flags: number;
    try {
      flags = this.scanner!.scan(chunk);
    } catch (error) {
      this.rejectFrame(error);
      return;
    }
    if ((flags & FLAG_COMPRESSED) !== 0) {
      // Passthrough is only for calls without a grpc-encoding: nothing says how this one inflates.
      this.refuseMessage(compressedMessageEncoding(this.x.req) as MessageRefusal);
      return;
    }
    this.queue.push({ flags: 0, data: chunk });
    this.queuedBytes += chunk.length;
    this.pump();
  }

  private readonly onRequestEnd = (): void => {
    if (this.finished) return;
    try {
      (this.scanner ?? this.frames!).end();
    } catch (error) {
      this.rejectFrame(error);
      return;
    }
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
    const frame = this.queue.shift();
    if (frame !== undefined) {
      this.queuedBytes -= frame.data.length;
      this.sending = true;
      this.x.req.pause();
      // Inflated one at a time, here in the queue's order: message N+1 never overtakes N.
      if (frame.flags & FLAG_COMPRESSED) {
        this.inflating = true;
        inflateMessage(this.encoding!, frame.data, this.x.settings.maxMessageBytes, this.onInflated);
      } else {
        this.send(frame.data);
      }
      return;
    }
    if (this.requestEnded && !this.halfClosed) {
      this.startUpstream();
      this.halfClosed = true;
      this.call!.end();
    } else if (!this.requestEnded) {
      this.x.req.resume();
    }
  }

  private send(message: Buffer): void {
    this.startUpstream();
    this.call!.write(message, this.onSent);
  }

  private readonly onInflated = (refusal: MessageRefusal | null, message: Buffer): void => {
    this.inflating = false;
    if (this.finished) return;
    if (refusal !== null) {
      this.refuseMessage(refusal);
    } else if (!this.share.reserve(message.length)) {
      // The inflated message is held here until the Pod's connection takes it: it counts.
      this.refuse(Status.RESOURCE_EXHAUSTED, 'the gateway is buffering too many request bytes; retry later', 'max_buffered_request_bytes');
    } else {
      this.send(message);
    }
  };

  private readonly onSent = (): void => {
    this.sending = false;
    // What is still reserved is what is held here and in the upstream's retry buffer.
    this.share.keep((this.frames?.pending ?? 0) + this.queuedBytes + this.call!.heldBytes);
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

  private refuseMessage(refusal: MessageRefusal): void {
    this.refuse(refusal.code, refusal.message, refusal.reason);
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
    if (this.scanner !== null) {
      // Passthrough: the Pod's DATA as it came, prefixes included (read by the http2 client).
      more = res.write(message);
      this.bytesOut += message.length;
    } else {
      more = writeMessage(res, message);
      this.bytesOut += FRAME_HEADER_BYTES + message.length;
    }
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
    // Trailers-only when nothing was sent: the trailing metadata rides in the only headers.
    endAnswer(res, status, res.headersSent ? null : this.headerBlock(status.metadata));
    this.logCall(status.code, status.details, endpoint, note);
  }

  /** The response headers (trailing metadata too in a trailers-only answer); no CORS exposure: no browser reads these. */
  private headerBlock(trailing: Metadata | null = null): OutgoingHttpHeaders {
    const headers = responseHeaderBlock(this.x.baseHeaders, this.x.contentType.response, this.responseHeaders, trailing, null);
    // What a gRPC server says: grpc-js clients stop compressing with an algorithm not listed.
    headers['grpc-accept-encoding'] = ACCEPTED_ENCODINGS;
    return headers;
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

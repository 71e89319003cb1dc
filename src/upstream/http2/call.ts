// One gRPC call over a node:http2 stream (grpc/grpc doc/PROTOCOL-HTTP2.md), with the methods
// PoolCall and Outbox use of grpc-js's low-level call. Message bytes are framed and parsed here
// and nothing else: no interceptors, no (de)serializers, no copy of a message that arrives in
// one DATA chunk.
//
// Whether the Pod may have processed a failed attempt is decided from HTTP/2 facts and set on
// the status (AttemptStatus.neverProcessed): no session or no stream id → never; the stream
// refused (RST_STREAM REFUSED_STREAM) or above a GOAWAY's last-stream-id → never; anything else
// once the stream exists (reset with another code, connection dropped, deadline) → maybe.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { type FrameError, frameHeader } from '../../protocol/frame.js';
import type { Attempt, AttemptListener } from '../attempt.js';
import type { AttemptStatus } from '../retry/transparent.js';
import { MessageBody, PassedBody, type ResponseBody } from './response-body.js';
import { grpcTimeout, httpStatusText, make, statusOfReset, statusOfTrailers } from './status.js';
import type { CallConnection, OpenedStream, SessionFacts } from './types.js';

const NO_CONNECTION = 'No connection established. Last error: ';
/** PROTOCOL-HTTP2.md's optional User-Agent: who called, for the Pod's logs (grpc-js sends its own). */
const USER_AGENT = 'grpc-web-gateway (node:http2)';
const REFUSED = 'Stream refused by server';

export class Http2Call implements Attempt {
  private listener: AttemptListener | null = null;
  private stream: ClientHttp2Stream | null = null;
  private facts: SessionFacts | null = null;
  /** Byte passthrough (Attempt.passThrough): framed bytes both ways, as they came. */
  private framed = false;
  private body: ResponseBody | null = null;
  private readonly inbox: Buffer[] = [];
  private readPending = false;
  private delivering = false;
  private httpStatus = 0;
  /** Set once; reported when every message before it was (at once when not OK). */
  private final: StatusObject | null = null;
  private statusOut = false;
  /** The response body has been read to its end ('end'): no message can follow. */
  private readsClosed = false;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;

  constructor(
    private readonly connection: CallConnection,
    private readonly method: string,
    private readonly deadline: number,
  ) {}

  passThrough(): void {
    this.framed = true;
  }

  start(metadata: Metadata, listener: AttemptListener): void {
    this.listener = listener;
    const max = this.connection.maxMessageBytes;
    this.body = this.framed ? new PassedBody(max) : new MessageBody(max);
    this.startedAt = Date.now();
    const headers = metadata.toHttp2Headers();
    headers[':method'] = 'POST';
    headers[':scheme'] = this.connection.scheme;
    headers[':path'] = this.method;
    headers[':authority'] = this.connection.authority;
    headers['content-type'] = 'application/grpc';
    headers.te = 'trailers';
    headers['user-agent'] = USER_AGENT;
    if (this.deadline !== Infinity) headers['grpc-timeout'] = grpcTimeout(this.deadline - Date.now());
    let opened: OpenedStream | string;
    try {
      opened = this.connection.openStream(headers);
    } catch (error) {
      // Node refused the headers themselves (the front end checks them; this is a backstop).
      this.end(make(Status.INTERNAL, `could not send the request headers: ${(error as Error).message}`, false));
      return;
    }
    if (typeof opened === 'string') {
      this.end(make(Status.UNAVAILABLE, NO_CONNECTION + opened, true));
      return;
    }
    const stream = opened.stream;
    this.stream = stream;
    this.facts = opened.session;
    stream.on('response', (h, flags) => this.onResponse(h, flags));
    stream.on('trailers', (h) => this.onTrailers(h));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('close', () => this.onClose());
    // Every error is followed by 'close', which decides the status.
    stream.on('error', noop);
    if (this.deadline !== Infinity) {
      this.timer = setTimeout(() => this.onDeadline(), Math.max(0, this.deadline - Date.now()));
    }
  }

  sendMessageWithContext(context: { callback?: () => void }, message: Buffer): void {
    const stream = this.stream;
    const done = context.callback;
    if (stream === null || this.final !== null || stream.writableEnded || stream.destroyed) {
      if (done) process.nextTick(done);
      return;
    }
    if (this.framed) {
      // The front end read every prefix against --max-message-size already.
      stream.write(message, done);
      return;
    }
    if (message.length > this.connection.maxMessageBytes) {
      this.cancelWithStatus(
        Status.RESOURCE_EXHAUSTED,
        `Sent message larger than max (${message.length} vs. ${this.connection.maxMessageBytes})`,
      );
      if (done) process.nextTick(done);
      return;
    }
    // Prefix and message leave in one writev (one DATA frame when they fit), the message uncopied.
    stream.cork();
    stream.write(frameHeader(0, message.length));
    stream.write(message, done);
    process.nextTick(uncork, stream);
  }

  halfClose(): void {
    const stream = this.stream;
    if (stream !== null && !stream.writableEnded && !stream.destroyed) stream.end();
  }

  startRead(): void {
    this.readPending = true;
    // Not from inside the caller: it may be in the middle of handling the previous message.
    if (this.inbox.length > 0) process.nextTick(() => this.deliver());
  }

  cancelWithStatus(code: number, details: string): void {
    this.end(make(code as Status, details, false));
  }

  getPeer(): string {
    return this.connection.peer;
  }

  // ---- stream events --------------------------------------------------------------------
  private onResponse(headers: IncomingHttpHeaders, flags: number): void {
    this.httpStatus = Number(headers[':status']);
    if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
      this.onTrailers(headers); // Trailers-Only
      return;
    }
    // Not a gRPC answer (a proxy's error page): its status comes with the end of the stream.
    if (this.httpStatus !== 200 || this.final !== null) return;
    let metadata: Metadata;
    try {
      metadata = Metadata.fromHttp2Headers(headers);
    } catch (error) {
      this.end(make(Status.UNKNOWN, (error as Error).message, false));
      return;
    }
    this.listener!.onReceiveMetadata(metadata);
  }

  private onData(chunk: Buffer): void {
    // Not `final`: trailers may have come before DATA a paused stream still held.
    if (this.statusOut) return;
    const queued = this.inbox.length;
    let compressed: boolean;
    try {
      compressed = this.body!.read(chunk, this.inbox);
    } catch (error) {
      this.failFrame(error as FrameError);
      return;
    }
    if (compressed) {
      // No grpc-accept-encoding is sent, so a server may not compress.
      this.end(make(Status.INTERNAL, 'Received a compressed message the gateway did not ask for', false));
      return;
    }
    if (this.inbox.length > queued) this.deliver();
  }

  private failFrame(error: FrameError): void {
    if (this.httpStatus !== 200) {
      this.end(httpStatusText(this.httpStatus));
    } else if (error.reason === 'too-large') {
      this.end(make(Status.RESOURCE_EXHAUSTED, `Received message larger than max: ${error.message}`, false));
    } else {
      this.end(make(Status.INTERNAL, `Received a malformed message frame: ${error.message}`, false));
    }
  }

  /**
   * Node emits trailers when they arrive, maybe before the DATA still held by a paused stream:
   * the status waits for 'end' (see maybeReport).
   */
  private onTrailers(headers: IncomingHttpHeaders): void {
    this.settle(statusOfTrailers(headers, this.httpStatus));
  }

  private onEnd(): void {
    this.readsClosed = true;
    if (this.body!.midMessage && (this.final === null || this.final.code === Status.OK)) {
      this.final = null;
      this.end(make(Status.INTERNAL, 'Response ended inside a message', false));
      return;
    }
    this.maybeReport();
  }

  private onClose(): void {
    this.clearTimer();
    if (this.final !== null) {
      // Closed before 'end' after an OK status: Node destroyed the stream (its session dropped, or
      // a reset) with messages still unread, so the answer is not whole and must not read OK.
      if (this.final.code === Status.OK && !this.readsClosed) {
        const stream = this.stream!;
        this.final = this.facts!.dropped
          ? make(Status.UNAVAILABLE, 'Connection dropped', false)
          : statusOfReset(stream.rstCode ?? constants.NGHTTP2_NO_ERROR, this.httpStatus);
      }
      this.readsClosed = true;
      this.maybeReport();
      return;
    }
    const stream = this.stream!;
    const facts = this.facts!;
    const id = stream.id;
    if (id === undefined || id === 0) {
      // nghttp2 never gave it an id: no HEADERS frame ever left.
      this.settle(make(Status.UNAVAILABLE, NO_CONNECTION + 'the stream could not be created', true));
    } else if (id > facts.goawayLastStreamId || stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) {
      this.settle(make(Status.UNAVAILABLE, REFUSED, true));
    } else if (facts.dropped) {
      this.settle(make(Status.UNAVAILABLE, 'Connection dropped', false));
    } else {
      this.settle(statusOfReset(stream.rstCode ?? constants.NGHTTP2_NO_ERROR, this.httpStatus));
    }
  }

  private onDeadline(): void {
    this.timer = null;
    if (this.final !== null) return;
    const waited = (Date.now() - this.startedAt) / 1000;
    this.end(make(Status.DEADLINE_EXCEEDED, `Deadline exceeded after ${waited.toFixed(3)}s,remote_addr=${this.connection.peer}`, false));
    this.connection.deadlinePassed(this.facts!);
  }

  // ---- delivery -------------------------------------------------------------------------
  /** Hands queued messages to the listener, one per startRead; holds the stream while they wait. */
  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    while (this.readPending && this.inbox.length > 0 && !this.statusOut) {
      this.readPending = false;
      this.listener!.onReceiveMessage(this.inbox.shift()!);
    }
    this.delivering = false;
    const stream = this.stream;
    if (stream !== null && !this.statusOut) {
      // Paused, Node stops acknowledging the Pod's DATA: HTTP/2 flow control is the backpressure.
      if (this.inbox.length > 0) stream.pause();
      else if (stream.isPaused()) stream.resume();
    }
    this.maybeReport();
  }

  /** The call's status from the Pod: reported once every message before it was delivered. */
  private settle(status: AttemptStatus): void {
    if (this.final !== null) return;
    // Every status this client reports carries the fact: what the Pod answered, or a reset of a
    // stream that existed, may have run the handler.
    status.neverProcessed ??= false;
    this.final = status;
    this.clearTimer();
    this.maybeReport();
  }

  /** The call's status from this side (cancel, deadline, bad frame): the stream is reset. */
  private end(status: StatusObject): void {
    if (this.final !== null) return;
    this.settle(status);
    const stream = this.stream;
    if (stream !== null && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
  }

  private maybeReport(): void {
    const status = this.final;
    if (status === null || this.statusOut) return;
    // An OK status waits for every message before it; any other is the call's end at once.
    if (status.code === Status.OK && (!this.readsClosed || this.inbox.length > 0)) return;
    this.statusOut = true;
    this.inbox.length = 0;
    // Let a reset stream drain whatever is still in flight, so its closing completes.
    this.stream?.resume();
    // Never from inside a caller's own method (start, cancelWithStatus): grpc-js does the same.
    process.nextTick(report, this.listener!, status);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}

function uncork(stream: ClientHttp2Stream): void {
  stream.uncork();
}

function report(listener: AttemptListener, status: StatusObject): void {
  listener.onReceiveStatus(status);
}

function noop(): void {}

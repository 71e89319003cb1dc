import { Metadata, status as Status, type Channel, type StatusObject } from '@grpc/grpc-js';
import type { Connection } from './connection.js';
import type { Endpoint } from './endpoint.js';
import type { CallListener, CallRequest, UpstreamCall } from './types.js';

/** grpc-js's low-level call (not exported by name): no interceptors, no (de)serializers. */
type Call = ReturnType<Channel['createCall']>;

/** What a call needs from its pool; narrow so the call logic can be read on its own. */
export interface CallHost {
  readonly name: string;
  readonly maxRetries: number;
  readonly connectTimeoutMs: number;
  /** A READY endpoint, avoiding `exclude` when possible. */
  pick(exclude: ReadonlySet<Endpoint> | undefined): Endpoint | undefined;
  /** Park the call until an endpoint is READY (the host calls `retryStart`). */
  park(call: PoolCall): void;
  unpark(call: PoolCall): void;
  attemptStarted(endpoint: Endpoint, call: PoolCall): void;
  attemptEnded(endpoint: Endpoint, call: PoolCall, code: number): void;
  retried(endpoint: Endpoint, status: StatusObject): void;
  readonly closing: boolean;
}

/**
 * A failure the Pod never acted on: nothing came back (no headers, no message) and the
 * transport, not the application, ended it: connection refused or reset, REFUSED_STREAM,
 * a stream above a GOAWAY's last id, or no connection at all. Safe to send elsewhere.
 */
function neverReachedApplication(status: StatusObject): boolean {
  if (status.code === Status.UNAVAILABLE) return true;
  // grpc-js: the picked connection died between the pick and the stream's creation.
  return status.code === Status.INTERNAL && status.details.startsWith('Failed to start HTTP/2 stream');
}

/**
 * One gateway call, over one or more attempts. Implements grpc-js's listener interface
 * itself, so an attempt allocates no closures.
 */
export class PoolCall implements UpstreamCall {
  private call: Call | null = null;
  private endpoint: Endpoint | null = null;
  private connection: Connection | null = null;
  private tried: Set<Endpoint> | undefined;
  private attempts = 0;
  private received = false;
  private finished = false;
  private cancelled = false;
  private parkTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: CallHost,
    private readonly request: CallRequest,
    private readonly listener: CallListener,
  ) {}

  start(): void {
    if (this.host.closing) {
      this.finish(Status.UNAVAILABLE, 'gateway is shutting down');
      return;
    }
    this.retryStart();
  }

  /** Start an attempt on a READY endpoint, or park until one is. */
  retryStart(): void {
    if (this.finished) return;
    if (Date.now() >= this.request.deadline) {
      this.finish(Status.DEADLINE_EXCEEDED, 'Deadline exceeded before the call reached a Pod');
      return;
    }
    const endpoint = this.host.pick(this.tried);
    const connection = endpoint?.pickConnection();
    if (!endpoint || !connection) {
      this.park();
      return;
    }
    this.unparkTimer();
    this.attempts++;
    this.endpoint = endpoint;
    this.connection = connection;
    connection.inFlight++;
    this.host.attemptStarted(endpoint, this);
    const call = connection.channel.createCall(this.request.method, this.request.deadline, null, null, null);
    this.call = call;
    call.start(this.request.metadata, this);
    call.sendMessageWithContext({}, this.request.message);
    call.halfClose();
    call.startRead();
  }

  private park(): void {
    if (this.parkTimer) return; // already parked; the pool woke us too early
    const wait = Math.min(this.host.connectTimeoutMs, this.request.deadline - Date.now());
    this.host.park(this);
    this.parkTimer = setTimeout(() => {
      this.parkTimer = null;
      this.host.unpark(this);
      if (Date.now() >= this.request.deadline) {
        this.finish(Status.DEADLINE_EXCEEDED, 'Deadline exceeded while waiting for a ready Pod');
      } else {
        this.finish(
          Status.UNAVAILABLE,
          `no ready Pod for upstream ${this.host.name} within ${this.host.connectTimeoutMs} ms`,
        );
      }
    }, Math.max(0, wait));
  }

  private unparkTimer(): void {
    if (this.parkTimer) {
      clearTimeout(this.parkTimer);
      this.parkTimer = null;
      this.host.unpark(this);
    }
  }

  // ---- grpc-js InterceptingListener -------------------------------------------------
  onReceiveMetadata(metadata: Metadata): void {
    this.received = true;
    this.listener.onHeaders(metadata);
  }

  onReceiveMessage(message: Buffer): void {
    this.received = true;
    this.listener.onMessage(message);
  }

  onReceiveStatus(status: StatusObject): void {
    const endpoint = this.endpoint!;
    this.connection!.inFlight--;
    this.call = null;
    this.host.attemptEnded(endpoint, this, status.code);
    if (
      !this.cancelled &&
      !this.received &&
      this.attempts <= this.host.maxRetries &&
      !this.host.closing &&
      neverReachedApplication(status) &&
      Date.now() < this.request.deadline
    ) {
      (this.tried ??= new Set()).add(endpoint);
      this.host.retried(endpoint, status);
      this.retryStart();
      return;
    }
    this.finished = true;
    this.listener.onStatus(status, endpoint.address);
  }

  // ---- UpstreamCall ---------------------------------------------------------------
  requestNext(): void {
    this.call?.startRead();
  }

  cancel(): void {
    this.cancelWith(Status.CANCELLED, 'Cancelled by the client');
  }

  /** Also used by the pool to end calls on a Pod whose drain timed out. */
  cancelWith(code: Status, details: string): void {
    if (this.finished) return;
    this.cancelled = true;
    if (this.call) {
      this.call.cancelWithStatus(code, details); // onReceiveStatus follows
    } else {
      this.unparkTimer();
      this.finish(code, details);
    }
  }

  private finish(code: Status, details: string): void {
    if (this.finished) return;
    this.finished = true;
    this.listener.onStatus({ code, details, metadata: new Metadata() }, this.endpoint?.address);
  }
}

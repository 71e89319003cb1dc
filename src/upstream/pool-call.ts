import { status as Status, type Channel, type Metadata, type StatusObject } from '@grpc/grpc-js';
import type { Connection } from './connection.js';
import type { Endpoint } from './endpoint.js';
import { backoffMs, coversMethod, neverProcessed, serverPushback, type RetryPolicy } from './retry/index.js';
import { clientStatus, gatewayStatus } from './status-text.js';
import type { CallListener, CallRequest, UpstreamCall } from './types.js';

/** grpc-js's low-level call (not exported by name): no interceptors, no (de)serializers. */
type Call = ReturnType<Channel['createCall']>;

/** Why a call was sent again: the Pod never processed it, or the user's retry policy. */
export type RetryKind = 'transparent' | 'policy';

/** What a call needs from its pool; narrow so the call logic can be read on its own. */
export interface CallHost {
  readonly name: string;
  /** Transparent retries allowed per call (--max-retries). */
  readonly maxRetries: number;
  readonly retryPolicy: RetryPolicy | null;
  readonly connectTimeoutMs: number;
  readonly closing: boolean;
  /** The status text of a call that found no Pod in rotation in time. */
  noReadyBackendText(): string;
  /** A call in rotation, avoiding `exclude` when possible. */
  pick(exclude: ReadonlySet<Endpoint> | undefined): Endpoint | undefined;
  /** The call has started / ended (whatever happened to its attempts). */
  callStarted(call: PoolCall): void;
  callEnded(call: PoolCall): void;
  /** Park the call until an endpoint is in rotation (the host calls `retryStart`). */
  park(call: PoolCall): void;
  unpark(call: PoolCall): void;
  /** An attempt is on / off `endpoint` (which keeps its own counters). */
  attemptStarted(endpoint: Endpoint, call: PoolCall): void;
  attemptEnded(endpoint: Endpoint, call: PoolCall): void;
  /** A slot in the retry budget for a policy retry; false when the budget is spent. */
  acquireRetry(): boolean;
  releaseRetry(): void;
  retried(endpoint: Endpoint, status: StatusObject, kind: RetryKind): void;
}

/**
 * One gateway call, over one or more attempts. Implements grpc-js's listener interface
 * itself, so an attempt allocates no closures.
 *
 * An attempt is sent again only when the Pod provably never processed it (./retry/transparent.ts),
 * or when the user's retry policy covers the method and the status, nothing came back before the
 * status, and the retry budget allows it.
 */
export class PoolCall implements UpstreamCall {
  private call: Call | null = null;
  private endpoint: Endpoint | null = null;
  private connection: Connection | null = null;
  private tried: Set<Endpoint> | undefined;
  private transparentRetries = 0;
  /** Attempts the retry policy has made, the first included. */
  private policyAttempts = 1;
  private holdsRetrySlot = false;
  /** Response headers or a message came back: the Pod processed the call. */
  private received = false;
  private finished = false;
  private cancelled = false;
  private parkTimer: NodeJS.Timeout | null = null;
  /** The park timer stands for the call's own deadline (not --connect-timeout). */
  private parkedUntilDeadline = false;
  private backoffTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: CallHost,
    private readonly request: CallRequest,
    private readonly listener: CallListener,
  ) {}

  start(): void {
    this.host.callStarted(this);
    if (this.host.closing) {
      this.finish(Status.UNAVAILABLE, 'gateway is shutting down');
      return;
    }
    this.retryStart();
  }

  /** Start an attempt on an endpoint in rotation, or park until one is. */
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
    this.endpoint = endpoint;
    this.connection = connection;
    endpoint.attemptStarted(connection);
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
    const untilDeadline = this.request.deadline - Date.now();
    // Decided now, not when the timer fires: timers fire a little early or late, and a wait
    // cut by the call's own deadline must end DEADLINE_EXCEEDED every time.
    this.parkedUntilDeadline = untilDeadline <= this.host.connectTimeoutMs;
    this.host.park(this);
    this.parkTimer = setTimeout(
      () => {
        this.parkTimer = null;
        this.host.unpark(this);
        if (this.parkedUntilDeadline) {
          this.finish(Status.DEADLINE_EXCEEDED, 'Deadline exceeded while waiting for a ready Pod');
        } else {
          // The upstream's name stays in the log, not in what the client reads.
          this.finish(
            Status.UNAVAILABLE,
            this.host.noReadyBackendText(),
            `no Pod of upstream ${this.host.name} in rotation within --connect-timeout (${this.host.connectTimeoutMs} ms)`,
          );
        }
      },
      Math.max(0, Math.min(this.host.connectTimeoutMs, untilDeadline)),
    );
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
    endpoint.attemptEnded(this.connection!, status.code);
    this.call = null;
    this.host.attemptEnded(endpoint, this);
    if (!this.cancelled && !this.host.closing && Date.now() < this.request.deadline && this.retry(endpoint, status)) {
      return;
    }
    const shown = clientStatus(status, this.received);
    this.end(shown.status, endpoint.address, shown.note);
  }

  /** Sends the call again if that is safe or asked for; false when the status stands. */
  private retry(endpoint: Endpoint, status: StatusObject): boolean {
    if (neverProcessed(status, this.received)) {
      if (this.transparentRetries >= this.host.maxRetries) return false;
      this.transparentRetries++;
      (this.tried ??= new Set()).add(endpoint);
      this.host.retried(endpoint, status, 'transparent');
      this.retryStart();
      return true;
    }
    const policy = this.host.retryPolicy;
    if (
      policy === null ||
      this.received ||
      !policy.codes.has(status.code) ||
      this.policyAttempts >= policy.maxAttempts ||
      !coversMethod(policy, this.request.method)
    ) {
      return false;
    }
    const pushback = serverPushback(status.metadata);
    if (pushback === 'stop') return false;
    const delay = pushback ?? backoffMs(policy, this.policyAttempts);
    if (Date.now() + delay >= this.request.deadline) return false;
    if (!this.holdsRetrySlot) {
      if (!this.host.acquireRetry()) return false;
      this.holdsRetrySlot = true;
    }
    this.policyAttempts++;
    (this.tried ??= new Set()).add(endpoint);
    this.host.retried(endpoint, status, 'policy');
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      this.retryStart();
    }, delay);
    return true;
  }

  /** An attempt is on a Pod now (not parked, not waiting out a retry backoff). */
  get onPod(): boolean {
    return this.call !== null;
  }

  // ---- UpstreamCall ---------------------------------------------------------------
  requestNext(): void {
    this.call?.startRead();
  }

  cancel(): void {
    this.cancelWith(Status.CANCELLED, 'Cancelled by the client');
  }

  /** Also used by the pool to end calls on a Pod whose drain timed out, and at shutdown. */
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

  /** Ends the call with a status of the gateway's own; `note` is for the log only. */
  private finish(code: Status, details: string, note?: string): void {
    this.end(gatewayStatus(code, details), this.endpoint?.address, note);
  }

  private end(status: StatusObject, endpoint: string | undefined, note?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = null;
    }
    if (this.holdsRetrySlot) {
      this.holdsRetrySlot = false;
      this.host.releaseRetry();
    }
    this.host.callEnded(this);
    this.listener.onStatus(status, endpoint, note);
  }
}

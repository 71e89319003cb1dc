import { status as Status, type Metadata, type StatusObject } from '@grpc/grpc-js';
import type { Attempt, PodConnection } from './attempt.js';
import type { Endpoint } from './endpoint.js';
import { Outbox } from './outbox.js';
import { backoffMs, coversMethod, neverProcessed, serverPushback, type RetryPolicy } from './retry/index.js';
import { clientStatus, gatewayStatus } from './status-text.js';
import type { CallListener, CallRequest, StreamCallRequest, UpstreamStreamCall } from './types.js';

/** Why a call was sent again: the Pod never processed it, or the user's retry policy. */
export type RetryKind = 'transparent' | 'policy';

/** What a pool's calls share: fixed for the pool's life. */
export interface CallSettings {
  /** The upstream's name: for the log, never for the client. */
  readonly name: string;
  /** Transparent retries allowed per call (--max-retries). */
  readonly maxRetries: number;
  readonly retryPolicy: RetryPolicy | null;
  readonly connectTimeoutMs: number;
  /** Request bytes of a streamed request kept for a retry (--retry-buffer-size). */
  readonly retryBufferBytes: number;
}

/**
 * Where a call is. 'new' before it starts and 'ended' after; 'waiting' when it is neither parked
 * nor on a Pod (between attempts, in a retry backoff); an Endpoint while an attempt runs there.
 */
export type CallPlace = 'new' | 'waiting' | 'parked' | Endpoint | 'ended';

/** What a call needs from its pool. */
export interface CallHost {
  readonly callSettings: CallSettings;
  readonly closing: boolean;
  /** The status text of a call that found no Pod in rotation in time. */
  noReadyBackendText(): string;
  /** An endpoint in rotation, avoiding `exclude` when possible; undefined when none is. */
  pick(exclude: ReadonlySet<Endpoint> | undefined): Endpoint | undefined;
  /**
   * The call went from one place to another. The pool keeps its books from these moves alone
   * (calls in progress, parked calls it wakes with `retryStart`, attempts per Pod, drains).
   */
  moved(call: PoolCall, from: CallPlace, to: CallPlace): void;
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
 * status, and the retry budget allows it — and, either way, only while every request message sent
 * so far is still at hand (./outbox.ts).
 */
export class PoolCall implements UpstreamStreamCall {
  private call: Attempt | null = null;
  private place: CallPlace = 'new';
  private endpoint: Endpoint | null = null;
  private connection: PodConnection | null = null;
  private readonly outbox: Outbox;
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

  /** A CallRequest carries its one message; a StreamCallRequest's follow through `write`. */
  constructor(
    private readonly host: CallHost,
    private readonly request: StreamCallRequest | CallRequest,
    private readonly listener: CallListener,
  ) {
    this.outbox = 'message' in request ? Outbox.of(request.message) : new Outbox(host.callSettings.retryBufferBytes);
  }

  start(): void {
    this.moveTo('waiting');
    if (this.host.closing) {
      this.finish(Status.UNAVAILABLE, 'gateway is shutting down');
      return;
    }
    this.retryStart();
  }

  private moveTo(to: CallPlace): void {
    const from = this.place;
    this.place = to;
    this.host.moved(this, from, to);
  }

  /** Start an attempt on an endpoint in rotation, or park until one is. */
  retryStart(): void {
    if (this.finished) return;
    if (Date.now() >= this.request.deadline) {
      this.unparkTimer();
      this.finish(Status.DEADLINE_EXCEEDED, 'Deadline exceeded before the call reached a Pod');
      return;
    }
    const endpoint = this.host.pick(this.tried);
    const connection = endpoint?.pickConnection();
    if (!endpoint || !connection) {
      this.park();
      return;
    }
    this.clearParkTimer();
    this.endpoint = endpoint;
    this.connection = connection;
    endpoint.attemptStarted(connection);
    this.moveTo(endpoint);
    const call = connection.channel.createCall(this.request.method, this.request.deadline, null, null, null);
    this.call = call;
    if (this.request.framed) call.passThrough!();
    call.start(this.request.metadata, this);
    this.outbox.attach(call);
    call.startRead();
  }

  private park(): void {
    if (this.parkTimer) return; // already parked; the pool woke us too early
    const untilDeadline = this.request.deadline - Date.now();
    const connectTimeoutMs = this.host.callSettings.connectTimeoutMs;
    // Decided now, not when the timer fires: timers fire a little early or late, and a wait
    // cut by the call's own deadline must end DEADLINE_EXCEEDED every time.
    this.parkedUntilDeadline = untilDeadline <= connectTimeoutMs;
    this.moveTo('parked');
    this.parkTimer = setTimeout(
      () => {
        this.parkTimer = null;
        this.moveTo('waiting');
        if (this.parkedUntilDeadline) {
          this.finish(Status.DEADLINE_EXCEEDED, 'Deadline exceeded while waiting for a ready Pod');
        } else {
          // The upstream's name stays in the log, not in what the client reads.
          this.finish(
            Status.UNAVAILABLE,
            this.host.noReadyBackendText(),
            `no Pod of upstream ${this.host.callSettings.name} in rotation within --connect-timeout (${connectTimeoutMs} ms)`,
          );
        }
      },
      Math.max(0, Math.min(connectTimeoutMs, untilDeadline)),
    );
  }

  private clearParkTimer(): void {
    if (this.parkTimer) {
      clearTimeout(this.parkTimer);
      this.parkTimer = null;
    }
  }

  private unparkTimer(): void {
    if (this.parkTimer) {
      this.clearParkTimer();
      this.moveTo('waiting');
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
    this.outbox.detach();
    this.moveTo('waiting');
    if (!this.cancelled && !this.host.closing && Date.now() < this.request.deadline && this.retry(endpoint, status)) {
      return;
    }
    const shown = clientStatus(status, this.received);
    this.conclude(shown.status, endpoint.address, shown.note);
  }

  /** Sends the call again if that is safe or asked for; false when the status stands. */
  private retry(endpoint: Endpoint, status: StatusObject): boolean {
    // Part of the request is gone: another Pod could not be given all of it.
    if (!this.outbox.replayable) return false;
    const settings = this.host.callSettings;
    if (neverProcessed(status, this.received)) {
      if (this.transparentRetries >= settings.maxRetries) return false;
      this.transparentRetries++;
      (this.tried ??= new Set()).add(endpoint);
      this.host.retried(endpoint, status, 'transparent');
      this.retryStart();
      return true;
    }
    const policy = settings.retryPolicy;
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

  // ---- UpstreamStreamCall -----------------------------------------------------------
  requestNext(): void {
    this.call?.startRead();
  }

  write(message: Buffer, sent: () => void): void {
    if (!this.finished) this.outbox.push(message, sent);
  }

  end(): void {
    if (!this.finished) this.outbox.end();
  }

  get heldBytes(): number {
    return this.outbox.heldBytes;
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
    this.conclude(gatewayStatus(code, details), this.endpoint?.address, note);
  }

  private conclude(status: StatusObject, endpoint: string | undefined, note?: string): void {
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
    this.moveTo('ended');
    this.listener.onStatus(status, endpoint, note);
  }
}

// The narrow interface between a front end (today gRPC-Web over HTTP/1.1) and the Pods.
// Nothing here knows about HTTP/1.1 or gRPC-Web: message bytes in, message bytes out.
import type { Metadata, StatusObject } from '@grpc/grpc-js';

export interface StreamCallRequest {
  /** gRPC path, "/package.Service/Method". */
  method: string;
  metadata: Metadata;
  /** Absolute deadline in ms since the epoch; Infinity for none. */
  deadline: number;
  /**
   * Byte passthrough (only where Upstream.passthrough): `write` takes, and `onMessage` gets,
   * length-prefixed bytes as they came off the wire, cut anywhere, instead of single messages.
   */
  framed?: boolean;
}

/** A call whose request is one message (unary and server streaming). */
export interface CallRequest extends StreamCallRequest {
  /** The request message, kept for retries. */
  message: Buffer;
}

export interface CallListener {
  /** Response headers from the Pod. Called at most once, before any message. */
  onHeaders(metadata: Metadata): void;
  /**
   * One response message. The next one is delivered only after UpstreamCall.requestNext():
   * that is how backpressure from the browser reaches the Pod.
   */
  onMessage(message: Buffer): void;
  /**
   * The call ended. Called exactly once, last. `endpoint` is the Pod that served it, if any.
   * `note`: what happened, for the log only, when the status's details were kept plain for the
   * client (they never name an upstream or a Pod address).
   */
  onStatus(status: StatusObject, endpoint: string | undefined, note?: string): void;
}

export interface UpstreamCall {
  /** Ask for the next response message (call once per onMessage, when ready for more). */
  requestNext(): void;
  /** Cancel: the Pod sees RST_STREAM(CANCEL); onStatus follows with CANCELLED. */
  cancel(): void;
}

/** A call whose request is a stream of messages (client streaming and bidi), sent as they come. */
export interface UpstreamStreamCall extends UpstreamCall {
  /**
   * Send one request message. `sent` is called once the Pod's connection has taken it: write the
   * next message only then (that is how backpressure from the Pod reaches the client).
   */
  write(message: Buffer, sent: () => void): void;
  /** No more request messages (half-close). */
  end(): void;
  /** Request bytes held for a possible retry on another Pod (bounded by --retry-buffer-size). */
  readonly heldBytes: number;
}

export type EndpointState = 'IDLE' | 'CONNECTING' | 'READY' | 'TRANSIENT_FAILURE' | 'SHUTDOWN';

/** One Pod address as the admin views see it. */
export interface EndpointSnapshot {
  address: string;
  state: EndpointState;
  draining: boolean;
  /** False while active health checks fail (frozen, gone, or NOT_SERVING): out of rotation. */
  healthy: boolean;
  /**
   * Takes new calls: READY, not draining, and healthy — or, when every READY Pod fails its
   * health checks, unhealthy too (panic). Computed by the pool; every view reads this.
   */
  inRotation: boolean;
  connections: number;
  calls: number;
  failures: number;
  inFlight: number;
  /** ms since the epoch */
  firstSeen: number;
  /** The Pod's zone, when discovery knows it (k8s:/// targets: the EndpointSlice's zone). */
  zone?: string;
}

export interface UpstreamSnapshot {
  name: string;
  target: string;
  kind: 'static' | 'dns' | 'k8s';
  balancer: string;
  /** --prefer-zone, when given. */
  preferZone?: string;
  endpoints: EndpointSnapshot[];
  /** Every Pod in rotation fails its health checks: calls go to them anyway (Envoy's panic mode). */
  panic: boolean;
  /** Calls sent again to another Pod: transparent retries (never processed) plus policy retries. */
  retries: number;
  /** Of those, retries made by the --retry-on policy. */
  policyRetries: number;
  /** Policy retries not made because the retry budget was spent. */
  retryBudgetExhausted: number;
  resolver: ResolverStats;
}

export interface ResolverStats {
  lookups: number;
  failures: number;
  /** ms since the epoch, 0 when none yet */
  lastSuccess: number;
  lastError?: string;
  /**
   * DNS: rounds in which this record type failed while another answered (its last good addresses
   * were kept). Absent for resolvers without record types.
   */
  familyFailures?: Partial<Record<'A' | 'AAAA', number>>;
  /**
   * k8s:///: the API's last answer was a failure (unreachable, 401, 403...): `lastError` is the
   * reason now, not history. Absent for resolvers that do not track it.
   */
  failing?: boolean;
}

export interface Upstream {
  readonly name: string;
  call(request: CallRequest, listener: CallListener): UpstreamCall;
  /** Start a call whose request messages follow through UpstreamStreamCall.write. */
  callStream(request: StreamCallRequest, listener: CallListener): UpstreamStreamCall;
  /** Its Pods' client passes framed bytes through (StreamCallRequest.framed): the http2 client. */
  readonly passthrough?: boolean;
  /** At least one endpoint is in rotation. */
  isReady(): boolean;
  snapshot(): UpstreamSnapshot;
  /** Stop resolving, let in-flight calls finish up to drainMs, then close every connection. */
  close(drainMs: number): Promise<void>;
}

// ---- resolvers -------------------------------------------------------------

export interface ResolvedAddress {
  host: string;
  port: number;
  /**
   * Still known to discovery but going away (an EndpointSlice's terminating Pod that still serves):
   * no new calls, in-flight calls finish — what the pool does for an address that left the set.
   * Absent: false.
   */
  draining?: boolean;
  /** Where the Pod runs (an EndpointSlice endpoint's zone), for --prefer-zone and the admin views. */
  zone?: string;
}

export interface ResolverListener {
  /**
   * The full current set of addresses (not a delta), draining ones included. Never called with a
   * set that a failure emptied.
   */
  onAddresses(addresses: ResolvedAddress[]): void;
  /** A lookup failed; the previous set stays in force. */
  onError(error: Error): void;
}

export interface Resolver {
  start(listener: ResolverListener): void;
  /** Resolve again soon (e.g. an endpoint's connection failed). Rate-limited by the resolver. */
  refresh(): void;
  stop(): void;
  stats(): ResolverStats;
}

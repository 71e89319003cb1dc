// The narrow interface between a front end (today gRPC-Web over HTTP/1.1) and the Pods.
// Nothing here knows about HTTP/1.1 or gRPC-Web: message bytes in, message bytes out.
import type { Metadata, StatusObject } from '@grpc/grpc-js';

export interface CallRequest {
  /** gRPC path, "/package.Service/Method". */
  method: string;
  metadata: Metadata;
  /** Absolute deadline in ms since the epoch; Infinity for none. */
  deadline: number;
  /** The request message (gRPC-Web calls are unary or server streaming: exactly one), kept for retries. */
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
  /** The call ended. Called exactly once, last. `endpoint` is the Pod that served it, if any. */
  onStatus(status: StatusObject, endpoint: string | undefined): void;
}

export interface UpstreamCall {
  /** Ask for the next response message (call once per onMessage, when ready for more). */
  requestNext(): void;
  /** Cancel: the Pod sees RST_STREAM(CANCEL); onStatus follows with CANCELLED. */
  cancel(): void;
}

export type EndpointState = 'IDLE' | 'CONNECTING' | 'READY' | 'TRANSIENT_FAILURE' | 'SHUTDOWN';

/** One Pod address as the admin views see it. */
export interface EndpointSnapshot {
  address: string;
  state: EndpointState;
  draining: boolean;
  /** False while active health checks fail (frozen, gone, or NOT_SERVING): out of rotation. */
  healthy: boolean;
  connections: number;
  calls: number;
  failures: number;
  inFlight: number;
  /** ms since the epoch */
  firstSeen: number;
}

export interface UpstreamSnapshot {
  name: string;
  target: string;
  kind: 'static' | 'dns';
  balancer: string;
  endpoints: EndpointSnapshot[];
  /** Calls sent again to another Pod after one that never received them. */
  retries: number;
  resolver: ResolverStats;
}

export interface ResolverStats {
  lookups: number;
  failures: number;
  /** ms since the epoch, 0 when none yet */
  lastSuccess: number;
  lastError?: string;
}

export interface Upstream {
  readonly name: string;
  call(request: CallRequest, listener: CallListener): UpstreamCall;
  /** At least one endpoint is READY. */
  isReady(): boolean;
  snapshot(): UpstreamSnapshot;
  /** Stop resolving, let in-flight calls finish up to drainMs, then close every connection. */
  close(drainMs: number): Promise<void>;
}

// ---- resolvers -------------------------------------------------------------

export interface ResolvedAddress {
  host: string;
  port: number;
}

export interface ResolverListener {
  /** The full current set of addresses (not a delta). Never called with a set that a failure emptied. */
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

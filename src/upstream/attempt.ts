// What the pool needs of one Pod connection and of one attempt on it, whichever client speaks
// to the Pod: grpc-js (a Channel's createCall) or the gateway's own node:http2 transport
// (./http2/). PoolCall, Outbox, Endpoint, the health check and the TLS diagnosis use these names
// only, so both clients keep one copy of the pool's logic.
import type { Metadata, StatusObject } from '@grpc/grpc-js';
import type { EndpointState } from './types.js';

export interface AttemptListener {
  onReceiveMetadata(metadata: Metadata): void;
  onReceiveMessage(message: Buffer): void;
  onReceiveStatus(status: StatusObject): void;
}

/** One attempt of a call on one connection: grpc-js's low-level call, or the http2 one. */
export interface Attempt {
  start(metadata: Metadata, listener: AttemptListener): void;
  /** `callback`: the connection has taken the message (send the next one then). */
  sendMessageWithContext(context: { callback?: () => void }, message: Buffer): void;
  halfClose(): void;
  /** The listener may take one more message. */
  startRead(): void;
  cancelWithStatus(code: number, details: string): void;
  getPeer(): string;
  /**
   * Before start: from now on a "message" both ways is length-prefixed bytes as they came, cut
   * anywhere (StreamCallRequest.framed). Only the http2 client has it.
   */
  passThrough?(): void;
}

/** Makes attempts: grpc-js's Channel fits as it is. */
export interface AttemptFactory {
  createCall(method: string, deadline: number, host: null, parent: null, flags: null): Attempt;
}

/** One HTTP/2 connection to one Pod, as its Endpoint sees it. */
export interface PodConnection {
  readonly channel: AttemptFactory;
  readonly state: EndpointState;
  /** Calls in progress on this connection. */
  readonly inFlight: number;
  /** The UpstreamCredentials generation it was made with: older ones are replaced (endpoint.ts). */
  generation: number;
  attemptStarted(): void;
  attemptEnded(): void;
  close(): void;
}

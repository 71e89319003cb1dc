// What one gRPC call (./call.ts) needs of the connection it runs on (./session.ts).
import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';

/** What a call needs of its connection (./session.ts). */
export interface CallConnection {
  readonly scheme: 'http' | 'https';
  readonly authority: string;
  readonly peer: string;
  readonly maxMessageBytes: number;
  /** A stream on the current session, or why there is none (the last connection error). */
  openStream(headers: OutgoingHttpHeaders): OpenedStream | string;
  /** A call's deadline passed on that session: the connection checks the session still answers. */
  deadlinePassed(session: SessionFacts): void;
}

export interface OpenedStream {
  stream: ClientHttp2Stream;
  session: SessionFacts;
}

/** What the session learnt that decides whether a stream was processed. */
export interface SessionFacts {
  /** A GOAWAY's last-stream-id; Infinity until one arrives. */
  goawayLastStreamId: number;
  /** The session was destroyed (socket error, keepalive timeout, a GOAWAY with an error code): its open streams ended with it. */
  dropped: boolean;
}

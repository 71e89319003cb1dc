// One HTTP/2 connection to one Pod on node:http2, in the role grpc-js's Channel plays for
// ../connection.ts: connect at once, report IDLE/CONNECTING/READY/TRANSIENT_FAILURE/SHUTDOWN,
// reconnect with backoff, ping only while calls are in flight, and honour GOAWAY (no new
// streams on that session, the streams it covers finish there, new calls get a new session).
import { connect, type ClientHttp2Session, type ClientSessionOptions, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import type { AttemptFactory, PodConnection } from '../attempt.js';
import type { EndpointState } from '../types.js';
import { Http2Call } from './call.js';
import type { CallConnection, OpenedStream, SessionFacts } from './types.js';
import type { PodTlsOptions } from './tls.js';

export interface SessionSettings {
  /** --connect-timeout: a connection attempt with no Pod SETTINGS by then is abandoned (and retried with backoff). */
  connectTimeoutMs: number;
  keepalivePingIntervalMs: number;
  keepalivePingTimeoutMs: number;
  maxMessageBytes: number;
  /** The last stream id a session may use before it is replaced; HTTP/2's own limit unless a test lowers it. */
  lastStreamId?: number;
}

/** grpc-js's reconnect backoff (connection-backoff.md): 250 ms, ×1.6 with ±20% jitter, at most 5 s. */
const INITIAL_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;
const BACKOFF_MULTIPLIER = 1.6;
const BACKOFF_JITTER = 0.2;

/** grpc-js's word for a session that closed before HTTP/2 began; ../tls-failure.ts reads it. */
const CLOSED_BEFORE_HTTP2 = 'Failed to connect';

/** HTTP/2 stream ids are 31 bits; a client's are odd, so this is the last one (RFC 9113, 5.1.1). */
const LAST_STREAM_ID = 2 ** 31 - 1;

/** Node's errors for a stream request() could not create on the session. */
const NO_STREAM_ERRORS = new Set(['ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_OUT_OF_STREAMS']);

/** The facts a session's calls read when their stream closes (see ./call.ts). */
class Facts implements SessionFacts {
  goawayLastStreamId = Infinity;
  constructor(readonly session: ClientHttp2Session) {}
  get dropped(): boolean {
    return this.session.destroyed;
  }
}

export class Http2Connection implements PodConnection, AttemptFactory, CallConnection {
  readonly channel: AttemptFactory = this;
  readonly scheme: 'http' | 'https';
  readonly authority: string;
  readonly peer: string;
  readonly maxMessageBytes: number;
  /** The UpstreamCredentials generation it was made with: older ones are replaced (endpoint.ts). */
  generation = 0;
  private readonly url: string;
  private current: EndpointState = 'IDLE';
  private facts: Facts | null = null;
  private calls = 0;
  private closed = false;
  private lastError = CLOSED_BEFORE_HTTP2;
  private backoffMs = INITIAL_BACKOFF_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private pingDeadline: NodeJS.Timeout | null = null;
  private lastPingAt = 0;

  constructor(
    host: string,
    port: number,
    private readonly settings: SessionSettings,
    private readonly tls: PodTlsOptions | null,
    private readonly onStateChange: (connection: Http2Connection) => void,
  ) {
    const literal = host.includes(':') ? `[${host}]` : host;
    this.peer = `${literal}:${port}`;
    this.scheme = tls ? 'https' : 'http';
    this.url = `${this.scheme}://${this.peer}`;
    this.authority = tls?.authority ?? this.peer;
    this.maxMessageBytes = settings.maxMessageBytes;
    // Connect now, so the first calls to a new Pod do not pay the handshake.
    this.connect();
  }

  get state(): EndpointState {
    return this.current;
  }

  get inFlight(): number {
    return this.calls;
  }

  attemptStarted(): void {
    if (this.calls++ === 0) this.schedulePing();
  }

  attemptEnded(): void {
    if (--this.calls === 0) this.stopPings();
  }

  createCall(method: string, deadline: number): Http2Call {
    return new Http2Call(this, method, deadline);
  }

  openStream(headers: OutgoingHttpHeaders): OpenedStream | string {
    const facts = this.facts;
    if (this.current !== 'READY' || facts === null) return this.lastError;
    const session = facts.session;
    // Gone a moment before its 'close' event: no stream can exist on it.
    if (session.destroyed || session.closed) return 'the connection closed';
    try {
      const stream = session.request(headers, { endStream: false });
      // A long-lived session runs out of stream ids (at 10k calls/s, in about a day): Node then
      // destroys each new stream (ERR_HTTP2_OUT_OF_STREAMS, no id: never processed, see ./call.ts)
      // and would do so for every call after. The session that spent its last id is replaced now.
      if (!((stream.id ?? LAST_STREAM_ID) < (this.settings.lastStreamId ?? LAST_STREAM_ID))) {
        this.retire(facts);
        // Closed now, Node would refuse this stream before its HEADERS leave: once it is done.
        if (stream.id === undefined) session.close();
        else stream.once('close', () => session.close());
      }
      return { stream, session: facts };
    } catch (error) {
      // Node refuses a stream it cannot create (no stream ids left, a session going away): none was made.
      if (NO_STREAM_ERRORS.has((error as { code?: string }).code ?? '')) return (error as Error).message;
      throw error; // headers Node will not send: the caller reports it
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stopPings();
    // Graceful: streams still open finish (the pool cancels what must not).
    this.facts?.session.close();
    this.facts = null;
    this.current = 'SHUTDOWN';
  }

  private setState(next: EndpointState): void {
    if (this.current === next || this.closed) return;
    this.current = next;
    this.onStateChange(this);
  }

  private connect(): void {
    this.reconnectTimer = null;
    if (this.closed) return;
    const options: ClientSessionOptions | SecureClientSessionOptions = {
      settings: { enablePush: false },
      // Memory is bounded by the gateway's own limits (calls in flight, buffered bytes, flow
      // control windows); nghttp2's default 10 MB cap would only fail healthy large messages.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      ...this.tls?.connectOptions,
    };
    const session = connect(this.url, options);
    const facts = new Facts(session);
    this.facts = facts;
    let ready = false;
    let error = CLOSED_BEFORE_HTTP2;
    let over = false;
    const gone = (): void => {
      if (over) return;
      over = true;
      clearTimeout(handshake);
      if (ready) {
        this.retire(facts);
      } else {
        this.lastError = error;
        if (this.facts === facts) this.failed();
      }
    };
    // Node sets no timeout of its own: a Pod whose SYNs vanish, or that accepts TCP and then says
    // nothing (a frozen process, a TLS server that never answers), would keep this CONNECTING for
    // as long as the kernel or the Pod likes. As gRPC's connection-backoff.md: the attempt gets the
    // longer of the connect timeout and the current backoff.
    const handshakeMs = Math.max(this.settings.connectTimeoutMs, this.backoffMs);
    const handshake = setTimeout(() => {
      error = `${CLOSED_BEFORE_HTTP2}: no HTTP/2 SETTINGS from the Pod within ${handshakeMs} ms`;
      session.destroy();
      gone();
    }, handshakeMs);
    handshake.unref();
    session.once('remoteSettings', () => {
      clearTimeout(handshake);
      ready = true;
      this.backoffMs = INITIAL_BACKOFF_MS;
      if (this.facts === facts) this.setState('READY');
    });
    session.on('goaway', (_code: number, lastStreamID: number) => {
      facts.goawayLastStreamId = lastStreamID;
      this.retire(facts);
    });
    session.on('error', (e: Error) => {
      error = e.message;
    });
    session.once('close', gone);
    // Node destroys the session on a socket error (a TLS alert: "certificate required") without
    // emitting 'close' while the socket lingers: the socket's own error is the one to read.
    session.socket.once('error', (e: Error) => {
      error = e.message;
      session.destroy();
      gone();
    });
    session.unref();
    this.setState('CONNECTING');
  }

  /** The session takes no new calls (GOAWAY or gone): the next calls get a new one, now. */
  private retire(facts: Facts): void {
    if (this.facts !== facts || this.closed) return;
    this.facts = null;
    this.setState('IDLE');
    this.connect();
  }

  private failed(): void {
    this.facts = null;
    this.setState('TRANSIENT_FAILURE');
    const jitter = 1 + BACKOFF_JITTER * (Math.random() * 2 - 1);
    this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs * jitter);
    this.reconnectTimer.unref();
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * BACKOFF_MULTIPLIER);
  }

  // ---- keepalive: only while calls are in flight, as grpc-js with permit_without_calls 0 ----
  private schedulePing(): void {
    if (this.pingTimer !== null || this.closed) return;
    this.pingTimer = setTimeout(() => this.ping(), this.settings.keepalivePingIntervalMs);
    this.pingTimer.unref();
  }

  private ping(): void {
    this.pingTimer = null;
    const facts = this.facts;
    if (this.calls === 0 || facts === null || this.current !== 'READY') {
      if (this.calls > 0) this.schedulePing();
      return;
    }
    this.sendPing(facts.session);
  }

  /**
   * A call's deadline passed on `facts`' session: a slow handler, or a session that died without a
   * word (a header field too large for HPACK makes Node send GOAWAY and stop reading, with no event
   * and its calls left open). A PING tells which now rather than at the next keepalive; at most one
   * per keepalive interval, so a server's ping policy sees no more than keepalive would send.
   */
  deadlinePassed(facts: SessionFacts): void {
    if (facts !== this.facts || this.pingDeadline !== null || this.current !== 'READY') return;
    if (Date.now() - this.lastPingAt < this.settings.keepalivePingIntervalMs) return;
    this.sendPing(this.facts.session);
  }

  private sendPing(session: ClientHttp2Session): void {
    this.lastPingAt = Date.now();
    this.pingDeadline = setTimeout(() => {
      this.pingDeadline = null;
      // A frozen Pod or a dead path: its calls fail now instead of hanging.
      this.lastError = 'keepalive ping not answered';
      session.destroy();
    }, this.settings.keepalivePingTimeoutMs);
    this.pingDeadline.unref();
    const sent = session.ping((err) => {
      if (this.pingDeadline !== null) clearTimeout(this.pingDeadline);
      this.pingDeadline = null;
      // After a failed ping the session is gone; the next one is pinged on the same terms.
      if (this.calls > 0) this.schedulePing();
    });
    if (!sent) {
      clearTimeout(this.pingDeadline);
      this.pingDeadline = null;
      this.schedulePing();
    }
  }

  private stopPings(): void {
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    if (this.pingDeadline !== null) clearTimeout(this.pingDeadline);
    this.pingTimer = null;
    this.pingDeadline = null;
  }
}

// Why a Pod's connection failed, when TLS is the reason: a certificate that does not verify, a
// handshake the Pod refused, or one end speaking TLS and the other not. grpc-js keeps the reason
// to itself (the channel only turns TRANSIENT_FAILURE), except in the status of a call picked
// while the channel is in that state: "No connection established. Last error: <error>". That
// call fails at once, without touching the network, so asking costs nothing.
// test/unit/upstream/tls-failure.test.ts pins every case against real grpc-js servers.
import { connect as tlsConnect } from 'node:tls';
import { Metadata, type StatusObject } from '@grpc/grpc-js';
import type { AttemptFactory } from './attempt.js';
import { HEALTH_CHECK_METHOD } from './health-check.js';
import { NO_CONNECTION_PREFIX } from './retry/index.js';
import { NO_READY_BACKEND } from './status-text.js';

const EMPTY = Buffer.alloc(0);

export type TlsFailureKind =
  /** The Pod's certificate does not verify (CA, name, validity). */
  | 'verify'
  /** The Pod refused or cut the handshake (typically: mTLS, our client certificate). */
  | 'handshake'
  /** One end speaks TLS, the other plaintext. */
  | 'mismatch';

export interface TlsFailure {
  kind: TlsFailureKind;
  /** For the operator's log: what went wrong, and what to check. */
  reason: string;
}

/** What a client reads for each kind: says TLS, names nothing internal. */
export const TLS_CLIENT_TEXT: Record<TlsFailureKind, string> = {
  verify: "no ready backend (the backend's TLS certificate did not verify)",
  handshake: 'no ready backend (the TLS handshake with the backend failed)',
  mismatch: 'no ready backend (the gateway and the backend disagree on TLS)',
};

/** What a call that found no Pod in rotation reads: why, when TLS keeps a Pod out. */
export function noReadyBackendText(endpoints: Iterable<{ tlsFailure: TlsFailure | null; draining: boolean }>): string {
  for (const endpoint of endpoints) {
    if (endpoint.tlsFailure && !endpoint.draining) return TLS_CLIENT_TEXT[endpoint.tlsFailure.kind];
  }
  return NO_READY_BACKEND;
}

const LAST_ERROR = 'Last error: ';
const RESOLUTION_NOTE = '. Resolution note:';
/** grpc-js's "Failed to connect": the socket closed before the HTTP/2 settings arrived. */
const CLOSED_BEFORE_HTTP2 = 'Failed to connect';

/**
 * The last connection error of `channel`, as grpc-js words it, or null when the channel is not
 * failing (its pick did not fail with "No connection established"). Never rejects.
 */
export function lastConnectError(channel: AttemptFactory, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    // A health check: if the channel has just connected after all, the Pod answers it like any other.
    const call = channel.createCall(HEALTH_CHECK_METHOD, Date.now() + timeoutMs, null, null, null);
    call.start(new Metadata(), {
      onReceiveMetadata() {},
      onReceiveMessage() {},
      onReceiveStatus(status: StatusObject) {
        resolve(connectErrorOf(status.details));
      },
    });
    call.sendMessageWithContext({}, EMPTY);
    call.halfClose();
    call.startRead();
  });
}

/** The error inside grpc-js's "No connection established. Last error: X. Resolution note: Y", cleaned. */
export function connectErrorOf(details: string): string | null {
  if (!details.startsWith(NO_CONNECTION_PREFIX)) return null;
  const start = details.indexOf(LAST_ERROR);
  if (start < 0) return null;
  const end = details.lastIndexOf(RESOLUTION_NOTE);
  const text = details.slice(start + LAST_ERROR.length, end > start ? end : undefined);
  // grpc-js appends the time of some errors; OpenSSL's messages span lines.
  return text.replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/, '').replace(/\s+/g, ' ').trim();
}

/**
 * The TLS reason for a failed connection, or null when it was something else (refused, reset,
 * timed out). `tls`: whether the gateway spoke TLS to the Pod.
 */
export function tlsFailureOf(error: string, tls: boolean): TlsFailure | null {
  if (!tls) return null; // plaintext: only the Pod's answer to a TLS hello can tell (speaksTls)
  const message = error.replace(/^Error( \[[A-Z0-9_]+\])?: /, '');
  const alert = /alert ([a-z ]+?)(?::|$)/.exec(message);
  if (alert) {
    const hint = /certificate|unknown ca/.test(alert[1]!) ? ': check --upstream-cert and --upstream-key' : '';
    return { kind: 'handshake', reason: `the Pod refused the TLS handshake (${alert[1]})${hint}` };
  }
  if (/wrong version number|packet length too long|unknown protocol|http request/.test(message)) {
    return { kind: 'mismatch', reason: 'the Pod does not speak TLS (plaintext HTTP/2?): drop --upstream-tls, or give it TLS' };
  }
  if (/certificate|altnames|issuer/.test(message)) {
    return { kind: 'verify', reason: `the Pod's certificate does not verify: ${message}` };
  }
  if (/before secure TLS connection was established/.test(message)) {
    return { kind: 'handshake', reason: 'the Pod closed the connection during the TLS handshake' };
  }
  if (message.startsWith(CLOSED_BEFORE_HTTP2)) {
    return {
      kind: 'handshake',
      reason: 'the Pod closed the connection right after the TLS handshake, as a Pod that rejects the client certificate does: check --upstream-cert and --upstream-key',
    };
  }
  return null;
}

/** Over plaintext, a Pod that closed the connection before HTTP/2 began may be expecting TLS. */
export function mayExpectTls(error: string): boolean {
  return error.startsWith(CLOSED_BEFORE_HTTP2);
}

export const EXPECTS_TLS: TlsFailure = {
  kind: 'mismatch',
  reason: 'the Pod speaks TLS and the gateway plaintext: give --upstream-tls (and --upstream-ca)',
};

/**
 * Whether host:port completes a TLS handshake (nothing verified, nothing sent after it): the one
 * way to tell a Pod that expects TLS from one that just hangs up. Never rejects.
 */
export function speaksTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

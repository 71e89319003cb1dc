// What the node:http2 client's tests share: a connection to a Pod that is READY, and one call
// run to its end the way PoolCall runs it (start, messages, half-close, one read at a time).
import { Metadata, type StatusObject } from '@grpc/grpc-js';
import { Http2Connection, type SessionSettings } from '../../../../src/upstream/http2/session.js';
import type { PodTlsOptions } from '../../../../src/upstream/http2/tls.js';
import type { AttemptStatus } from '../../../../src/upstream/retry/transparent.js';

export const settings = (o: Partial<SessionSettings> = {}): SessionSettings => ({
  connectTimeoutMs: 5000,
  keepalivePingIntervalMs: 30_000,
  keepalivePingTimeoutMs: 10_000,
  maxMessageBytes: 4 << 20,
  ...o,
});

const open: Http2Connection[] = [];

/** Close every connection made since the last call (afterEach). */
export function closeConnections(): void {
  for (const c of open.splice(0)) c.close();
}

export function connection(address: string, o: Partial<SessionSettings> = {}, tls: PodTlsOptions | null = null) {
  const [host, port] = splitAddress(address);
  const states: string[] = [];
  const c = new Http2Connection(host, port, settings(o), tls, (conn) => states.push(conn.state));
  open.push(c);
  return { connection: c, states };
}

export function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

export async function waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function ready(address: string, o: Partial<SessionSettings> = {}, tls: PodTlsOptions | null = null) {
  const made = connection(address, o, tls);
  await waitFor(() => made.connection.state === 'READY', `${address} READY`);
  return made;
}

export interface Outcome {
  headers: Metadata | null;
  messages: Buffer[];
  status: AttemptStatus;
  received: boolean;
}

export interface RunOptions {
  metadata?: Metadata;
  deadlineMs?: number;
  /** Read every message at once (default), or only when the test calls `read`. */
  manualReads?: boolean;
}

/** One call with request `messages`, run to its status. */
export function run(c: Http2Connection, method: string, messages: Buffer[], o: RunOptions = {}) {
  const outcome: Omit<Outcome, 'status'> = { headers: null, messages: [], received: false };
  const call = c.createCall(method, o.deadlineMs === undefined ? Infinity : Date.now() + o.deadlineMs);
  const done = new Promise<Outcome>((resolve) => {
    call.start(o.metadata ?? new Metadata(), {
      onReceiveMetadata(m) {
        outcome.headers = m;
        outcome.received = true;
      },
      onReceiveMessage(m) {
        outcome.messages.push(Buffer.from(m));
        outcome.received = true;
        if (!o.manualReads) call.startRead();
      },
      onReceiveStatus(status: StatusObject) {
        resolve({ ...outcome, status });
      },
    });
  });
  for (const m of messages) call.sendMessageWithContext({}, m);
  call.halfClose();
  call.startRead();
  return { call, done, outcome };
}

// A bounded load loop for the balancing experiments (test/e2e/balancing*.test.ts, bench/scale-out.ts).
//
// `startLoad({ workers, call, maxCalls, maxMs })` runs `workers` closed loops (each one call at a time)
// and stops by itself after maxCalls calls were started or maxMs elapsed, whichever comes first, or
// when stop() is called. Every call is recorded (start, end, Pod or error), so a test can ask "which
// Pods got traffic after t", "did any call that started after the kill fail", and report the first
// few failures with which call it was and why.
//
// Also here: gRPC-Web clients that use exactly ONE keep-alive connection (an undici Pool with
// connections: 1 whose connector counts every TCP connection it opens), which is the setup the seed
// experiments are about.
import { Pool, buildConnector, fetch as undiciFetch } from 'undici';
import { ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { GrpcWebFetchTransport } from '@protobuf-ts/grpcweb-transport';
import { EchoService } from '../gen/es/echo_pb.js';
import { EchoServiceClient } from '../gen/pbts/echo.client.js';

/** Monotonic ms; the clock every record and every test timestamp uses. */
export const now = (): number => performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the load loop ---------------------------------------------------------------------------

/** One call: resolves with the Pod that answered ("host:port"), rejects with why it failed. */
export type CallFn = (seq: number) => Promise<string>;

export interface LoadOptions {
  /** Concurrent closed loops; worker i uses call(i) built once. */
  workers: number;
  /** Builds the call function of worker i (its own client, or a shared one). */
  call: (worker: number) => CallFn;
  /** Hard cap: no call is started once this many were. */
  maxCalls: number;
  /** Hard cap: no call is started after this many ms. */
  maxMs: number;
  /** Pause between two calls of one worker, ms (default 0). */
  pauseMs?: number;
  /** How many failures keep their full description (default 8). */
  keepErrors?: number;
}

export interface CallRecord {
  seq: number;
  worker: number;
  /** now() at start and end */
  start: number;
  end: number;
  pod?: string;
  error?: string;
}

export interface LoadFailure {
  seq: number;
  worker: number;
  /** ms since the load started */
  start: number;
  end: number;
  error: string;
}

export interface LoadReport {
  calls: number;
  ok: number;
  failed: number;
  /** successful calls per Pod */
  perPod: Record<string, number>;
  /** first few failures, in the order they happened */
  errors: LoadFailure[];
  durationMs: number;
  stoppedBy: 'stop' | 'maxCalls' | 'maxMs';
}

export interface Load {
  readonly startedAt: number;
  /** Every call so far, finished ones with end/pod/error, in start order. */
  readonly records: readonly CallRecord[];
  /** Calls started and not yet finished. */
  inFlight(): number;
  /** Successful calls per Pod among calls that *started* in [from, to). */
  perPod(from?: number, to?: number): Record<string, number>;
  /** Finished calls that started in [from, to). */
  finished(from?: number, to?: number): CallRecord[];
  /** Failed calls that started in [from, to). */
  failures(from?: number, to?: number): CallRecord[];
  /** Resolves when `predicate` holds (checked after each call), or false after timeoutMs / when the load ended. */
  until(predicate: () => boolean, timeoutMs: number): Promise<boolean>;
  /** Stop starting calls, wait for those in flight. */
  stop(): Promise<LoadReport>;
  /** Resolves when the load has stopped by itself (maxCalls / maxMs) or by stop(). */
  readonly done: Promise<LoadReport>;
}

function describe(error: unknown): string {
  if (error instanceof ConnectError) return `[${error.code}] ${error.rawMessage}`;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code !== undefined ? `[${String(code)}] ${error.message}` : error.message;
  }
  return String(error);
}

export function startLoad(opts: LoadOptions): Load {
  const keepErrors = opts.keepErrors ?? 8;
  const startedAt = now();
  const records: CallRecord[] = [];
  const errors: LoadFailure[] = [];
  let stopped = false;
  let stoppedBy: LoadReport['stoppedBy'] = 'stop';
  let inFlight = 0;
  let seq = 0;
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const worker = async (w: number): Promise<void> => {
    const call = opts.call(w);
    for (;;) {
      if (stopped) return;
      if (seq >= opts.maxCalls) {
        stopped = true;
        stoppedBy = 'maxCalls';
        return;
      }
      if (now() - startedAt >= opts.maxMs) {
        stopped = true;
        stoppedBy = 'maxMs';
        return;
      }
      const record: CallRecord = { seq: seq++, worker: w, start: now(), end: NaN };
      records.push(record);
      inFlight++;
      try {
        record.pod = await call(record.seq);
      } catch (error) {
        record.error = describe(error);
      }
      record.end = now();
      inFlight--;
      if (record.error !== undefined && errors.length < keepErrors) {
        errors.push({ seq: record.seq, worker: w, start: record.start - startedAt, end: record.end - startedAt, error: record.error });
      }
      notify();
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  };

  const report = (): LoadReport => {
    const done = records.filter((r) => !Number.isNaN(r.end));
    const ok = done.filter((r) => r.error === undefined);
    return {
      calls: done.length,
      ok: ok.length,
      failed: done.length - ok.length,
      perPod: countPods(ok),
      errors: [...errors],
      durationMs: now() - startedAt,
      stoppedBy,
    };
  };

  const done = Promise.all(Array.from({ length: opts.workers }, (_, w) => worker(w))).then(() => {
    stopped = true;
    notify();
    return report();
  });

  const inWindow = (from = -Infinity, to = Infinity) => (r: CallRecord) => r.start >= from && r.start < to && !Number.isNaN(r.end);

  return {
    startedAt,
    records,
    inFlight: () => inFlight,
    perPod: (from, to) => countPods(records.filter(inWindow(from, to)).filter((r) => r.error === undefined)),
    finished: (from, to) => records.filter(inWindow(from, to)),
    failures: (from, to) => records.filter(inWindow(from, to)).filter((r) => r.error !== undefined),
    until(predicate, timeoutMs) {
      if (predicate()) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const finish = (result: boolean): void => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(result);
        };
        const check = (): void => {
          if (predicate()) finish(true);
          else if (stopped && inFlight === 0) finish(false);
        };
        const timer = setTimeout(() => finish(predicate()), timeoutMs);
        waiters.add(check);
      });
    },
    async stop() {
      stopped = true;
      return done;
    },
    done,
  };
}

export function countPods(records: readonly CallRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) if (r.pod !== undefined) out[r.pod] = (out[r.pod] ?? 0) + 1;
  return out;
}

/** Latency percentiles (ms) of finished calls, and the slowest call's start (now()). */
export function latency(records: readonly CallRecord[]): { p50: number; p99: number; max: number; slowestStart: number } {
  const done = records.filter((r) => !Number.isNaN(r.end));
  if (done.length === 0) return { p50: NaN, p99: NaN, max: NaN, slowestStart: NaN };
  const sorted = done.map((r) => r.end - r.start).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const slowest = done.reduce((a, r) => (r.end - r.start > a.end - a.start ? r : a));
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]!, slowestStart: slowest.start };
}

/** now() of the first successful call that started at or after `from` and was answered by `pod`. */
export function firstCallTo(records: readonly CallRecord[], pod: string, from = -Infinity): number | undefined {
  for (const r of records) if (r.start >= from && r.pod === pod) return r.start;
  return undefined;
}

/** A failure message fit for an assertion: counts and the first few failed calls with their errors. */
export function failureSummary(report: Pick<LoadReport, 'calls' | 'failed' | 'errors'>): string {
  const lines = report.errors.map(
    (e) => `  call #${e.seq} (worker ${e.worker}, started at +${Math.round(e.start)} ms, failed at +${Math.round(e.end)} ms): ${e.error}`,
  );
  return `${report.failed} of ${report.calls} calls failed${lines.length ? ':\n' + lines.join('\n') : ''}`;
}

/** Share statistics of per-Pod counts over the given Pods (absent = 0). */
export function spread(perPod: Record<string, number>, pods: readonly string[]): {
  total: number;
  shares: Record<string, number>;
  maxOverMin: number;
  cv: number;
} {
  const counts = pods.map((p) => perPod[p] ?? 0);
  const total = counts.reduce((a, b) => a + b, 0);
  const mean = total / counts.length;
  const variance = counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length;
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  const shares: Record<string, number> = {};
  pods.forEach((p, i) => (shares[p] = total > 0 ? counts[i]! / total : 0));
  return { total, shares, maxOverMin: min === 0 ? Infinity : max / min, cv: mean > 0 ? Math.sqrt(variance) / mean : NaN };
}

// ---- gRPC-Web clients on ONE keep-alive connection ------------------------------------------------

export interface OneConnectionFetch {
  fetch: typeof globalThis.fetch;
  /** TCP connections opened so far (counted in the connector: every socket the client ever made). */
  connectionsOpened(): number;
  /** undici's own view: sockets currently connected. */
  connected(): number;
  close(): Promise<void>;
}

/**
 * A fetch whose requests all go over one HTTP/1.1 keep-alive connection to `baseUrl`'s origin:
 * an undici Pool limited to one connection, no pipelining. Every TCP connection it opens is
 * counted, so a test can prove it was one.
 */
export function oneConnectionFetch(baseUrl: string): OneConnectionFetch {
  const origin = new URL(baseUrl).origin;
  let opened = 0;
  const connect = buildConnector({});
  const pool = new Pool(origin, {
    connections: 1,
    pipelining: 1,
    // keep the idle connection for as long as the server allows (the gateway says 620 s)
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    connect: (options, callback) => {
      opened++;
      return connect(options, callback);
    },
  });
  const fetch = ((input: unknown, init?: Record<string, unknown>) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init ?? {}), dispatcher: pool } as Parameters<typeof undiciFetch>[1])) as unknown as typeof globalThis.fetch;
  return {
    fetch,
    connectionsOpened: () => opened,
    connected: () => pool.stats.connected,
    close: () => pool.close(),
  };
}

/** connect-web, gRPC-Web binary, over the given fetch (default: Node's global fetch). */
export function connectWebEcho(baseUrl: string, fetch?: typeof globalThis.fetch): Client<typeof EchoService> {
  return createClient(EchoService, createGrpcWebTransport({ baseUrl, useBinaryFormat: true, ...(fetch ? { fetch } : {}) }));
}

/** protobuf-ts GrpcWebFetchTransport, gRPC-Web text (base64) by default. */
export function pbtsWebEcho(baseUrl: string, format: 'text' | 'binary' = 'text'): EchoServiceClient {
  return new EchoServiceClient(new GrpcWebFetchTransport({ baseUrl, format }));
}

/** A CallFn over connect-web: unary Echo, answers with the Pod's address. */
export function connectCall(client: Client<typeof EchoService>, opts: { timeoutMs?: number; delayMs?: number } = {}): CallFn {
  return async (seq) => {
    const res = await client.echo({ message: `call ${seq}`, delayMs: opts.delayMs ?? 0 }, { timeoutMs: opts.timeoutMs ?? 5_000 });
    if (!res.pod) throw new Error('answer without a pod field');
    return res.pod;
  };
}

/** A CallFn over protobuf-ts: unary Echo, answers with the Pod's address. */
export function pbtsCall(client: EchoServiceClient, opts: { timeoutMs?: number; delayMs?: number } = {}): CallFn {
  return async (seq) => {
    const { response } = await client.echo(
      { message: `call ${seq}`, payload: new Uint8Array(), statusCode: 0, statusMessage: '', delayMs: opts.delayMs ?? 0, responseSize: 0 },
      { timeout: opts.timeoutMs ?? 5_000 },
    );
    if (!response.pod) throw new Error('answer without a pod field');
    return response.pod;
  };
}

// DnsResolver: the Pods of a Kubernetes headless Service, found through DNS (one A/AAAA record
// per ready Pod), kept up to date by re-resolving on a timer.
//
// Each round
//   - reads resolv.conf (search domains, ndots, and the nameservers when none are configured);
//   - for each candidate name (see ./search-names.ts), asks A and AAAA in parallel; the first
//     candidate with any record wins; NXDOMAIN / NOERROR-without-records moves to the next one;
//   - asks the first server; on a timeout, SERVFAIL, REFUSED, any other error rcode, network
//     error or malformed reply (for either family) the whole round moves on to the next server,
//     one attempt each. A round where every server failed is a failure.
//   - the result is the deduplicated, sorted set of {host, port}; the listener hears about it on
//     the first success and whenever it changes.
//
// Failures never touch the set: the last good one stays in force, listener.onError() is called,
// stats count it, and the next round comes sooner: backoff from min(1 s, interval), doubling,
// up to the interval.
//
// DECISION - authoritative empty answers. When every candidate name is answered NXDOMAIN or
// NOERROR with no A/AAAA record (by a server that answered properly, whether or not the AA bit
// is set: through node-local-dns or any caching forwarder the bit is cleared, yet the answer is
// just as definitive), we take it to mean "the Service has no ready Pod right now" - scaling to
// zero, or every Pod failing its readiness probe, is a real state, and keeping the old addresses
// forever would have the pool dial dead Pods. But one such answer could be a glitch (CoreDNS
// restarting with an empty cache of the API, a Service being re-created), so a non-empty set is
// only replaced by the empty set when the empty answer is seen on TWO CONSECUTIVE rounds; the
// confirming round is scheduled soon (min(1 s, interval), rate-limited) instead of a full
// interval later. The first, unconfirmed empty answer is neither a success nor a failure: the set
// stays, onError() is not called, a warning is logged. When nothing was reported yet (first
// round) or the set is already empty, there is nothing to protect and [] is reported at once.
//
// Timing: the next round is due after intervalMs ± jitter; when the smallest TTL among the records
// is shorter, at TTL expiry instead; never sooner than minRefreshIntervalMs after the previous
// round started. refresh() asks for an early round under the same rate limit. All timers and
// in-flight sockets are unref'd: the resolver never keeps the process alive. stop() clears the
// timer and aborts in-flight queries.
import net from 'node:net';
import type { HostPort } from '../../config/types.js';
import type { ResolvedAddress, Resolver, ResolverListener, ResolverStats } from '../types.js';
import { DnsError, queryDns, type DnsAnswer, type DnsRecord, type DnsRecordType } from './dns-client.js';
import { readResolvConf } from './resolv-conf.js';
import { candidateNames } from './search-names.js';

export interface DnsResolverLogger {
  warn(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export interface DnsResolverOptions {
  /** The Service name as configured, e.g. "echo-headless" or "echo-headless.default.svc.cluster.local". */
  name: string;
  port: number;
  /** Empty: the nameservers of resolv.conf. */
  servers: HostPort[];
  intervalMs: number;
  queryTimeoutMs: number;
  resolvConfPath?: string;
  /** Fraction of the interval to randomise by, default 0.1 (±10%). */
  jitter?: number;
  /** Rate limit for refresh() and TTL-driven rounds, default 1000 ms. */
  minRefreshIntervalMs?: number;
  logger?: DnsResolverLogger;
}

type RoundResult =
  | { kind: 'records'; records: DnsRecord[]; name: string; server: HostPort }
  | { kind: 'empty'; server: HostPort }
  | { kind: 'failed'; error: Error };

/** A server-level problem: try the next server. */
class ServerFailure extends Error {
  constructor(message: string, readonly server: HostPort, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerFailure';
  }
}

const BACKOFF_BASE_MS = 1000;

/** Sort key: family first (IPv4 before IPv6), then numerically by address bytes. */
function addressKey(host: string): string {
  if (net.isIPv4(host)) return '4' + host.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
  if (net.isIPv6(host)) {
    let text = host.split('%')[0]!;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const o = v4[1]!.split('.').map(Number);
      text = text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
    }
    const [head, tail] = text.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
    return '6' + groups.map((g) => g.padStart(4, '0').toLowerCase()).join('');
  }
  return '9' + host;
}

export function sortAddresses(addresses: ResolvedAddress[]): ResolvedAddress[] {
  const seen = new Map<string, ResolvedAddress>();
  for (const a of addresses) {
    const k = `${addressKey(a.host)}|${a.port}`;
    if (!seen.has(k)) seen.set(k, { host: a.host, port: a.port });
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

function setKey(addresses: ResolvedAddress[]): string {
  return addresses.map((a) => `${a.host}|${a.port}`).join(',');
}

export class DnsResolver implements Resolver {
  private readonly opts: Required<Omit<DnsResolverOptions, 'logger' | 'resolvConfPath'>> & Pick<DnsResolverOptions, 'logger' | 'resolvConfPath'>;
  private listener: ResolverListener | undefined;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private inFlight: AbortController | undefined;
  private refreshWanted = false;
  private lastRoundStart = -Infinity;
  private current: ResolvedAddress[] | undefined;
  private pendingEmpty = 0;
  private consecutiveFailures = 0;
  private readonly counters: ResolverStats = { lookups: 0, failures: 0, lastSuccess: 0 };

  constructor(opts: DnsResolverOptions) {
    if (!opts.name) throw new Error('DnsResolver: name is required');
    if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535) throw new Error(`DnsResolver: bad port ${opts.port}`);
    if (!(opts.intervalMs > 0)) throw new Error('DnsResolver: intervalMs must be > 0');
    if (!(opts.queryTimeoutMs > 0)) throw new Error('DnsResolver: queryTimeoutMs must be > 0');
    this.opts = {
      ...opts,
      servers: [...opts.servers],
      jitter: Math.min(Math.max(opts.jitter ?? 0.1, 0), 1),
      minRefreshIntervalMs: Math.max(0, opts.minRefreshIntervalMs ?? 1000),
    };
  }

  start(listener: ResolverListener): void {
    if (this.started) throw new Error('DnsResolver already started');
    this.started = true;
    this.listener = listener;
    this.schedule(0);
  }

  refresh(): void {
    if (!this.started || this.stopped) return;
    if (this.inFlight) {
      // The answer in flight may predate what made the caller ask: one more round afterwards.
      this.refreshWanted = true;
      return;
    }
    this.scheduleAtMost(Math.max(0, this.lastRoundStart + this.opts.minRefreshIntervalMs - Date.now()));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    this.inFlight?.abort();
    this.inFlight = undefined;
  }

  stats(): ResolverStats {
    return { ...this.counters };
  }

  // ---- scheduling -------------------------------------------------------------------------------

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(0, Math.round(delayMs));
    this.timerDue = Date.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      void this.round();
    }, delay);
    this.timer.unref();
  }

  /** Schedule a round in delayMs unless one is already due sooner. */
  private scheduleAtMost(delayMs: number): void {
    if (this.timer && this.timerDue <= Date.now() + delayMs) return;
    this.schedule(delayMs);
  }

  private jittered(ms: number): number {
    const j = this.opts.jitter;
    return ms * (1 - j + 2 * j * Math.random());
  }

  private notSoonerThanRateLimit(delayMs: number): number {
    return Math.max(delayMs, this.lastRoundStart + this.opts.minRefreshIntervalMs - Date.now());
  }

  // ---- one round --------------------------------------------------------------------------------

  private async round(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    const ac = new AbortController();
    this.inFlight = ac;
    this.refreshWanted = false;
    this.lastRoundStart = Date.now();
    this.counters.lookups++;
    let result: RoundResult;
    try {
      result = await this.resolveOnce(ac.signal);
    } catch (err) {
      result = { kind: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
    }
    if (this.inFlight === ac) this.inFlight = undefined;
    if (this.stopped || ac.signal.aborted) return;

    const { intervalMs } = this.opts;
    const log = this.opts.logger;
    let nextMs: number;
    switch (result.kind) {
      case 'records': {
        this.consecutiveFailures = 0;
        this.pendingEmpty = 0;
        this.counters.lastSuccess = Date.now();
        const addresses = sortAddresses(result.records.map((r) => ({ host: r.address, port: this.opts.port })));
        this.publish(addresses, { name: result.name });
        const minTtlMs = Math.min(...result.records.map((r) => r.ttl)) * 1000;
        nextMs = this.jittered(intervalMs);
        if (minTtlMs < nextMs) nextMs = this.notSoonerThanRateLimit(minTtlMs);
        break;
      }
      case 'empty': {
        this.consecutiveFailures = 0;
        this.pendingEmpty++;
        if (this.current === undefined || this.current.length === 0 || this.pendingEmpty >= 2) {
          this.counters.lastSuccess = Date.now();
          this.publish([], {});
          nextMs = this.jittered(intervalMs);
        } else {
          log?.warn({ name: this.opts.name, addresses: this.current.length }, 'DNS says the Service has no addresses; keeping the current set until the next round confirms it');
          nextMs = this.notSoonerThanRateLimit(Math.min(intervalMs, BACKOFF_BASE_MS));
        }
        break;
      }
      case 'failed': {
        this.consecutiveFailures++;
        this.pendingEmpty = 0; // an empty answer must be confirmed by the very next round
        this.counters.failures++;
        this.counters.lastError = result.error.message;
        log?.warn({ name: this.opts.name, err: result.error.message, failures: this.consecutiveFailures, kept: this.current?.length ?? 0 }, 'DNS resolution failed; keeping the last good set');
        const base = Math.min(BACKOFF_BASE_MS, intervalMs);
        nextMs = this.jittered(Math.min(intervalMs, base * 2 ** Math.min(this.consecutiveFailures - 1, 30)));
        try {
          this.listener?.onError(result.error);
        } catch (err) {
          log?.warn({ err: (err as Error).message }, 'resolver listener onError threw');
        }
        break;
      }
    }
    if (this.stopped) return;
    if (this.refreshWanted) nextMs = Math.min(nextMs, this.notSoonerThanRateLimit(0));
    this.refreshWanted = false;
    this.schedule(nextMs);
  }

  private publish(addresses: ResolvedAddress[], info: { name?: string }): void {
    if (this.current !== undefined && setKey(this.current) === setKey(addresses)) return;
    const previous = this.current?.length;
    this.current = addresses;
    this.opts.logger?.debug?.({ name: this.opts.name, resolvedName: info.name, previous, addresses: addresses.length }, 'DNS addresses changed');
    try {
      this.listener?.onAddresses(addresses.map((a) => ({ ...a })));
    } catch (err) {
      this.opts.logger?.warn({ err: (err as Error).message }, 'resolver listener onAddresses threw');
    }
  }

  private async resolveOnce(signal: AbortSignal): Promise<RoundResult> {
    const conf = await readResolvConf(this.opts.resolvConfPath);
    const servers = this.opts.servers.length > 0 ? this.opts.servers : conf.nameservers;
    const names = candidateNames(this.opts.name, conf.search, conf.ndots);
    if (names.length === 0) return { kind: 'failed', error: new Error(`no name to resolve for "${this.opts.name}"`) };
    const errors: string[] = [];
    for (const server of servers) {
      if (signal.aborted) break;
      try {
        return await this.resolveOnServer(server, names, signal);
      } catch (err) {
        if (signal.aborted) break;
        errors.push((err as Error).message);
      }
    }
    if (signal.aborted) return { kind: 'failed', error: new DnsError('EABORTED', 'resolver stopped') };
    return { kind: 'failed', error: new Error(`DNS lookup of ${this.opts.name} failed on every server: ${errors.join('; ')}`) };
  }

  private async resolveOnServer(server: HostPort, names: string[], signal: AbortSignal): Promise<RoundResult> {
    for (const name of names) {
      const [a, aaaa] = await Promise.all([this.ask(server, name, 'A', signal), this.ask(server, name, 'AAAA', signal)]);
      const records = [...a.records, ...aaaa.records];
      if (records.length > 0) return { kind: 'records', records, name, server };
    }
    return { kind: 'empty', server };
  }

  /** One question; anything but NOERROR/NXDOMAIN is a server failure. */
  private async ask(server: HostPort, name: string, type: DnsRecordType, signal: AbortSignal): Promise<DnsAnswer> {
    let answer: DnsAnswer;
    try {
      answer = await queryDns(server, name, type, { timeoutMs: this.opts.queryTimeoutMs, signal, unref: true });
    } catch (err) {
      throw new ServerFailure((err as Error).message, server, { cause: err });
    }
    if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN') {
      throw new ServerFailure(`${answer.rcode} for ${type} ${name} from ${server.host}:${server.port}`, server);
    }
    if (answer.truncated) {
      throw new ServerFailure(`truncated answer for ${type} ${name} from ${server.host}:${server.port}`, server);
    }
    return answer;
  }
}

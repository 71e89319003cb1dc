// DnsResolver: the Pods of a Kubernetes headless Service, found through DNS (one A/AAAA record
// per ready Pod), kept up to date by re-resolving on a timer.
//
// Each round
//   - reads resolv.conf (search domains, ndots, and the nameservers when none are configured);
//   - looks up each address family (A, AAAA, or one of them with `family`) on its own, in
//     parallel. A and AAAA are independent because real servers treat them differently: dnsmasq
//     without an upstream answers REFUSED for AAAA of a name it only has A records for, other
//     resolvers answer SERVFAIL or NOTIMP, or drop the AAAA query; none of that may cost us the
//     good A answer (or the other way round on an IPv6-only cluster).
//   - per family, the candidate names (see ./search-names.ts) are asked in order, each on the
//     servers in order: on a timeout, network error, SERVFAIL, REFUSED, or any other error rcode
//     the same question goes to the next server. A server that timed out or could not be reached is
//     skipped for the rest of that family's round (so a dead server costs one timeout per round,
//     not one per candidate name); an error rcode may be about the name (dnsmasq refuses names it
//     does not know), so that server is still asked the next name. A name no server answered is
//     passed over, as glibc's res_search passes over a search domain that answers SERVFAIL;
//   - the first candidate name for which any family has a record wins; for that name each family
//     has an answer (records, or none) or has failed. When no name has any record, a family with an
//     answer for every name answered "empty"; one that failed on some name failed.
//   - the round failed only when no family answered. Otherwise the new set is the union, over
//     the families, of what each answered, and for a family that failed this round, its last good
//     addresses: a glitch in one family never drops the other family's Pods, nor its own.
//   - the result is the deduplicated, sorted set of {host, port}; the listener hears about it on
//     the first success and whenever it changes.
//
// Failures never touch the set: when no family answered, the last good one stays in force,
// listener.onError() is called, stats count it, and the next round comes sooner: backoff from
// min(1 s, interval), doubling, up to the interval. A family that fails while another answers is
// logged once when it starts failing and once when it answers again (warn when it had addresses
// we now keep on faith, debug when it had none, e.g. AAAA on an IPv4-only cluster), and counted
// in stats().familyFailures.
//
// DECISION - authoritative empty answers. When every candidate name is answered NXDOMAIN or
// NOERROR with no record of a family (by a server that answered properly, whether or not the AA
// bit is set: through node-local-dns or any caching forwarder the bit is cleared, yet the answer
// is just as definitive), we take it to mean "the Service has no ready Pod of that family right
// now" - scaling to zero, or every Pod failing its readiness probe, is a real state, and keeping
// the old addresses forever would have the pool dial dead Pods. But one such answer could be a
// glitch (CoreDNS restarting with an empty cache of the API, a Service being re-created), so a
// family's non-empty addresses are only replaced by none when the empty answer is seen on TWO
// CONSECUTIVE rounds for that family (a round where it failed breaks the sequence); the confirming
// round is scheduled soon (min(1 s, interval), rate-limited) instead of a full interval later.
// An unconfirmed empty answer is neither a success nor a failure: the family's addresses stay,
// onError() is not called, a warning is logged. When the family had no addresses yet (first
// round) or already none, there is nothing to protect and its emptiness counts at once.
//
// Timing: the next round is due after intervalMs ± jitter; when the smallest TTL among the records
// answered this round is shorter, at TTL expiry instead; never sooner than minRefreshIntervalMs
// after the previous round started. refresh() asks for an early round under the same rate limit.
// All timers and in-flight sockets are unref'd: the resolver never keeps the process alive.
// stop() clears the timer and aborts in-flight queries.
import type { DnsFamily, HostPort } from '../../config/types.js';
import type { ResolvedAddress, Resolver, ResolverListener, ResolverStats } from '../types.js';
import { sortAddresses } from './address-order.js';
import type { DnsRecordType } from './dns-client.js';
import { lookupRound, type FamilyOutcome, type RoundQuery, type RoundResult } from './dns-lookup.js';

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
  /** Which record types to ask: any = A and AAAA (default), ipv4 = A only, ipv6 = AAAA only. */
  family?: DnsFamily;
  /** Fraction of the interval to randomise by, default 0.1 (±10%). */
  jitter?: number;
  /** Rate limit for refresh() and TTL-driven rounds, default 1000 ms. */
  minRefreshIntervalMs?: number;
  logger?: DnsResolverLogger;
}

interface FamilyState {
  readonly type: DnsRecordType;
  /** Addresses of the family's last believed answer; undefined until it first answered. */
  last: string[] | undefined;
  /** Consecutive rounds that answered "no records" while `last` was not empty. */
  pendingEmpty: number;
  /** While the family fails: the level its failure was logged at (its recovery is logged alike). */
  failing: 'warn' | 'debug' | 'unlogged' | undefined;
}

const FAMILY_TYPES: Record<DnsFamily, readonly DnsRecordType[]> = { any: ['A', 'AAAA'], ipv4: ['A'], ipv6: ['AAAA'] };
const OTHER_FAMILY_FLAG: Record<DnsRecordType, DnsFamily> = { A: 'ipv6', AAAA: 'ipv4' };

const BACKOFF_BASE_MS = 1000;

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
  private readonly families: FamilyState[];
  private readonly query: RoundQuery;
  private consecutiveFailures = 0;
  private readonly counters: ResolverStats & { familyFailures: Partial<Record<DnsRecordType, number>> };

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
      family: opts.family ?? 'any',
    };
    const types = FAMILY_TYPES[this.opts.family];
    if (!types) throw new Error(`DnsResolver: bad family ${String(opts.family)}`);
    this.families = types.map((type) => ({ type, last: undefined, pendingEmpty: 0, failing: undefined }));
    this.query = {
      name: this.opts.name,
      servers: this.opts.servers,
      resolvConfPath: this.opts.resolvConfPath,
      queryTimeoutMs: this.opts.queryTimeoutMs,
      types,
    };
    this.counters = { lookups: 0, failures: 0, lastSuccess: 0, familyFailures: Object.fromEntries(types.map((t) => [t, 0])) };
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
    return { ...this.counters, familyFailures: { ...this.counters.familyFailures } };
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
      result = await lookupRound(this.query, ac.signal);
    } catch (err) {
      result = { kind: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
    }
    if (this.inFlight === ac) this.inFlight = undefined;
    if (this.stopped || ac.signal.aborted) return;

    const { intervalMs } = this.opts;
    const log = this.opts.logger;
    let nextMs: number;
    if (result.kind === 'failed') {
      this.consecutiveFailures++;
      this.counters.failures++;
      this.counters.lastError = result.error.message;
      for (const f of this.families) {
        f.pendingEmpty = 0; // an empty answer must be confirmed by the very next round
        f.failing ??= 'unlogged'; // said by the warning below, not again per family
      }
      log?.warn({ name: this.opts.name, err: result.error.message, failures: this.consecutiveFailures, kept: this.current?.length ?? 0 }, 'DNS resolution failed; keeping the last good set');
      const base = Math.min(BACKOFF_BASE_MS, intervalMs);
      nextMs = this.jittered(Math.min(intervalMs, base * 2 ** Math.min(this.consecutiveFailures - 1, 30)));
      try {
        this.listener?.onError(result.error);
      } catch (err) {
        log?.warn({ err: (err as Error).message }, 'resolver listener onError threw');
      }
    } else {
      this.consecutiveFailures = 0;
      const addresses: ResolvedAddress[] = [];
      let believed = false;
      const unconfirmed: DnsRecordType[] = [];
      let minTtlS = Infinity;
      result.outcomes.forEach((o, i) => {
        const f = this.families[i]!;
        const kept = this.familyRound(f, o, result.outcomes);
        if (o.kind === 'records') {
          for (const r of o.records) if (r.ttl < minTtlS) minTtlS = r.ttl;
        }
        if (kept === 'unconfirmed') unconfirmed.push(f.type);
        else if (kept === 'believed') believed = true;
        for (const host of f.last ?? []) addresses.push({ host, port: this.opts.port });
      });
      if (believed) this.counters.lastSuccess = Date.now();
      this.publish(sortAddresses(addresses), { name: result.name });
      if (unconfirmed.length > 0) {
        log?.warn(
          { name: this.opts.name, families: unconfirmed, addresses: this.current?.length ?? 0 },
          `DNS says the Service has no ${unconfirmed.join('/')} addresses; keeping them until the next round confirms it`,
        );
        nextMs = this.notSoonerThanRateLimit(Math.min(intervalMs, BACKOFF_BASE_MS));
      } else {
        nextMs = this.jittered(intervalMs);
        if (minTtlS * 1000 < nextMs) nextMs = this.notSoonerThanRateLimit(minTtlS * 1000);
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

  /**
   * Applies one family's outcome of a round to its state; its addresses for the new set are then
   * f.last. Returns whether the family was 'believed' (records, or an empty answer that counts),
   * 'unconfirmed' (a first empty answer; its addresses kept) or 'kept' (it failed; its last good
   * addresses kept).
   */
  private familyRound(f: FamilyState, o: FamilyOutcome, all: FamilyOutcome[]): 'believed' | 'unconfirmed' | 'kept' {
    if (o.kind === 'failed') {
      f.pendingEmpty = 0;
      this.counters.familyFailures[f.type] = (this.counters.familyFailures[f.type] ?? 0) + 1;
      if (f.failing === undefined) {
        const answered = this.families.filter((_, i) => all[i]!.kind !== 'failed').map((x) => x.type);
        const kept = f.last?.length ?? 0;
        const info = { name: this.opts.name, family: f.type, err: o.error, kept, using: answered };
        if (kept > 0) {
          f.failing = 'warn';
          this.opts.logger?.warn(info, `DNS ${f.type} lookups fail; keeping this family's last addresses and using the ${answered.join('/')} answers`);
        } else {
          f.failing = 'debug';
          this.opts.logger?.debug?.(
            info,
            `DNS ${f.type} lookups fail; using the ${answered.join('/')} answers (--dns-family ${OTHER_FAMILY_FLAG[f.type]} skips ${f.type})`,
          );
        }
      }
      return 'kept';
    }
    if (f.failing !== undefined) {
      const info = { name: this.opts.name, family: f.type };
      if (f.failing === 'warn') this.opts.logger?.warn(info, `DNS ${f.type} lookups answer again`);
      else if (f.failing === 'debug') this.opts.logger?.debug?.(info, `DNS ${f.type} lookups answer again`);
      f.failing = undefined;
    }
    if (o.kind === 'records') {
      f.pendingEmpty = 0;
      f.last = o.records.map((r) => r.address);
      return 'believed';
    }
    f.pendingEmpty++;
    if (f.last === undefined || f.last.length === 0 || f.pendingEmpty >= 2) {
      f.pendingEmpty = 0;
      f.last = [];
      return 'believed';
    }
    return 'unconfirmed';
  }


}


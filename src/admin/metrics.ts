// Prometheus metrics for one gateway instance, on a registry of its own (never prom-client's
// global one: several gateways may share a process, e.g. in tests).
//
// Two sources, kept apart on purpose:
//   - per call (the hot path): GatewayMetrics is the front end's CallObserver. callEnded() does one
//     two-level Map lookup to reach its (route, method)'s CallTally, then adds plain numbers to it;
//     prom-client reads the tallies at scrape time (./call-tallies.ts says why).
//   - per scrape: everything about Pods, DNS and retries is read from Upstream.snapshot() inside
//     collect() (./pool-metrics.ts), so the call path never touches it.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { REFUSAL_REASONS, type CallObserver, type CallRecord, type RefusalReason } from '../http/types.js';
import type { Upstream } from '../upstream/types.js';
import { CallTally, TallyHistogram } from './call-tallies.js';
import { registerPoolMetrics } from './pool-metrics.js';

/** Distinct `method` label values kept per route; calls to any further method count as "other". */
export const MAX_METHODS_PER_ROUTE = 200;
/** Longer method names never become a label value (real ones are far shorter). */
export const MAX_METHOD_LABEL_LENGTH = 256;
export const OTHER_METHOD = 'other';

const UNIMPLEMENTED = 12;

/**
 * Whether this call may add its path as a new `method` label value: only when a Pod answered
 * it with anything but UNIMPLEMENTED, i.e. the backend has that method. Clients choose paths,
 * backends choose methods: a made-up path, a refused call or one no Pod answered counts as
 * "other" unless its method already has a label (minted by an earlier call a Pod answered).
 */
export function mayMintMethodLabel(record: CallRecord): boolean {
  return record.endpoint !== undefined && record.code !== UNIMPLEMENTED && record.method.length <= MAX_METHOD_LABEL_LENGTH;
}

/** Latency buckets, seconds: 1 ms to 60 s. */
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

/**
 * gRPC status code → its name, as in the gRPC spec (doc/statuscodes.md). Written out rather
 * than read from grpc-js's enum so that the --workers primary, which serves these metrics,
 * need not load grpc-js at all.
 */
export const CODE_NAMES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? String(code);
}

export interface GatewayMetricsOptions {
  upstreams: readonly Upstream[];
  version: string;
  /** Collect the Node process metrics (CPU, memory, event loop, GC) too. Default true. */
  defaultMetrics?: boolean;
}

/** Gateway-wide call totals, as the dashboard's /endpoints view shows them. */
export interface CallTotals {
  /** Calls finished (any status, refused ones included). */
  total: number;
  /** Calls finished with a status other than OK. */
  errors: number;
  inFlight: number;
}

/**
 * The metrics of one gateway instance. It is the front end's CallObserver and owns a private
 * prom-client Registry; `registry.metrics()` renders the Prometheus text.
 */
export class GatewayMetrics implements CallObserver {
  readonly registry = new Registry();
  readonly startedAt = Date.now();

  private readonly refusals: Counter<'reason'>;
  /** route → method label value → its tally. */
  private readonly entries = new Map<string, Map<string, CallTally>>();
  private inFlight = 0;
  private total = 0;
  private errors = 0;

  constructor(options: GatewayMetricsOptions) {
    const registers = [this.registry];
    const self = this;

    new Gauge({
      name: 'grpcweb_gateway_info',
      help: 'Always 1; the gateway version as a label',
      labelNames: ['version'],
      registers,
      aggregator: 'first',
    }).set({ version: options.version }, 1);
    new Gauge({
      name: 'grpcweb_gateway_start_time_seconds',
      help: 'When this gateway instance started, seconds since the epoch',
      registers,
      aggregator: 'min',
    }).set(this.startedAt / 1000);

    // ---- per call (hot path): tallies, read at scrape time -----------------------------------
    const tallies = function* (): Generator<CallTally> {
      for (const methods of self.entries.values()) yield* methods.values();
    };
    new Counter({
      name: 'grpcweb_calls_total',
      help: 'gRPC-Web calls finished, by route prefix ("" = default upstream or no route), gRPC method and status code name',
      labelNames: ['route', 'method', 'code'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) {
          t.codes.forEach((n, code) => this.inc({ ...t.labels, code: codeName(code) }, n));
          for (const [code, n] of t.oddCodes) this.inc({ ...t.labels, code: codeName(code) }, n);
        }
      },
    });
    new TallyHistogram(
      'grpcweb_call_duration_seconds',
      'gRPC-Web call duration, from the request headers to the last byte of the answer',
      DURATION_BUCKETS,
      tallies,
    ).registerOn(this.registry);
    new Counter({
      name: 'grpcweb_request_bytes_total',
      help: 'Request body bytes received from browsers (as on the wire: base64 for grpc-web-text)',
      labelNames: ['route', 'method'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) this.inc(t.labels, t.bytesIn);
      },
    });
    new Counter({
      name: 'grpcweb_response_bytes_total',
      help: 'Response body bytes sent to browsers (frames and trailers, as on the wire)',
      labelNames: ['route', 'method'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) this.inc(t.labels, t.bytesOut);
      },
    });
    this.refusals = new Counter({
      name: 'grpcweb_refused_total',
      help: 'Requests the gateway answered itself instead of a Pod, and client connections it refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    // Every reason from the start, at 0: an alert on a rate needs the series before the first refusal.
    for (const reason of REFUSAL_REASONS) this.refusals.labels(reason).inc(0);
    new Gauge({
      name: 'grpcweb_calls_in_flight',
      help: 'gRPC-Web calls in progress',
      registers,
      collect() {
        this.set(self.inFlight);
      },
    });

    registerPoolMetrics(this.registry, options.upstreams);

    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  totals(): CallTotals {
    return { total: this.total, errors: this.errors, inFlight: this.inFlight };
  }

  // ---- CallObserver (hot path) ---------------------------------------------------------------
  callStarted(): void {
    this.inFlight++;
  }

  callEnded(record: CallRecord): void {
    this.inFlight--;
    this.total++;
    const code = record.code;
    if (code !== 0) this.errors++;
    this.tally(record).add(code, record.durationMs / 1000, record.bytesIn, record.bytesOut);
  }

  refused(reason: RefusalReason): void {
    this.refusals.labels(reason).inc();
  }

  private tally(record: CallRecord): CallTally {
    const { route, method } = record;
    let methods = this.entries.get(route);
    if (methods === undefined) this.entries.set(route, (methods = new Map()));
    let tally = methods.get(method);
    if (tally === undefined) {
      // Past the cap, every new method name shares the "other" tally (itself not counted in the cap).
      const capped = methods.size >= MAX_METHODS_PER_ROUTE + (methods.has(OTHER_METHOD) ? 1 : 0);
      const label = capped || !mayMintMethodLabel(record) ? OTHER_METHOD : method;
      tally = methods.get(label);
      if (tally === undefined) {
        tally = new CallTally({ route, method: label }, DURATION_BUCKETS);
        methods.set(label, tally);
      }
    }
    return tally;
  }
}

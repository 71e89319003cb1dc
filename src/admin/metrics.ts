// Prometheus metrics for one gateway instance, on a registry of its own (never prom-client's
// global one: several gateways may share a process, e.g. in tests).
//
// Two sources, kept apart on purpose:
//   - per call (the hot path): GatewayMetrics is the front end's CallObserver. callEnded() does one
//     two-level Map lookup to reach pre-resolved label children, then a few increments.
//   - per scrape: everything about Pods, DNS and retries is read from Upstream.snapshot() inside
//     collect(), so the call path never touches it.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REFUSAL_REASONS, type CallObserver, type CallRecord, type RefusalReason } from '../http/types.js';
import type { EndpointState, Upstream, UpstreamSnapshot } from '../upstream/types.js';

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

export const ENDPOINT_STATES: readonly EndpointState[] = ['IDLE', 'CONNECTING', 'READY', 'TRANSIENT_FAILURE', 'SHUTDOWN'];
/** `grpcweb_upstream_endpoints` state values: a draining Pod counts as DRAINING, whatever its connection. */
export const UPSTREAM_ENDPOINT_STATES = [...ENDPOINT_STATES, 'DRAINING'] as const;

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

interface IncChild {
  inc(value?: number): void;
}
interface ObserveChild {
  observe(value: number): void;
}

/** The label children of one (route, method), resolved once. */
interface MethodEntry {
  route: string;
  method: string;
  duration: ObserveChild;
  bytesIn: IncChild;
  bytesOut: IncChild;
  /** calls_total children by status code, created on first use. */
  codes: (IncChild | undefined)[];
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

  private readonly calls: Counter<'route' | 'method' | 'code'>;
  private readonly duration: Histogram<'route' | 'method'>;
  private readonly bytesIn: Counter<'route' | 'method'>;
  private readonly bytesOut: Counter<'route' | 'method'>;
  private readonly refusals: Counter<'reason'>;
  /** route → method label value → children. */
  private readonly entries = new Map<string, Map<string, MethodEntry>>();
  private inFlight = 0;
  private total = 0;
  private errors = 0;

  constructor(private readonly options: GatewayMetricsOptions) {
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

    // ---- per call (hot path) --------------------------------------------------------------
    this.calls = new Counter({
      name: 'grpcweb_calls_total',
      help: 'gRPC-Web calls finished, by route prefix ("" = default upstream or no route), gRPC method and status code name',
      labelNames: ['route', 'method', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'grpcweb_call_duration_seconds',
      help: 'gRPC-Web call duration, from the request headers to the last byte of the answer',
      labelNames: ['route', 'method'],
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    this.bytesIn = new Counter({
      name: 'grpcweb_request_bytes_total',
      help: 'Request body bytes received from browsers (as on the wire: base64 for grpc-web-text)',
      labelNames: ['route', 'method'],
      registers,
    });
    this.bytesOut = new Counter({
      name: 'grpcweb_response_bytes_total',
      help: 'Response body bytes sent to browsers (frames and trailers, as on the wire)',
      labelNames: ['route', 'method'],
      registers,
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

    // ---- per scrape, from Upstream.snapshot() ---------------------------------------------
    // Counters whose value lives in the pools: reset and re-filled at each scrape, so their
    // series follow the Pods (a Pod that left is no longer reported) and render as TYPE counter.
    let snapshots: UpstreamSnapshot[] = [];
    const snapshotCounter = (name: string, help: string, labelNames: string[], fill: (c: Counter<string>) => void) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill(this);
        },
      });
    // With --workers the primary sums each series over the workers (prom-client's
    // AggregatorRegistry): right for counters, in-flight calls and connections, but every
    // worker sees the same Pods, so their states are merged with 'max' instead.
    const snapshotGauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (g: Gauge<string>) => void,
      aggregator: 'sum' | 'max' = 'max',
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        aggregator,
        collect() {
          this.reset();
          fill(this);
        },
      });

    // Registered first, so its collect() runs first: one snapshot per upstream per scrape.
    // (The registry renders metrics concurrently, but each get() runs collect() synchronously
    // up to its first await, in registration order.)
    new Gauge({
      name: 'grpcweb_upstreams',
      help: 'Upstream targets (one pool of Pods each)',
      registers,
      aggregator: 'first',
      collect() {
        snapshots = self.options.upstreams.map((u) => u.snapshot());
        this.set(snapshots.length);
      },
    });
    snapshotGauge(
      'grpcweb_upstream_endpoints',
      'Endpoints (Pods) per upstream by state; a draining Pod counts as DRAINING whatever its connection state',
      ['upstream', 'state'],
      (g) => {
        for (const s of snapshots) {
          const counts = new Map<string, number>(UPSTREAM_ENDPOINT_STATES.map((st) => [st, 0]));
          for (const e of s.endpoints) {
            const st = e.draining ? 'DRAINING' : e.state;
            counts.set(st, (counts.get(st) ?? 0) + 1);
          }
          for (const [state, n] of counts) g.set({ upstream: s.name, state }, n);
        }
      },
    );
    snapshotCounter(
      'grpcweb_endpoint_calls_total',
      'Call attempts sent to this Pod (since it was first seen)',
      ['upstream', 'endpoint'],
      (c) => eachEndpoint(snapshots, (s, e) => c.inc({ upstream: s.name, endpoint: e.address }, e.calls)),
    );
    snapshotCounter(
      'grpcweb_endpoint_failures_total',
      'Call attempts on this Pod that ended UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS or DEADLINE_EXCEEDED',
      ['upstream', 'endpoint'],
      (c) => eachEndpoint(snapshots, (s, e) => c.inc({ upstream: s.name, endpoint: e.address }, e.failures)),
    );
    snapshotGauge(
      'grpcweb_endpoint_in_flight',
      'Calls in progress on this Pod',
      ['upstream', 'endpoint'],
      (g) => eachEndpoint(snapshots, (s, e) => g.set({ upstream: s.name, endpoint: e.address }, e.inFlight)),
      'sum',
    );
    snapshotGauge(
      'grpcweb_endpoint_connections',
      'HTTP/2 connections open to this Pod',
      ['upstream', 'endpoint'],
      (g) => eachEndpoint(snapshots, (s, e) => g.set({ upstream: s.name, endpoint: e.address }, e.connections)),
      'sum',
    );
    snapshotGauge(
      'grpcweb_endpoint_up',
      '1 when the Pod is in rotation (takes new calls: READY, not draining, passing health checks or in panic mode), else 0',
      ['upstream', 'endpoint'],
      (g) => eachEndpoint(snapshots, (s, e) => g.set({ upstream: s.name, endpoint: e.address }, e.inRotation ? 1 : 0)),
    );
    snapshotGauge(
      'grpcweb_endpoint_state',
      'Connection state of the Pod: 1 for its current state, 0 for the others',
      ['upstream', 'endpoint', 'state'],
      (g) =>
        eachEndpoint(snapshots, (s, e) => {
          for (const state of ENDPOINT_STATES) g.set({ upstream: s.name, endpoint: e.address, state }, e.state === state ? 1 : 0);
        }),
    );
    snapshotGauge(
      'grpcweb_endpoint_draining',
      '1 while the Pod, gone from DNS, finishes its in-flight calls',
      ['upstream', 'endpoint'],
      (g) => eachEndpoint(snapshots, (s, e) => g.set({ upstream: s.name, endpoint: e.address }, e.draining ? 1 : 0)),
    );
    snapshotCounter(
      'grpcweb_retries_total',
      'Calls sent again to another Pod: kind="transparent" when the Pod provably never processed them, kind="policy" by --retry-on',
      ['upstream', 'kind'],
      (c) => {
        for (const s of snapshots) {
          c.inc({ upstream: s.name, kind: 'transparent' }, s.retries - s.policyRetries);
          c.inc({ upstream: s.name, kind: 'policy' }, s.policyRetries);
        }
      },
    );
    snapshotCounter(
      'grpcweb_retry_budget_exhausted_total',
      'Retries --retry-on asked for but the retry budget refused (--retry-budget)',
      ['upstream'],
      (c) => {
        for (const s of snapshots) c.inc({ upstream: s.name }, s.retryBudgetExhausted);
      },
    );
    snapshotCounter('grpcweb_dns_lookups_total', 'DNS lookups of dns:/// targets', ['upstream'], (c) => {
      for (const s of snapshots) if (s.kind === 'dns') c.inc({ upstream: s.name }, s.resolver.lookups);
    });
    snapshotCounter('grpcweb_dns_failures_total', 'DNS lookups that failed (the last known Pods stay in use)', ['upstream'], (c) => {
      for (const s of snapshots) if (s.kind === 'dns') c.inc({ upstream: s.name }, s.resolver.failures);
    });
    snapshotCounter(
      'grpcweb_dns_family_failures_total',
      'Lookups of one record type (A or AAAA) that failed; the other type\'s answer is still used',
      ['upstream', 'type'],
      (c) => {
        for (const s of snapshots) {
          for (const [type, n] of Object.entries(s.resolver.familyFailures ?? {})) c.inc({ upstream: s.name, type }, n);
        }
      },
    );
    snapshotGauge(
      'grpcweb_dns_last_success_timestamp_seconds',
      'When the last DNS lookup succeeded, seconds since the epoch (absent before the first success)',
      ['upstream'],
      (g) => {
        for (const s of snapshots) {
          if (s.kind === 'dns' && s.resolver.lastSuccess > 0) g.set({ upstream: s.name }, s.resolver.lastSuccess / 1000);
        }
      },
    );

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
    const entry = this.entry(record);
    let calls = entry.codes[code];
    if (calls === undefined) {
      calls = this.calls.labels(entry.route, entry.method, codeName(code));
      // Only real status codes get a slot; anything else stays uncached (and never happens).
      if (code >= 0 && code < 64) entry.codes[code] = calls;
    }
    calls.inc();
    entry.duration.observe(record.durationMs / 1000);
    if (record.bytesIn > 0) entry.bytesIn.inc(record.bytesIn);
    if (record.bytesOut > 0) entry.bytesOut.inc(record.bytesOut);
  }

  refused(reason: RefusalReason): void {
    this.refusals.labels(reason).inc();
  }

  private entry(record: CallRecord): MethodEntry {
    const { route, method } = record;
    let methods = this.entries.get(route);
    if (methods === undefined) this.entries.set(route, (methods = new Map()));
    let entry = methods.get(method);
    if (entry === undefined) {
      // Past the cap, every new method name shares the "other" entry (itself not counted in the cap).
      const capped = methods.size >= MAX_METHODS_PER_ROUTE + (methods.has(OTHER_METHOD) ? 1 : 0);
      const label = capped || !mayMintMethodLabel(record) ? OTHER_METHOD : method;
      entry = methods.get(label);
      if (entry === undefined) {
        entry = {
          route,
          method: label,
          duration: this.duration.labels(route, label),
          bytesIn: this.bytesIn.labels(route, label),
          bytesOut: this.bytesOut.labels(route, label),
          codes: [],
        };
        methods.set(label, entry);
      }
    }
    return entry;
  }
}

function eachEndpoint(
  snapshots: readonly UpstreamSnapshot[],
  fn: (s: UpstreamSnapshot, e: UpstreamSnapshot['endpoints'][number]) => void,
): void {
  for (const s of snapshots) for (const e of s.endpoints) fn(s, e);
}

// The per-scrape half of the metrics: everything about Pods, DNS and retries, read from each
// pool's snapshot inside collect(), so the call path never touches it (the per-call half is
// GatewayMetrics, ./metrics.ts).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EndpointState, Upstream, UpstreamSnapshot } from '../upstream/types.js';

export const ENDPOINT_STATES: readonly EndpointState[] = ['IDLE', 'CONNECTING', 'READY', 'TRANSIENT_FAILURE', 'SHUTDOWN'];
/** `grpcweb_upstream_endpoints` state values: a draining Pod counts as DRAINING, whatever its connection. */
export const UPSTREAM_ENDPOINT_STATES = [...ENDPOINT_STATES, 'DRAINING'] as const;

export function registerPoolMetrics(registry: Registry, upstreams: readonly Upstream[]): void {
  const registers = [registry];
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
      snapshots = upstreams.map((u) => u.snapshot());
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
  // Discovery, per kind of target: DNS lookups, or Kubernetes API requests (lists and watches).
  const discovery = (
    kind: 'dns' | 'k8s',
    prefix: string,
    counted: string,
    help: { lookups: string; failures: string; lastSuccess: string },
  ) => {
    snapshotCounter(`${prefix}_${counted}_total`, help.lookups, ['upstream'], (c) => {
      for (const s of snapshots) if (s.kind === kind) c.inc({ upstream: s.name }, s.resolver.lookups);
    });
    snapshotCounter(`${prefix}_failures_total`, help.failures, ['upstream'], (c) => {
      for (const s of snapshots) if (s.kind === kind) c.inc({ upstream: s.name }, s.resolver.failures);
    });
    snapshotGauge(`${prefix}_last_success_timestamp_seconds`, help.lastSuccess, ['upstream'], (g) => {
      for (const s of snapshots) {
        if (s.kind === kind && s.resolver.lastSuccess > 0) g.set({ upstream: s.name }, s.resolver.lastSuccess / 1000);
      }
    });
  };
  discovery('dns', 'grpcweb_dns', 'lookups', {
    lookups: 'DNS lookups of dns:/// targets',
    failures: 'DNS lookups that failed (the last known Pods stay in use)',
    lastSuccess: 'When the last DNS lookup succeeded, seconds since the epoch (absent before the first success)',
  });
  discovery('k8s', 'grpcweb_k8s', 'requests', {
    lookups: 'Kubernetes API requests (list pages and watches) for k8s:/// targets',
    failures: 'Kubernetes API requests and watches that failed or were refused, e.g. 403 for missing RBAC (the last known Pods stay in use; the reason is in /endpoints resolver.lastError)',
    lastSuccess: 'When the Kubernetes API last answered (a list, a watch opened, an event or bookmark), seconds since the epoch',
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
}

function eachEndpoint(
  snapshots: readonly UpstreamSnapshot[],
  fn: (s: UpstreamSnapshot, e: UpstreamSnapshot['endpoints'][number]) => void,
): void {
  for (const s of snapshots) for (const e of s.endpoints) fn(s, e);
}

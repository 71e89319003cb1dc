// GET /endpoints: every upstream and its Pods, as JSON. The dashboard polls it every second
// and derives rates (calls/s per Pod) from successive answers.
import type { EndpointSnapshot, Upstream } from '../upstream/types.js';
import type { CallTotals } from './metrics.js';

/**
 * One Pod as /endpoints shows it: the pool's snapshot (address, state, draining, connections,
 * calls, failures, inFlight, zone for k8s:/// targets; see EndpointSnapshot) with `firstSeen` as ISO 8601 — a new value for
 * the same address means a new Pod object, whose counters restart.
 */
export type EndpointView = Omit<EndpointSnapshot, 'firstSeen'> & { firstSeen: string };

export interface UpstreamView {
  name: string;
  /** As configured: "dns:///echo.default.svc.cluster.local:50051", "k8s:///echo.default:grpc" or "10.0.0.1:50051,10.0.0.2:50051". */
  target: string;
  kind: 'static' | 'dns' | 'k8s';
  balancer: string;
  /** --prefer-zone: Pods of this zone take the calls while any is in rotation. */
  preferZone?: string;
  /** At least one Pod is in rotation (see EndpointSnapshot.inRotation). */
  ready: boolean;
  /** Every Pod in rotation fails its health checks and serves anyway (panic mode). */
  panic: boolean;
  /** Calls sent again to another Pod (a counter): never processed, or by the --retry-on policy. */
  retries: number;
  /** Of those, the --retry-on policy's. */
  policyRetries: number;
  /** Policy retries the retry budget refused (a counter). */
  retryBudgetExhausted: number;
  resolver: {
    lookups: number;
    failures: number;
    /** ISO 8601, null before the first success. */
    lastSuccess: string | null;
    lastError: string | null;
    /** Lookups of one record type that failed while the other may have answered (dns:/// only). */
    familyFailures?: Partial<Record<'A' | 'AAAA', number>>;
    /** k8s:/// only: the Kubernetes API refuses or cannot be reached right now (lastError says why). */
    failing?: boolean;
  };
  endpoints: EndpointView[];
}

export interface EndpointsView {
  gateway: {
    version: string;
    /** ISO 8601 */
    startedAt: string;
    uptimeSeconds: number;
    /** ISO 8601, when this answer was made (the dashboard computes rates against it). */
    now: string;
    /** Gateway-wide call totals (null when no metrics are kept). */
    calls: CallTotals | null;
    /** With --workers: how many worker processes answered for this view. */
    workers?: number;
  };
  upstreams: UpstreamView[];
}

export interface EndpointsViewSource {
  upstreams: readonly Upstream[];
  version: string;
  startedAt: number;
  totals: (() => CallTotals) | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function endpointsView(source: EndpointsViewSource, now = Date.now()): EndpointsView {
  return {
    gateway: {
      version: source.version,
      startedAt: iso(source.startedAt),
      uptimeSeconds: Math.max(0, Math.round((now - source.startedAt) / 100) / 10),
      now: iso(now),
      calls: source.totals ? source.totals() : null,
    },
    upstreams: source.upstreams.map((u) => {
      const s = u.snapshot();
      return {
        name: s.name,
        target: s.target,
        kind: s.kind,
        balancer: s.balancer,
        ...(s.preferZone ? { preferZone: s.preferZone } : {}),
        ready: s.endpoints.some((e) => e.inRotation),
        panic: s.panic,
        retries: s.retries,
        policyRetries: s.policyRetries,
        retryBudgetExhausted: s.retryBudgetExhausted,
        resolver: {
          lookups: s.resolver.lookups,
          failures: s.resolver.failures,
          lastSuccess: s.resolver.lastSuccess > 0 ? iso(s.resolver.lastSuccess) : null,
          lastError: s.resolver.lastError ?? null,
          ...(s.resolver.familyFailures ? { familyFailures: s.resolver.familyFailures } : {}),
          ...(s.resolver.failing !== undefined ? { failing: s.resolver.failing } : {}),
        },
        endpoints: s.endpoints.map((e) => ({
          address: e.address,
          state: e.state,
          draining: e.draining,
          healthy: e.healthy,
          inRotation: e.inRotation,
          connections: e.connections,
          calls: e.calls,
          failures: e.failures,
          inFlight: e.inFlight,
          firstSeen: iso(e.firstSeen),
          ...(e.zone !== undefined ? { zone: e.zone } : {}),
        })),
      };
    }),
  };
}

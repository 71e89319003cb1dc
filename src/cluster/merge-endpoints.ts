// With --workers, every worker has its own pool (its own connections to every Pod, its own
// counters). The primary's /endpoints asks each worker for its view and merges them here, so
// the dashboard and scripts see one gateway: counters and in-flight calls add up, and a Pod is
// shown in the best state any worker has it in (a Pod READY in one worker takes calls).
import type { EndpointView, EndpointsView, UpstreamView } from '../admin/endpoints.js';
import type { CallTotals } from '../admin/metrics.js';
import type { EndpointState } from '../upstream/types.js';

/** Best first: the state a merged Pod shows is the lowest rank any worker reports. */
const STATE_RANK: Record<EndpointState, number> = {
  READY: 0,
  CONNECTING: 1,
  IDLE: 2,
  TRANSIENT_FAILURE: 3,
  SHUTDOWN: 4,
};

const laterIso = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a > b ? a : b);
const earlierIso = (a: string, b: string): string => (a < b ? a : b);

function mergeTotals(a: CallTotals | null, b: CallTotals | null): CallTotals | null {
  if (!a || !b) return a ?? b;
  return { total: a.total + b.total, errors: a.errors + b.errors, inFlight: a.inFlight + b.inFlight };
}

function mergeEndpoint(a: EndpointView, b: EndpointView): EndpointView {
  return {
    address: a.address,
    state: STATE_RANK[b.state] < STATE_RANK[a.state] ? b.state : a.state,
    // Draining (gone from DNS) only once every worker has seen it go.
    draining: a.draining && b.draining,
    healthy: a.healthy || b.healthy,
    inRotation: a.inRotation || b.inRotation,
    connections: a.connections + b.connections,
    calls: a.calls + b.calls,
    failures: a.failures + b.failures,
    inFlight: a.inFlight + b.inFlight,
    firstSeen: earlierIso(a.firstSeen, b.firstSeen),
    ...(a.zone !== undefined || b.zone !== undefined ? { zone: a.zone ?? b.zone } : {}),
  };
}

type FamilyFailures = UpstreamView['resolver']['familyFailures'];

function mergeFamilyFailures(a: FamilyFailures, b: FamilyFailures): { familyFailures?: FamilyFailures } {
  if (!a || !b) return a || b ? { familyFailures: a ?? b } : {};
  return { familyFailures: { A: (a.A ?? 0) + (b.A ?? 0), AAAA: (a.AAAA ?? 0) + (b.AAAA ?? 0) } };
}

function mergeUpstream(a: UpstreamView, b: UpstreamView): UpstreamView {
  const endpoints = new Map(a.endpoints.map((e) => [e.address, e]));
  for (const e of b.endpoints) {
    const seen = endpoints.get(e.address);
    endpoints.set(e.address, seen ? mergeEndpoint(seen, e) : e);
  }
  // lastError belongs with the newest lookup: keep the one of the view that succeeded last.
  const newer = laterIso(a.resolver.lastSuccess, b.resolver.lastSuccess) === b.resolver.lastSuccess ? b : a;
  return {
    name: a.name,
    target: a.target,
    kind: a.kind,
    balancer: a.balancer,
    ...(a.preferZone ? { preferZone: a.preferZone } : {}),
    ready: a.ready || b.ready,
    panic: a.panic || b.panic,
    retries: a.retries + b.retries,
    policyRetries: a.policyRetries + b.policyRetries,
    retryBudgetExhausted: a.retryBudgetExhausted + b.retryBudgetExhausted,
    resolver: {
      lookups: a.resolver.lookups + b.resolver.lookups,
      failures: a.resolver.failures + b.resolver.failures,
      lastSuccess: laterIso(a.resolver.lastSuccess, b.resolver.lastSuccess),
      lastError: newer.resolver.lastError ?? (newer === a ? b : a).resolver.lastError,
      ...mergeFamilyFailures(a.resolver.familyFailures, b.resolver.familyFailures),
      // Every worker watches on its own: failing when any of them is.
      ...(a.resolver.failing !== undefined || b.resolver.failing !== undefined
        ? { failing: a.resolver.failing === true || b.resolver.failing === true }
        : {}),
    },
    endpoints: [...endpoints.values()].sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0)),
  };
}

/**
 * One view of the whole gateway from its workers' views (at least one). `now` and the
 * uptime are the primary's; the start time is the earliest worker's.
 */
export function mergeEndpointsViews(views: readonly EndpointsView[], now = Date.now()): EndpointsView {
  if (views.length === 0) throw new Error('mergeEndpointsViews: no views');
  const upstreams = new Map<string, UpstreamView>();
  let startedAt = views[0]!.gateway.startedAt;
  let calls: CallTotals | null = null;
  for (const v of views) {
    startedAt = earlierIso(startedAt, v.gateway.startedAt);
    calls = mergeTotals(calls, v.gateway.calls);
    for (const u of v.upstreams) {
      const seen = upstreams.get(u.name);
      upstreams.set(u.name, seen ? mergeUpstream(seen, u) : u);
    }
  }
  // Upstream order is the configuration's, the same in every worker.
  const order = views[0]!.upstreams.map((u) => u.name);
  return {
    gateway: {
      version: views[0]!.gateway.version,
      startedAt,
      uptimeSeconds: Math.max(0, Math.round((now - Date.parse(startedAt)) / 100) / 10),
      now: new Date(now).toISOString(),
      calls,
      workers: views.length,
    },
    upstreams: [...upstreams.values()].sort((x, y) => order.indexOf(x.name) - order.indexOf(y.name)),
  };
}

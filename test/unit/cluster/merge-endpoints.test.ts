import { describe, expect, it } from 'vitest';
import type { EndpointView, EndpointsView, UpstreamView } from '../../../src/admin/endpoints.js';
import { mergeEndpointsViews } from '../../../src/cluster/merge-endpoints.js';

const endpoint = (address: string, over: Partial<EndpointView> = {}): EndpointView => ({
  address,
  state: 'READY',
  draining: false,
  healthy: true,
  inRotation: true,
  connections: 1,
  calls: 10,
  failures: 1,
  inFlight: 2,
  firstSeen: '2026-01-01T00:00:10.000Z',
  ...over,
});

const upstream = (name: string, endpoints: EndpointView[], over: Partial<UpstreamView> = {}): UpstreamView => ({
  name,
  target: `dns:///${name}:50051`,
  kind: 'dns',
  balancer: 'round-robin',
  ready: true,
  panic: false,
  retries: 1,
  policyRetries: 1,
  retryBudgetExhausted: 0,
  resolver: { lookups: 5, failures: 1, lastSuccess: '2026-01-01T00:01:00.000Z', lastError: null },
  endpoints,
  ...over,
});

const view = (startedAt: string, upstreams: UpstreamView[], total = 100): EndpointsView => ({
  gateway: {
    version: '1.2.3',
    startedAt,
    uptimeSeconds: 0,
    now: startedAt,
    calls: { total, errors: 3, inFlight: 4 },
  },
  upstreams,
});

describe('mergeEndpointsViews (the primary\'s /endpoints with --workers)', () => {
  it('adds counters up and keeps the earliest start', () => {
    const a = view('2026-01-01T00:00:02.000Z', [upstream('echo', [endpoint('10.0.0.1:50051'), endpoint('10.0.0.2:50051')])], 100);
    const b = view('2026-01-01T00:00:01.000Z', [upstream('echo', [endpoint('10.0.0.2:50051'), endpoint('10.0.0.1:50051')])], 50);
    const now = Date.parse('2026-01-01T00:00:11.000Z');
    const m = mergeEndpointsViews([a, b], now);
    expect(m.gateway).toEqual({
      version: '1.2.3',
      startedAt: '2026-01-01T00:00:01.000Z',
      uptimeSeconds: 10,
      now: '2026-01-01T00:00:11.000Z',
      calls: { total: 150, errors: 6, inFlight: 8 },
      workers: 2,
    });
    const u = m.upstreams[0]!;
    expect(u.retries).toBe(2);
    const withFamily = (A: number, AAAA: number) =>
      upstream('x', [], { resolver: { ...upstream('x', []).resolver, familyFailures: { A, AAAA } } });
    const merged = mergeEndpointsViews([view('2026-01-01T00:00:01.000Z', [withFamily(0, 2)]), view('2026-01-01T00:00:02.000Z', [withFamily(1, 3)])]);
    expect(merged.upstreams[0]!.resolver.familyFailures).toEqual({ A: 1, AAAA: 5 });
    expect(u.resolver).toMatchObject({ lookups: 10, failures: 2 });
    expect(u.endpoints.map((e) => e.address)).toEqual(['10.0.0.1:50051', '10.0.0.2:50051']);
    expect(u.endpoints[0]).toMatchObject({ connections: 2, calls: 20, failures: 2, inFlight: 4 });
  });

  it('shows each Pod in the best state any worker has it in', () => {
    const a = view('2026-01-01T00:00:00.000Z', [
      upstream('echo', [endpoint('p1', { state: 'CONNECTING', healthy: false, draining: true })], { ready: false }),
    ]);
    const b = view('2026-01-01T00:00:00.000Z', [upstream('echo', [endpoint('p1', { state: 'READY', draining: false })])]);
    const e = mergeEndpointsViews([a, b]).upstreams[0]!;
    expect(e.ready).toBe(true);
    expect(e.endpoints[0]).toMatchObject({ state: 'READY', healthy: true, draining: false });
    const c = view('2026-01-01T00:00:00.000Z', [upstream('echo', [endpoint('p1', { state: 'TRANSIENT_FAILURE', draining: true })])]);
    expect(mergeEndpointsViews([a, c]).upstreams[0]!.endpoints[0]).toMatchObject({ state: 'CONNECTING', draining: true });
  });

  it('keeps Pods only one worker knows, the configured upstream order, and the newest resolver error', () => {
    const r = (lastSuccess: string, lastError: string | null) => ({ lookups: 1, failures: 1, lastSuccess, lastError });
    const a = view('2026-01-01T00:00:00.000Z', [
      upstream('b', [endpoint('p1')], { resolver: r('2026-01-01T00:00:05.000Z', 'old error') }),
      upstream('a', [endpoint('p2')]),
    ]);
    const b = view('2026-01-01T00:00:00.000Z', [
      upstream('b', [endpoint('p3')], { resolver: r('2026-01-01T00:00:09.000Z', 'new error') }),
      upstream('a', []),
    ]);
    const m = mergeEndpointsViews([a, b]);
    expect(m.upstreams.map((u) => u.name)).toEqual(['b', 'a']);
    expect(m.upstreams[0]!.endpoints.map((e) => e.address)).toEqual(['p1', 'p3']);
    expect(m.upstreams[0]!.resolver).toMatchObject({ lastSuccess: '2026-01-01T00:00:09.000Z', lastError: 'new error' });
    expect(m.upstreams[1]!.endpoints.map((e) => e.address)).toEqual(['p2']);
  });

  it('refuses an empty list', () => {
    expect(() => mergeEndpointsViews([])).toThrow(/no views/);
  });
});

describe('mergeEndpointsViews with k8s:/// upstreams', () => {
  it("keeps each Pod's zone and the zone preference; the API is failing when any worker's watch is", () => {
    const k8s = (failing: boolean, lastError: string | null, lastSuccess: string) =>
      upstream('k8s:///echo.shop:grpc', [endpoint('10.0.0.1:50051', { zone: 'zone-a' }), endpoint('10.0.0.2:50051', { zone: 'zone-b' })], {
        kind: 'k8s',
        preferZone: 'zone-a',
        resolver: { lookups: 3, failures: failing ? 2 : 0, lastSuccess, lastError, failing },
      });
    const m = mergeEndpointsViews([
      view('2026-01-01T00:00:01.000Z', [k8s(false, null, '2026-01-01T00:01:00.000Z')]),
      view('2026-01-01T00:00:01.000Z', [k8s(true, '403 Forbidden: ...', '2026-01-01T00:00:30.000Z')]),
    ]);
    const u = m.upstreams[0]!;
    expect(u.preferZone).toBe('zone-a');
    expect(u.endpoints.map((e) => e.zone)).toEqual(['zone-a', 'zone-b']);
    expect(u.resolver).toMatchObject({ lookups: 6, failures: 2, failing: true, lastError: '403 Forbidden: ...' });
    const healthy = mergeEndpointsViews([view('2026-01-01T00:00:01.000Z', [k8s(false, null, '2026-01-01T00:01:00.000Z')])]);
    expect(healthy.upstreams[0]!.resolver.failing).toBe(false);
  });
});

import { status as Status } from '@grpc/grpc-js';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  GatewayMetrics,
  MAX_METHOD_LABEL_LENGTH,
  MAX_METHODS_PER_ROUTE,
  codeName,
  DURATION_BUCKETS,
  mayMintMethodLabel,
} from '../../../src/admin/metrics.js';
import { REFUSAL_REASONS, type CallRecord } from '../../../src/http/types.js';
import type { EndpointsView } from '../../../src/admin/endpoints.js';
import type { Gateway } from '../../../src/gateway.js';
import type { Upstream, UpstreamSnapshot } from '../../../src/upstream/types.js';
import {
  BROKEN,
  ECHO,
  gatewayFrom,
  grpcWebCall,
  parseExposition,
  scrape,
  startEchoPod,
  waitFor,
  waitReady,
  type EchoPod,
} from './harness.js';

const fakeUpstream = (snap: () => UpstreamSnapshot): Upstream => ({
  name: 'fake',
  call: () => {
    throw new Error('not here');
  },
  callStream: () => {
    throw new Error('not here');
  },
  isReady: () => true,
  snapshot: snap,
  close: async () => {},
});

describe('GatewayMetrics (no network)', () => {
  it('names gRPC codes', () => {
    expect(codeName(0)).toBe('OK');
    expect(codeName(14)).toBe('UNAVAILABLE');
    expect(codeName(16)).toBe('UNAUTHENTICATED');
    expect(codeName(99)).toBe('99');
    // The table is written out (the --workers primary does not load grpc-js): same as grpc-js's enum.
    for (let code = 0; code <= 16; code++) expect(codeName(code)).toBe((Status as unknown as Record<number, string>)[code]);
  });

  it('counts calls by route, method and code name; histogram 1 ms..60 s; bytes; in flight', async () => {
    const m = new GatewayMetrics({ upstreams: [], version: '9.9.9', defaultMetrics: false });
    m.callStarted();
    m.callStarted();
    m.callStarted();
    m.callEnded({ route: '/a.S/', method: '/a.S/M', code: 0, durationMs: 3, bytesIn: 10, bytesOut: 20, endpoint: 'x' });
    m.callEnded({ route: '/a.S/', method: '/a.S/M', code: 14, durationMs: 70_000, bytesIn: 5, bytesOut: 0, endpoint: undefined });
    const x = parseExposition(await m.metrics());
    expect(x.types.get('grpcweb_calls_total')).toBe('counter');
    expect(x.types.get('grpcweb_call_duration_seconds')).toBe('histogram');
    expect(x.sum('grpcweb_calls_total', { route: '/a.S/', method: '/a.S/M', code: 'OK' })).toBe(1);
    expect(x.sum('grpcweb_calls_total', { code: 'UNAVAILABLE' })).toBe(1);
    const buckets = x.find('grpcweb_call_duration_seconds_bucket').map((s) => s.labels.le);
    expect(buckets[0]).toBe('0.001');
    expect(buckets).toContain('60');
    expect(buckets.at(-1)).toBe('+Inf');
    expect(buckets.length).toBe(DURATION_BUCKETS.length + 1);
    expect(x.sum('grpcweb_call_duration_seconds_bucket', { le: '0.005' })).toBe(1);
    expect(x.sum('grpcweb_call_duration_seconds_bucket', { le: '60' })).toBe(1);
    expect(x.sum('grpcweb_call_duration_seconds_count')).toBe(2);
    expect(x.sum('grpcweb_request_bytes_total')).toBe(15);
    expect(x.sum('grpcweb_response_bytes_total')).toBe(20);
    expect(x.sum('grpcweb_calls_in_flight')).toBe(1);
    expect(x.find('grpcweb_gateway_info')[0]!.labels.version).toBe('9.9.9');
    expect(m.totals()).toEqual({ total: 2, errors: 1, inFlight: 1 });
    // no process metrics asked for
    expect(x.find('process_cpu_user_seconds_total')).toHaveLength(0);
  });

  it(`caps method label values at ${MAX_METHODS_PER_ROUTE} per route; the rest count as "other"`, async () => {
    const m = new GatewayMetrics({ upstreams: [], version: 't', defaultMetrics: false });
    // answered by a Pod (not UNIMPLEMENTED): each may add its method
    const end = (route: string, method: string) =>
      m.callEnded({ route, method, code: 5, durationMs: 1, bytesIn: 0, bytesOut: 0, endpoint: '10.0.0.1:1' });
    for (let i = 0; i < MAX_METHODS_PER_ROUTE + 50; i++) end('', `/made.Up/M${i}`);
    end('', '/made.Up/M0'); // a known one stays itself
    end('', '/made.Up/M999'); // a new one after the cap is "other"
    end('/r/', '/r/One'); // another route has its own budget
    const x = parseExposition(await m.metrics());
    const methods = new Set(x.find('grpcweb_calls_total', { route: '' }).map((s) => s.labels.method));
    expect(methods.size).toBe(MAX_METHODS_PER_ROUTE + 1);
    expect(methods.has('other')).toBe(true);
    expect(x.sum('grpcweb_calls_total', { route: '', method: 'other' })).toBe(51);
    expect(x.sum('grpcweb_calls_total', { route: '', method: '/made.Up/M0' })).toBe(2);
    expect(x.sum('grpcweb_calls_total', { route: '/r/', method: '/r/One' })).toBe(1);
    expect(x.sum('grpcweb_calls_total')).toBe(MAX_METHODS_PER_ROUTE + 53);
  });

  it('only a call a Pod answered (not UNIMPLEMENTED) adds a method label, and only a name of bounded length', () => {
    const rec = (over: Partial<CallRecord>): CallRecord => ({
      route: '',
      method: '/echo.v1.EchoService/Echo',
      code: 0,
      durationMs: 1,
      bytesIn: 0,
      bytesOut: 0,
      endpoint: '10.0.0.1:50051',
      ...over,
    });
    expect(mayMintMethodLabel(rec({}))).toBe(true);
    expect(mayMintMethodLabel(rec({ code: 13 }))).toBe(true); // an application error: the method exists
    expect(mayMintMethodLabel(rec({ code: 12 }))).toBe(false); // the Pod has no such method
    expect(mayMintMethodLabel(rec({ endpoint: undefined, code: 8 }))).toBe(false); // refused by the gateway
    expect(mayMintMethodLabel(rec({ endpoint: undefined, code: 14 }))).toBe(false); // no Pod answered
    const long = `/a.B/${'m'.repeat(MAX_METHOD_LABEL_LENGTH)}`;
    expect(mayMintMethodLabel(rec({ method: long.slice(0, MAX_METHOD_LABEL_LENGTH) }))).toBe(true);
    expect(mayMintMethodLabel(rec({ method: long }))).toBe(false);
  });

  it('counts made-up paths and refusals as "other" unless a Pod answered the method before', async () => {
    const m = new GatewayMetrics({ upstreams: [], version: 't', defaultMetrics: false });
    const end = (method: string, code: number, endpoint: string | undefined) =>
      m.callEnded({ route: '/r/', method, code, durationMs: 1, bytesIn: 0, bytesOut: 0, endpoint });
    for (let i = 0; i < 300; i++) end(`/made.Up/M${i}`, 12, '10.0.0.1:1'); // a Pod: UNIMPLEMENTED
    for (let i = 0; i < 300; i++) end(`/refused.Svc/M${i}`, 8, undefined); // refused by the gateway
    end('/real.Svc/Get', 8, undefined); // refused before a Pod ever answered it: "other"
    end('/real.Svc/Get', 0, '10.0.0.1:1'); // now it has its label
    end('/real.Svc/Get', 8, undefined); // and keeps it, refused or not
    const x = parseExposition(await m.metrics());
    expect(new Set(x.find('grpcweb_calls_total').map((s) => s.labels.method))).toEqual(new Set(['other', '/real.Svc/Get']));
    expect(x.sum('grpcweb_calls_total', { method: 'other' })).toBe(601);
    expect(x.sum('grpcweb_calls_total', { method: '/real.Svc/Get' })).toBe(2);
    expect(x.sum('grpcweb_calls_total', { method: '/real.Svc/Get', code: 'RESOURCE_EXHAUSTED' })).toBe(1);
  });

  it('counts refusals by a fixed set of reasons, every reason present from the start', async () => {
    const m = new GatewayMetrics({ upstreams: [], version: 't', defaultMetrics: false });
    const before = parseExposition(await m.metrics());
    expect(before.types.get('grpcweb_refused_total')).toBe('counter');
    expect(before.find('grpcweb_refused_total').map((s) => s.labels.reason).sort()).toEqual([...REFUSAL_REASONS].sort());
    expect(before.sum('grpcweb_refused_total')).toBe(0);
    m.refused('max_connections');
    m.refused('max_connections');
    m.refused('not_one_message');
    const after = parseExposition(await m.metrics());
    expect(after.sum('grpcweb_refused_total', { reason: 'max_connections' })).toBe(2);
    expect(after.sum('grpcweb_refused_total', { reason: 'not_one_message' })).toBe(1);
    expect(after.sum('grpcweb_refused_total')).toBe(3);
  });

  it('reads Pod, DNS and retry figures from snapshots at scrape time, as counters and gauges', async () => {
    let snap: UpstreamSnapshot = {
      name: 'dns:///echo.svc:50051',
      target: 'dns:///echo.svc:50051',
      kind: 'dns',
      balancer: 'round-robin',
      panic: false,
      retries: 3,
      policyRetries: 1,
      retryBudgetExhausted: 2,
      resolver: { lookups: 7, failures: 2, lastSuccess: 1_700_000_000_000, familyFailures: { A: 0, AAAA: 5 } },
      endpoints: [
        { address: '10.0.0.1:50051', state: 'READY', draining: false, healthy: true, inRotation: true, connections: 1, calls: 40, failures: 1, inFlight: 2, firstSeen: 1 },
        { address: '10.0.0.2:50051', state: 'READY', draining: true, healthy: true, inRotation: false, connections: 1, calls: 9, failures: 0, inFlight: 1, firstSeen: 2 },
        { address: '10.0.0.3:50051', state: 'CONNECTING', draining: false, healthy: true, inRotation: false, connections: 0, calls: 0, failures: 0, inFlight: 0, firstSeen: 3 },
      ],
    };
    let snapshots = 0;
    const m = new GatewayMetrics({
      upstreams: [fakeUpstream(() => (snapshots++, snap))],
      version: 't',
      defaultMetrics: false,
    });
    const x = parseExposition(await m.metrics());
    expect(snapshots).toBe(1); // one snapshot per scrape, shared by every metric
    const u = { upstream: 'dns:///echo.svc:50051' };
    for (const name of ['grpcweb_endpoint_calls_total', 'grpcweb_endpoint_failures_total', 'grpcweb_retries_total', 'grpcweb_dns_lookups_total', 'grpcweb_dns_failures_total']) {
      expect(x.types.get(name), name).toBe('counter');
    }
    expect(x.types.get('grpcweb_endpoint_in_flight')).toBe('gauge');
    expect(x.sum('grpcweb_endpoint_calls_total', { ...u, endpoint: '10.0.0.1:50051' })).toBe(40);
    expect(x.sum('grpcweb_endpoint_failures_total', { ...u, endpoint: '10.0.0.1:50051' })).toBe(1);
    expect(x.sum('grpcweb_endpoint_in_flight', u)).toBe(3);
    expect(x.sum('grpcweb_endpoint_up', { ...u, endpoint: '10.0.0.1:50051' })).toBe(1);
    expect(x.sum('grpcweb_endpoint_up', { ...u, endpoint: '10.0.0.2:50051' })).toBe(0); // draining
    expect(x.sum('grpcweb_endpoint_state', { ...u, endpoint: '10.0.0.3:50051', state: 'CONNECTING' })).toBe(1);
    expect(x.sum('grpcweb_endpoint_state', { ...u, endpoint: '10.0.0.3:50051' })).toBe(1);
    expect(x.sum('grpcweb_endpoint_draining', { ...u, endpoint: '10.0.0.2:50051' })).toBe(1);
    expect(x.sum('grpcweb_upstream_endpoints', { ...u, state: 'READY' })).toBe(1);
    expect(x.sum('grpcweb_upstream_endpoints', { ...u, state: 'DRAINING' })).toBe(1);
    expect(x.sum('grpcweb_upstream_endpoints', { ...u, state: 'CONNECTING' })).toBe(1);
    expect(x.sum('grpcweb_upstream_endpoints', { ...u, state: 'TRANSIENT_FAILURE' })).toBe(0);
    expect(x.sum('grpcweb_retries_total', u)).toBe(3);
    expect(x.sum('grpcweb_retries_total', { ...u, kind: 'policy' })).toBe(1);
    expect(x.sum('grpcweb_retries_total', { ...u, kind: 'transparent' })).toBe(2);
    expect(x.sum('grpcweb_retry_budget_exhausted_total', u)).toBe(2);
    expect(x.sum('grpcweb_dns_lookups_total', u)).toBe(7);
    expect(x.sum('grpcweb_dns_failures_total', u)).toBe(2);
    expect(x.sum('grpcweb_dns_family_failures_total', { ...u, type: 'AAAA' })).toBe(5);
    expect(x.sum('grpcweb_dns_last_success_timestamp_seconds', u)).toBe(1_700_000_000);

    // A Pod that left is no longer reported; counters follow the snapshot.
    snap = { ...snap, retries: 5, endpoints: [{ ...snap.endpoints[0]!, calls: 45 }] };
    const y = parseExposition(await m.metrics());
    expect(y.find('grpcweb_endpoint_calls_total').map((s) => s.labels.endpoint)).toEqual(['10.0.0.1:50051']);
    expect(y.sum('grpcweb_endpoint_calls_total')).toBe(45);
    expect(y.sum('grpcweb_retries_total')).toBe(5);
    expect(y.find('grpcweb_endpoint_state')).toHaveLength(5);
  });

  it('a call adds plain numbers: no prom-client counter work per call, only at scrape time', async () => {
    // Counter binds its inc at construction: spy before the gateway's counters exist.
    // (incWithoutExemplar is what Counter's inc is without exemplars; prom-client's types omit it.)
    const inc = vi.spyOn(Counter.prototype as unknown as { incWithoutExemplar: () => void }, 'incWithoutExemplar');
    try {
      const m = new GatewayMetrics({ upstreams: [], version: 't', defaultMetrics: false });
      const rec: CallRecord = { route: '', method: '/a.S/M', code: 0, durationMs: 2, bytesIn: 1, bytesOut: 2, endpoint: 'x' };
      m.callEnded(rec); // the first call of a (route, method) makes its tally
      inc.mockClear();
      for (let i = 0; i < 100; i++) m.callEnded({ ...rec, code: i % 3 });
      expect(inc).not.toHaveBeenCalled();
      const x = parseExposition(await m.metrics());
      expect(inc).toHaveBeenCalled();
      expect(x.sum('grpcweb_calls_total', { method: '/a.S/M' })).toBe(101);
      expect(x.sum('grpcweb_calls_total', { code: 'CANCELLED' })).toBe(33);
      expect(x.sum('grpcweb_request_bytes_total')).toBe(101);
      expect(x.sum('grpcweb_response_bytes_total')).toBe(202);
    } finally {
      inc.mockRestore();
    }
  });

  it('the duration histogram renders, and merges across --workers, exactly as a prom-client Histogram', async () => {
    const durations = [0.2, 1, 3, 7, 250, 999, 59_000, 70_000];
    const reference = new Registry();
    const histogram = new Histogram({
      name: 'grpcweb_call_duration_seconds',
      help: 'gRPC-Web call duration, from the request headers to the last byte of the answer',
      labelNames: ['route', 'method'],
      buckets: [...DURATION_BUCKETS],
      registers: [reference],
    });
    const m = new GatewayMetrics({ upstreams: [], version: 't', defaultMetrics: false });
    for (const [i, ms] of durations.entries()) {
      const route = i % 2 ? '/r/' : '';
      histogram.labels(route, '/a.S/M').observe(ms / 1000);
      m.callEnded({ route, method: '/a.S/M', code: 0, durationMs: ms, bytesIn: 0, bytesOut: 0, endpoint: 'x' });
    }
    const ours = await m.registry.getSingleMetricAsString('grpcweb_call_duration_seconds');
    expect(ours).toBe(await reference.getSingleMetricAsString('grpcweb_call_duration_seconds'));
    // Two workers' JSON, merged by the primary's AggregatorRegistry: the sums of both.
    const worker = await m.registry.getMetricsAsJSON();
    const merged = AggregatorRegistry.aggregate([worker, worker]);
    const x = parseExposition(await merged.metrics());
    expect(x.sum('grpcweb_call_duration_seconds_count')).toBe(2 * durations.length);
    expect(x.sum('grpcweb_call_duration_seconds_bucket', { route: '/r/', le: '0.005' })).toBe(2 * 1);
    expect(x.sum('grpcweb_calls_total')).toBe(2 * durations.length);
  });

  it('keeps instances apart (no global registry)', async () => {
    const a = new GatewayMetrics({ upstreams: [], version: 'a' });
    const b = new GatewayMetrics({ upstreams: [], version: 'b' });
    a.callEnded({ route: '', method: '/x/y', code: 0, durationMs: 1, bytesIn: 0, bytesOut: 0, endpoint: undefined });
    const xb = parseExposition(await b.metrics());
    expect(xb.sum('grpcweb_calls_total')).toBe(0);
    expect(parseExposition(await a.metrics()).sum('grpcweb_calls_total')).toBe(1);
    expect(xb.find('process_cpu_user_seconds_total')).toHaveLength(1);
  });
});

describe('admin server of a running gateway, against real grpc-js Pods', () => {
  let pods: EchoPod[];
  let gw: Gateway;

  beforeAll(async () => {
    pods = [await startEchoPod('127.0.0.2'), await startEchoPod('127.0.0.3')];
    gw = await gatewayFrom(['--upstream', pods.map((p) => p.address).join(','), '--balancer', 'round-robin']);
    await waitReady(gw);
    // both Pods READY before the calls, so round-robin spreads them
    await waitFor('both Pods READY', () => gw.pools[0]!.snapshot().endpoints.every((e) => e.state === 'READY'));
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(pods.map((p) => p.close()));
  });

  it('GET /metrics after real gRPC-Web calls: calls, codes, latency, bytes, Pods', async () => {
    const payload = Buffer.from('hello, pods');
    for (let i = 0; i < 20; i++) {
      const r = await grpcWebCall(gw.httpUrl, ECHO, payload);
      expect(r.grpcStatus).toBe(0);
      expect(r.messages[0]!.toString()).toBe('hello, pods');
    }
    for (let i = 0; i < 4; i++) expect((await grpcWebCall(gw.httpUrl, BROKEN, payload)).grpcStatus).toBe(13);
    expect((await grpcWebCall(gw.httpUrl, '/echo.v1.EchoService/Nope', payload)).grpcStatus).toBe(12);

    const response = await fetch(`${gw.adminUrl}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const x = parseExposition(await response.text());
    expect(x.sum('grpcweb_calls_total', { route: '', method: ECHO, code: 'OK' })).toBe(20);
    expect(x.sum('grpcweb_calls_total', { method: BROKEN, code: 'INTERNAL' })).toBe(4);
    // the Pod has no such method: it gets no label of its own
    expect(x.sum('grpcweb_calls_total', { method: 'other', code: 'UNIMPLEMENTED' })).toBe(1);
    expect(x.find('grpcweb_calls_total', { method: '/echo.v1.EchoService/Nope' })).toHaveLength(0);
    expect(x.sum('grpcweb_call_duration_seconds_count', { method: ECHO })).toBe(20);
    expect(x.sum('grpcweb_call_duration_seconds_bucket', { method: ECHO, le: '+Inf' })).toBe(20);
    expect(x.sum('grpcweb_call_duration_seconds_sum', { method: ECHO })).toBeGreaterThan(0);
    // request: 5-byte header + 11 bytes; response: one 16-byte frame + the trailer frame
    expect(x.sum('grpcweb_request_bytes_total', { method: ECHO })).toBe(20 * 16);
    expect(x.sum('grpcweb_response_bytes_total', { method: ECHO })).toBeGreaterThan(20 * 16);
    expect(x.sum('grpcweb_calls_in_flight')).toBe(0);

    const upstream = gw.pools[0]!.name;
    const perPod = pods.map((p) => x.sum('grpcweb_endpoint_calls_total', { upstream, endpoint: p.address }));
    // 25 calls reached a Pod (the UNIMPLEMENTED one too: its Pod answered it)
    expect(perPod.reduce((a, b) => a + b)).toBe(25);
    expect(pods[0]!.calls + pods[1]!.calls).toBe(24);
    expect(Math.min(...perPod)).toBeGreaterThanOrEqual(10); // round-robin spread both ways
    expect(x.sum('grpcweb_endpoint_failures_total', { upstream })).toBe(4);
    expect(x.sum('grpcweb_endpoint_up', { upstream })).toBe(2);
    expect(x.sum('grpcweb_upstream_endpoints', { upstream, state: 'READY' })).toBe(2);
    expect(x.sum('grpcweb_retries_total', { upstream })).toBe(0);
    // static targets have no DNS series
    expect(x.find('grpcweb_dns_lookups_total')).toHaveLength(0);
    // process metrics on the instance registry
    expect(x.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(x.find('nodejs_heap_size_used_bytes')).toHaveLength(1);
  });

  it('GET /endpoints lists both Pods with calls that add up', async () => {
    const podCalls = () => pods[0]!.calls + pods[1]!.calls;
    const before = podCalls();
    for (let i = 0; i < 6; i++) await grpcWebCall(gw.httpUrl, ECHO, Buffer.from('x'));
    expect(podCalls()).toBe(before + 6);
    const response = await fetch(`${gw.adminUrl}/endpoints`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const view = (await response.json()) as EndpointsView;
    expect(view.gateway.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Date.parse(view.gateway.startedAt)).toBeLessThanOrEqual(Date.parse(view.gateway.now));
    expect(view.gateway.calls!.inFlight).toBe(0);
    // every call so far reached a Pod: 24 handled + 1 UNIMPLEMENTED + these 6
    expect(view.gateway.calls!.total).toBe(31);
    expect(view.gateway.calls!.errors).toBe(5);
    expect(view.upstreams).toHaveLength(1);
    const u = view.upstreams[0]!;
    expect(u.target).toBe(pods.map((p) => p.address).join(','));
    expect(u.kind).toBe('static');
    expect(u.ready).toBe(true);
    expect(u.endpoints.map((e) => e.address).sort()).toEqual(pods.map((p) => p.address).sort());
    for (const e of u.endpoints) {
      expect(e.state).toBe('READY');
      expect(e.draining).toBe(false);
      expect(e.inFlight).toBe(0);
      expect(e.firstSeen).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(e.calls).toBeGreaterThanOrEqual(pods.find((p) => p.address === e.address)!.calls);
      expect(e.calls).toBeGreaterThanOrEqual(14);
    }
    expect(u.endpoints.reduce((a, e) => a + e.calls, 0)).toBe(31);
    expect(u.endpoints.reduce((a, e) => a + e.failures, 0)).toBe(4);
  });

  it('made-up paths on the default upstream add no method label (the Pod answers UNIMPLEMENTED)', async () => {
    const n = 230;
    const results = [];
    const otherBefore = (await scrape(gw)).sum('grpcweb_calls_total', { method: 'other' });
    for (let i = 0; i < n; i += 23) {
      results.push(...(await Promise.all(Array.from({ length: 23 }, (_, j) => grpcWebCall(gw.httpUrl, `/made.up.Svc${i + j}/M`, Buffer.alloc(0))))));
    }
    expect(results.every((r) => r.grpcStatus === 12)).toBe(true);
    const x = await scrape(gw);
    const methods = new Set(x.find('grpcweb_calls_total', { route: '' }).map((s) => s.labels.method));
    // the 2 methods the Pods serve, and "other"
    expect(methods).toEqual(new Set([ECHO, BROKEN, 'other']));
    expect(x.sum('grpcweb_calls_total', { method: 'other' }) - otherBefore).toBe(n);
    expect(new Set(x.find('grpcweb_call_duration_seconds_count').map((s) => s.labels.method)).size).toBe(3);
  });

  it('serves the dashboard page, self-contained', async () => {
    const response = await fetch(`${gw.adminUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(/fetch\(["']endpoints["']/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="(?!data:)|https?:\/\//);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('/healthz and /readyz', async () => {
    expect((await fetch(`${gw.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.adminUrl}/readyz`)).status).toBe(200);
  });
});

describe('/readyz around start and stop', () => {
  it('503 while no Pod is connected yet, 200 when one is, 503 from the start of shutdown', async () => {
    const { freePort } = await import('../../support/ports.js');
    const port = await freePort('127.0.0.2');
    const gw = await gatewayFrom(['--upstream', `127.0.0.2:${port}`, '--shutdown-delay', '300ms']);
    try {
      const early = await fetch(`${gw.adminUrl}/readyz`);
      expect(early.status).toBe(503);
      expect(((await early.json()) as { reason: string }).reason).toMatch(/no connected Pod/);
      const pod = await startEchoPod('127.0.0.2', port);
      try {
        await waitReady(gw);
        const stopping = gw.shutdown();
        const late = await fetch(`${gw.adminUrl}/readyz`);
        expect(late.status).toBe(503);
        expect(((await late.json()) as { reason: string }).reason).toBe('shutting down');
        await stopping;
      } finally {
        await pod.close();
      }
    } finally {
      await gw.close();
    }
  });
});

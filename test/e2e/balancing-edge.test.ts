// Harder variants of the balancing experiments (see balancing.test.ts for the setup): the orders in
// which Kubernetes really does things, a Pod restarting on its own IP, streams on a draining Pod.
// Kubernetes' order runs against each DNS server of test/support/dns-servers.ts (dnsmasq too).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { readyPods, startDnsGateway, waitForReady } from '../support/dns-gateway.js';
import { spawnHeadlessDns } from '../support/dns-process.js';
import { HEADLESS_SERVICES, type HeadlessService } from '../support/dns-servers.js';
import { spawnPod, type PodProcess } from '../support/pod-process.js';
import { freePort, podAddresses } from '../support/ports.js';
import {
  connectCall,
  connectWebEcho,
  failureSummary,
  latency,
  now,
  pbtsCall,
  pbtsWebEcho,
  sleep,
  startLoad,
  type CallFn,
  type Load,
} from '../support/load.js';

const RESOLVE_INTERVAL_MS = 500;
const PROPAGATION_MS = 1_200;

/** The DNS server of the describe block that runs (each block starts and stops its own). */
let dns: HeadlessService;
let port: number;
let service = 0;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
const defer = (fn: () => Promise<unknown> | unknown): void => void cleanups.push(fn);

afterEach(async () => {
  while (cleanups.length > 0) await Promise.resolve().then(cleanups.pop()!).catch(() => {});
});
beforeAll(async () => {
  port = await freePort();
});

const serviceName = (): string => `edge${++service}.test.svc.cluster.local`;
const hosts = (pods: Array<{ address: string }>): string[] => pods.map((p) => p.address.split(':')[0]!);

async function pods(ips: string[]): Promise<PodProcess[]> {
  const started = await Promise.all(ips.map((ip) => spawnPod(ip, port)));
  for (const p of started) defer(() => p.kill());
  return started;
}

async function gateway(name: string, extra: string[] = []): Promise<Gateway> {
  const gw = await startDnsGateway({ service: name, podPort: port, dnsPort: dns.address.port, resolveIntervalMs: RESOLVE_INTERVAL_MS, extra });
  defer(() => gw.close());
  return gw;
}

function load(gw: Gateway, o: { workers: number; maxMs: number; delayMs?: number }): Load {
  const l = startLoad({
    workers: o.workers,
    maxCalls: 100_000,
    maxMs: o.maxMs,
    call: (w): CallFn =>
      w === o.workers - 1
        ? pbtsCall(pbtsWebEcho(gw.httpUrl, 'text'), { delayMs: o.delayMs })
        : connectCall(connectWebEcho(gw.httpUrl), { delayMs: o.delayMs }),
  });
  defer(() => l.stop());
  return l;
}

describe.each(HEADLESS_SERVICES)('balancing, the harder orders, DNS served by $name (resolve-interval 500ms)', (server) => {
  beforeAll(async () => {
    dns = await server.start();
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('Kubernetes order: a Pod is removed from DNS and SIGTERMed at the same moment, under load: zero failed calls', async () => {
    const name = serviceName();
    const all = await pods(podAddresses(3, 50));
    await dns.set(name, hosts(all), 30);
    const gw = await gateway(name);
    await waitForReady(gw, all.map((p) => p.address));
    const l = load(gw, { workers: 4, maxMs: 10_000, delayMs: 2 });
    expect(await l.until(() => Object.keys(l.perPod()).length === 3, 10_000)).toBe(true);

    const [leaving, ...rest] = all;
    const tStop = now();
    await Promise.all([dns.set(name, hosts(rest), 30), leaving!.stop()]);
    const stopMs = now() - tStop;
    await sleep(PROPAGATION_MS);
    const report = await l.stop();
    const lat = latency(l.records);
    console.log(
      `[remove+SIGTERM at once] ${report.calls} calls, ${report.failed} failed, retries ${JSON.stringify(gw.pools[0]!.retries)}; SIGTERM→exit ${Math.round(stopMs)} ms; ` +
        `latency p50 ${lat.p50.toFixed(1)} p99 ${lat.p99.toFixed(1)} max ${lat.max.toFixed(0)} ms (slowest started at +${Math.round(lat.slowestStart - tStop)} ms from the SIGTERM)`,
    );
    expect(report.failed, failureSummary(report)).toBe(0);
  }, 60_000);

});

describe('balancing, the harder orders (resolve-interval 500ms)', () => {
  beforeAll(async () => {
    dns = await spawnHeadlessDns();
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('a Pod restarts on its own IP (SIGTERM, same address back, DNS unchanged), under load: zero failed calls, it gets traffic again', async () => {
    const name = serviceName();
    const all = await pods(podAddresses(3, 55));
    await dns.set(name, hosts(all), 30);
    const gw = await gateway(name);
    await waitForReady(gw, all.map((p) => p.address));
    const l = load(gw, { workers: 4, maxMs: 40_000, delayMs: 2 });
    expect(await l.until(() => Object.keys(l.perPod()).length === 3, 10_000)).toBe(true);

    const victim = all[0]!;
    await victim.stop();
    await sleep(300);
    const [back] = await pods([victim.address.split(':')[0]!]);
    const tBack = now();
    // grpc-js reconnect backoff is capped at 5 s (+20% jitter) in src/upstream/connection.ts
    const again = await l.until(() => (l.perPod(tBack)[back!.address] ?? 0) > 0, 12_000);
    const report = await l.stop();
    console.log(
      `[restart in place] ${report.calls} calls, ${report.failed} failed, retries ${JSON.stringify(gw.pools[0]!.retries)}; ` +
        `traffic again after ${again ? Math.round(l.records.find((r) => r.start >= tBack && r.pod === back!.address)!.start - tBack) : 'never'} ms`,
    );
    expect(report.failed, failureSummary(report)).toBe(0);
    expect(again).toBe(true);
  }, 60_000);

  it('server streams on a Pod that leaves DNS finish (drain), then its connection closes: zero failed streams', async () => {
    const name = serviceName();
    const all = await pods(podAddresses(2, 60));
    await dns.set(name, hosts(all), 30);
    const gw = await gateway(name, ['--pod-drain-timeout', '10s']);
    await waitForReady(gw, all.map((p) => p.address));
    const client = connectWebEcho(gw.httpUrl);
    // 6 streams of 20 messages, 100 ms apart: 2 s each, spread over both Pods.
    const streams = Array.from({ length: 6 }, async (_, i) => {
      const pods = new Set<string>();
      let n = 0;
      try {
        for await (const m of client.serverStream({ count: 20, intervalMs: 100 }, { timeoutMs: 10_000 })) {
          pods.add(m.pod);
          n++;
        }
        return { i, ok: true, n, pods: [...pods] };
      } catch (e) {
        return { i, ok: false, n, pods: [...pods], error: String(e) };
      }
    });
    await sleep(300);
    await dns.set(name, hosts([all[1]!]), 30);
    await sleep(PROPAGATION_MS);
    // still draining: the leaving Pod is out of rotation but its streams go on
    expect(readyPods(gw)).toEqual([all[1]!.address]);
    const results = await Promise.all(streams);
    console.log(`[drain streams] ${JSON.stringify(results)}`);
    for (const r of results) expect(r, JSON.stringify(r)).toMatchObject({ ok: true, n: 20 });
    await sleep(200);
    expect(gw.pools[0]!.snapshot().endpoints.map((e) => e.address)).toEqual([all[1]!.address]);
  }, 60_000);
});

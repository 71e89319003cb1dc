// The field experiments of ../../shared/seeds (scale-out, scale-in, rolling update, crash, DNS outage,
// a big Service, a slow Pod), automated with real processes:
//   - Pods: examples/echo-pod/server.ts as child processes (spawnPod) on 127.0.0.2, 127.0.0.3, ...,
//     all on ONE port, like Pod IPs behind a headless Service (the 60-Pod and slow-Pod cases use
//     in-process grpc-js servers, see there why);
//   - the headless Service: examples/headless-dns/server.ts as a child process (spawnHeadlessDns),
//     and, for scale-out, scale-in and the rolling update, again Debian's dnsmasq serving a hosts
//     file (test/support/dns-servers.ts), which answers AAAA REFUSED;
//   - the gateway: startGateway in this process, resolving dns:///NAME:PORT every 500 ms;
//   - clients: connect-web (gRPC-Web binary) and protobuf-ts (gRPC-Web text), real fetch.
// Every load loop is bounded in calls and time (test/support/load.ts) and stops by itself.
// Failures print which calls failed and why (first few).
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { EchoRequestSchema, EchoResponseSchema } from '../gen/es/echo_pb.js';
import { readyPods, startDnsGateway, waitForReady } from '../support/dns-gateway.js';
import { spawnHeadlessDns, type DnsProcess } from '../support/dns-process.js';
import { HEADLESS_SERVICES, type HeadlessService } from '../support/dns-servers.js';
import { spawnPod, type PodProcess } from '../support/pod-process.js';
import { freePort, podAddresses } from '../support/ports.js';
import {
  connectCall,
  connectWebEcho,
  failureSummary,
  firstCallTo,
  now,
  oneConnectionFetch,
  pbtsCall,
  pbtsWebEcho,
  sleep,
  spread,
  startLoad,
  type CallFn,
  type Load,
  type LoadReport,
} from '../support/load.js';

const RESOLVE_INTERVAL_MS = 500;
/** The resolver jitters its interval by ±10%. */
const MAX_INTERVAL_MS = RESOLVE_INTERVAL_MS * 1.1;
/** Comfortably more than one resolve interval: after this, DNS changes have reached the pool. */
const PROPAGATION_MS = 1_200;

/** The DNS server of the describe block that runs (each block starts and stops its own). */
let dns: HeadlessService;
let port: number;
let service = 0;

// ---- per-test cleanup ----------------------------------------------------------------------------
const cleanups: Array<() => Promise<unknown> | unknown> = [];
const defer = (fn: () => Promise<unknown> | unknown): void => void cleanups.push(fn);

afterEach(async () => {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    await Promise.resolve()
      .then(fn)
      .catch(() => {});
  }
});

beforeAll(async () => {
  port = await freePort();
});

// ---- helpers ----------------------------------------------------------------------------------

/** A fresh Service name per test, so tests never see each other's records. */
const serviceName = (): string => `echo${++service}.test.svc.cluster.local`;

const hosts = (pods: Array<{ address: string }>): string[] => pods.map((p) => p.address.split(':')[0]!);

async function pods(ips: string[], onPort = port): Promise<PodProcess[]> {
  const started = await Promise.all(ips.map((ip) => spawnPod(ip, onPort)));
  for (const p of started) defer(() => stopOrKill(p));
  return started;
}

async function stopOrKill(p: PodProcess): Promise<void> {
  const t = setTimeout(() => void p.kill(), 3_000);
  await p.stop();
  clearTimeout(t);
}

async function gateway(name: string, opts: { dnsPort?: number; balancer?: string; podPort?: number } = {}): Promise<Gateway> {
  const gw = await startDnsGateway({
    service: name,
    podPort: opts.podPort ?? port,
    dnsPort: opts.dnsPort ?? dns.address.port,
    resolveIntervalMs: RESOLVE_INTERVAL_MS,
    extra: ['--balancer', opts.balancer ?? 'round-robin', '--pod-drain-timeout', '5s'],
  });
  defer(() => gw.close());
  return gw;
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!predicate()) {
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function expectNoFailures(report: LoadReport): void {
  expect(report.failed, failureSummary(report)).toBe(0);
  // The load must still have been running when the test stopped it, or the experiment proved nothing.
  expect(report.stoppedBy, 'the load loop hit its own bound before the experiment ended').not.toBe('maxMs');
}

const fmtShares = (shares: Record<string, number>): string =>
  Object.entries(shares)
    .map(([p, s]) => `${p}=${(s * 100).toFixed(1)}%`)
    .join(' ');

/** Workers 0..n-2: connect-web binary, each with its own client; the last one protobuf-ts text. */
function mixedClients(gw: Gateway, opts: { delayMs?: number } = {}): (worker: number, workers: number) => CallFn {
  return (worker, workers) =>
    worker === workers - 1
      ? pbtsCall(pbtsWebEcho(gw.httpUrl, 'text'), opts)
      : connectCall(connectWebEcho(gw.httpUrl), opts);
}

function loadFrom(gw: Gateway, o: { workers: number; maxCalls: number; maxMs: number; delayMs?: number; pauseMs?: number }): Load {
  const client = mixedClients(gw, { delayMs: o.delayMs });
  const load = startLoad({ workers: o.workers, maxCalls: o.maxCalls, maxMs: o.maxMs, pauseMs: o.pauseMs, call: (w) => client(w, o.workers) });
  defer(() => load.stop());
  return load;
}

// ---- the experiments -------------------------------------------------------------------------------

describe.each(HEADLESS_SERVICES)('balancing over a headless Service served by $name (real Pods, real DNS, real gRPC-Web clients)', (server) => {
  beforeAll(async () => {
    dns = await server.start();
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it(
    'scale-out 1 → 5 Pods, resolve-interval 500ms: ONE keep-alive connection, every new Pod has traffic within interval + 1 s, then ~20% each',
    async () => {
      const name = serviceName();
      const all = await pods(podAddresses(5, 2));
      const [first] = all;
      await dns.set(name, hosts([first!]), 30);
      const gw = await gateway(name);
      await waitForReady(gw, [first!.address]);

      const conn = oneConnectionFetch(gw.httpUrl);
      defer(() => conn.close());
      const client = connectWebEcho(gw.httpUrl, conn.fetch);
      const load = startLoad({ workers: 1, maxCalls: 30_000, maxMs: 45_000, call: () => connectCall(client) });
      defer(() => load.stop());

      // Phase 1: one Pod, everything on it.
      expect(await load.until(() => load.finished().length >= 100, 15_000), 'phase 1: 100 calls').toBe(true);
      expect(Object.keys(load.perPod())).toEqual([first!.address]);

      // Scale out: DNS now lists five Pods.
      const tScale = now();
      await dns.set(name, hosts(all), 30);
      const reachedAll = await load.until(() => all.every((p) => firstCallTo(load.records, p.address, tScale) !== undefined), 10_000);
      const timeToTraffic = all.slice(1).map((p) => (firstCallTo(load.records, p.address, tScale) ?? Infinity) - tScale);
      const slowest = Math.max(...timeToTraffic);
      expect(reachedAll, `new Pods' time to first call: ${timeToTraffic.map((t) => Math.round(t)).join(', ')} ms`).toBe(true);
      expect(slowest).toBeLessThanOrEqual(MAX_INTERVAL_MS + 1_000);

      // Phase 2: the next 1000 calls.
      const tAll = now();
      // One keep-alive connection, calls one after another: on a loaded machine 1000 of them take long.
      expect(await load.until(() => load.finished(tAll).length >= 1_000, 45_000), 'phase 2: 1000 calls').toBe(true);
      const next = load.finished(tAll).slice(0, 1_000);
      const report = await load.stop();
      expectNoFailures(report);

      const s = spread(
        Object.fromEntries(all.map((p) => [p.address, next.filter((r) => r.pod === p.address).length])),
        all.map((p) => p.address),
      );
      console.log(
        `[scale-out] time to first call on each new Pod: ${timeToTraffic.map((t) => Math.round(t)).join(', ')} ms (interval ${RESOLVE_INTERVAL_MS} ms); ` +
          `shares over the next 1000 calls: ${fmtShares(s.shares)}; max/min ${s.maxOverMin.toFixed(2)}, CV ${s.cv.toFixed(3)}; ` +
          `${report.calls} calls, TCP connections opened by the client: ${conn.connectionsOpened()}`,
      );
      for (const p of all) {
        expect(s.shares[p.address], `share of ${p.address}`).toBeGreaterThanOrEqual(0.15);
        expect(s.shares[p.address], `share of ${p.address}`).toBeLessThanOrEqual(0.25);
      }
      // The whole run went over one keep-alive connection: the seed article's pinned setup.
      expect(conn.connectionsOpened()).toBe(1);
      expect(conn.connected()).toBe(1);
    },
    90_000,
  );

  it(
    'scale-in 5 → 2 Pods under load from 4 clients (resolve-interval 500ms): removed from DNS, then SIGTERM: zero failed calls',
    async () => {
      const name = serviceName();
      const all = await pods(podAddresses(5, 10));
      const keep = all.slice(0, 2);
      const gone = all.slice(2);
      await dns.set(name, hosts(all), 30);
      const gw = await gateway(name);
      await waitForReady(gw, all.map((p) => p.address));

      const load = loadFrom(gw, { workers: 4, maxCalls: 50_000, maxMs: 30_000, delayMs: 2 });
      expect(await load.until(() => Object.keys(load.perPod()).length === 5, 10_000), 'every Pod had traffic before the event').toBe(true);

      await dns.set(name, hosts(keep), 30);
      await sleep(PROPAGATION_MS + 300); // > resolve interval: the gateway has stopped sending to them
      const tStop = now();
      await Promise.all(gone.map((p) => p.stop()));
      const tStopped = now();
      await sleep(1_000);
      const report = await load.stop();

      expectNoFailures(report);
      const after = load.perPod(tStop);
      console.log(
        `[scale-in] ${report.calls} calls, ${report.failed} failed; removed Pods' calls after SIGTERM: ` +
          `${gone.map((p) => after[p.address] ?? 0).join(', ')}; SIGTERM took ${Math.round(tStopped - tStop)} ms; retries ${JSON.stringify(gw.pools[0]!.retries)}`,
      );
      for (const p of gone) expect(after[p.address] ?? 0, `${p.address} got calls after it left DNS`).toBe(0);
      for (const p of keep) expect(load.perPod(tStopped)[p.address] ?? 0).toBeGreaterThan(0);
    },
    60_000,
  );

  it(
    'rolling update of 3 Pods under load (resolve-interval 500ms): new Pod added to DNS, old removed, then SIGTERM, one by one: zero failed calls',
    async () => {
      const name = serviceName();
      const old = await pods(podAddresses(3, 20));
      const newIps = podAddresses(3, 23);
      await dns.set(name, hosts(old), 30);
      const gw = await gateway(name);
      await waitForReady(gw, old.map((p) => p.address));

      const load = loadFrom(gw, { workers: 4, maxCalls: 60_000, maxMs: 50_000, delayMs: 2 });
      expect(await load.until(() => Object.keys(load.perPod()).length === 3, 10_000), 'every Pod had traffic before the event').toBe(true);

      let current = [...old] as PodProcess[];
      const steps: string[] = [];
      for (let i = 0; i < old.length; i++) {
        const [fresh] = await pods([newIps[i]!]); // the new Pod starts; it is not in DNS until ready
        current = [...current, fresh!];
        await dns.set(name, hosts(current), 30);
        const tAdded = now();
        await load.until(() => firstCallTo(load.records, fresh!.address, tAdded) !== undefined, 10_000);
        const newTraffic = (firstCallTo(load.records, fresh!.address, tAdded) ?? Infinity) - tAdded;

        const leaving = old[i]!;
        current = current.filter((p) => p !== leaving);
        await dns.set(name, hosts(current), 30);
        await sleep(PROPAGATION_MS);
        const tStop = now();
        await leaving.stop();
        steps.push(`${leaving.address}→${fresh!.address} (first call after ${Math.round(newTraffic)} ms, ${load.perPod(tStop)[leaving.address] ?? 0} calls to the old one after its SIGTERM)`);
      }
      const tDone = now();
      await sleep(500);
      const report = await load.stop();

      expectNoFailures(report);
      console.log(`[rolling update] ${report.calls} calls, ${report.failed} failed, retries ${JSON.stringify(gw.pools[0]!.retries)}; ${steps.join('; ')}`);
      expect(Object.keys(load.perPod(tDone)).sort()).toEqual(newIps.map((ip) => `${ip}:${port}`).sort());
    },
    60_000,
  );

});

describe('balancing over a headless Service: crash, DNS outage, a big Service, a slow Pod (headless-dns)', () => {
  let headless: DnsProcess;
  beforeAll(async () => {
    dns = headless = await spawnHeadlessDns();
  });
  afterAll(async () => {
    await headless?.stop();
  });

  it(
    'crash: a Pod SIGKILLed under load (resolve-interval 500ms): at most the calls in flight fail, none after',
    async () => {
      const name = serviceName();
      const all = await pods(podAddresses(4, 30));
      const [victim, ...rest] = all;
      await dns.set(name, hosts(all), 30);
      const gw = await gateway(name);
      await waitForReady(gw, all.map((p) => p.address));

      const workers = 8;
      // delay_ms 20: every Pod has calls in flight when the kill comes.
      const load = loadFrom(gw, { workers, maxCalls: 50_000, maxMs: 30_000, delayMs: 20 });
      expect(await load.until(() => Object.keys(load.perPod()).length === 4, 10_000), 'every Pod had traffic before the event').toBe(true);
      await sleep(300);

      const tKill = now();
      const inFlightAtKill = load.inFlight();
      await victim!.kill();
      const tDead = now();
      // A crashed Pod stays in DNS until its readiness probe fails: keep it there a while.
      await sleep(1_000);
      await dns.set(name, hosts(rest), 30);
      await sleep(PROPAGATION_MS);
      const report = await load.stop();

      expect(report.stoppedBy).toBe('stop');
      const failed = load.failures();
      console.log(
        `[crash] ${report.calls} calls, ${failed.length} failed (in flight at the kill: ${inFlightAtKill} of ${workers} workers), ` +
          `retries ${JSON.stringify(gw.pools[0]!.retries)}; ${failureSummary(report)}`,
      );
      // Only calls that were in flight on the dying Pod may fail...
      expect(failed.length, failureSummary(report)).toBeLessThanOrEqual(workers);
      for (const f of failed) expect(f.start, `call #${f.seq} started after the Pod was dead and failed: ${f.error}`).toBeLessThan(tDead);
      for (const f of failed) expect(f.end, `call #${f.seq} failed long before the kill: ${f.error}`).toBeGreaterThanOrEqual(tKill);
      // ... and after that, none: every call that started once the Pod was dead succeeded.
      expect(load.failures(tDead)).toEqual([]);
      expect(load.finished(tDead).length).toBeGreaterThan(20);
      for (const p of rest) expect(load.perPod(tDead)[p.address] ?? 0).toBeGreaterThan(0);
      expect(load.perPod(tDead)[victim!.address] ?? 0).toBe(0);
    },
    60_000,
  );

  it(
    'DNS outage under load (resolve-interval 500ms): SERVFAIL, then the DNS server killed: zero failed calls, every known Pod keeps traffic',
    async () => {
      const name = serviceName();
      const ownDns = await spawnHeadlessDns(); // this test kills its DNS server
      defer(() => ownDns.kill());
      const all = await pods(podAddresses(3, 40));
      await ownDns.set(name, hosts(all), 30);
      const gw = await gateway(name, { dnsPort: ownDns.address.port });
      await waitForReady(gw, all.map((p) => p.address));

      const load = loadFrom(gw, { workers: 4, maxCalls: 50_000, maxMs: 30_000, delayMs: 2 });
      expect(await load.until(() => Object.keys(load.perPod()).length === 3, 10_000), 'every Pod had traffic before the event').toBe(true);
      const failuresBefore = gw.pools[0]!.snapshot().resolver.failures;

      const tServfail = now();
      await ownDns.mode('servfail');
      await sleep(3 * RESOLVE_INTERVAL_MS);
      const tKill = now();
      await ownDns.kill();
      await sleep(4 * RESOLVE_INTERVAL_MS);
      const tEnd = now();
      const report = await load.stop();

      const resolver = gw.pools[0]!.snapshot().resolver;
      console.log(
        `[dns outage] ${report.calls} calls, ${report.failed} failed; resolver failures during the outage: ${resolver.failures - failuresBefore} ` +
          `(last: ${resolver.lastError}); per Pod during SERVFAIL ${JSON.stringify(load.perPod(tServfail, tKill))}, while DNS was down ${JSON.stringify(load.perPod(tKill, tEnd))}`,
      );
      expectNoFailures(report);
      expect(resolver.failures - failuresBefore, 'the gateway did notice the outage').toBeGreaterThan(0);
      for (const p of all) {
        expect(load.perPod(tServfail, tKill)[p.address] ?? 0, `${p.address} during SERVFAIL`).toBeGreaterThan(0);
        expect(load.perPod(tKill, tEnd)[p.address] ?? 0, `${p.address} with the DNS server down`).toBeGreaterThan(0);
      }
      expect(readyPods(gw)).toEqual(all.map((p) => p.address).sort());
    },
    60_000,
  );

  it(
    'a 60-Pod Service whose UDP answer is truncated (TC bit → TCP fallback), resolve-interval 500ms: every Pod gets traffic',
    async () => {
      // 60 Pods as real processes would be ~60 Node processes (~50 MB and a tsx start each) on two
      // cores: minutes of start-up and a machine under memory pressure. What this test is about is
      // the DNS answer (60 A records > 512 bytes → truncated → TCP) and the pool's 60 connections,
      // so the Pods here are 60 in-process grpc-js servers (examples/echo-pod startEchoPod), each on
      // its own loopback address, 127.0.0.2–127.0.0.61, one port.
      const name = serviceName();
      const bigPort = await freePort();
      const ips = podAddresses(60, 2);
      const servers: EchoPod[] = await Promise.all(ips.map((host) => startEchoPod({ host, port: bigPort })));
      defer(() => Promise.all(servers.map((s) => s.forceClose())));
      await headless.udpLimit(512);
      defer(() => headless.udpLimit(null));
      const tcpBefore = (await headless.stats()).tcpConnections;
      await dns.set(name, ips, 30);

      const gw = await gateway(name, { podPort: bigPort });
      await waitForReady(gw, servers.map((s) => s.address), 10_000);
      const tcpAfter = (await headless.stats()).tcpConnections;

      const load = loadFrom(gw, { workers: 6, maxCalls: 2_000, maxMs: 20_000 });
      await load.until(() => servers.every((s) => (load.perPod()[s.address] ?? 0) > 0), 15_000);
      const report = await load.stop();

      const s = spread(report.perPod, servers.map((x) => x.address));
      console.log(
        `[60 Pods] DNS TCP connections during the test: ${tcpAfter - tcpBefore}; ${report.calls} calls, ${report.failed} failed; ` +
          `Pods with traffic ${Object.keys(report.perPod).length}/60; per-Pod calls min ${Math.min(...Object.values(report.perPod))} max ${Math.max(...Object.values(report.perPod))}, CV ${s.cv.toFixed(3)}`,
      );
      expect(tcpAfter - tcpBefore, 'the resolver fell back to TCP').toBeGreaterThan(0);
      expectNoFailures(report);
      const missing = servers.filter((x) => !report.perPod[x.address]).map((x) => x.address);
      expect(missing, 'Pods without traffic').toEqual([]);
    },
    60_000,
  );

  it(
    'least-request vs round-robin with one slow Pod (resolve-interval 500ms): the slow Pod gets a clearly smaller share under least-request',
    async () => {
      // Two normal Pods and one that answers every Echo after a fixed 300 ms (whatever delay_ms asks;
      // far above the client-side cost of a call even on a busy 2-core machine, so in-flight counts differ clearly):
      // a raw grpc-js server, in-process, since the echo Pod has no "be slow" switch.
      const name = serviceName();
      const lrPort = await freePort();
      const [a, b] = await Promise.all([startEchoPod({ host: '127.0.0.70', port: lrPort }), startEchoPod({ host: '127.0.0.71', port: lrPort })]);
      defer(() => Promise.all([a!.forceClose(), b!.forceClose()]));
      const slow = await startSlowEchoPod('127.0.0.72', lrPort, 300);
      defer(() => slow.forceClose());
      const addresses = [a!.address, b!.address, slow.address];
      await dns.set(name, ['127.0.0.70', '127.0.0.71', '127.0.0.72'], 30);

      const slowShare: Record<string, number> = {};
      for (const balancer of ['round-robin', 'least-request']) {
        const gw = await gateway(name, { balancer, podPort: lrPort });
        await waitForReady(gw, addresses);
        const load = loadFrom(gw, { workers: 12, maxCalls: 4_000, maxMs: 2_500, delayMs: 5 });
        const report = await load.done; // stops by itself after 2.5 s (or 4000 calls)
        expect(report.failed, failureSummary(report)).toBe(0);
        slowShare[balancer] = (report.perPod[slow.address] ?? 0) / report.ok;
        console.log(`[${balancer}] ${report.calls} calls in ${Math.round(report.durationMs)} ms, per Pod ${JSON.stringify(report.perPod)}, slow Pod share ${(slowShare[balancer]! * 100).toFixed(1)}%`);
        await gw.close();
      }
      expect(slowShare['least-request']!).toBeLessThan(slowShare['round-robin']!);
      // Round-robin gives every Pod a third of the calls whatever its speed; P2C should cut that at least in half.
      expect(slowShare['least-request']!).toBeLessThan(slowShare['round-robin']! / 2);
    },
    60_000,
  );
});

/** An EchoService Pod (raw grpc-js, @bufbuild/protobuf codec) that answers every Echo after `delayMs`. */
async function startSlowEchoPod(host: string, podPort: number, delayMs: number): Promise<{ address: string; forceClose(): void }> {
  const server = new grpc.Server();
  const address = `${host}:${podPort}`;
  server.register(
    '/echo.v1.EchoService/Echo',
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const req = fromBinary(EchoRequestSchema, call.request);
      setTimeout(() => callback(null, Buffer.from(toBinary(EchoResponseSchema, create(EchoResponseSchema, { message: req.message, pod: address })))), delayMs);
    },
    (b: Buffer) => b,
    (b: Buffer) => b,
    'unary',
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return { address, forceClose: () => server.forceShutdown() };
}

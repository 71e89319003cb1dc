// Upstream TLS against real grpc-js servers as Pods, with certificates made by openssl at test time:
// the server name every Pod must prove, mTLS, and what a Pod that fails TLS looks like (out of
// rotation, one log line, calls UNAVAILABLE with a message that says TLS and names nothing internal).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, ServerCredentials, status as Status, type StatusObject } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TargetSpec, UpstreamOptions, UpstreamTlsConfig } from '../../../src/config/types.js';
import type { Logger } from '../../../src/upstream/logger.js';
import { PodPool } from '../../../src/upstream/pool.js';
import { serverNameFor } from '../../../src/upstream/tls.js';
import { StaticResolver } from '../../../src/upstream/resolver/index.js';
import type { ResolvedAddress, Resolver } from '../../../src/upstream/types.js';
import { freePort } from '../../support/ports.js';
import { startRawPod, type RawPod, type RawPodBehaviour } from '../../support/raw-pod.js';
import { makeCa, makeCert, type TestCa, type TestCert } from '../../support/tls.js';
import { testUpstreamOptions, UPSTREAM_CLIENTS } from '../../support/upstream-options.js';

const SERVICE = 'echo-headless.demo.svc';

let dir: string;
let ca: TestCa;
let otherCa: TestCa;
let pki: { good: TestCert; expired: TestCert; foreign: TestCert; client: TestCert; foreignClient: TestCert };
const pem = (path: string) => readFile(path);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gwg-upstream-tls-'));
  [ca, otherCa] = await Promise.all([makeCa(dir), makeCa(dir)]);
  const [good, expired, foreign, client, foreignClient] = await Promise.all([
    // The Service's name only: verification by IP would fail, by server name passes.
    makeCert(ca, { cn: 'pod', sans: [SERVICE] }),
    makeCert(ca, { cn: 'expired', sans: [SERVICE], days: -1 }),
    makeCert(otherCa, { cn: 'foreign', sans: [SERVICE] }),
    makeCert(ca, { cn: 'gateway', client: true }),
    makeCert(otherCa, { cn: 'intruder', client: true }),
  ]);
  pki = { good, expired, foreign, client, foreignClient };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function serverTls(cert: TestCert, requireClientCert = false): Promise<ServerCredentials> {
  const keyCert = [{ private_key: await pem(cert.key), cert_chain: await pem(cert.cert) }];
  return ServerCredentials.createSsl(requireClientCert ? await pem(ca.cert) : null, keyCert, requireClientCert);
}

async function gatewayTls(o: Partial<UpstreamTlsConfig> = {}): Promise<UpstreamTlsConfig> {
  return { ca: await pem(ca.cert), cert: null, key: null, serverName: null, ...o };
}

const options = (o: Partial<UpstreamOptions>) => testUpstreamOptions({ connectTimeoutMs: 3000, ...o });

interface Logged {
  msg: string;
  fields: Record<string, unknown>;
}

let pods: RawPod[] = [];
let pools: PodPool[] = [];
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close(0)));
  for (const p of pods) p.forceClose();
  pods = [];
  pools = [];
});

async function startPods(hosts: string[], behaviour: RawPodBehaviour | ((i: number) => Promise<RawPodBehaviour>)) {
  const port = await freePort();
  const started = await Promise.all(
    hosts.map(async (h, i) => startRawPod(h, port, typeof behaviour === 'function' ? await behaviour(i) : behaviour)),
  );
  pods.push(...started);
  return { port, addresses: hosts.map((host): ResolvedAddress => ({ host, port })) };
}

function makePool(target: TargetSpec, addresses: ResolvedAddress[], o: Partial<UpstreamOptions>) {
  const warnings: Logged[] = [];
  const logger: Logger = {
    info() {},
    debug() {},
    error() {},
    warn: (fields, msg) => warnings.push({ msg, fields: fields as Record<string, unknown> }),
  };
  const resolver: Resolver = new StaticResolver(addresses);
  const pool = new PodPool({ name: 'upstream-a', target, resolver, options: options(o), maxMessageBytes: 4 << 20, logger });
  pool.start();
  pools.push(pool);
  const tlsWarnings = () => warnings.filter((w) => w.msg.startsWith('TLS to the Pod failed'));
  return { pool, warnings, tlsWarnings };
}

const dnsTarget = (port: number): TargetSpec => ({ kind: 'dns', text: `dns:///${SERVICE}:${port}`, name: SERVICE, port });
const staticTarget = (addresses: ResolvedAddress[]): TargetSpec => ({
  kind: 'static',
  text: addresses.map((a) => `${a.host}:${a.port}`).join(','),
  addresses,
});

function call(pool: PodPool): Promise<{ status: StatusObject; message?: string }> {
  return new Promise((resolve) => {
    let message: string | undefined;
    const c = pool.call(
      { method: '/test.Pod/Who', metadata: new Metadata(), deadline: Date.now() + 10_000, message: Buffer.from('hi') },
      {
        onHeaders() {},
        onMessage(m) {
          message = m.toString();
          c.requestNext();
        },
        onStatus: (status) => resolve({ status, message }),
      },
    );
  });
}

async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stateOf = (pool: PodPool, host: string) => pool.snapshot().endpoints.find((e) => e.address.startsWith(`${host}:`));

describe('upstream TLS: the name every Pod must prove', () => {
  it.each(UPSTREAM_CLIENTS)('Pods reached by IP verify against the Service name of a dns:/// target, sent as SNI and :authority (%s)', async (client) => {
    const { port, addresses } = await startPods(['127.0.0.2', '127.0.0.3'], { credentials: await serverTls(pki.good) });
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, { client, tls: await gatewayTls() });
    await until(() => pool.snapshot().endpoints.filter((e) => e.state === 'READY').length === 2, 'both Pods READY');
    const results = await Promise.all(Array.from({ length: 10 }, () => call(pool)));
    for (const r of results) expect(r.status.code).toBe(Status.OK);
    expect(new Set(results.map((r) => r.message))).toEqual(new Set(pods.map((p) => p.address)));
    for (const pod of pods) expect(pod.lastAuthority).toBe(`${SERVICE}:${port}`);
    expect(tlsWarnings()).toEqual([]);
  });

  it('a static HOST:PORT verifies the host itself: a certificate for the Service name fails by IP, one log line', async () => {
    const { addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.good) });
    const { pool, tlsWarnings } = makePool(staticTarget(addresses), addresses, {
      tls: await gatewayTls(),
      connectTimeoutMs: 1000,
    });
    await until(() => tlsWarnings().length > 0, 'TLS failure logged');
    const r = await call(pool);
    expect(r.status.code).toBe(Status.UNAVAILABLE);
    expect(r.status.details).toBe("no ready backend (the backend's TLS certificate did not verify)");
    const [w] = tlsWarnings();
    expect(w!.fields.reason).toMatch(/^the Pod's certificate does not verify: Hostname\/IP does not match/);
    expect(w!.fields.endpoint).toBe(pods[0]!.address);
  });

  it('--upstream-server-name makes a static target verify against that name instead', async () => {
    const { addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.good) });
    const { pool } = makePool(staticTarget(addresses), addresses, { tls: await gatewayTls({ serverName: SERVICE }) });
    const r = await call(pool);
    expect(r.status.code).toBe(Status.OK);
    expect(pods[0]!.lastAuthority).toBe(`${SERVICE}:${addresses[0]!.port}`);
  });

  it('a wrong --upstream-server-name fails every Pod: the name is verified, not just sent', async () => {
    const { port, addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.good) });
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, {
      tls: await gatewayTls({ serverName: 'other.demo.svc' }),
      connectTimeoutMs: 1000,
    });
    const r = await call(pool);
    expect(r.status.code).toBe(Status.UNAVAILABLE);
    expect(r.status.details).toContain('TLS');
    expect(tlsWarnings()[0]!.fields.reason).toContain('other.demo.svc');
  });
});

describe('upstream TLS: a Pod that fails TLS', () => {
  it('an expired certificate: that Pod is out of rotation with one log line across reconnects; calls go to the others', async () => {
    const { port, addresses } = await startPods(['127.0.0.2', '127.0.0.3'], async (i) => ({
      credentials: await serverTls(i === 0 ? pki.good : pki.expired),
    }));
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, { tls: await gatewayTls() });
    await until(() => tlsWarnings().length > 0, 'TLS failure logged');
    const results = await Promise.all(Array.from({ length: 20 }, () => call(pool)));
    for (const r of results) expect(r.status).toMatchObject({ code: Status.OK });
    expect(pods[0]!.calls).toBe(20);
    expect(pods[1]!.calls).toBe(0);
    const bad = stateOf(pool, '127.0.0.3')!;
    expect(bad.state).toBe('TRANSIENT_FAILURE');
    expect(bad.inRotation).toBe(false);
    // grpc-js reconnects with a backoff from 250 ms: several attempts fail in this wait, one line in all.
    await new Promise((r) => setTimeout(r, 2000));
    expect(tlsWarnings()).toHaveLength(1);
    expect(tlsWarnings()[0]!.fields).toMatchObject({
      endpoint: pods[1]!.address,
      serverName: SERVICE,
      reason: "the Pod's certificate does not verify: certificate has expired",
    });
  });

  it.each(UPSTREAM_CLIENTS)('a certificate from another CA: calls fail UNAVAILABLE within --connect-timeout, saying TLS, naming nothing internal (%s)', async (client) => {
    const { port, addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.foreign) });
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, { client, tls: await gatewayTls(), connectTimeoutMs: 1500 });
    await until(() => tlsWarnings().length > 0, 'TLS failure logged');
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 5 }, () => call(pool)));
    expect(Date.now() - started).toBeLessThan(10_000);
    for (const r of results) {
      expect(r.status.code).toBe(Status.UNAVAILABLE);
      expect(r.status.details).toBe("no ready backend (the backend's TLS certificate did not verify)");
      expect(r.status.details).not.toMatch(/127\.0\.0|upstream-a|echo-headless/);
    }
    expect(tlsWarnings()[0]!.fields.reason).toBe("the Pod's certificate does not verify: unable to verify the first certificate");
    expect(pods[0]!.calls).toBe(0);
  });

  it.each(UPSTREAM_CLIENTS)('a Pod that speaks plaintext while the gateway speaks TLS (%s)', async (client) => {
    const { port, addresses } = await startPods(['127.0.0.2'], {});
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, { client, tls: await gatewayTls(), connectTimeoutMs: 1000 });
    await until(() => tlsWarnings().length > 0, 'TLS failure logged');
    expect(tlsWarnings()[0]!.fields.reason).toMatch(/^the Pod does not speak TLS/);
    const r = await call(pool);
    expect(r.status).toMatchObject({ code: Status.UNAVAILABLE, details: 'no ready backend (the gateway and the backend disagree on TLS)' });
  });

  it.each(UPSTREAM_CLIENTS)('a Pod that speaks TLS while the gateway speaks plaintext (%s)', async (client) => {
    const { port, addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.good) });
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, { client, connectTimeoutMs: 1000 });
    await until(() => tlsWarnings().length > 0, 'TLS failure logged');
    expect(tlsWarnings()[0]!.fields.reason).toMatch(/^the Pod speaks TLS and the gateway plaintext: give --upstream-tls/);
    const r = await call(pool);
    expect(r.status).toMatchObject({ code: Status.UNAVAILABLE, details: 'no ready backend (the gateway and the backend disagree on TLS)' });
  });

  it('a plaintext Pod that refuses connections is no TLS failure: no TLS line, the usual status', async () => {
    const port = await freePort();
    const addresses = [{ host: '127.0.0.2', port }];
    const { pool, warnings } = makePool(dnsTarget(port), addresses, { connectTimeoutMs: 800 });
    await until(() => stateOf(pool, '127.0.0.2')?.state === 'TRANSIENT_FAILURE', 'connection failed');
    const r = await call(pool);
    expect(r.status).toMatchObject({ code: Status.UNAVAILABLE, details: 'no ready backend' });
    expect(warnings.filter((w) => w.msg.includes('TLS'))).toEqual([]);
  });
});

describe('upstream mTLS', () => {
  it('a Pod that requires a client certificate serves the gateway that presents one signed by its CA', async () => {
    const { port, addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.good, true) });
    const tls = await gatewayTls({ cert: await pem(pki.client.cert), key: await pem(pki.client.key) });
    const { pool } = makePool(dnsTarget(port), addresses, { tls });
    expect((await call(pool)).status.code).toBe(Status.OK);
  });

  it.each(UPSTREAM_CLIENTS)('without a client certificate the Pod refuses the handshake: out of rotation, the log says what to check (%s)', async (client) => {
    const { port, addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.good, true) });
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, { client, tls: await gatewayTls(), connectTimeoutMs: 1000 });
    await until(() => tlsWarnings().length > 0, 'TLS failure logged');
    expect(tlsWarnings()[0]!.fields.reason).toBe(
      'the Pod refused the TLS handshake (certificate required): check --upstream-cert and --upstream-key',
    );
    const r = await call(pool);
    expect(r.status).toMatchObject({ code: Status.UNAVAILABLE, details: 'no ready backend (the TLS handshake with the backend failed)' });
  });

  it('a client certificate from another CA: the Pod hangs up after the handshake; out of rotation, the log says what to check', async () => {
    const { port, addresses } = await startPods(['127.0.0.2'], { credentials: await serverTls(pki.good, true) });
    const tls = await gatewayTls({ cert: await pem(pki.foreignClient.cert), key: await pem(pki.foreignClient.key) });
    const { pool, tlsWarnings } = makePool(dnsTarget(port), addresses, { tls, connectTimeoutMs: 1000 });
    await until(() => tlsWarnings().length > 0, 'TLS failure logged');
    expect(tlsWarnings()[0]!.fields.reason).toBe(
      'the Pod closed the connection right after the TLS handshake, as a Pod that rejects the client certificate does: check --upstream-cert and --upstream-key',
    );
    expect((await call(pool)).status.details).toBe('no ready backend (the TLS handshake with the backend failed)');
    expect(pods[0]!.calls).toBe(0);
  });
});

describe('upstream TLS: health checks', () => {
  it('ride the same TLS connection: a Pod answering NOT_SERVING over TLS leaves rotation, the other keeps serving', async () => {
    const { port, addresses } = await startPods(['127.0.0.2', '127.0.0.3'], async (i) => ({
      credentials: await serverTls(pki.good),
      health: () => (i === 0 ? 1 : 2),
    }));
    const { pool } = makePool(dnsTarget(port), addresses, {
      tls: await gatewayTls(),
      healthCheckIntervalMs: 50,
      healthCheckTimeoutMs: 1000,
    });
    await until(() => stateOf(pool, '127.0.0.3')?.healthy === false, 'NOT_SERVING Pod out of rotation');
    expect(stateOf(pool, '127.0.0.2')).toMatchObject({ state: 'READY', healthy: true, inRotation: true });
    expect(stateOf(pool, '127.0.0.3')).toMatchObject({ state: 'READY', inRotation: false });
    const results = await Promise.all(Array.from({ length: 6 }, () => call(pool)));
    for (const r of results) expect(r.message).toBe(pods[0]!.address);
  });
});

describe('serverNameFor a k8s:/// target', () => {
  it("is the Service's SERVICE.NAMESPACE.svc name, unless --upstream-server-name says otherwise", () => {
    const target = { kind: 'k8s', text: 'k8s:///echo.shop:grpc', service: 'echo', namespace: 'shop', port: 'grpc' } as const;
    const tls = { ca: null, cert: null, key: null, serverName: null };
    expect(serverNameFor(target, tls)).toBe('echo.shop.svc');
    expect(serverNameFor(target, { ...tls, serverName: 'api.internal' })).toBe('api.internal');
  });
});

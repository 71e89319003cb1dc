// Upstream TLS as users run it: `node dist/cli.js` in front of a headless Service (our DNS server)
// whose Pods are grpc-js servers with certificates made by openssl for this run, called by a
// gRPC-Web client we did not write (connect-web). Every Pod's certificate names the Service only,
// so each Pod reached by its IP verifies only because the gateway checks the Service name.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerCredentials } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { Code, nodeClient, podOf } from '../support/clients.js';
import { spawnHeadlessDns, type DnsProcess } from '../support/dns-process.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from '../support/gateway-process.js';
import { UPSTREAM_CLIENTS } from '../support/upstream-options.js';
import { freePort, podAddresses } from '../support/ports.js';
import { makeCa, makeCert, type TestCa, type TestCert } from '../support/tls.js';

/** Bounds on start-ups and waits, not measures: room for a loaded machine. */
const START_MS = 60_000;
const SERVICE = 'echo-headless.demo.svc.cluster.local';

let dir: string;
let ca: TestCa;
let otherCa: TestCa;
let dns: DnsProcess;
let pods: EchoPod[] = [];
let gateway: GatewayProcess | null = null;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gwg-e2e-upstream-tls-'));
  [ca, otherCa, dns] = await Promise.all([makeCa(dir), makeCa(dir), spawnHeadlessDns()]);
});
afterAll(async () => {
  await dns?.stop();
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  if (gateway) {
    gateway.kill('SIGKILL');
    await gateway.exited;
  }
  for (const p of pods) p.forceClose();
  pods = [];
  gateway = null;
});

/** Pods with these certificates on 127.0.0.<first>..., one port; requireClientCert: mTLS against `ca`. */
async function startPods(certs: TestCert[], first: number, requireClientCert: boolean): Promise<number> {
  const port = await freePort();
  const hosts = podAddresses(certs.length, first);
  pods = await Promise.all(
    certs.map(async (cert, i) => {
      const keyCert = [{ private_key: await readFile(cert.key), cert_chain: await readFile(cert.cert) }];
      const clientCa = requireClientCert ? await readFile(ca.cert) : null;
      const credentials = ServerCredentials.createSsl(clientCa, keyCert, requireClientCert);
      return startEchoPod({ host: hosts[i]!, port, credentials });
    }),
  );
  await dns.set(SERVICE, hosts);
  return port;
}

async function startGateway(port: number, tlsArgs: string[], extra: string[] = []) {
  const [listen, admin] = await Promise.all([freePort(), freePort()]);
  gateway = spawnGateway([
    '--listen', `127.0.0.1:${listen}`,
    '--admin', `127.0.0.1:${admin}`,
    '--upstream', `dns:///${SERVICE}:${port}`,
    '--dns-server', `${dns.address.host}:${dns.address.port}`,
    '--resolve-interval', '500ms',
    ...tlsArgs,
    ...extra,
  ]);
  return { url: `http://127.0.0.1:${listen}`, admin: `http://127.0.0.1:${admin}` };
}

const logLines = () =>
  gateway!
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const tlsLines = () => logLines().filter((l) => l.msg === 'TLS to the Pod failed; out of rotation until a connection succeeds');

async function until(what: string, predicate: () => boolean, ms = START_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('upstream TLS through node dist/cli.js', { timeout: 180_000 }, () => {
  it('mTLS to every Pod of a headless Service, verified against the Service name; an expired Pod stays out with one log line', async () => {
    const [good1, good2, good3, expired, client] = await Promise.all([
      makeCert(ca, { cn: 'pod-a', sans: [SERVICE] }),
      makeCert(ca, { cn: 'pod-b', sans: [SERVICE] }),
      makeCert(ca, { cn: 'pod-c', sans: [SERVICE] }),
      makeCert(ca, { cn: 'pod-old', sans: [SERVICE], days: -1 }),
      makeCert(ca, { cn: 'gateway', client: true }),
    ]);
    const port = await startPods([good1, good2, good3, expired], 21, true);
    const gw = await startGateway(port, [
      '--upstream-ca', ca.cert,
      '--upstream-cert', client.cert,
      '--upstream-key', client.key,
    ]);
    await waitForStatus(`${gw.admin}/readyz`, 200, START_MS);
    await until('the expired Pod reported', () => tlsLines().length > 0);

    const client1 = nodeClient('connect', gw.url);
    const served: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      const r = await client1.unary({ message: `call ${i}` });
      expect(r.status).toEqual({ code: 0, details: '' });
      const pod = podOf(r)!;
      served[pod] = (served[pod] ?? 0) + 1;
    }
    const stream = await client1.stream({ count: 5, payloadSize: 10 });
    expect(stream.ok).toBe(true);
    expect(stream.messages).toHaveLength(5);

    const [a, b, c, old] = pods;
    // Every Pod that verifies serves; the expired one never does.
    expect(Object.keys(served).sort()).toEqual([a!.address, b!.address, c!.address].sort());
    expect(old!.calls()).toBe(0);
    // grpc-js reconnects to the expired Pod with a growing backoff the whole time: one line in all.
    const lines = tlsLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      endpoint: old!.address,
      serverName: SERVICE,
      reason: "the Pod's certificate does not verify: certificate has expired",
    });
  });

  it.each(UPSTREAM_CLIENTS)('Pods whose certificates come from another CA: calls fail UNAVAILABLE saying TLS, never hang; not ready; one line per Pod (%s)', async (upstreamClient) => {
    const certs = await Promise.all([
      makeCert(otherCa, { cn: 'pod-x', sans: [SERVICE] }),
      makeCert(otherCa, { cn: 'pod-y', sans: [SERVICE] }),
    ]);
    const port = await startPods(certs, 31, false);
    const gw = await startGateway(port, ['--upstream-ca', ca.cert], ['--connect-timeout', '1s', '--upstream-client', upstreamClient]);
    await waitForStatus(`${gw.admin}/healthz`, 200, START_MS);
    await until('both Pods reported', () => tlsLines().length === 2);

    const client = nodeClient('connect', gw.url);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 8 }, () => client.unary({ message: 'x' })));
    expect(Date.now() - started).toBeLessThan(15_000);
    for (const r of results) {
      expect(r.status).toEqual({ code: Code.Unavailable, details: "no ready backend (the backend's TLS certificate did not verify)" });
      expect(JSON.stringify(r)).not.toMatch(/127\.0\.0\.|echo-headless|dns:/);
    }
    // Ready only once a Pod is connected, TLS handshake included.
    expect((await fetch(`${gw.admin}/readyz`)).status).toBe(503);
    expect(new Set(tlsLines().map((l) => l.endpoint))).toEqual(new Set(pods.map((p) => p.address)));
    expect(tlsLines()).toHaveLength(2);
    for (const p of pods) expect(p.calls()).toBe(0);
  });

  it('a key that is not the certificate\'s, or an unreadable CA: exit code 2, one line naming the flag', async () => {
    const [client, other] = await Promise.all([
      makeCert(ca, { cn: 'gw-1', client: true }),
      makeCert(ca, { cn: 'gw-2', client: true }),
    ]);
    for (const [args, expected] of [
      [['--upstream-cert', client.cert, '--upstream-key', other.key], `--upstream-key: '${other.key}' is not the key of the certificate in '${client.cert}'`],
      [['--upstream-ca', join(dir, 'nope.pem')], `--upstream-ca: cannot read '${join(dir, 'nope.pem')}' (ENOENT)`],
    ] as const) {
      const g = spawnGateway(['--upstream', '127.0.0.1:1', ...args]);
      const { code } = await g.exited;
      expect(code).toBe(2);
      expect(g.output()).toBe(`grpc-web-gateway: ${expected}\n`);
    }
  });
});

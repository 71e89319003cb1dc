// Upstream client certificates rotated while the gateway runs, as cert-manager does through a
// mounted Secret (a `..data` symlink swapped over a new directory): the gateway reads the files
// again, new connections to every Pod present the new certificate, old connections drain, and
// calls keep succeeding under load, each sent once. Certificates are made by openssl at test
// time; the Pods are grpc-js servers that require a client certificate and record its serial.
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { freePort } from '../support/ports.js';
import { startRawPod, type RawPod } from '../support/raw-pod.js';
import { SecretDir } from '../support/secret-dir.js';
import { makeCa, makeCert, type TestCa, type TestCert } from '../support/tls.js';
import { until } from '../support/until.js';

const POD_NAME = 'pods.test';

let dir: string;
let serverCa: TestCa;
let clientCa1: TestCa;
let clientCa2: TestCa;
let podCert: TestCert;
let client1: TestCert;
let client2: TestCert;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gwg-upstream-reload-'));
  [serverCa, clientCa1, clientCa2] = await Promise.all([makeCa(join(dir, 'server')), makeCa(join(dir, 'ca1')), makeCa(join(dir, 'ca2'))]);
  [podCert, client1, client2] = await Promise.all([
    makeCert(serverCa, { cn: 'pod', sans: [POD_NAME] }),
    makeCert(clientCa1, { cn: 'gateway', client: true }),
    makeCert(clientCa2, { cn: 'gateway', client: true }),
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
});

/** A Pod that requires a client certificate signed by one of `clientCas`. */
async function mtlsPod(host: string, port: number, clientCas: TestCa[]): Promise<RawPod> {
  const roots = Buffer.concat(await Promise.all(clientCas.map((ca) => readFile(ca.cert))));
  const keyCert = [{ private_key: await readFile(podCert.key), cert_chain: await readFile(podCert.cert) }];
  // Each call is held a little, so that calls are in flight on the old connection when it is replaced.
  const pod = await startRawPod(host, port, { credentials: grpc.ServerCredentials.createSsl(roots, keyCert, true), delayMs: 20 });
  cleanups.push(() => pod.forceClose());
  return pod;
}

const identity = (b: Buffer): Buffer => b;

// Both upstream clients: grpc-js takes new credentials per Channel, the node:http2 one a new
// secure context per session (credentials.ts makes both).
describe.each(['grpc-js', 'http2'])('upstream certificate reload (--upstream-client %s)', (upstreamClient) => {
  it('a rotated client certificate (..data swap) reaches every Pod under load: none failed, none sent twice, old connections drained', async () => {
    const secret = new SecretDir(join(dir, `secret-${upstreamClient}`));
    await secret.init(client1);
    const port = await freePort();
    // Pod A accepts both CAs (a rotation in progress); Pod B only the new one, so until the
    // gateway presents the new certificate, B refuses it and is out of rotation.
    const [podA, podB] = await Promise.all([mtlsPod('127.0.0.2', port, [clientCa1, clientCa2]), mtlsPod('127.0.0.3', port, [clientCa2])]);

    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const flags = [
      '--listen', '127.0.0.1:0', '--admin', 'off', '--access-log', 'false',
      '--upstream', `127.0.0.2:${port},127.0.0.3:${port}`,
      '--upstream-ca', serverCa.cert, '--upstream-server-name', POD_NAME,
      '--upstream-cert', secret.cert, '--upstream-key', secret.key,
      '--upstream-client', upstreamClient,
    ];
    const result = loadConfig(flags, {});
    if (!('config' in result)) throw new Error('not a config');
    const gw: Gateway = await startGateway(result.config, { logger });
    cleanups.push(() => gw.close());
    const pool = gw.pools[0]!;
    expect(await until(() => pool.isReady(), 10_000)).toBe(true);

    // Load: 8 callers in a loop through one real grpc-js client, until told to stop (bounded).
    const client = new grpc.Client(gw.httpUrl.replace('http://', ''), grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const outcome = { ok: 0, failed: [] as string[] };
    let running = true;
    const callOnce = () =>
      new Promise<void>((resolve) =>
        client.makeUnaryRequest('/test.Pod/Who', identity, identity, Buffer.from('hi'), { deadline: Date.now() + 10_000 }, (error) => {
          if (error) outcome.failed.push(`${error.code} ${error.details}`);
          else outcome.ok++;
          resolve();
        }),
      );
    const deadline = Date.now() + 60_000;
    const callers = Array.from({ length: 8 }, async () => {
      while (running && Date.now() < deadline) await callOnce();
    });

    expect(await until(() => podA.calls >= 50, 10_000)).toBe(true);
    expect(podB.calls).toBe(0);
    expect(new Set(podA.clientSerials)).toEqual(new Set([client1.serial]));

    const rotatedAt = Date.now();
    await secret.swap(client2);
    expect(await until(() => podB.calls > 20 && podA.clientSerials.includes(client2.serial), 15_000)).toBe(true);
    const tookMs = Date.now() - rotatedAt;
    expect(tookMs).toBeLessThan(10_000);

    // The old connection to A drains and closes: one connection per Pod again.
    expect(await until(() => pool.snapshot().endpoints.every((e) => e.connections === 1), 10_000)).toBe(true);
    const afterDrain = podA.clientSerials.length;

    // A bad new set (a key that is not the certificate's) keeps the current one: logged once.
    await secret.swap({ cert: client1.cert, key: client2.key });
    await until(() => lines.some((l) => String(l.msg).includes('cannot be used')), 10_000);
    const beforeQuiet = podA.calls + podB.calls;
    expect(await until(() => podA.calls + podB.calls > beforeQuiet + 200, 20_000)).toBe(true);

    running = false;
    await Promise.all(callers);
    expect(outcome.failed).toEqual([]);
    // Every call ran exactly once, on one Pod or the other.
    expect(podA.calls + podB.calls).toBe(outcome.ok);
    expect(new Set(podA.clientSerials.slice(afterDrain))).toEqual(new Set([client2.serial]));
    expect(new Set(podB.clientSerials)).toEqual(new Set([client2.serial]));
    const rejected = lines.filter((l) => String(l.msg).includes('cannot be used'));
    expect(rejected).toHaveLength(1);
    expect(String(rejected[0]!.reason)).toContain('is not the key of the certificate');
    expect(lines.filter((l) => String(l.msg).startsWith('upstream TLS files reloaded'))).toHaveLength(1);
    console.log(`new client certificate on the Pods ${tookMs} ms after the ..data swap; ${outcome.ok} calls, 0 failed`);
  });
});

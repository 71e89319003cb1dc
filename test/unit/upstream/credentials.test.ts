// Renewed upstream credentials against real grpc-js Pods over mTLS, certificates made by openssl at
// test time: what a PodPool does with its connections when the files change (a new one first, the
// old one serves its calls to their end, then closes), and what a change that cannot be used does.
import { Metadata, ServerCredentials, status as Status, type StatusObject } from '@grpc/grpc-js';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamTlsConfig } from '../../../src/config/types.js';
import { UpstreamCredentials } from '../../../src/upstream/credentials.js';
import type { Logger } from '../../../src/upstream/logger.js';
import { PodPool } from '../../../src/upstream/pool.js';
import { StaticResolver } from '../../../src/upstream/resolver/index.js';
import { freePort } from '../../support/ports.js';
import { startRawPod, type RawPod } from '../../support/raw-pod.js';
import { makeCa, makeCert, type TestCa, type TestCert } from '../../support/tls.js';
import { testUpstreamOptions } from '../../support/upstream-options.js';
import { until } from '../../support/until.js';

const NAME = 'pods.test';
let dir: string;
let ca: TestCa;
let pod: TestCert;
let client1: TestCert;
let client2: TestCert;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gwg-credentials-'));
  ca = await makeCa(dir);
  [pod, client1, client2] = await Promise.all([
    makeCert(ca, { cn: 'pod', sans: [NAME] }),
    makeCert(ca, { cn: 'gateway', client: true }),
    makeCert(ca, { cn: 'gateway', client: true }),
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Logged {
  level: 'info' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

async function setup(delayMs: number) {
  const port = await freePort();
  const keyCert = [{ private_key: await readFile(pod.key), cert_chain: await readFile(pod.cert) }];
  const server: RawPod = await startRawPod('127.0.0.2', port, { credentials: ServerCredentials.createSsl(await readFile(ca.cert), keyCert, true), delayMs });
  cleanups.push(() => server.forceClose());
  // The files the gateway reads, in a directory of their own (rewritten in place by the tests).
  const files = { ca: join(dir, `ca-${port}.pem`), cert: join(dir, `client-${port}.pem`), key: join(dir, `client-${port}.key`) };
  await Promise.all([copyFile(ca.cert, files.ca), copyFile(client1.cert, files.cert), copyFile(client1.key, files.key)]);
  const config: UpstreamTlsConfig = {
    ca: await readFile(files.ca),
    cert: await readFile(files.cert),
    key: await readFile(files.key),
    serverName: NAME,
    files,
  };
  const logged: Logged[] = [];
  const logger: Logger = {
    debug() {},
    error() {},
    info: (fields, msg) => logged.push({ level: 'info', msg, fields: fields as Record<string, unknown> }),
    warn: (fields, msg) => logged.push({ level: 'warn', msg, fields: fields as Record<string, unknown> }),
  };
  // A long interval: the tests read the files themselves (check()), when they choose.
  const credentials = new UpstreamCredentials(config, logger, 3_600_000);
  const pool = new PodPool({
    name: 'upstream-a',
    target: { kind: 'static', text: `127.0.0.2:${port}`, addresses: [{ host: '127.0.0.2', port }] },
    resolver: new StaticResolver([{ host: '127.0.0.2', port }]),
    options: testUpstreamOptions({ tls: config, connectTimeoutMs: 5000 }),
    credentials,
    maxMessageBytes: 4 << 20,
    logger,
  });
  pool.start();
  cleanups.push(() => pool.close(0));
  expect(await until(() => pool.isReady(), 10_000)).toBe(true);
  return { server, pool, credentials, files, logged };
}

function call(pool: PodPool): Promise<StatusObject> {
  return new Promise((resolve) => {
    const c = pool.call(
      { method: '/test.Pod/Who', metadata: new Metadata(), deadline: Date.now() + 20_000, message: Buffer.from('hi') },
      { onHeaders() {}, onMessage: () => c.requestNext(), onStatus: (status) => resolve(status) },
    );
  });
}

const connections = (pool: PodPool) => pool.snapshot().endpoints[0]!.connections;

describe('renewed upstream credentials', () => {
  it('a new connection first; the old one finishes its call, takes no new one, then closes', async () => {
    const { server, pool, credentials, files } = await setup(3000);
    const held = call(pool);
    expect(await until(() => server.calls === 1, 5_000)).toBe(true);

    await Promise.all([copyFile(client2.cert, files.cert), copyFile(client2.key, files.key)]);
    await credentials.check();
    expect(credentials.generation).toBe(1);
    // Calls go on while the new connection comes up (on the old one until it is READY).
    const more: Array<Promise<StatusObject>> = [];
    const deadline = Date.now() + 10_000;
    while (!server.clientSerials.includes(client2.serial) && Date.now() < deadline) {
      more.push(call(pool));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(server.clientSerials).toContain(client2.serial);
    // The held call keeps the old connection open beside the new one: not cut.
    expect(connections(pool)).toBe(2);
    expect((await held).code).toBe(Status.OK);
    for (const status of await Promise.all(more)) expect(status.code).toBe(Status.OK);
    expect(server.calls).toBe(1 + more.length);
    // Its last call ended: the old connection is closed, and calls carry the new certificate.
    expect(await until(() => connections(pool) === 1, 10_000)).toBe(true);
    const before = server.clientSerials.length;
    expect((await call(pool)).code).toBe(Status.OK);
    expect(server.clientSerials.slice(before)).toEqual([client2.serial]);
  });

  it('unchanged files renew nothing; a set that cannot be used keeps the one in use, logged once', async () => {
    const { server, pool, credentials, files, logged } = await setup(0);
    await credentials.check();
    expect(credentials.generation).toBe(0);

    await writeFile(files.cert, 'not a certificate\n');
    for (let i = 0; i < 3; i++) await credentials.check();
    await copyFile(client2.cert, files.cert); // the key is still client1's
    for (let i = 0; i < 3; i++) await credentials.check();
    await rm(files.key);
    for (let i = 0; i < 3; i++) await credentials.check();
    expect(credentials.generation).toBe(0);
    const warnings = logged.filter((l) => l.level === 'warn');
    expect(warnings.map((w) => w.msg)).toEqual(Array(3).fill('upstream TLS files changed but cannot be used: keeping the ones in use'));
    expect(String(warnings[0]!.fields.reason)).toContain('holds no PEM certificate');
    expect(String(warnings[1]!.fields.reason)).toContain('is not the key of the certificate');
    expect(String(warnings[2]!.fields.reason)).toContain('ENOENT');
    expect((await call(pool)).code).toBe(Status.OK);
    expect(server.clientSerials).toEqual([client1.serial]);

    // Then a good set: in use.
    await copyFile(client2.key, files.key);
    await credentials.check();
    expect(credentials.generation).toBe(1);
    expect(logged.filter((l) => l.msg.startsWith('upstream TLS files reloaded'))).toHaveLength(1);
    expect(await until(() => connections(pool) === 1 && pool.isReady(), 5_000)).toBe(true);
    expect((await call(pool)).code).toBe(Status.OK);
    expect(server.clientSerials.at(-1)).toBe(client2.serial);
  });

  it('without files (or without a logger) nothing is watched', async () => {
    const plain = new UpstreamCredentials({ ca: null, cert: null, key: null, serverName: null });
    await plain.check();
    expect(plain.generation).toBe(0);
  });
});

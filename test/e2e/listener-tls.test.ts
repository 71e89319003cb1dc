// The TLS listener: ALPN h2 and http/1.1 on one port, real clients (curl, connect-web and
// protobuf-ts over undici with and without allowH2), certificate rotation under load (the files
// rewritten, renamed over, and swapped the way Kubernetes updates a mounted Secret), bad new files,
// mTLS, and a handshake of garbage. Certificates are made by openssl at test time.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { expectCallsCarriedBy } from '../support/carried-by.js';
import { NODE_CLIENTS, nodeClient } from '../support/clients.js';
import { presentedSerial, tlsFetch, type TlsFetch } from '../support/tls-clients.js';
import { SecretDir } from '../support/secret-dir.js';
import { makeCa, makeCert, type TestCa, type TestCert } from '../support/tls.js';
import { until } from '../support/until.js';
import { testGatewayEnv } from '../support/upstream-options.js';

let dir: string;
let ca: TestCa;
let pod: EchoPod;
const gateways: Gateway[] = [];
const fetches: TlsFetch[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gwg-listener-tls-'));
  ca = await makeCa(join(dir, 'ca'));
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
});
afterAll(async () => {
  for (const f of fetches) await f.close();
  for (const g of gateways) await g.close();
  await pod?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const serverCert = (): Promise<TestCert> => makeCert(ca, { cn: 'gateway', sans: ['127.0.0.1', 'localhost'] });

interface Started {
  gw: Gateway;
  logs: Array<Record<string, unknown>>;
}

async function startTls(cert: string, key: string, flags: string[] = []): Promise<Started> {
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, '--tls-cert', cert, '--tls-key', key, ...flags], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const gw = await startGateway(result.config, { logger });
  gateways.push(gw);
  for (let i = 0; i < 500 && !gw.pools[0]!.isReady(); i++) await new Promise((r) => setTimeout(r, 10));
  return { gw, logs };
}

function client(o: Parameters<typeof tlsFetch>[0]): TlsFetch {
  const f = tlsFetch(o);
  fetches.push(f);
  return f;
}

const ECHO_FRAME = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69]);
const ECHO_PATH = '/echo.v1.EchoService/Echo';

function curl(args: string[], input: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('curl', ['-sS', ...args], (error, stdout) => (error ? reject(error) : resolve(stdout)));
    child.stdin!.end(input);
  });
}

describe('TLS listener', () => {
  let started: Started;
  let cert: TestCert;
  beforeAll(async () => {
    cert = await serverCert();
    started = await startTls(cert.cert, cert.key);
  });

  it('offers h2 and http/1.1 by ALPN: curl --http2 and --http1.1 with the test CA get the same answer', async () => {
    const url = started.gw.httpUrl + ECHO_PATH;
    expect(url.startsWith('https://')).toBe(true);
    const call = (flag: string) =>
      curl([flag, '--cacert', ca.cert, '--data-binary', '@-', '-H', 'content-type: application/grpc-web+proto', '-o', '/dev/null', '-w', '%{http_version} %{http_code} %{size_download}', url], ECHO_FRAME);
    const [h2, h1] = await Promise.all([call('--http2'), call('--http1.1')]);
    expect(h2.split(' ').slice(0, 2)).toEqual(['2', '200']);
    expect(h1.split(' ').slice(0, 2)).toEqual(['1.1', '200']);
    expect(h2.split(' ')[2]).toBe(h1.split(' ')[2]);
  });

  describe.each(NODE_CLIENTS)('%s over HTTPS', (kind) => {
    it.each([
      ['HTTP/2 (undici allowH2)', true, '2.0'],
      ['HTTP/1.1', false, '1.1'],
    ] as const)('%s: unary and a server stream', async (_name, h2, version) => {
      const c = nodeClient(kind, started.gw.httpUrl, client({ ca: ca.cert, h2 }).fetch);
      await expectCallsCarriedBy(c, started.logs, version, `${kind}-over-${version}`);
    });
  });

  it('a TLS handshake of garbage is refused, and the gateway keeps serving', async () => {
    const { port } = new URL(started.gw.httpUrl);
    const closed = await new Promise<boolean>((resolve) => {
      const socket = netConnect(Number(port), '127.0.0.1', () => {
        // A TLS record header (handshake, TLS 1.2) around bytes that are no ClientHello.
        socket.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x03, 0x00, 0x40]), Buffer.alloc(64, 0xab)]));
      });
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 5_000).unref();
    });
    expect(closed).toBe(true);
    const ok = await nodeClient('connect', started.gw.httpUrl, client({ ca: ca.cert, h2: true }).fetch).unary({ message: 'after garbage' });
    expect(ok.ok).toBe(true);
  });
});

describe('certificate rotation', () => {
  it('replaced 3 ways under load: new connections present the new serial within 5 s, open ones are kept, no call fails', async () => {
    const first = await serverCert();
    const secret = new SecretDir(join(dir, 'secret-rotation'));
    await secret.init(first);
    const { gw, logs } = await startTls(secret.cert, secret.key);
    expect(await presentedSerial(gw.httpUrl, ca.cert)).toBe(first.serial);

    // A connection made before any rotation, kept open through all of them.
    const kept = http2Connect(gw.httpUrl, { ca: await readFile(ca.cert) });
    kept.on('error', () => {});
    await new Promise((resolve) => kept.once('connect', resolve));
    const keptSerial = (kept.socket as unknown as TLSSocket).getPeerCertificate().serialNumber;
    expect(keptSerial).toBe(first.serial);

    // Load: HTTP/2 (one reused connection) and HTTP/1.1 clients calling without pause.
    let running = true;
    let calls = 0;
    const failures: string[] = [];
    const loop = async (fetch: TlsFetch['fetch']) => {
      const c = nodeClient('connect', gw.httpUrl, fetch);
      for (let i = 0; running && i < 100_000; i++) {
        const r = await c.unary({ message: `load ${i}` });
        calls++;
        if (!r.ok) failures.push(`${r.status.code} ${r.status.details}`);
      }
    };
    const loops = [loop(client({ ca: ca.cert, h2: true }).fetch), loop(client({ ca: ca.cert, h2: false }).fetch)];

    const ways: Array<[string, (c: TestCert) => Promise<void>]> = [
      ['rewritten in place', (c) => secret.rewrite(c)],
      ['a swapped ..data symlink', (c) => secret.swap(c)],
      ['renamed over', (c) => secret.renameOver(c)],
    ];
    try {
      for (const [way, replace] of ways) {
        const next = await serverCert();
        const changed = Date.now();
        await replace(next);
        let seen = '';
        while (seen !== next.serial && Date.now() - changed < 5_000) {
          seen = await presentedSerial(gw.httpUrl, ca.cert);
          if (seen !== next.serial) await new Promise((r) => setTimeout(r, 100));
        }
        expect(seen, `new serial after the files were ${way}`).toBe(next.serial);
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(20);
    expect(logs.filter((l) => l.msg === 'TLS certificate reloaded: new connections get the new one').length).toBe(3);

    // The connection opened before the rotations still works, with the certificate it was made with.
    const answer = await new Promise<number>((resolve, reject) => {
      const s = kept.request({ ':method': 'POST', ':path': ECHO_PATH, 'content-type': 'application/grpc-web+proto' });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.on('data', () => {});
      s.end(ECHO_FRAME);
    });
    expect(answer).toBe(200);
    expect((kept.socket as unknown as TLSSocket).getPeerCertificate().serialNumber).toBe(first.serial);
    kept.close();
  });

  it('a bad new pair (garbage, a key that does not match) keeps the current certificate, logged once per change', async () => {
    const good = await serverCert();
    const other = await serverCert();
    const secret = new SecretDir(join(dir, 'secret-bad'));
    await secret.init(good);
    const { gw, logs } = await startTls(secret.cert, secret.key);
    const warnings = () => logs.filter((l) => l.msg === 'TLS files changed but cannot be used: keeping the current certificate');

    await writeFile(secret.cert, 'not a certificate\n');
    expect(await until(() => warnings().length === 1, 5_000)).toBe(true);
    // Several more reads of the same garbage: still one line, still the good certificate.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(warnings().length).toBe(1);
    expect(await presentedSerial(gw.httpUrl, ca.cert)).toBe(good.serial);
    expect(String(warnings()[0]!.reason)).toMatch(/--tls-cert .* cannot be used/);

    // A valid certificate with a key of another: a second change, a second line.
    await writeFile(secret.cert, await readFile(other.cert));
    expect(await until(() => warnings().length === 2, 5_000)).toBe(true);
    expect(String(warnings()[1]!.reason)).toMatch(/key values mismatch/);
    expect(await presentedSerial(gw.httpUrl, ca.cert)).toBe(good.serial);
    expect((await nodeClient('connect', gw.httpUrl, client({ ca: ca.cert, h2: true }).fetch).unary({ message: 'still' })).ok).toBe(true);

    // The matching key arrives: the new pair is used.
    await writeFile(secret.key, await readFile(other.key));
    expect(await until(() => logs.some((l) => l.msg === 'TLS certificate reloaded: new connections get the new one'), 5_000)).toBe(true);
    expect(await presentedSerial(gw.httpUrl, ca.cert)).toBe(other.serial);
    expect(warnings().length).toBe(2);
  });

  it('a pair that cannot be used at start stops the start with a message naming the flags', async () => {
    const a = await serverCert();
    const b = await serverCert();
    await expect(startTls(a.cert, b.key)).rejects.toThrow(/--tls-cert .* with --tls-key .* cannot be used: .*key values mismatch/);
  });
});

describe('mTLS (--tls-client-ca)', () => {
  it('refuses a client without a certificate or with one from another CA, and serves the right one', async () => {
    const cert = await serverCert();
    const clients = await makeCa(join(dir, 'client-ca'));
    const stranger = await makeCa(join(dir, 'stranger-ca'));
    const { gw } = await startTls(cert.cert, cert.key, ['--tls-client-ca', clients.cert]);
    const good = await makeCert(clients, { cn: 'lb', client: true });
    const bad = await makeCert(stranger, { cn: 'lb', client: true });

    for (const h2 of [true, false]) {
      const none = await nodeClient('connect', gw.httpUrl, client({ ca: ca.cert, h2 }).fetch).unary({ message: 'x' });
      expect(none.ok).toBe(false);
      const wrong = await nodeClient('connect', gw.httpUrl, client({ ca: ca.cert, h2, cert: bad.cert, key: bad.key }).fetch).unary({ message: 'x' });
      expect(wrong.ok).toBe(false);
      const right = await nodeClient('connect', gw.httpUrl, client({ ca: ca.cert, h2, cert: good.cert, key: good.key }).fetch).unary({ message: 'hi' });
      expect(right.ok).toBe(true);
      expect(right.response?.message).toBe('hi');
    }
  });
});

// The headless DNS server as its own process (fork + IPC), as the e2e tests and the demo use it,
// and the resolver against it, including a real outage (SIGKILL).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver } from '../../../../src/upstream/resolver/dns-resolver.js';
import { queryDns } from '../../../../src/upstream/resolver/dns-client.js';
import { spawnHeadlessDns, type DnsProcess } from '../../../support/dns-process.js';
import { hosts, recorder, sleep } from './helpers.js';

const FQDN = 'echo-headless.default.svc.cluster.local';

describe('headless DNS as a separate process', () => {
  let proc: DnsProcess;
  beforeAll(async () => {
    proc = await spawnHeadlessDns();
  }, 30_000);
  afterAll(async () => {
    await proc?.stop();
  });

  it('serves what set() says, acknowledged before the next query', async () => {
    await proc.set(FQDN, ['127.0.0.2', 'fd00::5'], 4);
    const a = await queryDns(proc.address, FQDN, 'A', { timeoutMs: 1000 });
    expect(a.records).toEqual([{ address: '127.0.0.2', ttl: 4 }]);
    await proc.udpLimit(512);
    await proc.set(FQDN, Array.from({ length: 60 }, (_, i) => `10.3.0.${i + 1}`));
    const before = (await proc.stats()).tcpConnections;
    const big = await queryDns(proc.address, FQDN, 'A', { timeoutMs: 1000 });
    expect(big.transport).toBe('tcp');
    expect(big.records).toHaveLength(60);
    expect((await proc.stats()).tcpConnections).toBe(before + 1);
    await proc.udpLimit(null);
    await proc.mode('refused');
    expect((await queryDns(proc.address, FQDN, 'A', { timeoutMs: 1000 })).rcode).toBe('REFUSED');
    await proc.mode('normal');
    await expect(proc.mode('bogus' as never)).rejects.toThrow(/unknown mode/);
  });

  it('resolver follows changes, then keeps the last good set through a DNS outage (SIGKILL)', async () => {
    await proc.set(FQDN, ['127.0.0.2', '127.0.0.3'], 30);
    const rec = recorder();
    const r = new DnsResolver({
      name: `${FQDN}.`,
      port: 9000,
      servers: [proc.address],
      intervalMs: 150,
      queryTimeoutMs: 150,
      resolvConfPath: '/nonexistent/resolv.conf',
      jitter: 0,
      minRefreshIntervalMs: 50,
    });
    try {
      r.start(rec);
      expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.2', '127.0.0.3']);
      await proc.set(FQDN, ['127.0.0.3', '127.0.0.4'], 30);
      expect(hosts(await rec.waitForSet((s) => s.some((a) => a.host === '127.0.0.4')))).toEqual(['127.0.0.3', '127.0.0.4']);
      await proc.kill();
      await rec.waitForErrors(2, 4000);
      await sleep(200);
      expect(rec.sets.at(-1)).toEqual([
        { host: '127.0.0.3', port: 9000 },
        { host: '127.0.0.4', port: 9000 },
      ]);
      expect(rec.sets.every((s) => s.length > 0)).toBe(true);
      expect(r.stats().failures).toBeGreaterThanOrEqual(2);
      expect(r.stats().lastError).toMatch(/ECONNREFUSED|timed out/);
    } finally {
      r.stop();
    }
    await expect(proc.set(FQDN, [])).rejects.toThrow();
  });
});

describe('headless DNS script over stdin', () => {
  it('prints {"ready":true,"port":N} and acknowledges JSON lines', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/headless-dns/server.ts', '--port', '0', '--host', '127.0.0.1'], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const next = async () => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
      const ready = await next();
      expect(ready.ready).toBe(true);
      const port = Number(ready.port);
      child.stdin!.write(JSON.stringify({ id: 1, cmd: 'set', name: 'Echo.default.svc.cluster.local', addresses: ['127.0.0.2'], ttl: 5 }) + '\n');
      expect(await next()).toEqual({ ack: 1, ok: true });
      const a = await queryDns({ host: '127.0.0.1', port }, 'echo.default.svc.cluster.local', 'A', { timeoutMs: 1000 });
      expect(a.records).toEqual([{ address: '127.0.0.2', ttl: 5 }]);
      child.stdin!.write('{"cmd":"mode","mode":"servfail"}\n');
      expect(await next()).toEqual({ ack: null, ok: true });
      child.stdin!.write('{"cmd":"close"}\n');
      await next();
      const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});

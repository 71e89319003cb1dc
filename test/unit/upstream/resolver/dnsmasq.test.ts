// Debian's dnsmasq (test/support/dnsmasq.ts): what it really answers for a headless Service in a
// hosts file, and the resolver against it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver, type DnsResolverOptions } from '../../../../src/upstream/resolver/dns-resolver.js';
import { queryDns } from '../../../../src/upstream/resolver/dns-client.js';
import { startDnsmasq, type Dnsmasq } from '../../../support/dnsmasq.js';
import { hosts, recorder, tempResolvConf, waitFor } from './helpers.js';

const SVC = 'echo-headless.default.svc.cluster.local';
let plain: Dnsmasq; // --no-resolv, nothing else: refuses what it does not know
let local: Dnsmasq; // plus --local=/svc.cluster.local/

beforeAll(async () => {
  [plain, local] = await Promise.all([startDnsmasq({ ttl: 30 }), startDnsmasq({ ttl: 30, localDomain: 'svc.cluster.local' })]);
});
afterAll(async () => {
  await Promise.all([plain?.stop(), local?.stop()]);
});

const q = (d: Dnsmasq, name: string, type: 'A' | 'AAAA') => queryDns(d.address, name, type, { timeoutMs: 1000 });

describe('dnsmasq as a headless Service (hosts file + SIGHUP)', () => {
  it('answers A from the hosts file, and AAAA REFUSED: the answer that kept the gateway from ever becoming ready', async () => {
    await plain.set(SVC, ['127.0.0.2', '127.0.0.3']);
    const a = await q(plain, SVC, 'A');
    expect(a.rcode).toBe('NOERROR');
    expect(a.records.map((r) => r.address).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(a.records[0]!.ttl).toBe(30);
    expect(await q(plain, SVC, 'AAAA')).toMatchObject({ rcode: 'REFUSED', records: [] });
    // a name it does not know is REFUSED too, not NXDOMAIN (so is every search-list candidate)
    expect(await q(plain, `nope.${SVC}`, 'A')).toMatchObject({ rcode: 'REFUSED' });
    // the question is echoed with the case we sent: matching is case-insensitive
    expect((await q(plain, SVC.toUpperCase(), 'A')).records).toHaveLength(2);
    expect(plain.log()).toMatch(/query\[AAAA\] echo-headless\.default\.svc\.cluster\.local/);
  });

  it('with --local=/svc.cluster.local/ it answers like an authoritative server: AAAA NOERROR without records, unknown NXDOMAIN', async () => {
    await local.set(SVC, ['127.0.0.2']);
    expect(await q(local, SVC, 'AAAA')).toMatchObject({ rcode: 'NOERROR', records: [] });
    expect(await q(local, `nope.${SVC}`, 'A')).toMatchObject({ rcode: 'NXDOMAIN' });
  });

  it('SIGHUP: set() changes what it answers, IPv6 lines become AAAA records', async () => {
    const name = `sighup.${SVC}`;
    await plain.set(name, ['127.0.0.4', 'fd00::4']);
    expect((await q(plain, name, 'A')).records.map((r) => r.address)).toEqual(['127.0.0.4']);
    expect((await q(plain, name, 'AAAA')).records.map((r) => r.address)).toEqual(['fd00::4']);
    await plain.remove(name);
    expect((await q(plain, name, 'A')).rcode).toBe('REFUSED');
  });
});

describe('DnsResolver against dnsmasq', () => {
  const resolver = (d: Dnsmasq, o: Partial<DnsResolverOptions> = {}): DnsResolver =>
    new DnsResolver({ name: `${SVC}.`, port: 9000, servers: [d.address], intervalMs: 150, queryTimeoutMs: 500, jitter: 0, minRefreshIntervalMs: 50, ...o });

  it('uses the A records although AAAA is REFUSED, follows changes, never reports an error', async ({ onTestFinished }) => {
    const name = `follow.${SVC}`;
    await plain.set(name, ['127.0.0.2', '127.0.0.3']);
    const rec = recorder();
    const r = resolver(plain, { name: `${name}.` });
    onTestFinished(() => r.stop());
    r.start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.2', '127.0.0.3']);
    await plain.set(name, ['127.0.0.3', '127.0.0.4', '127.0.0.5']);
    expect(hosts(await rec.waitForSet((s) => s.length === 3))).toEqual(['127.0.0.3', '127.0.0.4', '127.0.0.5']);
    expect(rec.errors).toEqual([]);
    expect(r.stats().failures).toBe(0);
    expect(r.stats().familyFailures?.AAAA).toBeGreaterThan(0);
  });

  it('a short name through a Kubernetes search list: candidates dnsmasq refuses are passed over', async ({ onTestFinished }) => {
    await plain.set(SVC, ['127.0.0.2']);
    const conf = await tempResolvConf(`nameserver 127.0.0.1\nsearch other.svc.cluster.local default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`);
    onTestFinished(() => conf.cleanup());
    const rec = recorder();
    const r = resolver(plain, { name: 'echo-headless', resolvConfPath: conf.file });
    onTestFinished(() => r.stop());
    r.start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.2']);
    expect(rec.errors).toEqual([]);
  });

  it('--dns-family ipv4 never asks dnsmasq for AAAA', async ({ onTestFinished }) => {
    const name = `v4only.${SVC}`;
    await plain.set(name, ['127.0.0.6']); // set() itself asks A and AAAA (and logs them all): count from here
    const asked = (type: string) => plain.log().split('\n').filter((l) => l.includes(`query[${type}] ${name} `)).length;
    const [a0, aaaa0] = [asked('A'), asked('AAAA')];
    const rec = recorder();
    const r = resolver(plain, { name: `${name}.`, family: 'ipv4' });
    onTestFinished(() => r.stop());
    r.start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.6']);
    await waitFor(() => asked('A') >= a0 + 3, 3000, 'three rounds in the dnsmasq log');
    r.stop();
    expect(asked('AAAA')).toBe(aaaa0);
    expect(r.stats().familyFailures).toEqual({ A: 0 });
  });

  it('with --local, a Service scaled to zero (gone from the hosts file) is empty after two rounds', async ({ onTestFinished }) => {
    const name = `zero.${SVC}`;
    await local.set(name, ['127.0.0.7']);
    const rec = recorder();
    const r = resolver(local, { name: `${name}.` });
    onTestFinished(() => r.stop());
    r.start(rec);
    await rec.waitForSet(() => true);
    await local.remove(name);
    expect(await rec.waitForSet((s) => s.length === 0, 3000)).toEqual([]);
    expect(rec.errors).toEqual([]);
  });
});

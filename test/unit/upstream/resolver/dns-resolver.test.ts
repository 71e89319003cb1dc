import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SPOOFED_ADDRESS, SPOOFED_ADDRESS6, startHeadlessDns, type DnsMode } from '../../../../examples/headless-dns/server.js';
import { DnsResolver, type DnsResolverOptions } from '../../../../src/upstream/resolver/dns-resolver.js';
import { StaticResolver } from '../../../../src/upstream/resolver/static-resolver.js';
import { hosts, recorder, sleep, tempResolvConf, waitFor } from './helpers.js';

const NS = 'default';
const FQDN = `echo-headless.${NS}.svc.cluster.local`;
const ABS = `${FQDN}.`; // absolute: exactly one A and one AAAA query per round

type OnFinished = (fn: () => void | Promise<void>) => void;

/**
 * Each test gets its own DNS server and resolv.conf, so the tests of a suite run concurrently.
 * Servers and resolvers are stopped when the test finishes.
 */
async function setup(onTestFinished: OnFinished) {
  const dns = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
  const conf = await tempResolvConf(
    `nameserver 127.0.0.1#${dns.address.port}\nsearch ${NS}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
  );
  const resolvers: DnsResolver[] = [];
  onTestFinished(async () => {
    resolvers.forEach((r) => r.stop());
    await dns.close();
    await conf.cleanup();
  });
  const resolver = (opts: Partial<DnsResolverOptions> = {}): DnsResolver => {
    const r = new DnsResolver({
      name: ABS,
      port: 50051,
      servers: [dns.address],
      intervalMs: 200,
      queryTimeoutMs: 150,
      resolvConfPath: conf.file,
      jitter: 0,
      minRefreshIntervalMs: 50,
      ...opts,
    });
    resolvers.push(r);
    return r;
  };
  return { dns, conf, resolver };
}

describe.concurrent('DnsResolver: resolving', () => {
  it('a short Service name goes through the Kubernetes search list; servers from resolv.conf', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.10', '127.0.0.2', 'fd00::2', '127.0.0.2', 'fd00::10']);
    const rec = recorder();
    resolver({ name: 'echo-headless', servers: [] }).start(rec);
    const set = await rec.waitForSet(() => true);
    // deduplicated; sorted numerically, IPv4 before IPv6; IPv6 without brackets
    expect(set).toEqual([
      { host: '127.0.0.2', port: 50051 },
      { host: '127.0.0.10', port: 50051 },
      { host: 'fd00::2', port: 50051 },
      { host: 'fd00::10', port: 50051 },
    ]);
    expect(rec.errors).toEqual([]);
  });

  it('re-resolves every interval: added and removed Pods show up; unchanged sets are not re-reported', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2', '127.0.0.3'], 30);
    const rec = recorder();
    const r = resolver({ intervalMs: 150 });
    r.start(rec);
    await rec.waitForSet((s) => s.length === 2);
    const queries = dns.queries();
    await waitFor(() => dns.queries() >= queries + 4, 2000, 'two more rounds');
    expect(rec.sets).toHaveLength(1); // same set: not reported again
    dns.setRecords(FQDN, ['127.0.0.2', '127.0.0.3', '127.0.0.4'], 30);
    expect(hosts(await rec.waitForSet((s) => s.length === 3))).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    dns.setRecords(FQDN, ['127.0.0.4'], 30);
    expect(hosts(await rec.waitForSet((s) => s.length === 1))).toEqual(['127.0.0.4']);
    expect(r.stats().lookups).toBeGreaterThanOrEqual(4);
    expect(r.stats().failures).toBe(0);
    expect(r.stats().lastSuccess).toBeGreaterThan(0);
  });

  it('honours a TTL shorter than the interval (but not faster than minRefreshIntervalMs)', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2'], 1);
    const rec = recorder();
    const r = resolver({ intervalMs: 60_000, minRefreshIntervalMs: 100 });
    r.start(rec);
    await rec.waitForSet(() => true);
    dns.setRecords(FQDN, ['127.0.0.3'], 1);
    const t0 = Date.now();
    await rec.waitForSet((s) => s[0]?.host === '127.0.0.3', 2500);
    expect(Date.now() - t0).toBeLessThan(1600);

    // TTL 0: rounds come every minRefreshIntervalMs, not in a busy loop.
    dns.setRecords(FQDN, ['127.0.0.3'], 0);
    const seen = r.stats().lookups;
    await waitFor(() => r.stats().lookups > seen, 2000, 'a round that sees TTL 0');
    const before = r.stats().lookups;
    await sleep(600);
    const rounds = r.stats().lookups - before;
    expect(rounds).toBeGreaterThanOrEqual(3);
    expect(rounds).toBeLessThanOrEqual(7);
  });

  it('follows a CNAME (a headless Service behind an ExternalName)', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.5', '127.0.0.6']);
    dns.setCname('echo-alias.example', FQDN, 30);
    const rec = recorder();
    resolver({ name: 'echo-alias.example.' }).start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.5', '127.0.0.6']);
  });

  it('a 60-Pod Service behind a server with a 512-byte UDP limit: complete set over TCP', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    const many = Array.from({ length: 60 }, (_, i) => `10.2.0.${i + 1}`);
    dns.setRecords(FQDN, many);
    dns.setUdpLimit(512);
    const tcp = dns.tcpConnections();
    const rec = recorder();
    resolver().start(rec);
    expect((await rec.waitForSet(() => true)).length).toBe(60);
    expect(dns.tcpConnections()).toBeGreaterThan(tcp);
  });

  it('refresh() brings the next round forward, rate-limited', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const rec = recorder();
    const r = resolver({ intervalMs: 60_000, minRefreshIntervalMs: 200 });
    r.start(rec);
    await rec.waitForSet(() => true);
    dns.setRecords(FQDN, ['127.0.0.7']);
    const lookups = r.stats().lookups;
    for (let i = 0; i < 20; i++) r.refresh();
    await rec.waitForSet((s) => s[0]?.host === '127.0.0.7', 1000);
    await sleep(500);
    for (let i = 0; i < 20; i++) r.refresh();
    await sleep(300);
    // two bursts of 20 refresh() calls: two rounds (maybe one queued behind an in-flight round)
    expect(r.stats().lookups - lookups).toBeLessThanOrEqual(3);
    expect(r.stats().lookups - lookups).toBeGreaterThanOrEqual(2);
  });
});

describe.concurrent('DnsResolver: failures keep the last good set', () => {
  for (const mode of ['servfail', 'refused', 'drop', 'malformed'] as const) {
    it(`${mode}: set kept, onError called, failures counted, then recovery`, async ({ onTestFinished }) => {
      const { dns, resolver } = await setup(onTestFinished);
      dns.setRecords(FQDN, ['127.0.0.2', '127.0.0.3']);
      const rec = recorder();
      const r = resolver({ queryTimeoutMs: 100 });
      r.start(rec);
      await rec.waitForSet(() => true);
      dns.setMode(mode);
      await rec.waitForErrors(2, 4000);
      expect(rec.sets).toHaveLength(1);
      const st = r.stats();
      expect(st.failures).toBeGreaterThanOrEqual(2);
      expect(st.lastError).toBeTruthy();
      // recovery: a changed set is picked up again
      dns.setMode('normal');
      dns.setRecords(FQDN, ['127.0.0.9']);
      expect(hosts(await rec.waitForSet(() => true, 3000))).toEqual(['127.0.0.9']);
      expect(rec.sets.every((s) => s.length > 0)).toBe(true);
    });
  }

  it('server gone (port closed): ECONNREFUSED failures keep the set; it comes back on the same port', async ({ onTestFinished }) => {
    const { resolver } = await setup(onTestFinished);
    const own = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
    const port = own.address.port;
    own.setRecords(FQDN, ['127.0.0.2']);
    const rec = recorder();
    const r = resolver({ servers: [own.address] });
    r.start(rec);
    await rec.waitForSet(() => true);
    await own.close();
    await rec.waitForErrors(2);
    expect(rec.errors[0]!.message).toMatch(/ECONNREFUSED/);
    expect(rec.sets).toEqual([[{ host: '127.0.0.2', port: 50051 }]]);
    const again = await startHeadlessDns({ host: '127.0.0.1', port });
    onTestFinished(() => again.close());
    again.setRecords(FQDN, ['127.0.0.3']);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.3']);
  });

  it('backs off: failures come at most once per ~backoff, not in a loop', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    dns.setMode('servfail');
    const rec = recorder();
    const r = resolver({ intervalMs: 400 }); // backoff 400 ms (min(1 s, interval)) capped at the interval
    r.start(rec);
    await sleep(1000);
    expect(r.stats().failures).toBeGreaterThanOrEqual(2);
    expect(r.stats().failures).toBeLessThanOrEqual(4);
    expect(rec.sets).toEqual([]);
  });

  it('fails over to the second server (dead first server, and a first server that times out)', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const dead = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
    const deadAddr = dead.address;
    await dead.close();
    const rec1 = recorder();
    resolver({ servers: [deadAddr, dns.address] }).start(rec1);
    expect(hosts(await rec1.waitForSet(() => true))).toEqual(['127.0.0.2']);
    expect(rec1.errors).toEqual([]);

    const slow = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
    onTestFinished(() => slow.close());
    slow.setMode('drop');
    const rec2 = recorder();
    const r2 = resolver({ servers: [slow.address, dns.address], queryTimeoutMs: 100 });
    r2.start(rec2);
    expect(hosts(await rec2.waitForSet(() => true))).toEqual(['127.0.0.2']);
    expect(slow.queries()).toBeGreaterThan(0);
    expect(r2.stats().failures).toBe(0);
  });
});

/** A logger that keeps what it was told. */
function logLines() {
  const lines: Array<{ level: 'warn' | 'debug'; msg: string; obj: Record<string, unknown> }> = [];
  return {
    lines,
    logger: {
      warn: (obj: object, msg: string) => void lines.push({ level: 'warn', msg, obj: obj as Record<string, unknown> }),
      debug: (obj: object, msg: string) => void lines.push({ level: 'debug', msg, obj: obj as Record<string, unknown> }),
    },
    about: (family: string) => lines.filter((l) => l.obj.family === family),
    /** Waits for the n-th warning that an empty answer awaits confirmation: that round is over. */
    unconfirmed: (n: number) =>
      waitFor(() => lines.filter((l) => l.msg.includes('until the next round confirms it')).length >= n, 4000, `unconfirmed empty answer #${n}`),
  };
}

// Rounds that must come after a step of the test run 1 s apart (intervalMs 1000: the confirming round
// is due min(1 s, interval) later, so is the round after a failure): a test that waits for a round
// to be over (see logLines().unconfirmed) has a second to take its next step, even on a busy machine.

const ONE_FAMILY_FAILS: DnsMode[] = ['refused', 'servfail', 'notimp', 'formerr', 'drop'];

describe.concurrent('DnsResolver: A and AAAA are independent', () => {
  // AAAA failing is dnsmasq and friends on an IPv4 cluster; A failing, an IPv6-only cluster.
  const cases = [
    { failing: 'AAAA', other: 'A', dns: ['127.0.0.2', '127.0.0.3', 'fd00::2'], used: ['127.0.0.2', '127.0.0.3'], later: ['127.0.0.4', 'fd00::2'], usedLater: ['127.0.0.4'] },
    { failing: 'A', other: 'AAAA', dns: ['127.0.0.2', 'fd00::2', 'fd00::3'], used: ['fd00::2', 'fd00::3'], later: ['127.0.0.2', 'fd00::4'], usedLater: ['fd00::4'] },
  ] as const;
  for (const c of cases) {
    for (const mode of ONE_FAMILY_FAILS) {
      it(`${c.failing} ${mode}, ${c.other} answers: the ${c.other} records are used and followed, no error`, async ({ onTestFinished }) => {
        const { dns, resolver } = await setup(onTestFinished);
        dns.setRecords(FQDN, [...c.dns]);
        dns.setMode(mode, c.failing);
        const rec = recorder();
        const r = resolver({ queryTimeoutMs: 100 });
        r.start(rec);
        expect(hosts(await rec.waitForSet(() => true))).toEqual(c.used);
        dns.setRecords(FQDN, [...c.later]);
        expect(hosts(await rec.waitForSet((s) => s[0]?.host === c.usedLater[0]))).toEqual(c.usedLater);
        expect(rec.errors).toEqual([]);
        expect(r.stats().failures).toBe(0);
        expect(r.stats().familyFailures?.[c.failing]).toBeGreaterThanOrEqual(2);
        expect(r.stats().familyFailures?.[c.other]).toBe(0);
      });
    }
  }

  it('a short name through the search list, AAAA refused for every candidate (dnsmasq without --local): A is used', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    dns.setMode('refused', 'AAAA');
    const rec = recorder();
    resolver({ name: 'echo-headless', servers: [] }).start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.2']);
    expect(rec.errors).toEqual([]);
  });

  it('both families fail: the round fails, onError, the last set is kept', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2', 'fd00::2']);
    const rec = recorder();
    const r = resolver({ queryTimeoutMs: 100 });
    r.start(rec);
    await rec.waitForSet(() => true);
    dns.setMode('refused', 'A');
    dns.setMode('servfail', 'AAAA');
    await rec.waitForErrors(2, 4000);
    expect(rec.sets).toEqual([[{ host: '127.0.0.2', port: 50051 }, { host: 'fd00::2', port: 50051 }]]);
    expect(rec.errors[0]!.message).toMatch(/A: REFUSED.*AAAA: SERVFAIL/);
    expect(r.stats().failures).toBeGreaterThanOrEqual(2);
    expect(r.stats().lastError).toMatch(/every address family/);
  });

  it('a one-family glitch keeps that family\'s last addresses (a dual-stack Service keeps all its Pods) while the other follows DNS', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2', 'fd00::2']);
    const rec = recorder();
    resolver({ queryTimeoutMs: 100 }).start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.2', 'fd00::2']);
    dns.setMode('servfail', 'AAAA');
    dns.setRecords(FQDN, ['127.0.0.3', 'fd00::3']);
    expect(hosts(await rec.waitForSet((s) => s[0]?.host === '127.0.0.3'))).toEqual(['127.0.0.3', 'fd00::2']);
    dns.setMode('normal', 'AAAA');
    expect(hosts(await rec.waitForSet((s) => s[1]?.host === 'fd00::3'))).toEqual(['127.0.0.3', 'fd00::3']);
    expect(rec.sets.every((s) => s.some((a) => a.host.includes(':')))).toBe(true);
    expect(rec.errors).toEqual([]);
  });

  it('one family answered empty, the other failed: an answer for the first only (its emptiness confirmed twice), the other kept', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2', 'fd00::2']);
    const rec = recorder();
    const log = logLines();
    const r = resolver({ intervalMs: 1000, queryTimeoutMs: 100, logger: log.logger });
    r.start(rec);
    await rec.waitForSet(() => true);
    dns.setMode('refused', 'AAAA');
    dns.setRecords(FQDN, ['fd00::2']); // no A record any more: NOERROR, empty
    await log.unconfirmed(1);
    expect(rec.sets).toHaveLength(1); // not believed yet
    expect(log.lines.find((l) => l.msg.includes('confirms'))!.obj.families).toEqual(['A']);
    expect(hosts(await rec.waitForSet((s) => s.length === 1, 4000))).toEqual(['fd00::2']);
    expect(rec.errors).toEqual([]);
  });

  it('an IPv4-only Service scaled to zero behind a server that refuses AAAA: empty after two rounds', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    dns.setMode('refused', 'AAAA');
    const rec = recorder();
    resolver({ intervalMs: 300 }).start(rec);
    await rec.waitForSet(() => true);
    dns.removeName(FQDN);
    expect(await rec.waitForSet((s) => s.length === 0, 4000)).toEqual([]);
    expect(rec.errors).toEqual([]);
  });

  it('per family, the server order still applies: a first server that refuses AAAA, a second that answers it', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2', 'fd00::2']);
    const first = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
    onTestFinished(() => first.close());
    first.setRecords(FQDN, ['127.0.0.2']);
    first.setMode('refused', 'AAAA');
    const rec = recorder();
    resolver({ servers: [first.address, dns.address] }).start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.2', 'fd00::2']);
    expect(dns.queries('A')).toBe(0); // A was answered by the first server
    expect(dns.queries('AAAA')).toBeGreaterThan(0);
  });

  it('a server that drops AAAA costs one timeout per round, not one per search-list candidate', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    dns.setMode('drop', 'AAAA');
    const rec = recorder();
    const r = resolver({ name: 'echo-headless', servers: [], intervalMs: 150, queryTimeoutMs: 100 });
    r.start(rec);
    await rec.waitForSet(() => true);
    await waitFor(() => r.stats().lookups >= 3, 3000, 'three rounds');
    r.stop();
    // 4 candidate names (3 search domains + the name): the AAAA walk asks the server once per round
    expect(dns.queries('AAAA')).toBeLessThanOrEqual(r.stats().lookups);
  });

  it('logs a failing family once when it starts failing and once when it answers again, not every round', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    dns.setMode('refused', 'AAAA');
    const log = logLines();
    const rec = recorder();
    const r = resolver({ intervalMs: 100, logger: log.logger });
    r.start(rec);
    await rec.waitForSet(() => true);
    await waitFor(() => r.stats().lookups >= 4, 3000, 'four rounds');
    // nothing kept on faith (AAAA never had an address): debug, with the flag that skips AAAA
    expect(log.about('AAAA').map((l) => [l.level, l.msg])).toEqual([['debug', expect.stringContaining('--dns-family ipv4 skips AAAA')]]);
    dns.setRecords(FQDN, ['127.0.0.2', 'fd00::2']);
    dns.setMode('normal', 'AAAA');
    await rec.waitForSet((s) => s.length === 2);
    expect(log.about('AAAA').map((l) => l.msg)).toEqual([expect.stringContaining('fail'), 'DNS AAAA lookups answer again']);
    // with addresses to keep: a warning, once
    dns.setMode('servfail', 'AAAA');
    const n = r.stats().lookups;
    await waitFor(() => r.stats().lookups >= n + 3, 3000, 'three more rounds');
    const warned = log.about('AAAA').slice(2);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', obj: { kept: 1, using: ['A'] } });
    expect(log.lines.filter((l) => l.level === 'warn' && l.obj.family === undefined)).toEqual([]);
  });

  it('--dns-family ipv4 never asks AAAA; ipv6 never asks A', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2', 'fd00::2']);
    const rec4 = recorder();
    const r4 = resolver({ family: 'ipv4', intervalMs: 100 });
    r4.start(rec4);
    expect(hosts(await rec4.waitForSet(() => true))).toEqual(['127.0.0.2']);
    await waitFor(() => dns.queries('A') >= 3, 3000, 'three rounds');
    r4.stop();
    expect(dns.queries('AAAA')).toBe(0);
    expect(r4.stats().familyFailures).toEqual({ A: 0 });

    const a0 = dns.queries('A');
    const rec6 = recorder();
    const r6 = resolver({ family: 'ipv6', intervalMs: 100 });
    r6.start(rec6);
    expect(hosts(await rec6.waitForSet(() => true))).toEqual(['fd00::2']);
    await waitFor(() => dns.queries('AAAA') >= 3, 3000, 'three rounds');
    r6.stop();
    expect(dns.queries('A')).toBe(a0);
  });

  it('forged replies (another id, name, type, class, no question, undecodable) are ignored; the real answer is used', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2', 'fd00::2']);
    dns.setMode('spoofed');
    const rec = recorder();
    const r = resolver({ intervalMs: 100 });
    r.start(rec);
    expect(hosts(await rec.waitForSet(() => true))).toEqual(['127.0.0.2', 'fd00::2']);
    await waitFor(() => r.stats().lookups >= 3, 3000, 'three rounds');
    const seen = rec.sets.flat().map((a) => a.host);
    expect(seen).not.toContain(SPOOFED_ADDRESS);
    expect(seen).not.toContain(SPOOFED_ADDRESS6);
    expect(rec.errors).toEqual([]);
    expect(r.stats().familyFailures).toEqual({ A: 0, AAAA: 0 });
  });
});

describe.concurrent('DnsResolver: authoritative empty answers (no ready Pods)', () => {
  it('NXDOMAIN on two consecutive rounds empties the set; one is not enough', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const rec = recorder();
    const log = logLines();
    const r = resolver({ intervalMs: 1000, logger: log.logger });
    r.start(rec);
    await rec.waitForSet(() => true);
    dns.removeName(FQDN);
    // first empty round: nothing reported, no error
    await log.unconfirmed(1);
    expect(rec.sets).toHaveLength(1);
    expect(rec.errors).toEqual([]);
    // second: the empty set
    expect(await rec.waitForSet((s) => s.length === 0, 4000)).toEqual([]);
    expect(rec.errors).toEqual([]);
    expect(r.stats().failures).toBe(0);
    // and Pods coming back are picked up
    dns.setRecords(FQDN, ['127.0.0.4']);
    expect(hosts(await rec.waitForSet((s) => s.length === 1))).toEqual(['127.0.0.4']);
  });

  it('NOERROR without records behaves the same (every candidate name tried)', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const rec = recorder();
    resolver({ name: 'echo-headless', intervalMs: 150 }).start(rec);
    await rec.waitForSet(() => true);
    dns.setRecords(FQDN, []);
    expect(await rec.waitForSet((s) => s.length === 0, 2000)).toEqual([]);
    expect(rec.sets).toHaveLength(2);
  });

  it('a single empty answer between good ones (a glitch) never empties the pool', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const rec = recorder();
    const log = logLines();
    const r = resolver({ intervalMs: 1000, logger: log.logger });
    r.start(rec);
    await rec.waitForSet(() => true);
    dns.removeName(FQDN);
    await log.unconfirmed(1);
    const seen = r.stats().lastSuccess; // an unconfirmed empty answer is no success
    dns.setRecords(FQDN, ['127.0.0.2']);
    await waitFor(() => r.stats().lastSuccess > seen, 4000, 'the confirming round');
    expect(rec.sets).toEqual([[{ host: '127.0.0.2', port: 50051 }]]);
  });

  it('an empty answer followed by a failure does not count as confirmed', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const rec = recorder();
    const log = logLines();
    resolver({ intervalMs: 1000, queryTimeoutMs: 100, logger: log.logger }).start(rec);
    await rec.waitForSet(() => true);
    dns.removeName(FQDN);
    await log.unconfirmed(1);
    dns.setMode('servfail');
    await rec.waitForErrors(1, 4000);
    dns.setMode('normal'); // still NXDOMAIN: needs two more empty rounds
    await log.unconfirmed(2);
    expect(rec.sets).toHaveLength(1);
    expect(await rec.waitForSet((s) => s.length === 0, 4000)).toEqual([]);
  });

  it('on the first round, an empty answer is reported at once', async ({ onTestFinished }) => {
    const { resolver } = await setup(onTestFinished);
    const rec = recorder();
    resolver().start(rec);
    expect(await rec.waitForSet(() => true)).toEqual([]);
    expect(rec.errors).toEqual([]);
  });
});

describe('DnsResolver: stop()', () => {
  it('no more queries after stop(), in-flight ones aborted, no UDP handle left', async ({ onTestFinished }) => {
    const { dns, resolver } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const udpHandles = () => process.getActiveResourcesInfo().filter((x) => x === 'UDPWrap').length;
    const baseline = udpHandles();
    const rec = recorder();
    const r = resolver({ intervalMs: 100 });
    r.start(rec);
    await rec.waitForSet(() => true);
    dns.setMode('drop');
    await sleep(120); // a round is now waiting on a dropped query
    r.stop();
    await sleep(20);
    expect(udpHandles()).toBe(baseline);
    const q = dns.queries();
    await sleep(400);
    expect(dns.queries()).toBe(q);
    expect(rec.errors).toEqual([]); // an abort by stop() is not reported
  });

  it('a process using the resolver exits by itself once it is stopped (nothing keeps it alive)', async ({ onTestFinished }) => {
    const { dns, conf } = await setup(onTestFinished);
    dns.setRecords(FQDN, ['127.0.0.2']);
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
    const script = path.join(path.dirname(conf.file), 'child.ts');
    const mod = path.join(root, 'src/upstream/resolver/index.ts');
    await writeFile(
      script,
      `import { DnsResolver } from ${JSON.stringify(mod)};
const r = new DnsResolver({ name: ${JSON.stringify(ABS)}, port: 1, servers: [{ host: '127.0.0.1', port: ${dns.address.port} }],
  intervalMs: 100, queryTimeoutMs: 30000, resolvConfPath: ${JSON.stringify(conf.file)} });
// The resolver never keeps a process alive by itself (everything is unref'd): this interval
// stands for the gateway's servers, and is cleared with stop().
const keepAlive = setInterval(() => {}, 1000);
r.start({ onAddresses(a) { console.log(JSON.stringify(a)); r.stop(); clearInterval(keepAlive); }, onError() {} });
`,
    );
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(JSON.parse(out.trim())).toEqual([{ host: '127.0.0.2', port: 1 }]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('StaticResolver', () => {
  it('reports the fixed list once, after start(), brackets stripped, duplicates dropped', async () => {
    const r = new StaticResolver([
      { host: '127.0.0.1', port: 50051 },
      { host: '[::1]', port: 50052 },
      { host: 'echo.internal', port: 50053 },
      { host: '127.0.0.1', port: 50051 },
    ]);
    const rec = recorder();
    r.start(rec);
    expect(rec.sets).toEqual([]); // never re-entrantly from start()
    await Promise.resolve();
    expect(rec.sets).toEqual([
      [
        { host: '127.0.0.1', port: 50051 },
        { host: '::1', port: 50052 },
        { host: 'echo.internal', port: 50053 },
      ],
    ]);
    r.refresh();
    await sleep(10);
    expect(rec.sets).toHaveLength(1);
    expect(r.stats()).toMatchObject({ lookups: 1, failures: 0 });
    r.stop();
  });

  it('stop() before the first report: nothing reported', async () => {
    const r = new StaticResolver([{ host: '127.0.0.1', port: 1 }]);
    const rec = recorder();
    r.start(rec);
    r.stop();
    await sleep(5);
    expect(rec.sets).toEqual([]);
  });
});

import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SPOOFED_ADDRESS, startHeadlessDns, type HeadlessDns } from '../../../../examples/headless-dns/server.js';
import { DnsError, queryDns } from '../../../../src/upstream/resolver/dns-client.js';

const SVC = 'echo.default.svc.cluster.local';
const pods = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${(i & 255) + 1}`);

let dns: HeadlessDns;
beforeAll(async () => {
  dns = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await dns.close();
});
beforeEach(() => {
  dns.setMode('normal');
  dns.setUdpLimit(null);
});

const q = (name: string, type: 'A' | 'AAAA' = 'A', timeoutMs = 1000) => queryDns(dns.address, name, type, { timeoutMs });

describe('queryDns over UDP', () => {
  it('answers A and AAAA from the authoritative server, case-insensitively', async () => {
    dns.setRecords(SVC, ['127.0.0.2', '127.0.0.3', 'fd00::1'], 7);
    const a = await q('ECHO.Default.svc.cluster.local');
    expect(a).toMatchObject({ rcode: 'NOERROR', authoritative: true, truncated: false, transport: 'udp' });
    expect(a.records).toEqual([
      { address: '127.0.0.2', ttl: 7 },
      { address: '127.0.0.3', ttl: 7 },
    ]);
    const aaaa = await q(SVC, 'AAAA');
    expect(aaaa.records).toEqual([{ address: 'fd00::1', ttl: 7 }]);
  });

  it('NXDOMAIN for an unknown name, NOERROR without records for the other family', async () => {
    expect(await q('nope.default.svc.cluster.local')).toMatchObject({ rcode: 'NXDOMAIN', authoritative: true, records: [] });
    dns.setRecords('v4only.test', ['127.0.0.9']);
    expect(await q('v4only.test', 'AAAA')).toMatchObject({ rcode: 'NOERROR', records: [] });
  });

  it('returns SERVFAIL, REFUSED, NOTIMP and FORMERR as rcodes (the resolver decides what they mean)', async () => {
    dns.setMode('servfail');
    expect((await q(SVC)).rcode).toBe('SERVFAIL');
    dns.setMode('refused');
    expect((await q(SVC)).rcode).toBe('REFUSED');
    dns.setMode('notimp');
    expect((await q(SVC)).rcode).toBe('NOTIMP');
    dns.setMode('formerr');
    expect((await q(SVC)).rcode).toBe('FORMERR');
  });

  it('a mode for one record type leaves the other alone (dnsmasq refuses AAAA, answers A)', async () => {
    dns.setRecords(SVC, ['127.0.0.2']);
    dns.setMode('refused', 'AAAA');
    const a0 = dns.queries('A');
    expect((await q(SVC, 'AAAA')).rcode).toBe('REFUSED');
    expect((await q(SVC, 'A')).records).toEqual([{ address: '127.0.0.2', ttl: 30 }]);
    expect(dns.queries('A')).toBe(a0 + 1);
  });

  it('follows a CNAME chain inside the answer, with the smallest TTL along it', async () => {
    dns.setRecords(SVC, ['127.0.0.2', '127.0.0.3'], 30);
    dns.setCname('alias.example', 'middle.example', 5);
    dns.setCname('middle.example', SVC, 60);
    const a = await q('alias.example');
    expect(a.rcode).toBe('NOERROR');
    expect(a.records).toEqual([
      { address: '127.0.0.2', ttl: 5 },
      { address: '127.0.0.3', ttl: 5 },
    ]);
    // A CNAME to nowhere: NXDOMAIN, nothing collected.
    dns.setCname('dangling.example', 'gone.example', 5);
    expect(await q('dangling.example')).toMatchObject({ rcode: 'NXDOMAIN', records: [] });
  });
});

describe('large answers: EDNS0 and TCP fallback', () => {
  it('EDNS0 (4096) lets 60 and 100 Pods come over UDP, no TCP connection', async () => {
    dns.setRecords(SVC, pods(100));
    dns.setRecords('sixty.test', pods(60));
    const before = dns.tcpConnections();
    const sixty = await q('sixty.test');
    const hundred = await q(SVC);
    expect(sixty.records).toHaveLength(60);
    expect(hundred.records).toHaveLength(100);
    expect(sixty.transport).toBe('udp');
    expect(hundred.transport).toBe('udp');
    expect(dns.tcpConnections()).toBe(before);
  });

  it('TC bit -> the same question over TCP, whose answer is used (60 Pods, UDP limit 512)', async () => {
    dns.setRecords(SVC, pods(60), 9);
    dns.setUdpLimit(512);
    const before = dns.tcpConnections();
    const a = await q(SVC);
    expect(a).toMatchObject({ rcode: 'NOERROR', truncated: false, transport: 'tcp' });
    expect(a.records.map((r) => r.address)).toEqual(pods(60));
    expect(a.records.every((r) => r.ttl === 9)).toBe(true);
    expect(dns.tcpConnections()).toBe(before + 1);
  });

  it('without EDNS the 512-byte classic limit applies and TCP is needed', async () => {
    dns.setRecords(SVC, pods(60));
    const before = dns.tcpConnections();
    const a = await queryDns(dns.address, SVC, 'A', { timeoutMs: 1000, udpPayloadSize: 0 });
    expect(a.transport).toBe('tcp');
    expect(a.records).toHaveLength(60);
    expect(dns.tcpConnections()).toBe(before + 1);
  });
});

describe('failures', () => {
  it('drop: times out with ETIMEOUT after timeoutMs', async () => {
    dns.setMode('drop');
    const t0 = Date.now();
    const err = await q(SVC, 'A', 150).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('ETIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('an undecodable reply with our id is ignored, not taken as the answer: the query times out, saying so', async () => {
    dns.setMode('malformed');
    const err = (await q(SVC, 'A', 200).catch((e: unknown) => e)) as DnsError;
    expect(err).toBeInstanceOf(DnsError);
    expect(err.code).toBe('ETIMEOUT');
    expect(err.message).toMatch(/1 reply ignored/);
  });

  it('nobody listening: ECONNREFUSED, fast (ICMP port unreachable on a connected socket)', async () => {
    const dead = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
    const addr = dead.address;
    await dead.close();
    const t0 = Date.now();
    await expect(queryDns(addr, SVC, 'A', { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('abort: EABORTED at once, and an already-aborted signal never sends', async () => {
    dns.setMode('drop');
    const ac = new AbortController();
    const p = queryDns(dns.address, SVC, 'A', { timeoutMs: 5000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ code: 'EABORTED' });
    const before = dns.queries();
    await expect(queryDns(dns.address, SVC, 'A', { timeoutMs: 5000, signal: ac.signal })).rejects.toMatchObject({ code: 'EABORTED' });
    expect(dns.queries()).toBe(before);
  });
});

describe('reply matching', () => {
  it('ignores datagrams with a foreign id or question and keeps waiting for the real answer', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    sock.on('message', (raw, rinfo) => {
      const query = packet.decode(raw);
      const reply = (id: number, name: string, address: string) =>
        packet.encode({
          type: 'response',
          id,
          flags: packet.AUTHORITATIVE_ANSWER,
          questions: [{ type: 'A', name, class: 'IN' }],
          answers: [{ type: 'A', name, ttl: 5, data: address }],
        });
      const send = (b: Buffer) => sock.send(b, rinfo.port, rinfo.address);
      send(reply((query.id! + 1) & 0xffff, SVC, '10.9.9.1')); // wrong id
      send(Buffer.from([1, 2, 3])); // runt
      send(reply(query.id!, 'other.example', '10.9.9.2')); // right id, other question
      setTimeout(() => send(reply(query.id!, SVC, '10.9.9.3')), 30);
    });
    try {
      const port = (sock.address() as net.AddressInfo).port;
      const a = await queryDns({ host: '127.0.0.1', port }, SVC, 'A', { timeoutMs: 1000 });
      expect(a.records).toEqual([{ address: '10.9.9.3', ttl: 5 }]);
    } finally {
      sock.close();
    }
  });

  it('spoofed mode: another id, name, type, class, no question, QR clear, undecodable: all ignored, the real answer used', async () => {
    dns.setRecords(SVC, ['127.0.0.2', 'fd00::2'], 5);
    dns.setMode('spoofed');
    const a = await q(SVC, 'A');
    expect(a).toMatchObject({ rcode: 'NOERROR', transport: 'udp', records: [{ address: '127.0.0.2', ttl: 5 }] });
    const aaaa = await q(SVC, 'AAAA');
    expect(aaaa.records).toEqual([{ address: 'fd00::2', ttl: 5 }]);
  });

  it('over TCP too: forged frames before the answer on the stream are skipped', async () => {
    dns.setRecords(SVC, pods(60), 9);
    dns.setUdpLimit(512);
    dns.setMode('spoofed');
    const a = await q(SVC, 'A');
    expect(a.transport).toBe('tcp');
    expect(a.records.map((r) => r.address)).toEqual(pods(60));
  });

  it('without the forgeries check a forged reply would have been taken (the spoofed mode really forges)', async () => {
    // Sanity check of the test server: its forgeries decode, carry our id (all but the first),
    // and list the spoofed address, so only isReplyTo keeps them out.
    dns.setRecords(SVC, ['127.0.0.2']);
    dns.setMode('spoofed');
    const sock = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    sock.on('message', (m) => got.push(m));
    await new Promise<void>((r) => sock.connect(dns.address.port, dns.address.host, () => r()));
    try {
      sock.send(packet.encode({ type: 'query', id: 4242, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: SVC, class: 'IN' }] }));
      const deadline = Date.now() + 2000;
      while (got.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toHaveLength(8);
      const decoded = got.slice(0, 6).map((b) => packet.decode(b));
      expect(decoded.map((d) => d.id)).toEqual([4243, 4242, 4242, 4242, 4242, 4242]);
      for (const d of decoded) expect(d.answers?.[0]).toMatchObject({ type: 'A', data: SPOOFED_ADDRESS });
      expect(() => packet.decode(got[6]!)).toThrow();
      expect(packet.decode(got[7]!).answers?.[0]).toMatchObject({ data: '127.0.0.2' });
    } finally {
      sock.close();
    }
  });
});

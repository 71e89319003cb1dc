// An authoritative DNS server that plays a Kubernetes headless Service: each "ready Pod" is one
// A (IPv4) or AAAA (IPv6) record of the Service's name. Used by the tests and the demo.
//
// Importable:   const dns = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
// As a process: node --import tsx examples/headless-dns/server.ts --port 5353 --host 127.0.0.1
//   prints {"ready":true,"port":N} on stdout, then takes commands as JSON, one per stdin line or
//   as Node IPC messages (child_process.fork), and acknowledges each with {"ack":<id>,"ok":true}:
//     {"cmd":"set","name":"echo.default.svc.cluster.local","addresses":["127.0.0.2"],"ttl":5}
//     {"cmd":"remove","name":"echo.default.svc.cluster.local"}
//     {"cmd":"cname","name":"alias.example","target":"echo.default.svc.cluster.local"}
//     {"cmd":"mode","mode":"servfail"}          normal | servfail | refused | notimp | formerr | drop |
//                                               malformed | spoofed; with "type":"AAAA" (or "A") for
//                                               that record type only, as real servers do
//     {"cmd":"udpLimit","bytes":512}            or null for "honour EDNS"
//     {"cmd":"stats"}                           -> {"ack":..,"queries":N,"queriesA":N,"queriesAAAA":N,"tcpConnections":N}
//     {"cmd":"close"}                           close and exit
//
// Behaviour: names are case-insensitive; an unknown name is NXDOMAIN; a known name asked for the
// other family is NOERROR with no records; the AA bit is set; CNAMEs are followed within the
// zone. UDP replies larger than the client's EDNS0 buffer (512 without EDNS), or than the
// setUdpLimit() override, are sent truncated: TC bit, empty answer. Answer owner names are
// compressed (pointer to the question), like real servers, so ~100 A records fit in 4096 bytes.
// Modes: servfail, refused, notimp, formerr answer that rcode (with the question echoed); drop
// answers nothing; malformed answers an undecodable datagram with the query's id; spoofed sends,
// before the real answer, the forgeries a resolver must ignore: another id, another name, another
// type, another class, no question, and an undecodable datagram, each listing SPOOFED_ADDRESS.
import dgram from 'node:dgram';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import * as packet from 'dns-packet';

export interface HostPort {
  host: string;
  port: number;
}

export type DnsMode = 'normal' | 'servfail' | 'refused' | 'notimp' | 'formerr' | 'drop' | 'malformed' | 'spoofed';
export const DNS_MODES: readonly DnsMode[] = ['normal', 'servfail', 'refused', 'notimp', 'formerr', 'drop', 'malformed', 'spoofed'];
export type QueryType = 'A' | 'AAAA';
/** The address every forged reply of the spoofed mode carries: it must never be used. */
export const SPOOFED_ADDRESS = '10.66.6.6';
export const SPOOFED_ADDRESS6 = 'fd66::6';

export interface HeadlessDns {
  address: HostPort;
  setRecords(name: string, addresses: string[], ttl?: number): void;
  /** Forget a name: it answers NXDOMAIN again. */
  removeName(name: string): void;
  /** `name` becomes a CNAME to `target` (null removes it). */
  setCname(name: string, target: string | null, ttl?: number): void;
  /** The mode for every query, or (with `type`) for queries of that record type only. */
  setMode(mode: DnsMode, type?: QueryType): void;
  /** Truncate (TC bit, empty answer) UDP replies larger than this, ignoring EDNS; null = honour EDNS. */
  setUdpLimit(bytes: number | null): void;
  /** Queries received, UDP and TCP (of one record type, with `type`). */
  queries(type?: QueryType): number;
  /** TCP connections accepted. */
  tcpConnections(): number;
  close(): Promise<void>;
}

interface Entry {
  addresses: string[];
  ttl: number;
}

const DEFAULT_TTL = 30;
const MAX_EDNS_PAYLOAD = 4096;

function key(name: string): string {
  return name.trim().replace(/\.+$/, '').toLowerCase();
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** One resource record: owner name (pointer when it is the question name), type, class IN, ttl, rdata. */
function encodeRecord(owner: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2); // IN
  fixed.writeUInt32BE(ttl >>> 0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

function encodeName(name: string): Buffer {
  const labels = key(name).split('.').filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, 'utf8');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** EDNS0 OPT pseudo-record: root owner, type 41, class = UDP payload size, ttl 0, no options. */
function encodeOpt(udpPayloadSize: number): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(udpPayloadSize, 3);
  return b;
}

function ipv4Bytes(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number));
}

function ipv6Bytes(addr: string): Buffer {
  let text = addr;
  const out = Buffer.alloc(16);
  // embedded IPv4 tail (::ffff:1.2.3.4)
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    tail = [b.readUInt16BE(0), b.readUInt16BE(2)];
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  if (tail.length) {
    out.writeUInt16BE(tail[0]!, 12);
    out.writeUInt16BE(tail[1]!, 14);
  }
  return out;
}

interface Reply {
  /** full reply bytes */
  full: Buffer;
  /** same reply with TC set and no answers */
  truncated: Buffer;
}

export async function startHeadlessDns(opts: { host: string; port: number; /** internal */ retries?: number }): Promise<HeadlessDns> {
  const records = new Map<string, Entry>();
  const cnames = new Map<string, { target: string; ttl: number }>();
  let mode: DnsMode = 'normal';
  const typeModes = new Map<string, DnsMode>();
  const typeQueries = new Map<string, number>();
  let udpLimit: number | null = null;
  let queryCount = 0;
  let tcpCount = 0;

  function answer(query: packet.DecodedPacket, mode: DnsMode): Reply {
    const q = query.questions?.[0];
    const opt = query.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer | undefined;
    const rd = query.flag_rd ? packet.RECURSION_DESIRED : 0;
    let rcode = 0;
    const answerRecords: Buffer[] = [];
    if (mode === 'servfail') rcode = 2;
    else if (mode === 'refused') rcode = 5;
    else if (mode === 'notimp') rcode = 4;
    else if (mode === 'formerr') rcode = 1;
    else if (!q || q.class !== 'IN') rcode = 1; // FORMERR
    else {
      let current = key(q.name);
      let owner: Buffer = Buffer.from([0xc0, 0x0c]); // pointer to the question name
      for (let hop = 0; hop < 8; hop++) {
        const c = cnames.get(current);
        if (!c) break;
        answerRecords.push(encodeRecord(owner, 5, c.ttl, encodeName(c.target)));
        if (q.type === 'CNAME') break;
        current = key(c.target);
        owner = encodeName(current);
      }
      const entry = records.get(current);
      if (!entry && !cnames.has(current)) rcode = 3; // NXDOMAIN (possibly after CNAMEs)
      if (entry && (q.type === 'A' || q.type === 'AAAA')) {
        for (const addr of entry.addresses) {
          const family = net.isIP(addr);
          if (q.type === 'A' && family === 4) answerRecords.push(encodeRecord(owner, 1, entry.ttl, ipv4Bytes(addr)));
          if (q.type === 'AAAA' && family === 6) answerRecords.push(encodeRecord(owner, 28, entry.ttl, ipv6Bytes(addr)));
        }
      }
    }
    const flags = packet.AUTHORITATIVE_ANSWER | rd | rcode;
    const head = packet.encode({
      type: 'response',
      id: query.id ?? 0,
      flags,
      questions: q ? [q] : [],
      answers: [],
      additionals: [],
    });
    // Header + question must come first: the 0xC00C pointers point at the question name.
    const optBytes = opt ? encodeOpt(MAX_EDNS_PAYLOAD) : Buffer.alloc(0);
    const build = (answersList: Buffer[], tc: boolean): Buffer => {
      const msg = Buffer.concat([head, ...answersList, optBytes]);
      msg.writeUInt16BE(flags | 0x8000 | (tc ? packet.TRUNCATED_RESPONSE : 0), 2);
      msg.writeUInt16BE(answersList.length, 6);
      msg.writeUInt16BE(opt ? 1 : 0, 10);
      return msg;
    };
    return { full: build(answerRecords, false), truncated: build([], true) };
  }

  function udpBudget(query: packet.DecodedPacket): number {
    if (udpLimit !== null) return udpLimit;
    const opt = query.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer | undefined;
    if (!opt) return 512;
    return Math.min(MAX_EDNS_PAYLOAD, Math.max(512, opt.udpPayloadSize));
  }

  function garbage(raw: Buffer): Buffer {
    // Our id and a response header claiming 5 answers, then nothing: undecodable.
    const b = Buffer.alloc(12);
    raw.copy(b, 0, 0, 2);
    b.writeUInt16BE(0x8000 | packet.AUTHORITATIVE_ANSWER, 2);
    b.writeUInt16BE(1, 4);
    b.writeUInt16BE(5, 6);
    return b;
  }

  /**
   * Replies a resolver must ignore (see the spoofed mode): each would put SPOOFED_ADDRESS(6) in
   * the answer if it were taken for the reply to `query`.
   */
  function forgeries(raw: Buffer, query: packet.DecodedPacket): Buffer[] {
    const q = query.questions?.[0];
    if (!q || (q.type !== 'A' && q.type !== 'AAAA')) return [];
    const data = q.type === 'A' ? SPOOFED_ADDRESS : SPOOFED_ADDRESS6;
    const other = q.type === 'A' ? 'AAAA' : 'A';
    const id = query.id ?? 0;
    const forged = (o: { id?: number; type?: 'query' | 'response'; questions: packet.Question[] }): Buffer =>
      packet.encode({
        type: o.type ?? 'response',
        id: o.id ?? id,
        flags: packet.AUTHORITATIVE_ANSWER,
        questions: o.questions,
        answers: [{ type: q.type, name: q.name, ttl: 30, data }],
      } as packet.Packet);
    return [
      forged({ id: (id + 1) & 0xffff, questions: [q] }), // another id
      forged({ questions: [{ ...q, name: `spoofed.${q.name}` }] }), // another name
      forged({ questions: [{ ...q, type: other }] }), // another type
      forged({ questions: [{ ...q, class: 'CH' }] }), // another class
      forged({ questions: [] }), // no question
      forged({ type: 'query', questions: [q] }), // not a response (QR bit clear)
      garbage(raw), // undecodable, our id
    ];
  }

  function handle(raw: Buffer): { query: packet.DecodedPacket; reply: Reply; before: Buffer[] } | null {
    if (raw.length < 12) return null;
    queryCount++;
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(raw);
    } catch {
      return null;
    }
    if (query.type !== 'query') return null;
    const qtype = String(query.questions?.[0]?.type ?? '');
    typeQueries.set(qtype, (typeQueries.get(qtype) ?? 0) + 1);
    const m = typeModes.get(qtype) ?? mode;
    if (m === 'drop') return null;
    if (m === 'malformed') {
      const g = garbage(raw);
      return { query, reply: { full: g, truncated: g }, before: [] };
    }
    return { query, reply: answer(query, m), before: m === 'spoofed' ? forgeries(raw, query) : [] };
  }

  const udp = dgram.createSocket(net.isIPv6(opts.host) ? 'udp6' : 'udp4');
  udp.on('message', (raw, rinfo) => {
    const r = handle(raw);
    if (r === null) return;
    for (const b of r.before) udp.send(b, rinfo.port, rinfo.address);
    const out = r.reply.full.length > udpBudget(r.query) ? r.reply.truncated : r.reply.full;
    udp.send(out, rinfo.port, rinfo.address);
  });
  udp.on('error', () => {});

  const tcpSockets = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    tcpCount++;
    tcpSockets.add(sock);
    sock.on('close', () => tcpSockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) return;
        const raw = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const r = handle(raw);
        if (r === null) continue;
        for (const out of [...r.before, r.reply.full]) sock.write(Buffer.concat([u16(out.length), out]));
      }
    });
  });

  // UDP first (port 0 picks one), then TCP on the same port; if that one is taken, start over.
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(opts.port, opts.host, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(udp.address().port, opts.host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    const retries = opts.retries ?? 10;
    if (opts.port !== 0 || retries <= 0) throw err;
    return startHeadlessDns({ ...opts, retries: retries - 1 });
  }

  const address = { host: opts.host, port: udp.address().port };
  let closed = false;
  return {
    address,
    setRecords(name, addresses, ttl = DEFAULT_TTL) {
      for (const a of addresses) if (!net.isIP(a)) throw new Error(`not an IP address: ${a}`);
      records.set(key(name), { addresses: [...addresses], ttl });
    },
    removeName(name) {
      records.delete(key(name));
      cnames.delete(key(name));
    },
    setCname(name, target, ttl = DEFAULT_TTL) {
      if (target === null) cnames.delete(key(name));
      else cnames.set(key(name), { target: key(target), ttl });
    },
    setMode(m, type) {
      if (type === undefined) {
        mode = m;
        typeModes.clear();
      } else typeModes.set(type, m);
    },
    setUdpLimit(bytes) {
      udpLimit = bytes;
    },
    queries: (type) => (type === undefined ? queryCount : (typeQueries.get(type) ?? 0)),
    tcpConnections: () => tcpCount,
    async close() {
      if (closed) return;
      closed = true;
      for (const s of tcpSockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

// ---- run as a process ------------------------------------------------------------------------

interface Command {
  id?: number | string;
  cmd: string;
  name?: string;
  addresses?: string[];
  ttl?: number;
  target?: string | null;
  mode?: DnsMode;
  type?: QueryType;
  bytes?: number | null;
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`${flag}=`));
  return eq?.slice(flag.length + 1);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const host = argValue(args, '--host') ?? '127.0.0.1';
  const port = Number(argValue(args, '--port') ?? '0');
  const dns = await startHeadlessDns({ host, port });

  const exit = async (code: number): Promise<never> => {
    await dns.close().catch(() => {});
    process.exit(code);
  };

  const run = (c: Command): Record<string, unknown> => {
    switch (c.cmd) {
      case 'set':
        dns.setRecords(String(c.name), c.addresses ?? [], c.ttl);
        return {};
      case 'remove':
        dns.removeName(String(c.name));
        return {};
      case 'cname':
        dns.setCname(String(c.name), c.target ?? null, c.ttl);
        return {};
      case 'mode':
        if (!DNS_MODES.includes(c.mode as DnsMode)) throw new Error(`unknown mode ${c.mode}`);
        if (c.type !== undefined && c.type !== 'A' && c.type !== 'AAAA') throw new Error(`unknown record type ${c.type}`);
        dns.setMode(c.mode as DnsMode, c.type);
        return {};
      case 'udpLimit':
        dns.setUdpLimit(c.bytes ?? null);
        return {};
      case 'stats':
      case 'ping':
        return { queries: dns.queries(), queriesA: dns.queries('A'), queriesAAAA: dns.queries('AAAA'), tcpConnections: dns.tcpConnections() };
      case 'close':
        setImmediate(() => void exit(0));
        return {};
      default:
        throw new Error(`unknown command ${c.cmd}`);
    }
  };
  const execute = (c: Command): Record<string, unknown> => {
    try {
      return { ack: c.id ?? null, ok: true, ...run(c) };
    } catch (err) {
      return { ack: c.id ?? null, ok: false, error: (err as Error).message };
    }
  };

  if (process.send) {
    process.on('message', (m: unknown) => {
      const reply = execute(m as Command);
      process.send?.(reply);
    });
    // The parent went away: do not linger.
    process.on('disconnect', () => void exit(0));
  }
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let c: Command;
    try {
      c = JSON.parse(line) as Command;
    } catch {
      process.stdout.write(JSON.stringify({ ack: null, ok: false, error: 'bad JSON' }) + '\n');
      return;
    }
    process.stdout.write(JSON.stringify(execute(c)) + '\n');
  });
  process.on('SIGTERM', () => void exit(0));
  process.on('SIGINT', () => void exit(0));

  const ready = { ready: true, port: dns.address.port };
  process.stdout.write(JSON.stringify(ready) + '\n');
  process.send?.(ready);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`headless-dns: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

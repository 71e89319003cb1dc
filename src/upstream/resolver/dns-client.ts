// One DNS question to one server, the way a stub resolver asks it:
// - UDP first, with an EDNS0 OPT record advertising a 4096-byte buffer, so the answer for a
//   headless Service with 60-100 Pods fits in one datagram when the server honours EDNS;
// - a random 16-bit id; a reply is ours only when it echoes the id and exactly our question (name,
//   case-insensitively; type; class IN). Anything else - another id, another question, no question,
//   an undecodable datagram - is ignored and we keep waiting for the real answer until the timeout:
//   an off-path spoofer or a confused middlebox cannot fail (or answer) a query with one datagram
//   (the socket is connected, so the kernel already drops datagrams from other peers and reports
//   ICMP port unreachable as ECONNREFUSED);
// - TC bit set: the same question again over TCP (2-byte length prefix) and that answer is used;
// - CNAME chains inside the answer are followed.
// Every socket and timer is closed on every path: answer, timeout, error, abort.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import type { HostPort } from '../../config/types.js';

export type DnsRecordType = 'A' | 'AAAA';

export interface DnsRecord {
  address: string;
  /** seconds; the smallest TTL along the CNAME chain that led to the record */
  ttl: number;
}

export interface DnsAnswer {
  /** 'NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED', ... */
  rcode: string;
  authoritative: boolean;
  /** TC bit of the answer used (false after a successful TCP retry). */
  truncated: boolean;
  records: DnsRecord[];
  /** Which transport the answer came over. */
  transport: 'udp' | 'tcp';
}

export interface QueryOptions {
  /** Deadline for the whole query, TCP fallback included. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Do not let in-flight sockets and the timer keep the process alive (the resolver sets it). */
  unref?: boolean;
  /** EDNS0 UDP payload size to advertise; 0 = no OPT record. Default 4096. */
  udpPayloadSize?: number;
}

export type DnsErrorCode = 'ETIMEOUT' | 'EABORTED' | 'EBADRESP' | 'ECONNREFUSED' | 'ENETWORK';

export class DnsError extends Error {
  constructor(
    readonly code: DnsErrorCode,
    message: string,
    readonly server?: HostPort,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DnsError';
  }
}

const DEFAULT_UDP_PAYLOAD = 4096;
/** Longest CNAME chain we follow inside one answer. */
const MAX_CNAME_HOPS = 16;

function fmtServer(s: HostPort): string {
  return net.isIPv6(s.host) ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

export function encodeQuery(id: number, name: string, type: DnsRecordType, udpPayloadSize: number): packet.Packet {
  return {
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: udpPayloadSize > 0 ? [{ type: 'OPT', name: '.', udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  };
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

/**
 * Whether a decoded message is the reply to our question: id, QR bit, and our one question echoed.
 * A reply without the question (some servers send FORMERR that way) cannot be told from a forged
 * one, so it is not ours either: the query then times out, like one dropped.
 */
function isReplyTo(msg: packet.DecodedPacket, id: number, name: string, type: DnsRecordType): boolean {
  if (msg.id !== id || msg.type !== 'response') return false;
  const qs = msg.questions;
  if (!qs || qs.length !== 1) return false;
  const q = qs[0]!;
  return q.type === type && q.class === 'IN' && sameName(q.name, name);
}

/** Extracts rcode, flags and the A/AAAA records for `name`, following CNAMEs in the answer. */
export function interpretAnswer(msg: packet.DecodedPacket, name: string, type: DnsRecordType, transport: 'udp' | 'tcp'): DnsAnswer {
  // dns-packet decodes rcode at runtime but its types do not declare it: read the header bits.
  const rcode = (msg as { rcode?: string }).rcode ?? rcodeName((msg.flags ?? 0) & 0xf);
  const answers = msg.answers ?? [];
  // owner name (lower case) -> smallest TTL along the chain that reaches it
  const owners = new Map<string, number>([[name.replace(/\.$/, '').toLowerCase(), Infinity]]);
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    let grew = false;
    for (const a of answers) {
      if (a.type !== 'CNAME') continue;
      const from = a.name.toLowerCase();
      const ttlFrom = owners.get(from);
      if (ttlFrom === undefined) continue;
      const target = String(a.data).replace(/\.$/, '').toLowerCase();
      const ttl = Math.min(ttlFrom, a.ttl ?? 0);
      const known = owners.get(target);
      if (known === undefined || ttl < known) {
        owners.set(target, ttl);
        grew = true;
      }
    }
    if (!grew) break;
  }
  const records: DnsRecord[] = [];
  for (const a of answers) {
    if (a.type !== type) continue;
    const chainTtl = owners.get(a.name.toLowerCase());
    if (chainTtl === undefined || typeof a.data !== 'string') continue;
    const family = net.isIP(a.data);
    if ((type === 'A' && family !== 4) || (type === 'AAAA' && family !== 6)) continue;
    records.push({ address: a.data, ttl: Math.min(chainTtl, a.ttl ?? 0) });
  }
  return { rcode, authoritative: msg.flag_aa, truncated: msg.flag_tc, records, transport };
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
function rcodeName(n: number): string {
  return RCODES[n] ?? `RCODE_${n}`;
}

export function queryDns(server: HostPort, name: string, type: DnsRecordType, opts: QueryOptions): Promise<DnsAnswer> {
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(new DnsError('EABORTED', 'DNS query aborted', server));
  const id = randomInt(0, 0x10000);
  const query = encodeQuery(id, name, type, opts.udpPayloadSize ?? DEFAULT_UDP_PAYLOAD);
  const where = `${type} ${name} @${fmtServer(server)}`;

  return new Promise<DnsAnswer>((resolve, reject) => {
    let done = false;
    let udp: dgram.Socket | undefined;
    let tcp: net.Socket | undefined;

    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (udp) {
        const s = udp;
        udp = undefined;
        s.removeAllListeners('message');
        s.on('error', () => {});
        try {
          s.close();
        } catch {
          /* already closed */
        }
      }
      if (tcp) {
        tcp.removeAllListeners('data');
        tcp.on('error', () => {});
        tcp.destroy();
        tcp = undefined;
      }
    };
    const fail = (err: DnsError): void => {
      if (done) return;
      done = true;
      cleanup();
      reject(err);
    };
    const succeed = (answer: DnsAnswer): void => {
      if (done) return;
      done = true;
      cleanup();
      resolve(answer);
    };
    const onAbort = (): void => fail(new DnsError('EABORTED', `DNS query aborted: ${where}`, server));
    // Replies that were not ours (see isReplyTo): said in the timeout's message, so an operator
    // can tell a server that answers wrongly from one that does not answer.
    let ignored = 0;
    const timer = setTimeout(() => {
      const why = ignored > 0 ? ` (${ignored} ${ignored === 1 ? 'reply' : 'replies'} ignored: undecodable or not matching the question)` : '';
      fail(new DnsError('ETIMEOUT', `DNS query timed out after ${opts.timeoutMs} ms${why}: ${where}`, server));
    }, opts.timeoutMs);
    if (opts.unref) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });

    const netError = (err: NodeJS.ErrnoException, transport: string): void => {
      const code: DnsErrorCode = err.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'ENETWORK';
      fail(new DnsError(code, `DNS ${transport} error (${err.code ?? err.message}): ${where}`, server, { cause: err }));
    };

    const overTcp = (): void => {
      const sock = net.connect({ host: server.host, port: server.port });
      tcp = sock;
      if (opts.unref) sock.unref();
      sock.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      sock.on('error', (err) => netError(err, 'TCP'));
      sock.on('close', () => fail(new DnsError('EBADRESP', `DNS TCP connection closed before the answer: ${where}`, server)));
      sock.on('connect', () => sock.write(packet.streamEncode(query)));
      sock.on('data', (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        // Several messages may be on the stream in theory; look at each complete one.
        while (buf.length >= 2) {
          const len = buf.readUInt16BE(0);
          if (buf.length < 2 + len) return;
          const frame = buf.subarray(2, 2 + len);
          buf = buf.subarray(2 + len);
          let msg: packet.DecodedPacket;
          try {
            msg = packet.decode(frame);
          } catch {
            ignored++;
            continue; // the length prefix still frames the stream: wait for the next message
          }
          if (!isReplyTo(msg, id, name, type)) {
            ignored++;
            continue;
          }
          succeed(interpretAnswer(msg, name, type, 'tcp'));
          return;
        }
      });
    };

    try {
      const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
      udp = sock;
      if (opts.unref) sock.unref();
      sock.on('error', (err) => netError(err, 'UDP'));
      sock.on('message', (data: Buffer) => {
        if (data.length < 12 || data.readUInt16BE(0) !== id) {
          ignored++;
          return; // not ours: keep waiting
        }
        let msg: packet.DecodedPacket;
        try {
          msg = packet.decode(data);
        } catch {
          // Our id, but undecodable. A response cut short with TC set is still worth a TCP retry
          // (whose answer is checked like any other); anything else: keep waiting.
          if ((data.readUInt16BE(2) & (0x8000 | packet.TRUNCATED_RESPONSE)) === (0x8000 | packet.TRUNCATED_RESPONSE) && udp) {
            cleanupUdp();
            overTcp();
          } else ignored++;
          return;
        }
        if (!isReplyTo(msg, id, name, type)) {
          ignored++;
          return;
        }
        if (msg.flag_tc) {
          cleanupUdp();
          overTcp();
          return;
        }
        succeed(interpretAnswer(msg, name, type, 'udp'));
      });
      const cleanupUdp = (): void => {
        const s = udp;
        udp = undefined;
        if (!s) return;
        s.removeAllListeners('message');
        s.on('error', () => {});
        try {
          s.close();
        } catch {
          /* already closed */
        }
      };
      sock.connect(server.port, server.host, () => {
        if (done || udp !== sock) return;
        sock.send(packet.encode(query), (err) => {
          if (err) netError(err, 'UDP');
        });
      });
    } catch (err) {
      fail(new DnsError('ENETWORK', `DNS UDP error: ${where}`, server, { cause: err }));
    }
  });
}

// resolv.conf(5) parsing, the subset glibc and musl honour and that Kubernetes writes:
//   nameserver 10.96.0.10
//   search default.svc.cluster.local svc.cluster.local cluster.local
//   options ndots:5 timeout:2 attempts:2
// Extensions (not glibc, handy for tests and local setups): `nameserver 127.0.0.1:5353`,
// `nameserver 127.0.0.1#5353` and `nameserver [::1]:5353` select a port other than 53.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { HostPort } from '../../config/types.js';

export interface ResolvConf {
  nameservers: HostPort[];
  search: string[];
  ndots: number;
  timeoutMs?: number;
  attempts?: number;
}

/** glibc's MAXNS: further nameserver lines are ignored. */
const MAX_NAMESERVERS = 3;
/** glibc caps: ndots 15, timeout 30 s, attempts 5. */
const MAX_NDOTS = 15;
const MAX_TIMEOUT_S = 30;
const MAX_ATTEMPTS = 5;

export const DEFAULT_NAMESERVER: HostPort = { host: '127.0.0.1', port: 53 };

function parseNameserver(value: string): HostPort | undefined {
  if (isIP(stripZone(value))) return { host: value, port: 53 };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed && isIP(stripZone(bracketed[1]!)) === 6) {
    return { host: bracketed[1]!, port: bracketed[2] ? toPort(bracketed[2]) ?? 53 : 53 };
  }
  const v4 = /^([0-9.]+)[:#](\d+)$/.exec(value);
  if (v4 && isIP(v4[1]!) === 4) {
    const port = toPort(v4[2]!);
    if (port !== undefined) return { host: v4[1]!, port };
  }
  const v6hash = /^([0-9a-fA-F:.%\w]+)#(\d+)$/.exec(value);
  if (v6hash && isIP(stripZone(v6hash[1]!)) === 6) {
    const port = toPort(v6hash[2]!);
    if (port !== undefined) return { host: v6hash[1]!, port };
  }
  return undefined;
}

function stripZone(host: string): string {
  const i = host.indexOf('%');
  return i < 0 ? host : host.slice(0, i);
}

function toPort(text: string): number | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

function intOption(value: string | undefined, max: number): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), max);
}

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: HostPort[] = [];
  let search: string[] = [];
  let ndots = 1;
  let timeoutMs: number | undefined;
  let attempts: number | undefined;

  for (const rawLine of text.split(/\r?\n/)) {
    // '#' and ';' start comments only at the start of a line in glibc, but nobody relies on
    // trailing text after a value being significant, so strip them anywhere.
    const line = rawLine.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [keyword, ...args] = line.split(/\s+/);
    switch (keyword) {
      case 'nameserver': {
        if (args[0] === undefined || nameservers.length >= MAX_NAMESERVERS) break;
        // A '#port' suffix was stripped as a comment above: look at the raw line for it.
        const raw = rawLine.trim().split(/\s+/)[1] ?? args[0];
        const ns = parseNameserver(raw) ?? parseNameserver(args[0]);
        if (ns) nameservers.push(ns);
        break;
      }
      case 'domain':
        // The last of `domain` and `search` wins.
        search = args[0] ? [stripDot(args[0])] : [];
        break;
      case 'search':
        search = args.map(stripDot).filter((d) => d.length > 0);
        break;
      case 'options':
        for (const opt of args) {
          const [name, value] = opt.split(':', 2);
          if (name === 'ndots') ndots = intOption(value, MAX_NDOTS) ?? ndots;
          else if (name === 'timeout') {
            const s = intOption(value, MAX_TIMEOUT_S);
            if (s !== undefined) timeoutMs = Math.max(1, s) * 1000;
          } else if (name === 'attempts') {
            const a = intOption(value, MAX_ATTEMPTS);
            if (a !== undefined) attempts = Math.max(1, a);
          }
        }
        break;
      default:
        break;
    }
  }

  const conf: ResolvConf = { nameservers, search, ndots };
  if (timeoutMs !== undefined) conf.timeoutMs = timeoutMs;
  if (attempts !== undefined) conf.attempts = attempts;
  return conf;
}

function stripDot(d: string): string {
  return d.endsWith('.') ? d.slice(0, -1) : d;
}

/**
 * Reads and parses resolv.conf. A missing file gives the defaults; like glibc, a file without a
 * usable nameserver line means the local resolver, 127.0.0.1:53.
 */
export async function readResolvConf(path = '/etc/resolv.conf'): Promise<ResolvConf> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  const conf = parseResolvConf(text);
  if (conf.nameservers.length === 0) conf.nameservers = [{ ...DEFAULT_NAMESERVER }];
  return conf;
}

// Parsers for the value kinds the settings table uses. Each takes the text as written and returns
// the typed value, or throws a plain Error whose message is one line that does NOT name the
// setting: the loader prefixes the flag, environment variable or YAML key the text came from.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { HostPort, OriginRule, TargetSpec } from './types.js';

/** Longest delay Node's timers accept (2^31-1 ms, ~24.8 days); longer ones fire at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const DURATION_UNITS: Record<string, bigint> = { ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n };
const DURATION_HINT = '(use e.g. 500ms, 5s, 1m)';

/** Split "1.5" into an exact integer numerator and a power-of-ten denominator. */
function decimal(text: string): { num: bigint; den: bigint } {
  const [int, frac = ''] = text.split('.');
  return { num: BigInt(int + frac), den: 10n ** BigInt(frac.length) };
}

/**
 * "500ms", "2s", "1m", "1h", "1.5s", "1m30s", "0" → milliseconds.
 * A plain number other than "0" is an error: "5" could mean 5 ms or 5 s.
 */
export function parseDuration(s: string): number {
  const text = s.trim();
  if (text === '0') return 0;
  if (text === '') throw new Error(`empty value is not a duration ${DURATION_HINT}`);
  if (text.startsWith('-')) throw new Error(`'${s}': durations cannot be negative`);
  if (/^\d+(\.\d+)?$/.test(text)) throw new Error(`'${s}' has no unit ${DURATION_HINT}`);
  const part = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0n;
  let end = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    const { num, den } = decimal(m[1]!);
    const scaled = num * DURATION_UNITS[m[2]!]!;
    if (scaled % den !== 0n) throw new Error(`'${s}' is finer than a millisecond`);
    total += scaled / den;
    end = part.lastIndex;
  }
  if (end !== text.length || end === 0) throw new Error(`'${s}' is not a duration ${DURATION_HINT}`);
  if (total > BigInt(MAX_DURATION_MS)) {
    throw new Error(`'${s}' is too long (at most 596h, the longest timer Node.js supports)`);
  }
  return Number(total);
}

/** The shortest text parseDuration reads back as `ms`, e.g. 90_000 → "1m30s", 0 → "0". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`${ms} is not a duration in ms`);
  if (ms === 0) return '0';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

const BYTE_UNITS: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  kb: 1000n,
  mb: 1000n ** 2n,
  gb: 1000n ** 3n,
  kib: 1024n,
  mib: 1024n ** 2n,
  gib: 1024n ** 3n,
};
const BYTES_HINT = '(use e.g. 1048576, 512KiB, 4MiB, 4MB)';

/** "4MiB", "512KiB", "1048576", "4MB" (= 4,000,000), "1.5KiB"; units are case-insensitive. */
export function parseByteSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
  if (m === null) throw new Error(`'${s}' is not a byte size ${BYTES_HINT}`);
  const unit = BYTE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) throw new Error(`'${s}': unknown size unit '${m[2]}' ${BYTES_HINT}`);
  const { num, den } = decimal(m[1]!);
  const scaled = num * unit;
  if (scaled % den !== 0n) throw new Error(`'${s}' is not a whole number of bytes`);
  const bytes = scaled / den;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`'${s}' is too large`);
  return Number(bytes);
}

/** A non-negative decimal integer, at least `min`. */
export function parseInteger(s: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const text = s.trim();
  if (!/^\d+$/.test(text)) {
    throw new Error(`'${s}' is not a ${min > 0 ? 'positive' : 'non-negative'} integer`);
  }
  const n = Number(text);
  if (n < min) throw new Error(`'${s}' is too small (at least ${min})`);
  if (n > max) throw new Error(`'${s}' is too large (at most ${max})`);
  return n;
}

/** "true" / "false" (any case). */
export function parseBoolean(s: string): boolean {
  const t = s.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new Error(`'${s}' is not true or false`);
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i;

/**
 * A host name in letter-digit-hyphen form (underscores tolerated, as resolvers do), at most 253
 * characters, optional trailing dot; the last label may not be all digits ("999.1.1.1" is a
 * mistyped address, not a name).
 */
export function isDnsName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  const labels = n.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

export interface HostPortOptions {
  /** Accept port 0 ("pick a free port"), for listeners. */
  allowPortZero?: boolean;
  /** When given, the ":PORT" part may be left out. */
  defaultPort?: number;
  /** Only IP addresses, no names (for DNS servers). */
  ipOnly?: boolean;
}

function parsePort(text: string, s: string, what: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`'${s}': '${text}' is not a port number in ${what}`);
  const port = Number(text);
  const min = allowZero ? 0 : 1;
  if (port < min || port > 65535) throw new Error(`'${s}': port ${port} is out of range ${min}-65535`);
  return port;
}

/**
 * "0.0.0.0:8080", "[::1]:8080", "name:8080", ":8080" (host 0.0.0.0). `what` names the kind of
 * address in error messages, e.g. "listen address". IPv6 hosts come back without brackets.
 */
export function parseHostPort(s: string, what: string, opts: HostPortOptions = {}): HostPort {
  const text = s.trim();
  const form = opts.defaultPort === undefined ? 'HOST:PORT' : 'HOST[:PORT]';
  if (text === '') throw new Error(`empty value is not a ${form} ${what}`);
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (m === null) throw new Error(`'${s}' is not a ${form} ${what} (write IPv6 as [::1]:8080)`);
    host = m[1]!;
    portText = m[2];
    if (!isIPv6(host)) throw new Error(`'${s}': '${host}' is not an IPv6 address`);
  } else if (opts.defaultPort !== undefined && isIPv6(text)) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) {
      throw new Error(`'${s}': write IPv6 addresses in brackets, e.g. [::1]:8080`);
    }
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (host === '') host = '0.0.0.0';
    else if (!isIPv4(host) && (opts.ipOnly || !isDnsName(host))) {
      throw new Error(`'${s}': '${host}' is not ${opts.ipOnly ? 'an IP address' : 'an IP address or host name'}`);
    }
  }
  if (portText === undefined) {
    if (opts.defaultPort === undefined) throw new Error(`'${s}' has no port: expected ${form}`);
    return { host, port: opts.defaultPort };
  }
  return { host, port: parsePort(portText, s, what, opts.allowPortZero === true) };
}

/** Schemes of gRPC target URIs we recognise enough to reject clearly. */
const OTHER_SCHEMES = ['unix', 'unix-abstract', 'ipv4', 'ipv6', 'xds', 'vsock', 'passthrough'];
const TARGET_HINT = 'use HOST:PORT[,HOST:PORT...] or dns:///NAME:PORT';

/**
 * "HOST:PORT[,HOST:PORT...]" → static addresses (IPv4, [IPv6] or names);
 * "dns:///NAME:PORT" or "dns:NAME:PORT" → a name re-resolved by our DNS resolver.
 */
export function parseTarget(s: string): TargetSpec {
  const text = s.trim();
  if (text === '') throw new Error(`empty target (${TARGET_HINT})`);
  if (/^dns:/i.test(text)) {
    let rest = text.slice(4);
    if (rest.startsWith('//')) {
      const m = /^\/\/([^/]*)\/(.*)$/.exec(rest);
      if (m === null) throw new Error(`'${s}' is not a DNS target (write dns:///NAME:PORT)`);
      if (m[1] !== '') {
        throw new Error(
          `'${s}': a DNS authority ('${m[1]}') is not supported; write dns:///NAME:PORT and choose servers with --dns-server`,
        );
      }
      rest = m[2]!;
    }
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw new Error(`'${s}' has no port: write dns:///NAME:PORT`);
    const name = rest.slice(0, colon);
    const port = parsePort(rest.slice(colon + 1), s, 'DNS target', false);
    const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
    if (isIP(bare) !== 0) {
      throw new Error(`'${s}': '${bare}' is an IP address, not a name; write it as a static target ${name}:${port}`);
    }
    if (!isDnsName(name)) throw new Error(`'${s}': '${name}' is not a valid DNS name`);
    return { kind: 'dns', text, name, port };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(text);
  if (scheme !== null && (scheme[2]!.startsWith('/') || OTHER_SCHEMES.includes(scheme[1]!.toLowerCase()))) {
    throw new Error(`'${s}': target scheme '${scheme[1]}' is not supported (${TARGET_HINT})`);
  }
  const addresses: HostPort[] = [];
  const seen = new Set<string>();
  for (const item of text.split(',')) {
    if (item.trim() === '') throw new Error(`'${s}' has an empty address in its list (${TARGET_HINT})`);
    const hp = parseHostPort(item, 'upstream address');
    const key = `${hp.host}:${hp.port}`;
    if (seen.has(key)) throw new Error(`'${s}' lists ${item.trim()} twice`);
    seen.add(key);
    addresses.push(hp);
  }
  return { kind: 'static', text, addresses };
}

/** "PREFIX=TARGET" with PREFIX starting with '/'. */
export function parseRoute(s: string): { prefix: string; target: TargetSpec } {
  const eq = s.indexOf('=');
  if (eq < 0) throw new Error(`'${s}' is not PREFIX=TARGET (e.g. /echo.v1.EchoService/=dns:///echo:50051)`);
  const prefix = s.slice(0, eq).trim();
  if (!prefix.startsWith('/')) throw new Error(`'${s}': prefix '${prefix}' must start with '/'`);
  if (/\s/.test(prefix)) throw new Error(`'${s}': prefix '${prefix}' contains whitespace`);
  return { prefix, target: parseTarget(s.slice(eq + 1)) };
}

/**
 * "*", an exact origin "https://app.example.com[:port]" (no path; returned in the form browsers
 * send: lower case, default port dropped), or "/regex/" (optionally "/regex/i"). Patterns are
 * anchored: they must match the whole Origin header, so /https:\/\/.*\.example\.com/ does not
 * let "https://x.example.com.evil.net" through.
 */
export function parseOrigin(s: string): OriginRule {
  const text = s.trim();
  if (text === '*') return '*';
  if (text.startsWith('/')) {
    const m = /^\/(.+)\/([a-z]*)$/s.exec(text);
    if (m === null) throw new Error(`'${s}' is not a /regex/ origin pattern`);
    const flags = m[2]!;
    if (!/^[iu]*$/.test(flags)) throw new Error(`'${s}': only the i and u regex flags are allowed`);
    try {
      return new RegExp(`^(?:${m[1]})$`, flags);
    } catch (err) {
      throw new Error(`'${s}' is not a valid regular expression: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#@\s]+)$/i.exec(text);
  if (m === null) {
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+[/?#]/i.test(text)) {
      throw new Error(`'${s}': an origin has no path, query or trailing '/' (e.g. https://app.example.com)`);
    }
    throw new Error(`'${s}' is not an origin: use *, scheme://host[:port] or /regex/`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`'${s}' is not a valid origin`);
  }
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return url.origin;
  return `${scheme}://${m[2]!.toLowerCase()}`;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

/** An HTTP header field name (RFC 9110 token), lower-cased. */
export function parseHeaderName(s: string): string {
  const text = s.trim();
  if (!TOKEN.test(text)) throw new Error(`'${s}' is not a valid HTTP header name`);
  return text.toLowerCase();
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** "false" | "true" | hop count | "CIDR[,CIDR...]" (also loopback, linklocal, uniquelocal). */
export function parseTrustProxy(s: string): boolean | number | string[] {
  const text = s.trim();
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  if (/^\d+$/.test(text)) return parseInteger(text, 1);
  const list = text.split(',').map((x) => x.trim());
  for (const item of list) {
    if (PROXY_NAMES.includes(item)) continue;
    const slash = item.indexOf('/');
    const addr = slash < 0 ? item : item.slice(0, slash);
    const family = isIP(addr);
    if (family === 0) {
      throw new Error(`'${item}' is not an IP address or CIDR (expected false, true, a hop count or CIDR[,CIDR...])`);
    }
    if (slash >= 0) {
      const bits = item.slice(slash + 1);
      const max = family === 4 ? 32 : 128;
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) {
        throw new Error(`'${item}': prefix length must be 0-${max}`);
      }
    }
  }
  return list;
}

/** One of `choices`. */
export function parseChoice<T extends string>(s: string, choices: readonly T[]): T {
  const t = s.trim();
  if ((choices as readonly string[]).includes(t)) return t as T;
  throw new Error(`'${s}' is not one of ${choices.join(', ')}`);
}

/** gRPC status code names (doc/statuscodes.md), in code order, as flags spell them. */
const STATUS_CODE_NAMES = [
  'ok', 'cancelled', 'unknown', 'invalid-argument', 'deadline-exceeded', 'not-found', 'already-exists',
  'permission-denied', 'resource-exhausted', 'failed-precondition', 'aborted', 'out-of-range', 'unimplemented',
  'internal', 'unavailable', 'data-loss', 'unauthenticated',
];

/**
 * "unavailable,resource-exhausted" → [14, 8]. Names in kebab or SCREAMING_SNAKE case, or numbers.
 * OK is refused: it is not a failure to retry.
 */
export function parseStatusCodes(s: string): number[] {
  const codes: number[] = [];
  for (const part of s.split(',')) {
    const word = part.trim().toLowerCase().replace(/_/g, '-');
    if (word === '') continue;
    const code = /^\d+$/.test(word) ? Number(word) : STATUS_CODE_NAMES.indexOf(word);
    if (!(code > 0 && code < STATUS_CODE_NAMES.length)) {
      throw new Error(`'${part.trim()}' is not a gRPC status code other than ok (e.g. unavailable, resource-exhausted, 14)`);
    }
    if (!codes.includes(code)) codes.push(code);
  }
  if (codes.length === 0) throw new Error('no status code given (e.g. unavailable,resource-exhausted)');
  return codes;
}

/** A gRPC method path prefix: "/pkg.Service/" or "/pkg.Service/Method". */
export function parseMethodPrefix(s: string): string {
  const text = s.trim();
  if (!/^\/[^/\s]+\/[^/\s]*$/.test(text)) {
    throw new Error(`'${s}' is not a gRPC method prefix (/package.Service/ or /package.Service/Method)`);
  }
  return text;
}

/** A file path (whether it can be read is checked with the other settings: config/build.ts). */
export function parseFilePath(s: string): string {
  const path = s.trim();
  if (path === '') throw new Error('empty value is not a file path');
  return path;
}

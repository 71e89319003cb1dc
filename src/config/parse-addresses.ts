// Parsers for the address-like values of the settings table: DNS and TLS server names, HOST:PORT,
// upstream targets and routes, CORS origins, header names and the trusted-proxy list. Like
// ./parse-values.ts, each throws a one-line Error that does NOT name the setting.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { parseK8sTarget } from './k8s-target.js';
import { parseInteger } from './parse-values.js';
import type { HostPort, OriginRule, TargetSpec } from './types.js';

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

/** A TLS server name: a DNS name (a trailing dot dropped) or an IP address. */
export function parseServerName(s: string): string {
  const text = s.trim();
  if (isIP(text) !== 0) return text;
  if (!isDnsName(text)) throw new Error(`'${s}' is not a host name or an IP address`);
  return text.endsWith('.') ? text.slice(0, -1) : text;
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
const TARGET_HINT = 'use HOST:PORT[,HOST:PORT...], dns:///NAME:PORT or k8s:///SERVICE.NAMESPACE:PORT';

/**
 * "HOST:PORT[,HOST:PORT...]" → static addresses (IPv4, [IPv6] or names);
 * "dns:///NAME:PORT" or "dns:NAME:PORT" → a name re-resolved by our DNS resolver;
 * "k8s:///SERVICE.NAMESPACE:PORT" → the Service's EndpointSlices, watched.
 */
export function parseTarget(s: string): TargetSpec {
  const text = s.trim();
  if (text === '') throw new Error(`empty target (${TARGET_HINT})`);
  if (/^k8s:/i.test(text)) return parseK8sTarget(s, text);
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

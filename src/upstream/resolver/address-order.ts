// The order of a resolved address set: deduplicated, IPv4 before IPv6, then by address bytes, so
// that one set of Pods always reads the same (the pool compares sets, the views list them).
import net from 'node:net';
import type { ResolvedAddress } from '../types.js';

/** Sort key: family first (IPv4 before IPv6), then numerically by address bytes. */
function addressKey(host: string): string {
  if (net.isIPv4(host)) return '4' + host.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
  if (net.isIPv6(host)) {
    let text = host.split('%')[0]!;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const o = v4[1]!.split('.').map(Number);
      text = text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
    }
    const [head, tail] = text.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
    return '6' + groups.map((g) => g.padStart(4, '0').toLowerCase()).join('');
  }
  return '9' + host;
}

export function sortAddresses(addresses: ResolvedAddress[]): ResolvedAddress[] {
  const seen = new Map<string, ResolvedAddress>();
  for (const a of addresses) {
    const k = `${addressKey(a.host)}|${a.port}`;
    if (!seen.has(k)) seen.set(k, { host: a.host, port: a.port });
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

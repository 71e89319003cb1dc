// StaticResolver: a fixed HOST:PORT[,HOST:PORT] list. Reported once, on the microtask after
// start() (never re-entrantly from start(), like DnsResolver). Hostnames that are not IP
// addresses are passed through as they are: grpc-js resolves them itself.
import type { HostPort } from '../../config/types.js';
import type { ResolvedAddress, Resolver, ResolverListener, ResolverStats } from '../types.js';

export class StaticResolver implements Resolver {
  private readonly addresses: ResolvedAddress[];
  private stopped = false;
  private started = false;
  private readonly counters: ResolverStats = { lookups: 0, failures: 0, lastSuccess: 0 };

  constructor(addresses: readonly HostPort[]) {
    const seen = new Set<string>();
    this.addresses = [];
    for (const a of addresses) {
      // "[::1]" -> "::1": hosts are plain addresses, as DnsResolver reports them.
      const host = a.host.startsWith('[') && a.host.endsWith(']') ? a.host.slice(1, -1) : a.host;
      const k = `${host}|${a.port}`;
      if (seen.has(k)) continue;
      seen.add(k);
      this.addresses.push({ host, port: a.port });
    }
  }

  start(listener: ResolverListener): void {
    if (this.started) throw new Error('StaticResolver already started');
    this.started = true;
    queueMicrotask(() => {
      if (this.stopped) return;
      this.counters.lookups = 1;
      this.counters.lastSuccess = Date.now();
      listener.onAddresses(this.addresses.map((a) => ({ ...a })));
    });
  }

  refresh(): void {
    // Nothing to learn: the list is fixed.
  }

  stop(): void {
    this.stopped = true;
  }

  stats(): ResolverStats {
    return { ...this.counters };
  }
}

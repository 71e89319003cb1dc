// A caching DNS server in front of the headless Service's server, as a cluster's DNS cache sits in
// front of the records (GKE's kube-dns is kubedns behind a dnsmasq cache; NodeLocal DNSCache caches
// up to 30 s): Debian's dnsmasq as a forwarder (--server), which keeps each answer for its TTL. A
// name whose records change is answered from the cache, stale, until the TTL runs out.
import { spawn, type ChildProcess } from 'node:child_process';
import { queryDns } from '../../src/upstream/resolver/dns-client.js';
import { freePort } from '../../test/support/ports.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface DnsCache {
  address: { host: string; port: number };
  close(): Promise<void>;
}

export async function startDnsCache(upstream: { host: string; port: number }, probeName: string): Promise<DnsCache> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort('127.0.0.1');
    const proc: ChildProcess = spawn(
      DNSMASQ,
      [
        '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=127.0.0.1',
        `--port=${port}`, `--server=${upstream.host}#${upstream.port}`, '--cache-size=1000', '--pid-file=',
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && proc.exitCode === null) {
      try {
        await queryDns({ host: '127.0.0.1', port }, probeName, 'A', { timeoutMs: 300 });
        return {
          address: { host: '127.0.0.1', port },
          close: async () => {
            proc.kill('SIGTERM');
            await exited;
          },
        };
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    proc.kill('SIGKILL');
    await exited;
  }
  throw new Error('dnsmasq (as a DNS cache) did not start');
}

// The DNS servers the balancing e2e tests play the headless Service with, behind one interface, so a
// test runs against each (describe.each(HEADLESS_SERVICES)):
//   - examples/headless-dns, our dns-packet server, as a child process: authoritative, NXDOMAIN and
//     NOERROR-without-records like CoreDNS;
//   - Debian's dnsmasq serving a hosts file (test/support/dnsmasq.ts): REFUSED for AAAA and for
//     every name it does not know, the real-world server the resolver once failed with.
import { spawnHeadlessDns } from './dns-process.js';
import { startDnsmasq } from './dnsmasq.js';

export interface HeadlessService {
  address: { host: string; port: number };
  /** The Service's ready Pods are now `addresses`; resolves once the server answers so. */
  set(name: string, addresses: string[], ttl?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface HeadlessServiceKind {
  name: string;
  start(): Promise<HeadlessService>;
}

/** TTL of every answer (dnsmasq has one for the whole hosts file, --local-ttl). */
const TTL = 30;

export const HEADLESS_SERVICES: readonly HeadlessServiceKind[] = [
  { name: 'headless-dns (dns-packet)', start: () => spawnHeadlessDns() },
  {
    name: "Debian's dnsmasq (hosts file + SIGHUP)",
    start: async () => {
      const d = await startDnsmasq({ ttl: TTL });
      return {
        address: d.address,
        set: (name, addresses, ttl = TTL) => {
          if (ttl !== TTL) throw new Error(`dnsmasq answers every name with TTL ${TTL}, not ${ttl}`);
          return d.set(name, addresses);
        },
        stop: () => d.stop(),
      };
    },
  },
];

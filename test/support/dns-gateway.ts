// A gateway (in-process) whose upstream is a headless Service served by a test DNS server,
// and the view of its Pods the balancing tests wait on.
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { testGatewayEnv } from './upstream-options.js';

export interface DnsGatewayOptions {
  /** Headless Service name, e.g. "echo1.test.svc.cluster.local". */
  service: string;
  podPort: number;
  dnsPort: number;
  resolveIntervalMs: number;
  /** More CLI flags. */
  extra?: string[];
}

export async function startDnsGateway(o: DnsGatewayOptions): Promise<Gateway> {
  const result = loadConfig(
    [
      '--listen', '127.0.0.1:0',
      '--admin', '127.0.0.1:0',
      '--upstream', `dns:///${o.service}:${o.podPort}`,
      '--dns-server', `127.0.0.1:${o.dnsPort}`,
      '--resolve-interval', `${o.resolveIntervalMs}ms`,
      '--log-level', 'warn',
      ...(o.extra ?? []),
    ],
    testGatewayEnv(),
  );
  if (!('config' in result)) throw new Error('loadConfig gave no config');
  return startGateway(result.config, { logger: false });
}

/** READY, not draining endpoints of the gateway's (only) upstream, sorted. */
export function readyPods(gw: Gateway): string[] {
  return gw.pools[0]!.snapshot()
    .endpoints.filter((e) => e.state === 'READY' && !e.draining)
    .map((e) => e.address)
    .sort();
}

/** Waits until exactly `expected` are the ready Pods. */
export async function waitForReady(gw: Gateway, expected: string[], timeoutMs = 15_000): Promise<void> {
  const want = [...expected].sort().join(',');
  const deadline = Date.now() + timeoutMs;
  while (readyPods(gw).join(',') !== want) {
    if (Date.now() > deadline) throw new Error(`READY Pods ${readyPods(gw).join(',')} != ${want} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

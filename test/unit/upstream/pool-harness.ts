// What the pool tests share: a resolver the test drives, the pool's options, and pools that are
// closed after each test.
import type { UpstreamOptions } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/upstream/logger.js';
import { PodPool } from '../../../src/upstream/pool.js';
import type { ResolvedAddress, Resolver, ResolverListener } from '../../../src/upstream/types.js';
import { testUpstreamOptions } from '../../support/upstream-options.js';

/** The pool's resolver, driven by the test: what DNS would say, said directly. */
export class ManualResolver implements Resolver {
  listener: ResolverListener | null = null;
  refreshes = 0;
  start(listener: ResolverListener) {
    this.listener = listener;
  }
  set(addresses: ResolvedAddress[]) {
    this.listener!.onAddresses(addresses);
  }
  refresh() {
    this.refreshes++;
  }
  stop() {}
  stats() {
    return { lookups: 0, failures: 0, lastSuccess: 0 };
  }
}

/** The shared test options, with what the streamed-request tests need. */
export const options = (o: Partial<UpstreamOptions> = {}): UpstreamOptions => testUpstreamOptions(o);

export const until = async (predicate: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const pools: PodPool[] = [];

/** Close every pool made since the last call (in afterEach). */
export async function closePools(): Promise<void> {
  await Promise.all(pools.splice(0).map((p) => p.close(0)));
}

export function makePool(o: Partial<UpstreamOptions> = {}) {
  const resolver = new ManualResolver();
  const pool = new PodPool({
    name: 'test',
    target: { kind: 'dns', text: 'dns:///test:1', name: 'test', port: 1 },
    resolver,
    options: options(o),
    maxMessageBytes: 4 << 20,
    logger: silentLogger,
  });
  pool.start();
  pools.push(pool);
  return { pool, resolver };
}

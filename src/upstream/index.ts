import type { Config, TargetSpec } from '../config/types.js';
import type { Logger } from './logger.js';
import { PodPool } from './pool.js';
import { DnsResolver, StaticResolver } from './resolver/index.js';
import { Router } from './router.js';
import { channelCredentials } from './tls.js';
import type { Resolver } from './types.js';

export type * from './types.js';
export { PodPool } from './pool.js';
export { Router } from './router.js';
export type { Logger } from './logger.js';

function resolverFor(target: TargetSpec, config: Config, logger: Logger): Resolver {
  if (target.kind === 'static') return new StaticResolver(target.addresses);
  return new DnsResolver({
    name: target.name,
    port: target.port,
    servers: config.dns.servers,
    intervalMs: config.dns.resolveIntervalMs,
    queryTimeoutMs: config.dns.queryTimeoutMs,
    resolvConfPath: config.dns.resolvConfPath,
    family: config.dns.family,
    logger,
  });
}

/**
 * Builds one pool per distinct target (routes that name the same target share its Pods'
 * connections) and the router over them. Pools are started: Pods are connected before the
 * first call arrives.
 */
export function buildUpstreams(config: Config, logger: Logger): { router: Router; pools: PodPool[] } {
  const pools = new Map<string, PodPool>();
  const credentials = channelCredentials(config.upstreamOptions.tls);
  const poolFor = (target: TargetSpec): PodPool => {
    let pool = pools.get(target.text);
    if (!pool) {
      pool = new PodPool({
        name: target.text,
        target,
        resolver: resolverFor(target, config, logger),
        options: config.upstreamOptions,
        credentials,
        maxMessageBytes: config.limits.maxMessageBytes,
        logger,
      });
      pools.set(target.text, pool);
    }
    return pool;
  };
  const routes = config.routes.map((r) => ({ prefix: r.prefix, upstream: poolFor(r.target) }));
  const fallback = config.upstream ? poolFor(config.upstream) : null;
  for (const pool of pools.values()) pool.start();
  return { router: new Router(routes, fallback), pools: [...pools.values()] };
}

import type { Config, TargetSpec } from '../config/types.js';
import { installLightAsyncBind } from './async-bind.js';
import type { Logger } from './logger.js';
import { PodPool } from './pool.js';
import { DnsResolver, inClusterAccess, K8sResolver, kubeconfigAccess, StaticResolver, type KubeAccess } from './resolver/index.js';
import { Router } from './router.js';
import { UpstreamCredentials } from './credentials.js';
import type { Resolver } from './types.js';

export type * from './types.js';
export { PodPool } from './pool.js';
export { Router } from './router.js';
export type { Logger } from './logger.js';

function resolverFor(target: TargetSpec, config: Config, logger: Logger, kubeAccess: () => KubeAccess): Resolver {
  if (target.kind === 'static') return new StaticResolver(target.addresses);
  if (target.kind === 'k8s') {
    const { service, namespace, port } = target;
    return new K8sResolver({ service, namespace, port, access: kubeAccess(), logger });
  }
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
 * first call arrives. `env` gives the in-cluster API server (KUBERNETES_SERVICE_HOST/PORT) when a
 * k8s:/// target has no --kubeconfig.
 */
export function buildUpstreams(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): { router: Router; pools: PodPool[] } {
  // Every upstream call goes through Node's HTTP/2 client request(), which calls bind (./async-bind.ts).
  installLightAsyncBind();
  // Read once, and only when some target needs it: dns:/// and static targets need no cluster.
  let access: KubeAccess | undefined;
  const kubeAccess = (): KubeAccess =>
    (access ??= config.kubernetes.kubeconfigPath ? kubeconfigAccess(config.kubernetes.kubeconfigPath) : inClusterAccess(env));
  const pools = new Map<string, PodPool>();
  const credentials = new UpstreamCredentials(config.upstreamOptions.tls, logger);
  const poolFor = (target: TargetSpec): PodPool => {
    let pool = pools.get(target.text);
    if (!pool) {
      pool = new PodPool({
        name: target.text,
        target,
        resolver: resolverFor(target, config, logger, kubeAccess),
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

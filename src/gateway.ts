import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { GatewayMetrics } from './admin/metrics.js';
import { buildAdminServer, localAdminSource, notReadyReason, urlOf, type AdminSource, type AdminState } from './admin/server.js';
import { packageVersion } from './config/index.js';
import type { Config, HostPort } from './config/types.js';
import { buildHttpServer } from './http/server.js';
import { buildUpstreams } from './upstream/index.js';
import type { PodPool } from './upstream/pool.js';

// A program that embeds the gateway builds its Config the way the CLI does (flags, GWG_*
// environment, YAML), so it needs no copy of the settings table.
export { ConfigError, loadConfig, type LoadResult } from './config/index.js';
export type { Config } from './config/types.js';

export interface Gateway {
  /** e.g. http://127.0.0.1:8080 */
  readonly httpUrl: string;
  readonly adminUrl: string | null;
  readonly pools: readonly PodPool[];
  readonly logger: Logger;
  /** This process's readiness, metrics and endpoints (null without --admin). */
  readonly adminSource: AdminSource | null;
  /** The metrics registry behind adminSource (a cluster worker hands it to the primary). */
  readonly metrics: GatewayMetrics | undefined;
  /**
   * Kubernetes-style stop: /readyz turns 503 at once, calls keep being served for
   * shutdown.delayMs (while endpoint removal propagates), then the listener stops accepting,
   * in-flight calls and streams get up to shutdown.drainTimeoutMs, then upstream
   * connections close.
   */
  shutdown(): Promise<void>;
  /** Stop now: in-flight calls are cancelled. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** A pino logger, or false for none. Default: JSON to stdout at config.logLevel. */
  logger?: Logger | false;
  /**
   * Listen on config.admin. Default true; a --workers worker says false, since its primary
   * serves the admin port for all of them from each worker's adminSource.
   */
  adminListener?: boolean;
}


async function listen(app: FastifyInstance, at: HostPort): Promise<void> {
  await app.listen({ host: at.host, port: at.port });
}

/** How often a draining gateway closes the client connections that have turned idle. */
const IDLE_SWEEP_MS = 100;

/**
 * True if `settled` settles within `ms`, false after `ms` or as soon as `cut` settles. The timer
 * is cleared as soon as the wait is over: a drain that ends in 2 ms must not leave a 30 s timer
 * behind, which would keep a program that embeds the gateway alive that long after shutdown().
 */
async function settlesWithin(settled: Promise<unknown>, ms: number, cut?: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  const waits = [settled.then(() => true), timedOut];
  if (cut) waits.push(cut.then(() => false));
  try {
    return await Promise.race(waits);
  } finally {
    clearTimeout(timer);
  }
}

/** The composition root: builds every part from the Config and owns start and stop. */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const logger =
    options.logger === false
      ? pino({ level: 'silent' })
      : (options.logger ?? pino({ level: config.logLevel, base: { service: 'grpc-web-gateway' } }));
  const { router, pools } = buildUpstreams(config, logger);
  const state: AdminState = { shuttingDown: false };

  // Metrics are kept only when something can read them (the admin listener).
  const version = packageVersion();
  const metrics = config.admin ? new GatewayMetrics({ upstreams: pools, version }) : undefined;
  const adminSource = config.admin ? localAdminSource({ upstreams: pools, state, metrics, version }) : null;
  const adminListener = options.adminListener ?? true;
  // The pools are already connecting: whatever fails from here on closes them (and any
  // server already built), so a failed start leaves nothing running behind the rejection.
  const abandon = async (error: unknown, ...servers: Array<FastifyInstance | null>): Promise<never> => {
    await Promise.all(pools.map((p) => p.close(0)));
    for (const server of servers) await server?.close().catch(() => {});
    throw error;
  };
  // One readiness source for both ports (and, with --workers, for the primary's question over IPC).
  const readiness = async (): Promise<string | null> => notReadyReason(pools, state);
  const http = await buildHttpServer({ config, router, logger, observer: metrics, readiness }).catch((e) => abandon(e));
  const admin =
    adminSource && adminListener
      ? await buildAdminServer({ source: adminSource, logger }).catch((e) => abandon(e, http))
      : null;
  try {
    await listen(http, config.listen);
    if (admin && config.admin) await listen(admin, config.admin);
  } catch (error) {
    await abandon(error, http, admin);
  }
  const httpUrl = urlOf(http, config.tls ? 'https' : 'http');
  const adminUrl = admin ? urlOf(admin) : null;
  logger.info(
    { listen: httpUrl, admin: adminUrl, upstreams: pools.map((p) => p.name), upstreamClient: config.upstreamOptions.client },
    'gateway started',
  );

  let stopping: Promise<void> | null = null;
  // close() during a graceful shutdown: the delay and the drain end now.
  let hurry!: () => void;
  const hurried = new Promise<void>((resolve) => (hurry = resolve));
  const stop = async (delayMs: number, drainMs: number): Promise<void> => {
    state.shuttingDown = true;
    logger.info({ delayMs, drainMs }, 'shutting down: readiness is now 503');
    if (delayMs > 0) await settlesWithin(hurried, delayMs);
    // Stop accepting; in-flight calls (hijacked responses) keep their connections.
    const closed = http.close();
    // close() ends the connections idle at that moment only. A connection whose last call
    // finishes later goes back to keep-alive idle and would hold the drain open until the
    // timeout (browsers and load balancers always keep them): close those as they turn idle.
    const sweep = setInterval(() => http.server.closeIdleConnections(), IDLE_SWEEP_MS);
    let drained: boolean;
    try {
      drained = await settlesWithin(closed, drainMs, hurried);
    } finally {
      clearInterval(sweep);
    }
    // Whatever is still running now is cut: its callers get a gRPC status, not a dead socket.
    await Promise.all(pools.map((p) => p.close(0)));
    if (!drained) {
      logger.warn({ drainMs }, 'drain timeout: cancelled the calls still in flight');
      // The cancelled calls' trailers are being written now; give them a moment to reach the
      // clients before the sockets are cut.
      await settlesWithin(closed, 1000);
      http.server.closeAllConnections();
      await closed;
    }
    await admin?.close();
    logger.info('gateway stopped');
  };

  return {
    httpUrl,
    adminUrl,
    pools,
    logger,
    adminSource,
    metrics,
    shutdown() {
      stopping ??= stop(config.shutdown.delayMs, config.shutdown.drainTimeoutMs);
      return stopping;
    },
    close() {
      hurry();
      stopping ??= stop(0, 0);
      return stopping;
    },
  };
}

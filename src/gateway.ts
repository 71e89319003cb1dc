import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { GatewayMetrics } from './admin/metrics.js';
import { buildAdminServer, localAdminSource, type AdminSource, type AdminState } from './admin/server.js';
import { packageVersion } from './config/index.js';
import type { Config, HostPort } from './config/types.js';
import { buildHttpServer } from './http/server.js';
import { buildUpstreams } from './upstream/index.js';
import type { PodPool } from './upstream/pool.js';

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

function urlOf(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

async function listen(app: FastifyInstance, at: HostPort): Promise<void> {
  await app.listen({ host: at.host, port: at.port });
}

/** How often a draining gateway closes the client connections that have turned idle. */
const IDLE_SWEEP_MS = 100;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
  const http = await buildHttpServer({ config, router, logger, observer: metrics });
  const adminSource = config.admin ? localAdminSource({ upstreams: pools, state, metrics, version }) : null;
  const adminListener = options.adminListener ?? true;
  const admin = adminSource && adminListener ? await buildAdminServer({ source: adminSource, logger }) : null;
  try {
    await listen(http, config.listen);
    if (admin && config.admin) await listen(admin, config.admin);
  } catch (error) {
    await Promise.all(pools.map((p) => p.close(0)));
    await http.close().catch(() => {});
    await admin?.close().catch(() => {});
    throw error;
  }
  const httpUrl = urlOf(http);
  const adminUrl = admin ? urlOf(admin) : null;
  logger.info({ listen: httpUrl, admin: adminUrl, upstreams: pools.map((p) => p.name) }, 'gateway started');

  let stopping: Promise<void> | null = null;
  const stop = async (delayMs: number, drainMs: number): Promise<void> => {
    state.shuttingDown = true;
    logger.info({ delayMs, drainMs }, 'shutting down: readiness is now 503');
    if (delayMs > 0) await sleep(delayMs);
    // Stop accepting; in-flight calls (hijacked responses) keep their connections.
    const closed = http.close();
    // close() ends the connections idle at that moment only. A connection whose last call
    // finishes later goes back to keep-alive idle and would hold the drain open until the
    // timeout (browsers and load balancers always keep them): close those as they turn idle.
    const sweep = setInterval(() => http.server.closeIdleConnections(), IDLE_SWEEP_MS);
    const drained = await Promise.race([closed.then(() => true), sleep(drainMs).then(() => false)]);
    clearInterval(sweep);
    // Whatever is still running now is cut: its callers get a gRPC status, not a dead socket.
    await Promise.all(pools.map((p) => p.close(0)));
    if (!drained) {
      logger.warn({ drainMs }, 'drain timeout: cancelled the calls still in flight');
      // The cancelled calls' trailers are being written now; give them a moment to reach the
      // clients before the sockets are cut.
      await Promise.race([closed, sleep(1000)]);
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
      stopping ??= stop(0, 0);
      return stopping;
    },
  };
}

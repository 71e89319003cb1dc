// One --workers worker: a whole gateway (front end, pools, resolver, health checks) on the
// listener the primary shares, without an admin port of its own: the primary asks it for its
// readiness and /endpoints view over IPC, and prom-client's AggregatorRegistry collects its
// metrics registry.
import cluster from 'node:cluster';
import { pino } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/types.js';
import { startGateway } from '../gateway.js';
import { answerPrimary } from './ipc.js';

export async function runWorker(config: Config): Promise<void> {
  const logger = pino({
    level: config.logLevel,
    base: { service: 'grpc-web-gateway', worker: cluster.worker?.id },
  });
  const gateway = await startGateway(config, { logger, adminListener: false });

  if (gateway.metrics) {
    // Constructing one installs prom-client's worker-side listener; setRegistries says which
    // registry to send (ours is per gateway, not prom-client's global one).
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([gateway.metrics.registry]);
  }

  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'worker stopping');
    gateway.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };

  const source = gateway.adminSource;
  answerPrimary({
    ready: async () => (source ? source.notReadyReason() : null),
    endpoints: async () => {
      if (!source) throw new Error('no admin source (--admin is off)');
      return source.endpoints();
    },
  });
  // The primary stops its workers with SIGTERM (so does `kill PID` of one worker): drain
  // gracefully. Ctrl-C's SIGINT reaches every process of the group: the primary turns it
  // into one orderly SIGTERM per worker, so the worker ignores its own copy.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => {});
}

// --workers N: the primary process. It forks N workers that share the gRPC-Web listener
// (node:cluster hands each new connection to the next worker, round-robin), serves the admin
// port for all of them, restarts a worker that dies, and turns SIGTERM into one orderly
// shutdown of every worker. It loads neither grpc-js nor the front end: it only supervises
// (./supervisor.ts) and answers the admin port from the workers' answers (./admin-source.ts).
import { pino, type Logger } from 'pino';
import { buildAdminServer, urlOf } from '../admin/server.js';
import type { Config } from '../config/types.js';
import { clusterAdminSource } from './admin-source.js';
import { WorkerQuestions } from './ipc.js';
import { WorkerSupervisor } from './supervisor.js';

/** A worker must answer the primary's admin questions within this. */
const ASK_TIMEOUT_MS = 2000;

export interface Primary {
  readonly adminUrl: string | null;
  readonly logger: Logger;
  /** Resolves with the exit code once every worker is gone (after shutdown, or at a failed start). */
  readonly done: Promise<number>;
  shutdown(): void;
  /** A second signal: stop at once. */
  kill(): void;
}

export async function startPrimary(config: Config, workers: number): Promise<Primary> {
  const logger = pino({ level: config.logLevel, base: { service: 'grpc-web-gateway', role: 'primary' } });
  const questions = new WorkerQuestions(ASK_TIMEOUT_MS);
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const supervisor: WorkerSupervisor = new WorkerSupervisor({
    workers,
    stopWithinMs: config.shutdown.delayMs + config.shutdown.drainTimeoutMs,
    logger,
    onMessage: (m) => questions.onMessage(m),
    onAllGone: (exitCode) => {
      questions.close();
      void (admin ? admin.close() : Promise.resolve()).finally(() => {
        logger.info({ exitCode }, 'all workers stopped');
        resolveDone(exitCode);
      });
    },
  });

  const admin = config.admin ? await buildAdminServer({ source: clusterAdminSource(supervisor, questions), logger }) : null;
  let adminUrl: string | null = null;
  if (admin && config.admin) {
    await admin.listen({ host: config.admin.host, port: config.admin.port });
    adminUrl = urlOf(admin);
  }

  supervisor.start();
  logger.info({ workers, admin: adminUrl, pid: process.pid }, 'primary started');

  return {
    adminUrl,
    logger,
    done,
    shutdown: () => supervisor.stop(),
    kill: () => supervisor.kill(),
  };
}

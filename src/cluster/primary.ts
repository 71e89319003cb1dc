// --workers N: the primary process. It forks N workers that share the gRPC-Web listener
// (node:cluster hands each new connection to the next worker, round-robin), serves the admin
// port for all of them, restarts a worker that dies, and turns SIGTERM into one orderly
// shutdown of every worker. It loads neither grpc-js nor the front end: it only supervises.
import cluster, { type Worker } from 'node:cluster';
import { pino, type Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { EndpointsView } from '../admin/endpoints.js';
import { buildAdminServer, urlOf, type AdminSource } from '../admin/server.js';
import type { Config } from '../config/types.js';
import { WorkerQuestions } from './ipc.js';
import { mergeEndpointsViews } from './merge-endpoints.js';

/** A worker must answer the primary's admin questions within this. */
const ASK_TIMEOUT_MS = 2000;
/** Restart backoff after a worker dies: doubles from the first to the last, reset after a calm minute. */
const RESTART_BACKOFF_MS = [250, 30_000] as const;
const CALM_MS = 60_000;

export interface Primary {
  readonly adminUrl: string | null;
  readonly logger: Logger;
  /** Resolves with the exit code once every worker is gone (after shutdown, or at a failed start). */
  readonly done: Promise<number>;
  shutdown(): void;
  /** A second signal: stop at once. */
  kill(): void;
}

/** One worker position (slots[i]); a restarted worker takes over its predecessor's slot. */
interface Slot {
  worker: Worker;
  /** The worker's gRPC-Web listener is up. */
  listening: boolean;
  startedAt: number;
  backoffMs: number;
}

/**
 * What a worker's exit means to the primary:
 * - stopped: part of the gateway's stop. Besides a clean exit, a SIGTERM or SIGINT death: a
 *   worker still starting has no handler yet, so the stop's SIGTERM (or Ctrl-C's SIGINT, which
 *   reaches every process of the group) simply ends it, and it had served nothing;
 * - failed: it ended otherwise while the gateway stopped (an error, a crash): exit code 1;
 * - start-failure: it exited by itself, with an exit code, before its listener was up: a bad
 *   setting or a taken port, which a restart would only repeat;
 * - restart: any other death, including a signal before it was ready (the OOM killer, a
 *   SIGKILL, a Ctrl-C that reached it before the primary's own stop): it was stopped from
 *   outside, not unable to start.
 */
export type WorkerExit = 'stopped' | 'failed' | 'start-failure' | 'restart';

export function workerExitVerdict(exit: {
  stopping: boolean;
  listening: boolean;
  code: number | null;
  signal: string | null;
}): WorkerExit {
  if (exit.stopping) {
    return exit.code === 0 || exit.signal === 'SIGTERM' || exit.signal === 'SIGINT' ? 'stopped' : 'failed';
  }
  return !exit.listening && exit.code !== null ? 'start-failure' : 'restart';
}

export async function startPrimary(config: Config, workers: number): Promise<Primary> {
  const logger = pino({ level: config.logLevel, base: { service: 'grpc-web-gateway', role: 'primary' } });
  const questions = new WorkerQuestions(ASK_TIMEOUT_MS);
  const slots: Slot[] = [];
  let stopping = false;
  let readyOnce = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let exitCode = 0;

  const live = (): Worker[] => slots.map((s) => s.worker).filter((w) => w.isConnected());
  const askAll = async <T>(ask: (w: Worker) => Promise<T>): Promise<T[]> => Promise.all(live().map(ask));

  const source: AdminSource = {
    async notReadyReason() {
      if (stopping) return 'shutting down';
      // Like one process's readiness, a start-up gate: every worker must have connected to
      // its upstreams once. A worker restarted later does not make the gateway unready.
      if (readyOnce) return null;
      if (slots.length < workers || slots.some((s) => !s.listening)) return 'workers are starting';
      let reasons: Array<string | null>;
      try {
        reasons = await askAll((w) => questions.ask(w, 'ready'));
      } catch (error) {
        // A worker between its listener and its IPC answers, or one that just died: not ready
        // yet (503 with the reason), rather than an error.
        return (error as Error).message;
      }
      const reason = reasons.find((r) => r !== null);
      if (reason) return reason;
      readyOnce = true;
      return null;
    },
    metrics: () => metricsRegistry.clusterMetrics(),
    metricsContentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
    async endpoints(): Promise<EndpointsView> {
      const views = await askAll((w) => questions.ask(w, 'endpoints'));
      if (views.length === 0) throw new Error('no worker is running');
      return mergeEndpointsViews(views);
    },
  };
  // Answers prom-client's own IPC metric requests; one per primary.
  const metricsRegistry = new AggregatorRegistry();

  const admin = config.admin ? await buildAdminServer({ source, logger }) : null;
  let adminUrl: string | null = null;
  if (admin && config.admin) {
    await admin.listen({ host: config.admin.host, port: config.admin.port });
    adminUrl = urlOf(admin);
  }

  const finishIfAllGone = (): void => {
    if (slots.some((s) => !s.worker.isDead())) return;
    questions.close();
    const close = admin ? admin.close() : Promise.resolve();
    void close.finally(() => {
      logger.info({ exitCode }, 'all workers stopped');
      resolveDone(exitCode);
    });
  };

  const fork = (index: number, backoffMs: number): void => {
    const worker = cluster.fork();
    const slot: Slot = { worker, listening: false, startedAt: Date.now(), backoffMs };
    slots[index] = slot;
    worker.on('message', (m: unknown) => questions.onMessage(m));
    worker.on('listening', () => {
      slot.listening = true;
      logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker listening');
    });
    worker.on('exit', (code, signal) => {
      const verdict = workerExitVerdict({ stopping, listening: slot.listening, code, signal });
      if (verdict === 'stopped' || verdict === 'failed') {
        if (verdict === 'failed') exitCode = 1;
        logger.info({ worker: worker.id, code, signal }, 'worker exited');
        finishIfAllGone();
        return;
      }
      if (verdict === 'start-failure') {
        // Restarting would loop; stop the others and fail like a single process would.
        logger.error({ worker: worker.id, code, signal }, 'worker failed to start; stopping');
        exitCode = 1;
        stopAll();
        return;
      }
      const calm = Date.now() - slot.startedAt > CALM_MS;
      const wait = calm ? RESTART_BACKOFF_MS[0] : slot.backoffMs;
      logger.error(
        { worker: worker.id, code, signal, listening: slot.listening, restartInMs: wait },
        'worker died; restarting it',
      );
      // Not unref'd: without an admin listener this timer may be all that keeps the primary
      // alive while every worker is down. (The primary ends by process.exit, not by running dry.)
      setTimeout(() => {
        if (!stopping) fork(index, Math.min(RESTART_BACKOFF_MS[1], wait * 2));
      }, wait);
    });
  };

  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ workers: live().length }, 'shutting down: readiness is now 503, workers drain');
    // A signal, not an IPC message: a running worker drains (src/cluster/worker.ts); one still
    // starting has no handler yet and simply ends (it served nothing; workerExitVerdict counts
    // that as stopped, not failed).
    for (const s of slots) if (!s.worker.isDead()) s.worker.process.kill('SIGTERM');
    // Workers stop within shutdown-delay + drain-timeout (+1 s for trailers in flight);
    // whatever is still alive after that, and a margin, is killed.
    const limit = config.shutdown.delayMs + config.shutdown.drainTimeoutMs + 5000;
    setTimeout(() => {
      for (const w of live()) {
        exitCode = 1;
        logger.warn({ worker: w.id }, 'worker did not stop in time: killing it');
        w.process.kill('SIGKILL');
      }
    }, limit).unref();
    finishIfAllGone();
  };

  for (let i = 0; i < workers; i++) fork(i, RESTART_BACKOFF_MS[0]);
  logger.info({ workers, admin: adminUrl, pid: process.pid }, 'primary started');

  return {
    adminUrl,
    logger,
    done,
    shutdown: stopAll,
    kill() {
      stopping = true;
      exitCode = 1;
      for (const s of slots) if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
    },
  };
}

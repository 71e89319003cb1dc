// The worker supervisor of --workers N: forks the workers, restarts one that dies (with a
// backoff), and stops them all on request. It knows nothing of the admin port: the primary
// reads its state (live workers, listening) through the getters below.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

/** Restart backoff after a worker dies: doubles from the first to the last, reset after a calm minute. */
const RESTART_BACKOFF_MS = [250, 30_000] as const;
const CALM_MS = 60_000;
/** Beyond shutdown-delay + drain-timeout: what a worker may take to finish its last trailers. */
const STOP_MARGIN_MS = 5_000;

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

/** One worker position (slots[i]); a restarted worker takes over its predecessor's slot. */
interface Slot {
  worker: Worker;
  /** The worker's gRPC-Web listener is up. */
  listening: boolean;
  startedAt: number;
  backoffMs: number;
}

export interface SupervisorOptions {
  workers: number;
  /** How long a stopping worker may take (shutdown delay + drain) before it is killed. */
  stopWithinMs: number;
  logger: Logger;
  /** Every message a worker sends (the admin questions' answers). */
  onMessage: (message: unknown) => void;
  /** Every worker is gone after a stop (or a failed start): the exit code. Called once. */
  onAllGone: (exitCode: number) => void;
}

export class WorkerSupervisor {
  private readonly slots: Slot[] = [];
  private stoppingNow = false;
  private exitCode = 0;
  private finished = false;

  constructor(private readonly options: SupervisorOptions) {}

  start(): void {
    for (let i = 0; i < this.options.workers; i++) this.fork(i, RESTART_BACKOFF_MS[0]);
  }

  get stopping(): boolean {
    return this.stoppingNow;
  }

  /** Every slot has a worker whose listener is up. */
  get allListening(): boolean {
    return this.slots.length >= this.options.workers && this.slots.every((s) => s.listening);
  }

  live(): Worker[] {
    return this.slots.map((s) => s.worker).filter((w) => w.isConnected());
  }

  /** SIGTERM to every worker (each drains), SIGKILL to any still alive after stopWithinMs. */
  stop(): void {
    if (this.stoppingNow) return;
    this.stoppingNow = true;
    const { logger } = this.options;
    logger.info({ workers: this.live().length }, 'shutting down: readiness is now 503, workers drain');
    // A signal, not an IPC message: a running worker drains (src/cluster/worker.ts); one still
    // starting has no handler yet and simply ends (it served nothing; workerExitVerdict counts
    // that as stopped, not failed).
    for (const s of this.slots) if (!s.worker.isDead()) s.worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of this.live()) {
        this.exitCode = 1;
        logger.warn({ worker: w.id }, 'worker did not stop in time: killing it');
        w.process.kill('SIGKILL');
      }
    }, this.options.stopWithinMs + STOP_MARGIN_MS).unref();
    this.finishIfAllGone();
  }

  /** A second signal: stop at once. */
  kill(): void {
    this.stoppingNow = true;
    this.exitCode = 1;
    for (const s of this.slots) if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
  }

  private finishIfAllGone(): void {
    if (this.finished || this.slots.some((s) => !s.worker.isDead())) return;
    this.finished = true;
    this.options.onAllGone(this.exitCode);
  }

  private fork(index: number, backoffMs: number): void {
    const { logger } = this.options;
    const worker = cluster.fork();
    const slot: Slot = { worker, listening: false, startedAt: Date.now(), backoffMs };
    this.slots[index] = slot;
    worker.on('message', (m: unknown) => this.options.onMessage(m));
    worker.on('listening', () => {
      slot.listening = true;
      logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker listening');
    });
    worker.on('exit', (code, signal) => {
      const verdict = workerExitVerdict({ stopping: this.stoppingNow, listening: slot.listening, code, signal });
      if (verdict === 'stopped' || verdict === 'failed') {
        if (verdict === 'failed') this.exitCode = 1;
        logger.info({ worker: worker.id, code, signal }, 'worker exited');
        this.finishIfAllGone();
        return;
      }
      if (verdict === 'start-failure') {
        // Restarting would loop; stop the others and fail like a single process would.
        logger.error({ worker: worker.id, code, signal }, 'worker failed to start; stopping');
        this.exitCode = 1;
        this.stop();
        return;
      }
      const calm = Date.now() - slot.startedAt > CALM_MS;
      const wait = calm ? RESTART_BACKOFF_MS[0] : slot.backoffMs;
      logger.error({ worker: worker.id, code, signal, listening: slot.listening, restartInMs: wait }, 'worker died; restarting it');
      // Not unref'd: without an admin listener this timer may be all that keeps the primary
      // alive while every worker is down. (The primary ends by process.exit, not by running dry.)
      setTimeout(() => {
        if (!this.stoppingNow) this.fork(index, Math.min(RESTART_BACKOFF_MS[1], wait * 2));
      }, wait);
    });
  }
}

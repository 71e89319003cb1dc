// Questions the primary asks its workers over the cluster IPC channel, and their answers.
// (prom-client's AggregatorRegistry has its own messages for /metrics; these are ours.)
import type { Worker } from 'node:cluster';

/** What the primary may ask a worker. */
export interface Questions {
  /** The worker's notReadyReason(): null when ready. */
  ready: string | null;
  /** The worker's /endpoints view. */
  endpoints: import('../admin/endpoints.js').EndpointsView;
}
export type Question = keyof Questions;

/** Every message of ours carries this key, so prom-client's and Node's pass by untouched. */
const TAG = 'gwg';

export type PrimaryMessage = { [TAG]: 'ask'; id: number; question: Question };

export type WorkerMessage = { [TAG]: 'answer'; id: number; value?: unknown; error?: string };

function isOurs(message: unknown): message is { gwg: string } {
  return typeof message === 'object' && message !== null && TAG in message;
}

export type Answers = { [Q in Question]: () => Promise<Questions[Q]> };

/** Worker side: answers the primary's questions with `answers`. */
export function answerPrimary(answers: Answers): void {
  process.on('message', (message: unknown) => {
    if (!isOurs(message)) return;
    const m = message as PrimaryMessage;
    if (m.gwg !== 'ask') return;
    const reply = (answer: WorkerMessage) => {
      // The primary may be gone (it exited, the channel closed): nothing to tell then.
      if (process.connected) process.send!(answer);
    };
    const answer = answers[m.question] as (() => Promise<unknown>) | undefined;
    if (!answer) {
      reply({ gwg: 'answer', id: m.id, error: `unknown question ${String(m.question)}` });
      return;
    }
    answer().then(
      (value) => reply({ gwg: 'answer', id: m.id, value }),
      (error: unknown) => reply({ gwg: 'answer', id: m.id, error: (error as Error).message }),
    );
  });
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Primary side: one question to one worker at a time, each bounded by a timeout. */
export class WorkerQuestions {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly timeoutMs: number) {}

  /** Feed every message from a worker here (cluster 'message' event). */
  onMessage(message: unknown): void {
    if (!isOurs(message)) return;
    const m = message as WorkerMessage;
    if (m.gwg !== 'answer') return;
    const p = this.pending.get(m.id);
    if (!p) return; // answered after its timeout
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.value);
  }

  ask<Q extends Question>(worker: Worker, question: Q): Promise<Questions[Q]> {
    const id = this.nextId++;
    return new Promise<Questions[Q]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${worker.id} did not answer '${question}' within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const message: PrimaryMessage = { gwg: 'ask', id, question };
      try {
        worker.send(message);
      } catch (error) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(error as Error);
      }
    });
  }

  /** Fail every question still waiting (at shutdown). */
  close(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('primary is stopping'));
      this.pending.delete(id);
    }
  }
}

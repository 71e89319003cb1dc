// The admin port of --workers N, served by the primary: readiness, /metrics and /endpoints are
// answered by asking every live worker over IPC and merging their answers.
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { EndpointsView } from '../admin/endpoints.js';
import type { AdminSource } from '../admin/server.js';
import type { WorkerQuestions } from './ipc.js';
import { mergeEndpointsViews } from './merge-endpoints.js';

/** What the admin source reads of the workers' supervisor. */
export interface WorkersView {
  readonly stopping: boolean;
  readonly allListening: boolean;
  live(): Worker[];
}

export function clusterAdminSource(workers: WorkersView, questions: WorkerQuestions): AdminSource {
  // Answers prom-client's own IPC metric requests; one per primary.
  const metricsRegistry = new AggregatorRegistry();
  const askAll = async <T>(ask: (w: Worker) => Promise<T>): Promise<T[]> => Promise.all(workers.live().map(ask));
  let readyOnce = false;
  return {
    async notReadyReason() {
      if (workers.stopping) return 'shutting down';
      // Like one process's readiness, a start-up gate: every worker must have connected to
      // its upstreams once. A worker restarted later does not make the gateway unready.
      if (readyOnce) return null;
      if (!workers.allListening) return 'workers are starting';
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
}

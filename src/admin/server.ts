import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Upstream } from '../upstream/types.js';

export interface AdminState {
  /** Set at SIGTERM: /readyz answers 503 from then on so the Pod leaves its Service's endpoints. */
  shuttingDown: boolean;
}

export interface AdminServerOptions {
  upstreams: readonly Upstream[];
  state: AdminState;
  logger: FastifyBaseLogger;
}

/** Why the gateway is not ready, or null when it is. */
export function notReadyReason(upstreams: readonly Upstream[], state: AdminState): string | null {
  if (state.shuttingDown) return 'shutting down';
  const waiting = upstreams.filter((u) => !u.isReady()).map((u) => u.name);
  return waiting.length > 0 ? `no connected Pod yet for: ${waiting.join(', ')}` : null;
}

/** The admin listener: health for the kubelet. Kept apart from the gRPC-Web port on purpose. */
export async function buildAdminServer(options: AdminServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: options.logger, disableRequestLogging: true });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = notReadyReason(options.upstreams, options.state);
    if (reason) return reply.code(503).send({ status: 'not ready', reason });
    return { status: 'ready' };
  });
  return app;
}

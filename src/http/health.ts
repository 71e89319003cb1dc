// Health answers, the same on the serving port and the admin port: the kubelet, a cloud load
// balancer's health check (GKE infers its check from a readiness probe on the serving port; an
// ALB target group checks GET / on the traffic port) and people all read one readiness source.
import type { FastifyInstance } from 'fastify';

/** Why the gateway is not ready, or null when it is. */
export type Readiness = () => Promise<string | null>;

/** GET /healthz (200 while the process serves) and GET /readyz (503 with the reason until ready, and from SIGTERM). */
export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = await readiness();
    if (reason) return reply.code(503).send({ status: 'not ready', reason });
    return { status: 'ready' };
  });
}

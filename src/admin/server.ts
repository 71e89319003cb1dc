import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { AddressInfo } from 'node:net';
import { registerHealthRoutes } from '../http/health.js';
import type { Upstream } from '../upstream/types.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { endpointsView, type EndpointsView } from './endpoints.js';
import { GatewayMetrics } from './metrics.js';

/** The URL a listening Fastify app answers on, e.g. http://127.0.0.1:9901 or https://[::1]:8443. */
export function urlOf(app: FastifyInstance, scheme: 'http' | 'https' = 'http'): string {
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

export interface AdminState {
  /** Set at SIGTERM: /readyz answers 503 from then on so the Pod leaves its Service's endpoints. */
  shuttingDown: boolean;
  /**
   * Upstreams that have had a connected Pod at least once. Readiness is a start-up gate, not a
   * health check of the backends: if every backend Pod dies later, a gateway that turned
   * unready would be dropped by the load balancer in front, and browsers would get the load
   * balancer's bare 5xx (a CORS error to scripts) instead of a gRPC UNAVAILABLE from us.
   */
  connectedOnce?: Set<string>;
}

/**
 * What the admin listener shows. One process answers from its own pools and metrics
 * (`localAdminSource`); with --workers the primary answers for all its workers (src/cluster/).
 */
export interface AdminSource {
  /** Why the gateway is not ready, or null when it is. */
  notReadyReason(): Promise<string | null>;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  readonly metricsContentType: string;
  endpoints(): Promise<EndpointsView>;
}

export interface LocalAdminSourceOptions {
  upstreams: readonly Upstream[];
  state: AdminState;
  /**
   * The gateway's metrics (also its front end's CallObserver). Without one, the source makes
   * its own: Pod, DNS and retry figures are still there, call counts stay at zero.
   */
  metrics?: GatewayMetrics;
  /** Shown on the dashboard and in /endpoints. */
  version?: string;
}

/** The admin view of one gateway process. */
export function localAdminSource(options: LocalAdminSourceOptions): AdminSource {
  const { upstreams, state } = options;
  const version = options.version ?? 'unknown';
  const metrics = options.metrics ?? new GatewayMetrics({ upstreams, version });
  return {
    notReadyReason: async () => notReadyReason(upstreams, state),
    metrics: () => metrics.metrics(),
    metricsContentType: metrics.contentType,
    endpoints: async () =>
      endpointsView({ upstreams, version, startedAt: metrics.startedAt, totals: () => metrics.totals() }),
  };
}

export interface AdminServerOptions {
  source: AdminSource;
  logger: FastifyBaseLogger;
}

/** Why the gateway is not ready, or null when it is. */
export function notReadyReason(upstreams: readonly Upstream[], state: AdminState): string | null {
  if (state.shuttingDown) return 'shutting down';
  const once = (state.connectedOnce ??= new Set());
  const waiting: string[] = [];
  for (const u of upstreams) {
    if (once.has(u.name)) continue;
    if (u.isReady()) once.add(u.name);
    else waiting.push(u.name);
  }
  return waiting.length > 0 ? `no connected Pod yet for: ${waiting.join(', ')}` : null;
}

/**
 * The admin listener: health for the kubelet (also on the serving port), /metrics for
 * Prometheus, /endpoints (JSON) and the live dashboard (/) for people. Metrics and endpoints are
 * kept off the serving port on purpose: they name Pods and upstreams.
 */
export async function buildAdminServer(options: AdminServerOptions): Promise<FastifyInstance> {
  const { source } = options;
  const app = Fastify({
    loggerInstance: options.logger,
    // Scraped and polled every few seconds: no line per request.
    logController: new LogController({ disableRequestLogging: true }),
  });

  registerHealthRoutes(app, () => source.notReadyReason());

  app.get('/metrics', async (_request, reply) => {
    const text = await source.metrics();
    return reply.header('content-type', source.metricsContentType).header('cache-control', 'no-store').send(text);
  });

  app.get('/endpoints', async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send(await source.endpoints());
  });

  const page = Buffer.from(DASHBOARD_HTML, 'utf8');
  const sendPage = async (_request: unknown, reply: FastifyReply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      // Everything is inline; nothing may load from elsewhere.
      .header(
        'content-security-policy',
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      )
      .header('x-content-type-options', 'nosniff')
      .send(page);
  app.get('/', sendPage);
  app.get('/dashboard', sendPage);
  return app;
}

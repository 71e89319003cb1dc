// UpstreamOptions for tests that build a PodPool directly: quick timeouts, health checks off, plaintext.
import type { UpstreamClientName, UpstreamOptions } from '../../src/config/types.js';

export const testUpstreamOptions = (o: Partial<UpstreamOptions> = {}): UpstreamOptions => ({
  balancer: 'round-robin',
  // The default client, as a gateway's; GWG_UPSTREAM_CLIENT=grpc-js runs the pool tests over
  // grpc-js, as it makes every gateway the e2e tests start use it.
  client: upstreamClientUnderTest(),
  connectTimeoutMs: 2000,
  keepalivePingIntervalMs: 30_000,
  keepalivePingTimeoutMs: 10_000,
  maxRetries: 2,
  retryPolicy: null,
  retryBufferBytes: 256 * 1024,
  streamsPerConnection: 100,
  maxConnectionsPerPod: 4,
  podDrainTimeoutMs: 5000,
  healthCheckIntervalMs: 0,
  healthCheckTimeoutMs: 1000,
  tls: null,
  preferZone: null,
  ...o,
});

/** Both upstream clients, for the tests of upstream behaviour that `npm test` runs over each. */
export const UPSTREAM_CLIENTS: readonly UpstreamClientName[] = ['http2', 'grpc-js'];

/** The upstream client the tests run over: GWG_UPSTREAM_CLIENT, else the default (http2). */
export function upstreamClientUnderTest(): UpstreamClientName {
  return process.env.GWG_UPSTREAM_CLIENT === 'grpc-js' ? 'grpc-js' : 'http2';
}

/**
 * The environment the e2e tests' embedded gateways load their Config with: empty, so a developer's
 * own GWG_* variables never leak in, except GWG_UPSTREAM_CLIENT, which picks their upstream client.
 */
export const testGatewayEnv = (): NodeJS.ProcessEnv =>
  process.env.GWG_UPSTREAM_CLIENT ? { GWG_UPSTREAM_CLIENT: process.env.GWG_UPSTREAM_CLIENT } : {};

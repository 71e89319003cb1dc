// UpstreamOptions for tests that build a PodPool directly: quick timeouts, health checks off, plaintext.
import type { UpstreamOptions } from '../../src/config/types.js';

export const testUpstreamOptions = (o: Partial<UpstreamOptions> = {}): UpstreamOptions => ({
  balancer: 'round-robin',
  // GWG_UPSTREAM_CLIENT=http2 runs the pool tests over the node:http2 client, as it makes every
  // gateway the e2e tests spawn use it.
  client: process.env.GWG_UPSTREAM_CLIENT === 'http2' ? 'http2' : 'grpc-js',
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

/**
 * The environment the e2e tests' embedded gateways load their Config with: empty, so a developer's
 * own GWG_* variables never leak in, except GWG_UPSTREAM_CLIENT, which runs them over the http2 client.
 */
export const testGatewayEnv = (): NodeJS.ProcessEnv =>
  process.env.GWG_UPSTREAM_CLIENT ? { GWG_UPSTREAM_CLIENT: process.env.GWG_UPSTREAM_CLIENT } : {};

// The serving port's transport: the Node server that accepts client connections and hands each
// request to one handler (Fastify's). It owns what is decided per connection — header size and
// timeouts, idle keep-alive, the --max-connections bound — and nothing about calls.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { LimitsConfig } from '../config/types.js';
import { limitConnections } from './bounds.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ListenerOptions {
  limits: LimitsConfig;
  /** Told of each connection closed because --max-connections are open. */
  connectionRefused: () => void;
}

/** Node refuses a headers timeout above the request timeout. */
export function effectiveHeadersTimeout(limits: LimitsConfig): number {
  return limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs;
}

/** The HTTP/1.1 server of the serving port, with the limits of `options` applied. */
export function createListener(options: ListenerOptions, handler: RequestHandler): Server {
  const { limits } = options;
  const headersTimeout = effectiveHeadersTimeout(limits);
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.httpIdleTimeoutMs,
      // Node enforces the two timeouts above only when it sweeps its connections, every 30 s by
      // default: a 30 s headers timeout could take a minute. Sweep often enough to be exact.
      connectionsCheckingInterval: Math.max(250, Math.min(5_000, headersTimeout / 4)),
    },
    handler,
  );
  // One more than the limit: Node silently drops headers past maxHeadersCount (content-type
  // among them, making a confusing 415), so keep one extra to tell "too many" and say so.
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  if (limits.maxClientConnections > 0) limitConnections(server, limits.maxClientConnections, options.connectionRefused);
  return server;
}

import type { FastifyCorsOptions } from '@fastify/cors';
import type { CorsConfig, OriginRule } from '../config/types.js';

/** The request headers gRPC-Web clients send (see ../shared seeds: Envoy's list, plus grpc-web's). */
export const GRPC_WEB_REQUEST_HEADERS = [
  'content-type',
  'x-grpc-web',
  'x-user-agent',
  'grpc-timeout',
  'authorization',
  'keep-alive',
  'user-agent',
  'cache-control',
  'content-transfer-encoding',
  'x-accept-content-transfer-encoding',
  'x-accept-response-streaming',
];

export function isOriginAllowed(rules: readonly OriginRule[], origin: string): boolean {
  for (const rule of rules) {
    if (rule === '*') return true;
    if (typeof rule === 'string' ? rule === origin : rule.test(origin)) return true;
  }
  return false;
}

/**
 * @fastify/cors answers preflights. By default the allowed request headers mirror what the
 * browser asks for, so custom metadata needs no configuration; listing --cors-allow-header
 * switches to a fixed list (gRPC-Web's own headers plus those). Expose-headers are not set
 * here: the response writer lists, per response, exactly the metadata that response carries.
 */
export function corsOptions(cors: CorsConfig): FastifyCorsOptions {
  const wildcard = cors.allowOrigins.includes('*');
  const options: FastifyCorsOptions = {
    origin: wildcard ? '*' : (cors.allowOrigins as Array<string | RegExp>),
    methods: ['POST', 'OPTIONS'],
    credentials: cors.allowCredentials,
    maxAge: cors.maxAgeSeconds,
    preflight: true,
    strictPreflight: false,
    hideOptionsRoute: true,
  };
  // @fastify/cors mirrors Access-Control-Request-Headers only when the key is absent:
  // `allowedHeaders: undefined` would answer an empty list and browsers would block the call.
  if (cors.allowHeaders.length > 0) options.allowedHeaders = [...GRPC_WEB_REQUEST_HEADERS, ...cors.allowHeaders];
  return options;
}

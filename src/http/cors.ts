import type { FastifyCorsOptions } from '@fastify/cors';
import type { IncomingHttpHeaders } from 'node:http';
import type { CorsConfig, OriginRule } from '../config/types.js';
import { isSameOriginRequest } from '../protocol/index.js';

/** The request headers gRPC-Web clients send: the list Envoy setups for gRPC-Web allow, plus grpc-web's own. */
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
 * CORS' consent to credentials: --allow-credentials, and the origin listed explicitly (an exact
 * origin or a /regex/; never '*', which load.ts also refuses to combine with credentials).
 */
export function credentialsAllowed(cors: CorsConfig, origin: string): boolean {
  return cors.allowCredentials && !cors.allowOrigins.includes('*') && isOriginAllowed(cors.allowOrigins, origin);
}

/**
 * The credential headers a browser attached by itself to a cross-origin call without CORS'
 * consent: they must not reach a Pod, or any page could act with the user's session. null (the
 * usual case, allocation-free) when nothing is to be withheld.
 *
 * - No Origin: not a browser's cross-origin call (curl, a server): its headers are its own.
 * - Same origin (the app is served from the gateway's origin, e.g. path routing on one ingress):
 *   the cookies are that app's own.
 * - Otherwise `cookie` (and the obsolete `cookie2`) pass only with credentialsAllowed. A normal
 *   gRPC-Web call is preflighted and a browser sends no credentials unless the preflight allowed
 *   them, so this mostly bites on the one "simple" request the gateway accepts, the $httpHeaders
 *   one (`skippedPreflight`), which browsers send with cookies and no question asked. There the
 *   request's own `authorization` is withheld too: a script setting it would have caused a
 *   preflight, so only the browser's HTTP-auth cache can have put it there (the one in
 *   $httpHeaders is the script's and passes).
 */
export function withheldCredentials(cors: CorsConfig, headers: IncomingHttpHeaders, skippedPreflight: boolean): string[] | null {
  const origin = headers.origin;
  if (origin === undefined) return null;
  const cookie = headers.cookie !== undefined;
  const cookie2 = headers.cookie2 !== undefined;
  const authorization = skippedPreflight && headers.authorization !== undefined;
  if (!cookie && !cookie2 && !authorization) return null;
  if (isSameOriginRequest(origin, headers.host, headers['sec-fetch-site'] as string | undefined)) return null;
  if (credentialsAllowed(cors, origin)) return null;
  const names: string[] = [];
  if (cookie) names.push('cookie');
  if (cookie2) names.push('cookie2');
  if (authorization) names.push('authorization');
  return names;
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

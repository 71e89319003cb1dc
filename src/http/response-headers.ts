// Response headers from a Pod's metadata, for every exchange (gRPC-Web and native gRPC): what a
// Pod may set, and what stays the gateway's.
import type { Metadata } from '@grpc/grpc-js';
import type { OutgoingHttpHeaders } from 'node:http';
import { exposeHeadersValue, isForwardableResponseHeader, mergeVary } from '../protocol/index.js';

/**
 * A Pod's metadata → response headers. The headers the gateway owns stay the gateway's: the
 * protocol's rules (framing, status, access-control-*) and, whatever their name, the headers
 * already decided for this response (`base`: @fastify/cors's answer). A Pod's Vary is added to
 * the gateway's, never put in its place.
 */
export function headersFromMetadata(metadata: Metadata, into: OutgoingHttpHeaders, base: OutgoingHttpHeaders, names: string[] | null): void {
  const map = metadata.toHttp2Headers();
  for (const name in map) {
    const value = map[name];
    if (value === undefined) continue;
    if (!isForwardableResponseHeader(name)) {
      if (name === 'vary') into.vary = mergeVary(headerText(into.vary), headerText(value)!);
      continue;
    }
    if (base[name] !== undefined) continue;
    into[name] = value;
    names?.push(name);
  }
}

function headerText(value: OutgoingHttpHeaders[string]): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return typeof value === 'number' ? String(value) : value.join(', ');
}

/**
 * A response's HTTP headers: the ones already decided (`base`: CORS), the content type, the Pod's
 * initial metadata, and its trailing metadata in a trailers-only answer. With `expose` (a
 * cross-origin gRPC-Web call: the --cors-expose-header extras), every metadata name is exposed to
 * scripts, and grpc-status/grpc-message always are, which clients also look for here in
 * trailers-only answers (exposeHeadersValue).
 */
export function responseHeaderBlock(
  base: OutgoingHttpHeaders,
  contentType: string,
  leading: Metadata | null,
  trailing: Metadata | null,
  expose: readonly string[] | null,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ...base, 'content-type': contentType };
  const names: string[] | null = expose ? [] : null;
  if (leading) headersFromMetadata(leading, headers, base, names);
  if (trailing) headersFromMetadata(trailing, headers, base, names);
  if (names) headers['access-control-expose-headers'] = exposeHeadersValue(names.concat(expose!));
  return headers;
}

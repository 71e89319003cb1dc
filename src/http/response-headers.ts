// Response headers from a Pod's metadata, for every exchange (gRPC-Web and native gRPC): what a
// Pod may set, and what stays the gateway's.
import type { Metadata } from '@grpc/grpc-js';
import type { OutgoingHttpHeaders } from 'node:http';
import { isForwardableResponseHeader, mergeVary } from '../protocol/index.js';

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

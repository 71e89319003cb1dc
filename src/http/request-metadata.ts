import { Metadata } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import {
  HeaderError,
  connectionListedHeaders,
  decodeBinaryHeader,
  isForwardableRequestHeader,
  isForwardingHeader,
  isValidMetadataKey,
} from '../protocol/index.js';
import type { ClientView } from './forwarding.js';

function addHeader(metadata: Metadata, name: string, value: string): void {
  if (!isForwardableRequestHeader(name)) return;
  if (!isValidMetadataKey(name)) throw new HeaderError(`header '${name}' is not a valid gRPC metadata key`);
  if (name.endsWith('-bin')) {
    for (const bytes of decodeBinaryHeader(value)) metadata.add(name, bytes);
    return;
  }
  try {
    metadata.add(name, value);
  } catch {
    // grpc-js accepts printable ASCII only in text metadata.
    throw new HeaderError(`header '${name}' has a value that is not printable ASCII`);
  }
}

/**
 * A forwarding header of the request itself that does not reach the Pod: all of them from a peer
 * the gateway does not trust; from a trusted proxy, the two the gateway writes itself.
 */
function isReplacedForwardingHeader(name: string, client: ClientView): boolean {
  if (!isForwardingHeader(name)) return false;
  return !client.trustedPeer || name === 'x-forwarded-for' || name === 'x-forwarded-proto';
}

/**
 * HTTP/1.1 request headers (and, in suppressCorsPreflight mode, the headers carried in
 * $httpHeaders, already rid of browser-owned names) → gRPC metadata for the upstream call.
 * `withheld` are the credential headers the browser attached without CORS consent (see
 * ./cors.ts); `client` gives the x-forwarded-for / x-forwarded-proto the Pod gets, replacing
 * the client's. Throws HeaderError on bad input.
 */
export function requestMetadata(
  headers: IncomingHttpHeaders,
  extra: ReadonlyArray<[string, string]> | null,
  withheld: readonly string[] | null,
  client: ClientView,
): Metadata {
  const metadata = new Metadata();
  const listed = connectionListedHeaders(headers.connection);
  for (const name in headers) {
    if (listed?.has(name)) continue;
    if (withheld?.includes(name)) continue;
    if (isReplacedForwardingHeader(name, client)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') addHeader(metadata, name, value);
    else for (const v of value) addHeader(metadata, name, v);
  }
  if (extra) for (const [name, value] of extra) addHeader(metadata, name, value);
  if (client.forwardedFor !== undefined) metadata.add('x-forwarded-for', client.forwardedFor);
  metadata.add('x-forwarded-proto', client.forwardedProto);
  return metadata;
}

import { Metadata } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import {
  HeaderError,
  connectionListedHeaders,
  decodeBinaryHeader,
  isForwardableRequestHeader,
  isValidMetadataKey,
} from '../protocol/index.js';

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
 * HTTP/1.1 request headers (and, in suppressCorsPreflight mode, the headers carried in
 * $httpHeaders) → gRPC metadata for the upstream call. Throws HeaderError on bad input.
 */
export function requestMetadata(
  headers: IncomingHttpHeaders,
  extra: ReadonlyArray<[string, string]> | null,
): Metadata {
  const metadata = new Metadata();
  const listed = connectionListedHeaders(headers.connection);
  for (const name in headers) {
    if (listed?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') addHeader(metadata, name, value);
    else for (const v of value) addHeader(metadata, name, v);
  }
  if (extra) for (const [name, value] of extra) addHeader(metadata, name, value);
  return metadata;
}

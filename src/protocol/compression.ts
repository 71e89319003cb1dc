/**
 * Request message compression (gRPC's compression.md and PROTOCOL-HTTP2.md "Message-Encoding"):
 * a message whose Compressed-Flag is 1 is compressed with the call's `grpc-encoding`, each message
 * on its own (no context carried between messages). The gateway inflates such messages and hands
 * them on uncompressed, because its Pod connection (grpc-js) frames and compresses by itself.
 */

/** What the gateway accepts, as every response's `grpc-accept-encoding` states it. */
export const ACCEPTED_ENCODINGS = 'identity,deflate,gzip';

/** The encodings the gateway can inflate. `deflate` is the zlib format (RFC 1950), as gRPC uses it. */
export type MessageEncoding = 'gzip' | 'deflate';

/**
 * How a compressed request message of a call with this `grpc-encoding` header is to be read:
 * - an encoding the gateway inflates;
 * - `missing`: no encoding, or `identity`, with the flag set — an ill-constructed message, INTERNAL;
 * - `unsupported`: an encoding the gateway lacks — UNIMPLEMENTED, with `grpc-accept-encoding`.
 */
export type CompressedMessageRule = MessageEncoding | 'missing' | 'unsupported';

export function compressedMessageRule(grpcEncoding: string | string[] | undefined): CompressedMessageRule {
  // A repeated header is not one encoding: no algorithm can be chosen from it.
  if (Array.isArray(grpcEncoding)) return 'unsupported';
  const name = grpcEncoding?.trim().toLowerCase();
  if (name === undefined || name === '' || name === 'identity') return 'missing';
  if (name === 'gzip' || name === 'deflate') return name;
  return 'unsupported';
}

/**
 * The gRPC-Web trailer frame (PROTOCOL-WEB.md): HTTP/1.1 cannot carry trailers to a browser, so
 * status and trailing metadata travel as a last length-prefixed frame with flag 0x80 whose body
 * is an HTTP/1 header block, "name: value\r\n" per line, names lower-case.
 */
import { FLAG_TRAILER, FRAME_HEADER_BYTES, writeFrameHeader } from './frame.js';
import { encodeGrpcMessage } from './grpc-message.js';
import { isForwardableResponseHeader } from './headers.js';

/** "grpc-status: N\r\n" for the 17 canonical codes, built once. */
const STATUS_LINES: string[] = [];
for (let code = 0; code <= 16; code++) STATUS_LINES.push(`grpc-status: ${code}\r\n`);

/**
 * A value containing CR, LF or NUL would end the line early and let it inject headers of its own.
 * grpc-js already rejects such metadata values; this is defence in depth, and two indexOf calls.
 */
function isSafeValue(v: string): boolean {
  return v.indexOf('\r') === -1 && v.indexOf('\n') === -1 && v.indexOf('\0') === -1;
}

/**
 * Metadata is what @grpc/grpc-js Metadata.toHttp2Headers() returns (-bin values already base64).
 * Order: grpc-status, grpc-message (percent-encoded, omitted when empty), then metadata, one line
 * per value. Names are lower-cased; names that are not forwardable response headers (pseudo-headers,
 * grpc-status/grpc-message duplicates, framing, access-control-*, vary) and unsafe values are
 * skipped. One allocation for the whole frame.
 */
export function encodeTrailerFrame(
  code: number,
  message: string,
  metadata: Record<string, string | string[] | undefined>,
): Buffer {
  let block = STATUS_LINES[code] ?? `grpc-status: ${code}\r\n`;
  if (message !== '') block += `grpc-message: ${encodeGrpcMessage(message)}\r\n`;
  for (const key in metadata) {
    const value = metadata[key];
    if (value === undefined) continue;
    const name = key.toLowerCase();
    // Status lines are written above; framing, CORS and the like are the gateway's, here as in
    // the headers of a trailers-only answer.
    if (!isForwardableResponseHeader(name)) continue;
    if (typeof value === 'string') {
      if (isSafeValue(value)) block += `${name}: ${value}\r\n`;
    } else {
      for (const v of value) if (isSafeValue(v)) block += `${name}: ${v}\r\n`;
    }
  }
  const length = Buffer.byteLength(block, 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(frame, 0, FLAG_TRAILER, length);
  frame.write(block, FRAME_HEADER_BYTES, 'utf8');
  return frame;
}

const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * Parses a trailer frame body: lower-cased names → values in order. Accepts "\r\n" or bare "\n"
 * line ends and any whitespace around ':'; lines without ':' are ignored. grpc-message is returned
 * as sent (still percent-encoded): decode it with decodeGrpcMessage.
 */
export function parseTrailerBlock(body: Buffer): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const line of body.toString('utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).replace(OWS, '').toLowerCase();
    if (name === '') continue;
    const value = line.slice(colon + 1).replace(/\r$/, '').replace(OWS, '');
    const list = result.get(name);
    if (list === undefined) result.set(name, [value]);
    else list.push(value);
  }
  return result;
}

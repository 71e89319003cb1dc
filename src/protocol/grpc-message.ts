/**
 * grpc-message percent-encoding (PROTOCOL-HTTP2.md, "Responses"): the status message is UTF-8,
 * and every byte outside 0x20–0x7E, plus '%' itself, is sent as %XX. Decoders must never fail:
 * at worst they hand back the raw, still-encoded text.
 */
import { isUtf8 } from 'node:buffer';

/** byte → "%XX" (upper-case hex), built once. */
const PERCENT: string[] = [];
for (let b = 0; b < 256; b++) PERCENT.push('%' + b.toString(16).toUpperCase().padStart(2, '0'));

function needsEncoding(c: number): boolean {
  return c < 0x20 || c > 0x7e || c === 0x25;
}

/**
 * Besides what the spec requires, leading and trailing spaces are sent as %20 (decoders accept
 * any %XX): header parsers, the grpc-web client's trailer parser included, trim them otherwise.
 */
export function encodeGrpcMessage(s: string): string {
  const n = s.length;
  // Fast path: almost every status message is plain ASCII; return it as is, no allocation.
  let i = 0;
  while (i < n && !needsEncoding(s.charCodeAt(i))) i++;
  if (i === n && (n === 0 || (s.charCodeAt(0) !== 0x20 && s.charCodeAt(n - 1) !== 0x20))) return s;
  // Lone surrogates cannot be expressed in UTF-8 and become U+FFFD here (what any encoder does).
  const bytes = Buffer.from(s, 'utf8');
  let first = 0;
  while (first < bytes.length && bytes[first] === 0x20) first++;
  let last = bytes.length;
  while (last > first && bytes[last - 1] === 0x20) last--;
  let out = '';
  for (let j = 0; j < bytes.length; j++) {
    const b = bytes[j]!;
    out += needsEncoding(b) || j < first || j >= last ? PERCENT[b]! : String.fromCharCode(b);
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Lenient: a '%' not followed by two hex digits is kept literally; if the decoded bytes are not
 * valid UTF-8 the raw input is returned (as grpc-js does), so nothing is ever lost or thrown.
 */
export function decodeGrpcMessage(s: string): string {
  let pct = s.indexOf('%');
  if (pct === -1) return s;
  // Decoded length never exceeds the UTF-8 length of the input.
  const buf = Buffer.allocUnsafe(Buffer.byteLength(s, 'utf8'));
  let o = 0;
  let from = 0;
  while (pct !== -1) {
    if (pct > from) o += buf.write(s.slice(from, pct), o, 'utf8');
    const hi = pct + 2 < s.length ? hexValue(s.charCodeAt(pct + 1)) : -1;
    const lo = hi === -1 ? -1 : hexValue(s.charCodeAt(pct + 2));
    if (lo === -1) {
      buf[o++] = 0x25;
      from = pct + 1;
    } else {
      buf[o++] = (hi << 4) | lo;
      from = pct + 3;
    }
    pct = s.indexOf('%', from);
  }
  if (from < s.length) o += buf.write(s.slice(from), o, 'utf8');
  const decoded = buf.subarray(0, o);
  return isUtf8(decoded) ? decoded.toString('utf8') : s;
}

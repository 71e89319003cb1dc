/**
 * Streaming base64 for application/grpc-web-text (PROTOCOL-WEB.md).
 *
 * Decoding is liberal in what it accepts, because clients differ:
 * - A body may be several independently padded base64 strings back to back ("AAAA==BBBB..."):
 *   clients that encode per message do that, so padding is accepted at the end of any 4-char group.
 * - Both the standard (+/) and the URL-safe (-_) alphabet are accepted, even mixed: the two do not
 *   overlap, so there is no ambiguity, and Node's own decoder does the same.
 * - CR, LF, space and tab are ignored anywhere (MIME-style line wrapping).
 * - An unpadded tail of 2 or 3 characters at the very end is accepted (RFC 4648 allows omitting
 *   padding when the length is known; here it is: the body ended).
 * - Non-zero pad bits in the last character of a short group are ignored, like most decoders.
 * Rejected, with Base64Error: any other character, '=' at the start or second position of a group,
 * a data character after '=' inside a group, and input ending after a single character of a group
 * or between two '=' of one group.
 */
export class Base64Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Base64Error';
  }
}

const INVALID = -1;
const SKIP = -2;
const PAD = -3;

/** byte → 6-bit value, or one of the negative classes above. */
const DECODE = new Int8Array(256).fill(INVALID);
{
  const std = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) DECODE[std.charCodeAt(i)] = i;
  DECODE[0x2d /* - */] = 62;
  DECODE[0x5f /* _ */] = 63;
  DECODE[0x3d /* = */] = PAD;
  for (const c of [0x0d, 0x0a, 0x20, 0x09]) DECODE[c] = SKIP;
}

const EMPTY = Buffer.alloc(0);

export class Base64Decoder {
  /** Bits of the current group so far (6 per character). */
  private acc = 0;
  /** Characters of the current group seen so far, 0..3 (padding included). */
  private count = 0;
  /** True after a group's third character was '=': exactly one more '=' must follow. */
  private padPending = false;
  /** Input offset of everything pushed so far, for error messages. */
  private offset = 0;

  /** Decode the next piece of the body; returns the bytes decodable so far (may be empty). */
  push(chunk: Buffer): Buffer {
    const n = chunk.length;
    if (n === 0) return EMPTY;
    // Upper bound: every 4 characters (carried ones included) yield at most 3 bytes.
    const out = Buffer.allocUnsafe(((this.count + n) >> 2) * 3 + 3);
    let o = 0;
    let acc = this.acc;
    let count = this.count;
    let padPending = this.padPending;
    for (let i = 0; i < n; i++) {
      // Fast path: a whole group of 4 data characters at a group boundary (the bulk of any body).
      if (count === 0 && !padPending) {
        while (i + 4 <= n) {
          const a = DECODE[chunk[i]!]!;
          const b = DECODE[chunk[i + 1]!]!;
          const c = DECODE[chunk[i + 2]!]!;
          const d = DECODE[chunk[i + 3]!]!;
          if ((a | b | c | d) < 0) break;
          const bits = (a << 18) | (b << 12) | (c << 6) | d;
          out[o] = bits >> 16;
          out[o + 1] = (bits >> 8) & 0xff;
          out[o + 2] = bits & 0xff;
          o += 3;
          i += 4;
        }
        if (i === n) break;
      }
      const v = DECODE[chunk[i]!]!;
      if (v >= 0) {
        if (padPending) this.fail(chunk, i, 'data after padding inside a group');
        acc = (acc << 6) | v;
        if (++count === 4) {
          out[o] = acc >> 16;
          out[o + 1] = (acc >> 8) & 0xff;
          out[o + 2] = acc & 0xff;
          o += 3;
          acc = 0;
          count = 0;
        }
      } else if (v === SKIP) {
        continue;
      } else if (v === PAD) {
        if (padPending) {
          // Second '=' of "xx==": group done.
          padPending = false;
          count = 0;
          acc = 0;
        } else if (count === 2) {
          // "xx=": 12 bits → 1 byte; one more '=' must follow.
          out[o++] = (acc >> 4) & 0xff;
          padPending = true;
          count = 3;
        } else if (count === 3) {
          // "xxx=": 18 bits → 2 bytes; group done.
          out[o] = (acc >> 10) & 0xff;
          out[o + 1] = (acc >> 2) & 0xff;
          o += 2;
          count = 0;
          acc = 0;
        } else {
          this.fail(chunk, i, 'misplaced padding');
        }
      } else {
        this.fail(chunk, i, `invalid character 0x${chunk[i]!.toString(16).padStart(2, '0')}`);
      }
    }
    this.acc = acc;
    this.count = count;
    this.padPending = padPending;
    this.offset += n;
    return o === 0 ? EMPTY : out.subarray(0, o);
  }

  /** End of input: returns the bytes of an unpadded 2- or 3-character tail, else empty. */
  end(): Buffer {
    const { acc, count, padPending } = this;
    this.acc = 0;
    this.count = 0;
    this.padPending = false;
    if (padPending) throw new Base64Error('base64 input ended between two padding characters');
    switch (count) {
      case 0:
        return EMPTY;
      case 2:
        return Buffer.from([(acc >> 4) & 0xff]);
      case 3:
        return Buffer.from([(acc >> 10) & 0xff, (acc >> 2) & 0xff]);
      default:
        throw new Base64Error('base64 input ended after a single character of a group');
    }
  }

  private fail(chunk: Buffer, i: number, what: string): never {
    throw new Base64Error(`${what} in base64 body at offset ${this.offset + i}`);
  }
}

/**
 * Bytes → padded base64 text. Each response flush must be padded on its own: the official
 * grpc-web client decodes every received chunk independently. Node's native encoder is far faster
 * than a JS loop; the latin1 copy of the ASCII result is a plain memcpy.
 */
export function encodeBase64(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('base64'), 'latin1');
}

/**
 * gRPC length-prefixed message framing as used by gRPC-Web (PROTOCOL-WEB.md):
 *   1 byte flags | 4 bytes big-endian length | length bytes
 * Flag 0x01 = compressed message, flag 0x80 = trailer frame (response only).
 */
export const FRAME_HEADER_BYTES = 5;
export const FLAG_COMPRESSED = 0x01;
export const FLAG_TRAILER = 0x80;

export interface Frame {
  flags: number;
  data: Buffer;
}

export class FrameError extends Error {
  constructor(
    readonly reason: 'too-large' | 'truncated' | 'bad-flags' | 'too-many',
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Writes a frame header at `offset` of `target` (lets callers build header+payload in one buffer). */
export function writeFrameHeader(target: Buffer, offset: number, flags: number, length: number): void {
  target[offset] = flags;
  target.writeUInt32BE(length, offset + 1);
}

/** A 5-byte header. allocUnsafe: small sizes come from Node's shared pool, no zero-fill. */
export function frameHeader(flags: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeFrameHeader(header, 0, flags, length);
  return header;
}

/** Header + message in a single allocation and a single copy (one socket write per message). */
export function encodeMessageFrame(message: Buffer): Buffer {
  return encodeMessageFrames([message], FRAME_HEADER_BYTES + message.length);
}

/**
 * Several messages as consecutive frames in one buffer: one allocation and one copy per message
 * for a whole batch, which then leaves as a single socket write (and, over HTTP/1.1, as a single
 * chunk of the chunked encoding instead of one per message). `framedBytes` must be the sum of
 * FRAME_HEADER_BYTES + length over `messages` (the caller tracks it as it collects them).
 */
export function encodeMessageFrames(messages: readonly Buffer[], framedBytes: number): Buffer {
  const out = Buffer.allocUnsafe(framedBytes);
  let offset = 0;
  for (const message of messages) {
    writeFrameHeader(out, offset, 0, message.length);
    message.copy(out, offset + FRAME_HEADER_BYTES);
    offset += FRAME_HEADER_BYTES + message.length;
  }
  if (offset !== framedBytes) throw new RangeError(`framedBytes ${framedBytes} does not match the messages (${offset})`);
  return out;
}

/**
 * Shared result for "no frame completed": most pushes of a large message complete nothing, and
 * allocating an empty array for each would be pure garbage. Frozen, so do not mutate results.
 */
const NO_FRAMES = Object.freeze([]) as unknown as Frame[];

/**
 * The rules every 5-byte prefix must pass, whether its message is cut out (FrameDecoder) or passed
 * on as it came (FrameScanner): FrameError 'bad-flags' for flag bits other than the compressed one,
 * 'too-large' for a length above maxMessageBytes (checked before any of the message is held).
 */
export function checkFramePrefix(flags: number, length: number, maxMessageBytes: number): void {
  if ((flags & ~FLAG_COMPRESSED) !== 0) {
    throw new FrameError('bad-flags', `unexpected frame flags 0x${flags.toString(16).padStart(2, '0')} in request`);
  }
  if (length > maxMessageBytes) {
    throw new FrameError('too-large', `message of ${length} bytes exceeds the limit of ${maxMessageBytes}`);
  }
}

/**
 * Incremental decoder for request bodies. Keeps the chunks it was given (no concatenation) and
 * copies once per frame, only when a frame straddles chunks; a frame wholly inside one chunk is
 * returned as a subarray of it. After it throws, the decoder is unusable: the caller fails the call.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** Offset of the first unread byte in chunks[0]. */
  private head = 0;
  private buffered = 0;
  /** Header of the frame being accumulated, once its 5 bytes have arrived; -1 before that. */
  private curFlags = -1;
  private curLength = 0;
  /** Frames returned so far. */
  private count = 0;

  /**
   * `maxFrames`: once this many frames have been returned, any further byte throws FrameError
   * 'too-many' at once, without waiting for (or buffering) the rest of that frame.
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly maxFrames = Infinity,
  ) {}

  /** Bytes buffered but not yet returned as frames. */
  get pending(): number {
    // A parsed header has left the chunk list but its frame has not been returned yet.
    return this.curFlags === -1 ? this.buffered : this.buffered + FRAME_HEADER_BYTES;
  }

  /**
   * Feed bytes; returns every frame completed by them (possibly none; the empty result is a
   * shared frozen array). Throws FrameError 'too-large' as soon as a header announces more than
   * maxMessageBytes (before buffering it), 'bad-flags' for flag bits other than 0x01.
   */
  push(chunk: Buffer): Frame[] {
    if (chunk.length === 0) return NO_FRAMES;
    if (this.count >= this.maxFrames) this.tooMany();
    if (this.buffered === 0 && this.curFlags === -1) return this.pushFast(chunk);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    let out: Frame[] | undefined;
    for (;;) {
      if (this.curFlags === -1) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        this.readHeader();
      }
      if (this.buffered < this.curLength) break;
      (out ??= []).push({ flags: this.curFlags, data: this.take(this.curLength) });
      this.curFlags = -1;
      if (++this.count >= this.maxFrames && this.buffered > 0) this.tooMany();
      // Once the list has drained, parse the rest of the chunk directly: back to the fast path.
      if (this.buffered > 0 && this.chunks.length === 1) {
        const rest = this.chunks[0]!.subarray(this.head);
        this.chunks = [];
        this.head = 0;
        this.buffered = 0;
        const more = this.pushFast(rest);
        if (more.length > 0) for (const f of more) out.push(f);
        break;
      }
    }
    return out ?? NO_FRAMES;
  }

  /** End of input: a partially received frame means the client's body was cut short. */
  end(): void {
    if (this.buffered > 0 || this.curFlags !== -1) {
      throw new FrameError(
        'truncated',
        this.curFlags === -1
          ? `request body ended inside a frame header (${this.buffered} of ${FRAME_HEADER_BYTES} bytes)`
          : `request body ended inside a frame (${this.buffered} of ${this.curLength} message bytes)`,
      );
    }
  }

  /** Nothing buffered: parse frames straight out of `chunk`, keep only its unparsed tail. */
  private pushFast(chunk: Buffer): Frame[] {
    let out: Frame[] | undefined;
    const len = chunk.length;
    let off = 0;
    while (len - off >= FRAME_HEADER_BYTES) {
      const flags = chunk[off]!;
      const length = chunk.readUInt32BE(off + 1);
      checkFramePrefix(flags, length, this.maxMessageBytes);
      const start = off + FRAME_HEADER_BYTES;
      if (len - start < length) {
        // Header complete, body not: remember the header so it is not re-read and re-checked.
        this.curFlags = flags;
        this.curLength = length;
        off = start;
        break;
      }
      (out ??= []).push({ flags, data: chunk.subarray(start, start + length) });
      off = start + length;
      if (++this.count >= this.maxFrames && off < len) this.tooMany();
    }
    if (off < len) {
      this.chunks.push(off === 0 ? chunk : chunk.subarray(off));
      this.buffered = len - off;
    }
    return out ?? NO_FRAMES;
  }

  private tooMany(): never {
    throw new FrameError('too-many', `more than ${this.maxFrames} message${this.maxFrames === 1 ? '' : 's'} in the request`);
  }

  private readHeader(): void {
    const first = this.chunks[0]!;
    let flags: number;
    let length: number;
    if (first.length - this.head >= FRAME_HEADER_BYTES) {
      flags = first[this.head]!;
      length = first.readUInt32BE(this.head + 1);
      this.skip(FRAME_HEADER_BYTES);
    } else {
      const h = this.take(FRAME_HEADER_BYTES);
      flags = h[0]!;
      length = h.readUInt32BE(1);
    }
    checkFramePrefix(flags, length, this.maxMessageBytes);
    this.curFlags = flags;
    this.curLength = length;
  }

  /** Advances past n buffered bytes (n <= buffered). */
  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const avail = first.length - this.head;
      if (n < avail) {
        this.head += n;
        return;
      }
      n -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Removes and returns n buffered bytes (n <= buffered): a subarray when contiguous, else one copy. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0 || first === undefined) return EMPTY;
    const avail = first.length - this.head;
    if (n <= avail) {
      const data = first.subarray(this.head, this.head + n);
      this.skip(n);
      return data;
    }
    const data = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const c = this.chunks[0]!;
      const m = Math.min(c.length - this.head, n - written);
      c.copy(data, written, this.head, this.head + m);
      written += m;
      if (this.head + m === c.length) {
        this.chunks.shift();
        this.head = 0;
      } else {
        this.head += m;
      }
    }
    this.buffered -= n;
    return data;
  }
}

const EMPTY = Buffer.alloc(0);

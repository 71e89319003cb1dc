// Byte passthrough's view of gRPC length-prefixed framing: the 5-byte prefixes are read as the
// bytes pass by, and the bytes themselves are neither held, cut nor copied. A proxy that forwards
// DATA as it arrived still has to check each message's size and flags, and to know whether a
// stream ended between messages; this is all it needs for that.
import { FRAME_HEADER_BYTES, FrameError, checkFramePrefix } from './frame.js';

export class FrameScanner {
  /** Body bytes of the current message still to come. */
  private bodyLeft = 0;
  /** Prefix bytes of the next message read so far: a prefix may straddle chunks. */
  private prefixRead = 0;
  private flags = 0;
  private length = 0;
  /** Messages whose prefix has been read. */
  messages = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** The bytes so far end inside a message (or its prefix): the stream must not end here. */
  get midMessage(): boolean {
    return this.bodyLeft > 0 || this.prefixRead > 0;
  }

  /**
   * Reads the prefixes in `chunk`; returns the flags of the messages it starts, OR-ed (so a caller
   * sees a compressed one). Throws FrameError 'too-large' at a prefix announcing more than
   * maxMessageBytes, 'bad-flags' at flag bits other than the compressed one. After it throws, the
   * scanner is unusable: the caller fails the call.
   */
  scan(chunk: Buffer): number {
    const n = chunk.length;
    let off = 0;
    let flags = 0;
    while (off < n) {
      if (this.bodyLeft > 0) {
        const skip = Math.min(this.bodyLeft, n - off);
        this.bodyLeft -= skip;
        off += skip;
      } else if (this.prefixRead === 0 && n - off >= FRAME_HEADER_BYTES) {
        flags |= this.start(chunk[off]!, chunk.readUInt32BE(off + 1));
        off += FRAME_HEADER_BYTES;
      } else {
        // A prefix cut by the chunk's end: read byte by byte, big-endian.
        const byte = chunk[off++]!;
        if (this.prefixRead === 0) {
          this.flags = byte;
          this.length = 0;
        } else {
          this.length = this.length * 256 + byte;
        }
        if (++this.prefixRead === FRAME_HEADER_BYTES) {
          this.prefixRead = 0;
          flags |= this.start(this.flags, this.length);
        }
      }
    }
    return flags;
  }

  /** End of input, as FrameDecoder.end(): throws FrameError 'truncated' inside a message. */
  end(): void {
    if (this.prefixRead > 0) {
      throw new FrameError('truncated', `request body ended inside a frame header (${this.prefixRead} of ${FRAME_HEADER_BYTES} bytes)`);
    }
    if (this.bodyLeft > 0) throw new FrameError('truncated', `request body ended inside a frame (${this.bodyLeft} message bytes missing)`);
  }

  private start(flags: number, length: number): number {
    checkFramePrefix(flags, length, this.maxMessageBytes);
    this.messages++;
    this.bodyLeft = length;
    return flags;
  }
}

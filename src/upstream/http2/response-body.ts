// How an http2 call reads the Pod's DATA: cut into messages for a front end that takes messages,
// or handed on as it came (byte passthrough) with only the 5-byte prefixes read.
import { FLAG_COMPRESSED, FrameDecoder } from '../../protocol/frame.js';
import { FrameScanner } from '../../protocol/frame-scanner.js';

export interface ResponseBody {
  /**
   * Adds what `chunk` completes to `inbox` (messages, or the chunk itself); true at a compressed
   * message, which is added to nothing. Throws FrameError at a bad prefix.
   */
  read(chunk: Buffer, inbox: Buffer[]): boolean;
  /** The DATA so far ends inside a message: the answer must not end here. */
  readonly midMessage: boolean;
}

/** Messages, each without its prefix; one inside a single chunk is not copied. */
export class MessageBody implements ResponseBody {
  private readonly decoder: FrameDecoder;

  constructor(maxMessageBytes: number) {
    this.decoder = new FrameDecoder(maxMessageBytes);
  }

  read(chunk: Buffer, inbox: Buffer[]): boolean {
    for (const frame of this.decoder.push(chunk)) {
      if ((frame.flags & FLAG_COMPRESSED) !== 0) return true;
      inbox.push(frame.data);
    }
    return false;
  }

  get midMessage(): boolean {
    return this.decoder.pending > 0;
  }
}

/** The DATA as it came, prefixes included: nothing is cut or copied. */
export class PassedBody implements ResponseBody {
  private readonly scanner: FrameScanner;

  constructor(maxMessageBytes: number) {
    this.scanner = new FrameScanner(maxMessageBytes);
  }

  read(chunk: Buffer, inbox: Buffer[]): boolean {
    if ((this.scanner.scan(chunk) & FLAG_COMPRESSED) !== 0) return true;
    inbox.push(chunk);
    return false;
  }

  get midMessage(): boolean {
    return this.scanner.midMessage;
  }
}

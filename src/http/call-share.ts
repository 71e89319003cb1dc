import type { CallBounds } from './bounds.js';

/**
 * One call's share of the process-wide bounds (./bounds.ts): its slot of --max-concurrent-calls
 * and the request bytes it holds of --max-buffered-request-bytes, given back when it ends.
 */
export class CallShare {
  private slot = false;
  private bytes = 0;

  constructor(private readonly bounds: CallBounds) {}

  /** Take the call's slot; false when none is left. */
  start(): boolean {
    this.slot = this.bounds.startCall();
    return this.slot;
  }

  /** The call still holds its slot: it has not ended. */
  get active(): boolean {
    return this.slot;
  }

  /** Reserve n more request bytes; false past the bound. */
  reserve(n: number): boolean {
    if (!this.bounds.reserve(n)) return false;
    this.bytes += n;
    return true;
  }

  /** Keep at most `held` bytes reserved: the rest has left the gateway. */
  keep(held: number): void {
    if (this.bytes > held) {
      this.bounds.release(this.bytes - held);
      this.bytes = held;
    }
  }

  /** The call has ended: give everything back (once). */
  end(): void {
    if (this.slot) {
      this.slot = false;
      this.bounds.endCall();
    }
    this.keep(0);
  }
}

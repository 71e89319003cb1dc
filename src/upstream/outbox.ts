// The request messages of one call, fed to whichever attempt is on a Pod. A call may be sent
// again on another Pod only with every message it has sent so far, so the messages are kept
// until the call ends — up to a per-call limit (gRPC's retry design, gRFC A6, calls it the
// retry buffer): past it, messages are let go as soon as the Pod's connection has taken them,
// and the call can no longer be retried.
import type { Attempt } from './attempt.js';

export class Outbox {
  /** The messages kept, oldest first; `log[0]` is message number `dropped`. */
  private readonly log: Buffer[] = [];
  private dropped = 0;
  private bytes = 0;
  private overLimit = false;
  private ended = false;
  /** The attempt being fed, the number of the next message it gets, and whether one is on its way. */
  private target: Attempt | null = null;
  private next = 0;
  private writing = false;
  private halfClosed = false;
  /** The writer's `sent` for the newest message, until the attempt has taken it. */
  private waiter: (() => void) | null = null;

  constructor(private readonly limitBytes: number) {}

  /** A one-message request (unary, server streaming): kept whole, whatever its size. */
  static of(message: Buffer): Outbox {
    const outbox = new Outbox(Infinity);
    outbox.log.push(message);
    outbox.bytes = message.length;
    outbox.ended = true;
    return outbox;
  }

  /** Every message sent so far is still here: a new attempt can be given the whole request. */
  get replayable(): boolean {
    return this.dropped === 0;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  push(message: Buffer, sent: () => void): void {
    this.log.push(message);
    this.bytes += message.length;
    if (this.bytes > this.limitBytes) this.overLimit = true;
    this.waiter = sent;
    this.pump();
  }

  end(): void {
    this.ended = true;
    this.pump();
  }

  /** A new attempt: it gets the request from its first message (the caller checked `replayable`). */
  attach(call: Attempt): void {
    this.target = call;
    this.next = this.dropped;
    this.writing = false;
    this.halfClosed = false;
    this.pump();
  }

  /** The attempt has ended: whatever it had not taken waits for the next one. */
  detach(): void {
    this.target = null;
  }

  /**
   * The attempt takes one message at a time: the next is sent from the previous one's callback.
   * The last message of an ended request goes with the half-close at once, as grpc-js's own
   * clients do, so a unary request leaves in one DATA frame.
   */
  private pump(): void {
    const call = this.target;
    if (call === null || this.writing || this.halfClosed) return;
    const index = this.next - this.dropped;
    if (index < this.log.length) {
      const message = this.log[index]!;
      if (this.ended && index === this.log.length - 1) {
        call.sendMessageWithContext({}, message);
        this.taken();
      } else {
        this.writing = true;
        call.sendMessageWithContext({ callback: () => this.written(call) }, message);
        return;
      }
    }
    if (this.ended) {
      this.halfClosed = true;
      call.halfClose();
    }
  }

  private written(call: Attempt): void {
    // A callback of an attempt that has ended since: the next attempt starts over.
    if (call !== this.target) return;
    this.writing = false;
    this.taken();
    this.pump();
  }

  /** The attempt has taken message `next`. */
  private taken(): void {
    this.next++;
    if (this.overLimit) {
      while (this.dropped < this.next) {
        this.bytes -= this.log.shift()!.length;
        this.dropped++;
      }
    }
    if (this.next === this.dropped + this.log.length && this.waiter !== null) {
      const sent = this.waiter;
      this.waiter = null;
      sent();
    }
  }
}

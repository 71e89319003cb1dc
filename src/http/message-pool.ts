// Buffers for large request messages, reused from one call to the next.
//
// A request message that spans several socket reads is assembled into one buffer, because
// grpc-js takes a message as one Buffer. Allocated afresh per call, that buffer is new off-heap
// memory every time, and V8 starts a full garbage collection after a set amount of it, whoever
// allocated it: on large messages the collections were most of the gateway's CPU. The buffer can
// be reused once its call has ended: grpc-js copies a message into its own framed buffer as it
// sends it, and the exchange keeps its message (for transparent retries) only until the call's
// final status, and gives the buffer back one event-loop turn after it (see Exchange.releaseBounds).

/** Smaller messages are allocated as usual: they come from Node's shared pool, cheaply. */
export const MIN_POOLED_BYTES = 64 * 1024;

/**
 * The most kept idle: what two calls of the default 4 MiB message limit use. It only ever holds
 * buffers of calls that have ended, so it adds at most this much to the gateway's memory.
 */
export const MAX_IDLE_BYTES = 8 * 1024 * 1024;

export class MessagePool {
  /** Idle buffers by capacity (a power of two), most recently returned last. */
  private readonly idle = new Map<number, ArrayBuffer[]>();
  /** The same buffers, to refuse one given back twice (it would go to two calls at once). */
  private readonly idleSet = new Set<ArrayBuffer>();
  /** Every buffer this pool made: nothing else is ever taken in. */
  private readonly made = new WeakSet<ArrayBuffer>();
  private idleBytes = 0;

  /** `maxIdleBytes`: the most memory kept idle here between calls (0: no pooling). */
  constructor(private readonly maxIdleBytes = MAX_IDLE_BYTES) {}

  /** Bytes kept for reuse right now. */
  get idleSize(): number {
    return this.idleBytes;
  }

  /** A buffer of exactly `n` bytes whose contents are undefined: the caller overwrites all of them. */
  readonly take = (n: number): Buffer => {
    if (n < MIN_POOLED_BYTES || this.maxIdleBytes === 0) return Buffer.allocUnsafe(n);
    const capacity = 2 ** Math.ceil(Math.log2(n));
    const reused = this.idle.get(capacity)?.pop();
    if (reused !== undefined) {
      this.idleSet.delete(reused);
      this.idleBytes -= capacity;
      return Buffer.from(reused, 0, n);
    }
    // Its own ArrayBuffer of exactly `capacity` bytes (not a slice of Node's shared pool).
    const fresh = Buffer.allocUnsafeSlow(capacity).buffer as ArrayBuffer;
    this.made.add(fresh);
    return Buffer.from(fresh, 0, n);
  };

  /** `message` is in a buffer of this pool (one to give back when its call has ended). */
  owns(message: Buffer): boolean {
    return this.made.has(message.buffer as ArrayBuffer);
  }

  /** The call that took `message` has ended: its buffer may serve the next one. Others are ignored. */
  give(message: Buffer): void {
    const buffer = message.buffer as ArrayBuffer;
    if (!this.made.has(buffer) || this.idleSet.has(buffer)) return;
    const capacity = buffer.byteLength;
    if (this.idleBytes + capacity > this.maxIdleBytes) return;
    let list = this.idle.get(capacity);
    if (list === undefined) this.idle.set(capacity, (list = []));
    list.push(buffer);
    this.idleSet.add(buffer);
    this.idleBytes += capacity;
  }
}

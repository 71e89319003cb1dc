import { describe, expect, it } from 'vitest';
import { MIN_POOLED_BYTES, MessagePool } from '../../../src/http/message-pool.js';

describe('MessagePool', () => {
  it('hands out buffers of exactly the size asked, and reuses one given back', () => {
    const pool = new MessagePool(1 << 20);
    const a = pool.take(100_000);
    expect(a.length).toBe(100_000);
    pool.give(a);
    expect(pool.idleSize).toBe(128 * 1024);
    const b = pool.take(70_000); // same capacity class (128 KiB)
    expect(b.length).toBe(70_000);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.idleSize).toBe(0);
    expect(pool.take(70_000).buffer).not.toBe(a.buffer); // the idle one is in use now
  });

  it('leaves small messages to Node and never takes in a buffer it did not make', () => {
    const pool = new MessagePool(1 << 20);
    const small = pool.take(MIN_POOLED_BYTES - 1);
    pool.give(small);
    pool.give(Buffer.alloc(200_000)); // e.g. a message that was a slice of a socket read
    expect(pool.idleSize).toBe(0);
  });

  it('a buffer given back twice still goes to one call only', () => {
    const pool = new MessagePool(1 << 20);
    const a = pool.take(100_000);
    pool.give(a);
    pool.give(a);
    expect(pool.idleSize).toBe(128 * 1024);
    const first = pool.take(100_000);
    const second = pool.take(100_000);
    expect(second.buffer).not.toBe(first.buffer);
  });

  it('keeps at most its bound idle; 0 turns pooling off', () => {
    const pool = new MessagePool(256 * 1024);
    const taken = [pool.take(200_000), pool.take(200_000)];
    for (const b of taken) pool.give(b);
    expect(pool.idleSize).toBe(256 * 1024); // one of the two kept
    const off = new MessagePool(0);
    const b = off.take(200_000);
    off.give(b);
    expect(off.idleSize).toBe(0);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAG_COMPRESSED, FrameError, FrameScanner, frameHeader } from '../../../src/protocol/index.js';

const frame = (flags: number, body: Buffer): Buffer => Buffer.concat([frameHeader(flags, body.length), body]);

/** `wire` in pieces of the given sizes (1 or more bytes each), the rest as the last piece. */
function pieces(wire: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= wire.length) break;
    out.push(wire.subarray(at, at + size));
    at += size;
  }
  if (at < wire.length) out.push(wire.subarray(at));
  return out;
}

describe('FrameScanner', () => {
  it('counts messages and ends between them however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ compressed: fc.boolean(), body: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 20 }),
        (messages, sizes) => {
          const wire = Buffer.concat(messages.map((m) => frame(m.compressed ? FLAG_COMPRESSED : 0, Buffer.from(m.body))));
          const scanner = new FrameScanner(1024);
          let flags = 0;
          for (const part of pieces(wire, sizes)) {
            flags |= scanner.scan(part);
          }
          expect(scanner.messages).toBe(messages.length);
          expect(scanner.midMessage).toBe(false);
          scanner.end();
          expect((flags & FLAG_COMPRESSED) !== 0).toBe(messages.some((m) => m.compressed));
        },
      ),
    );
  });

  it('reads a prefix cut into single bytes, and refuses a size above the limit at its last byte', () => {
    const scanner = new FrameScanner(100);
    const wire = frameHeader(0, 101);
    for (let i = 0; i < 4; i++) scanner.scan(wire.subarray(i, i + 1));
    expect(scanner.midMessage).toBe(true);
    expect(() => scanner.scan(wire.subarray(4))).toThrow(FrameError);
  });

  it('refuses a message above the limit in the middle of a chunk, before its body', () => {
    const scanner = new FrameScanner(10);
    const wire = Buffer.concat([frame(0, Buffer.alloc(10)), frameHeader(0, 11)]);
    let error: unknown;
    try {
      scanner.scan(wire);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).reason).toBe('too-large');
    expect(scanner.messages).toBe(1);
  });

  it('refuses flag bits other than compressed', () => {
    const scanner = new FrameScanner(10);
    expect(() => scanner.scan(frame(0x80, Buffer.alloc(1)))).toThrow(/unexpected frame flags 0x80/);
  });

  it('tells a stream that ends inside a prefix or a body', () => {
    const inPrefix = new FrameScanner(10);
    inPrefix.scan(Buffer.from([0, 0]));
    expect(() => inPrefix.end()).toThrow(/inside a frame header \(2 of 5 bytes\)/);
    const inBody = new FrameScanner(10);
    inBody.scan(frame(0, Buffer.alloc(8)).subarray(0, 9));
    expect(() => inBody.end()).toThrow(/4 message bytes missing/);
  });
});

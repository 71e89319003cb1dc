import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeMessageFrame,
  encodeMessageFrames,
  FLAG_COMPRESSED,
  FLAG_TRAILER,
  FRAME_HEADER_BYTES,
  frameHeader,
  FrameDecoder,
  FrameError,
  type Frame,
} from '../../../src/protocol/frame.js';

function frame(flags: number, data: Buffer): Buffer {
  return Buffer.concat([frameHeader(flags, data.length), data]);
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

function decodeAll(dec: FrameDecoder, parts: Buffer[]): Frame[] {
  const out: Frame[] = [];
  for (const p of parts) out.push(...dec.push(p));
  dec.end();
  return out;
}

function caught(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FrameError);
    return e as FrameError;
  }
  throw new Error('did not throw');
}

describe('frame encoding', () => {
  it('constants', () => {
    expect([FRAME_HEADER_BYTES, FLAG_COMPRESSED, FLAG_TRAILER]).toEqual([5, 1, 0x80]);
  });

  it('frameHeader writes flags and big-endian length', () => {
    expect([...frameHeader(0x80, 0x01020304)]).toEqual([0x80, 1, 2, 3, 4]);
    expect([...frameHeader(0, 0)]).toEqual([0, 0, 0, 0, 0]);
    expect([...frameHeader(1, 0xffffffff)]).toEqual([1, 255, 255, 255, 255]);
  });

  it('encodeMessageFrame = header + message', () => {
    expect([...encodeMessageFrame(Buffer.from([9, 8, 7]))]).toEqual([0, 0, 0, 0, 3, 9, 8, 7]);
    expect([...encodeMessageFrame(Buffer.alloc(0))]).toEqual([0, 0, 0, 0, 0]);
  });

  it('encodeMessageFrames = the frames of every message, back to back, decodable again', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (arrays) => {
        const messages = arrays.map((a) => Buffer.from(a));
        const framed = messages.reduce((n, m) => n + FRAME_HEADER_BYTES + m.length, 0);
        const out = encodeMessageFrames(messages, framed);
        expect(out).toEqual(Buffer.concat(messages.map((m) => frame(0, m))));
        expect(new FrameDecoder(1024).push(out).map((f) => f.data)).toEqual(messages);
      }),
    );
  });

  it('encodeMessageFrames refuses a size that does not match the messages', () => {
    expect(() => encodeMessageFrames([Buffer.alloc(3)], 9)).toThrow(RangeError);
  });
});

describe('FrameDecoder', () => {
  it('decodes several frames in one chunk, including zero-length ones, as subarrays', () => {
    const input = Buffer.concat([
      frame(0, Buffer.from('abc')),
      frame(0, Buffer.alloc(0)),
      frame(1, Buffer.from('z')),
    ]);
    const dec = new FrameDecoder(100);
    const frames = dec.push(input);
    expect(frames.map((f) => [f.flags, f.data.toString()])).toEqual([
      [0, 'abc'],
      [0, ''],
      [1, 'z'],
    ]);
    // No copy: the message shares memory with the input chunk.
    expect(frames[0]!.data.buffer).toBe(input.buffer);
    expect(dec.pending).toBe(0);
    dec.end();
  });

  it('returns nothing until a frame completes, and tracks pending bytes', () => {
    const input = frame(0, Buffer.from('hello world'));
    const dec = new FrameDecoder(100);
    expect(dec.push(input.subarray(0, 3))).toEqual([]);
    expect(dec.pending).toBe(3);
    expect(dec.push(input.subarray(3, 9))).toEqual([]);
    expect(dec.pending).toBe(9);
    expect(dec.push(Buffer.alloc(0))).toEqual([]);
    const frames = dec.push(input.subarray(9));
    expect(frames.map((f) => f.data.toString())).toEqual(['hello world']);
    expect(dec.pending).toBe(0);
  });

  it('returns a subarray when the message body sits inside one later chunk', () => {
    const msg = Buffer.from('payload');
    const dec = new FrameDecoder(100);
    expect(dec.push(frameHeader(0, msg.length))).toEqual([]);
    const body = Buffer.from(msg);
    const [f] = dec.push(body);
    expect(f!.data.buffer).toBe(body.buffer);
    expect(f!.data.toString()).toBe('payload');
  });

  it('throws too-large as soon as the header announces it', () => {
    const dec = new FrameDecoder(10);
    dec.push(frame(0, Buffer.alloc(10)));
    const header = frameHeader(0, 11);
    expect(dec.push(header.subarray(0, 4))).toEqual([]);
    expect(caught(() => dec.push(header.subarray(4))).reason).toBe('too-large');
    expect(caught(() => new FrameDecoder(0).push(frameHeader(0, 0xffffffff))).reason).toBe('too-large');
  });

  it('accepts a message of exactly the limit', () => {
    const dec = new FrameDecoder(4);
    expect(dec.push(frame(0, Buffer.alloc(4)))).toHaveLength(1);
  });

  it.each([0x80, 0x02, 0xff, 0x81])('throws bad-flags for 0x%s', (flags) => {
    expect(caught(() => new FrameDecoder(10).push(frame(flags, Buffer.alloc(1)))).reason).toBe('bad-flags');
  });

  it('returns compressed frames with their flag for the caller to decide', () => {
    const [f] = new FrameDecoder(10).push(frame(FLAG_COMPRESSED, Buffer.from('x')));
    expect(f!.flags).toBe(FLAG_COMPRESSED);
  });

  it('end() throws truncated for a partial header or body, not when empty', () => {
    new FrameDecoder(10).end();
    const d1 = new FrameDecoder(10);
    d1.push(Buffer.from([0, 0]));
    expect(caught(() => d1.end()).reason).toBe('truncated');
    const d2 = new FrameDecoder(10);
    d2.push(frame(0, Buffer.from('abcd')).subarray(0, 7));
    expect(caught(() => d2.end()).reason).toBe('truncated');
    // Header complete at the very end of a chunk, body never came.
    const d3 = new FrameDecoder(10);
    d3.push(frameHeader(0, 3));
    expect(d3.pending).toBe(5);
    expect(caught(() => d3.end()).reason).toBe('truncated');
  });

  it('a header alone for a zero-length message completes a frame', () => {
    const dec = new FrameDecoder(10);
    dec.push(Buffer.from([0, 0, 0]));
    const frames = dec.push(Buffer.from([0, 0]));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.data.length).toBe(0);
    dec.end();
  });

  it('property: any split of any frame sequence decodes to the same frames', () => {
    const message = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0, 1), message), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (msgs, points) => {
          const input = Buffer.concat(msgs.map(([f, m]) => frame(f, m)));
          const frames = decodeAll(new FrameDecoder(300), splitAt(input, points));
          expect(frames.map((f) => [f.flags, Buffer.from(f.data).toString('hex')])).toEqual(
            msgs.map(([f, m]) => [f, m.toString('hex')]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('maxFrames: the first byte past the last allowed frame throws too-many, in the same chunk or a later one', () => {
    const one = frame(0, Buffer.from('only'));
    // same chunk: a whole second frame, or just the first byte of its header
    for (const tail of [frame(0, Buffer.alloc(0)), Buffer.from([0])]) {
      expect(caught(() => new FrameDecoder(100, 1).push(Buffer.concat([one, tail]))).reason).toBe('too-many');
    }
    // a later chunk
    const dec = new FrameDecoder(100, 1);
    expect(dec.push(one).map((f) => f.data.toString())).toEqual(['only']);
    expect(caught(() => dec.push(Buffer.from([0]))).message).toBe('more than 1 message in the request');
    // the slow path (a frame completed across chunks, then more bytes behind it)
    const slow = new FrameDecoder(100, 1);
    expect(slow.push(one.subarray(0, 3))).toEqual([]);
    expect(caught(() => slow.push(Buffer.concat([one.subarray(3), Buffer.from([0, 0])]))).reason).toBe('too-many');
    // exactly the allowed number is fine, and end() accepts it
    const ok = new FrameDecoder(100, 2);
    expect(ok.push(Buffer.concat([one, one]))).toHaveLength(2);
    ok.end();
  });

  it('maxFrames: a body of a million empty frames stops at the second header, decoding only one frame', () => {
    const body = Buffer.alloc(5 * 1_000_000); // 1,000,000 empty frames (flags 0, length 0)
    const dec = new FrameDecoder(100, 1);
    const error = caught(() => dec.push(body));
    expect(error.reason).toBe('too-many');
  });

  it('property: byte-at-a-time decoding', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (msgs) => {
        const input = Buffer.concat(msgs.map((m) => frame(0, Buffer.from(m))));
        const parts = [...input].map((b) => Buffer.from([b]));
        const frames = decodeAll(new FrameDecoder(100), parts);
        expect(frames.map((f) => [...f.data])).toEqual(msgs.map((m) => [...m]));
      }),
      { numRuns: 50 },
    );
  });
});

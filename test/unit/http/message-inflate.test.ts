import { status as Status } from '@grpc/grpc-js';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inflateMessage, type MessageRefusal } from '../../../src/http/message-inflate.js';
import type { MessageEncoding } from '../../../src/protocol/index.js';

const inflated = (encoding: MessageEncoding, data: Buffer, max: number) =>
  new Promise<{ refusal: MessageRefusal | null; message: Buffer; heldAtEnd: number }>((resolve) =>
    inflateMessage(encoding, data, max, (refusal, message) => resolve({ refusal, message, heldAtEnd: process.memoryUsage().arrayBuffers })),
  );

describe('inflateMessage', () => {
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const)('%s: gives back the message, up to exactly the limit', async (encoding, compress) => {
    const message = Buffer.from('hello '.repeat(1000));
    const ok = await inflated(encoding, compress(message), message.length);
    expect(ok.refusal).toBeNull();
    expect(ok.message.equals(message)).toBe(true);
    const over = await inflated(encoding, compress(message), message.length - 1);
    expect(over.refusal).toMatchObject({ code: Status.RESOURCE_EXHAUSTED, reason: 'too_large' });
  });

  it('a decompression bomb stops at the limit: the memory held never nears what it would inflate to', async () => {
    // 256 MiB of zeros in about 256 KiB of gzip.
    const bomb = gzipSync(Buffer.alloc(256 << 20));
    const before = process.memoryUsage().arrayBuffers;
    const result = await inflated('gzip', bomb, 1 << 20);
    expect(result.refusal).toMatchObject({ code: Status.RESOURCE_EXHAUSTED, reason: 'too_large' });
    expect(result.refusal!.message).toBe('request message decompresses to more than the limit of 1048576 bytes');
    // Measured in the callback, before any garbage collection could hide a grown buffer.
    expect(result.heldAtEnd - before).toBeLessThan(16 << 20);
  });

  it('corrupt or truncated data, or the other format, is INTERNAL and names no internals', async () => {
    const gz = gzipSync(Buffer.from('x'.repeat(100)));
    for (const [encoding, data] of [
      ['gzip', Buffer.from('not gzip at all')],
      ['gzip', gz.subarray(0, gz.length - 6)],
      ['deflate', gz],
      ['gzip', Buffer.alloc(0)],
    ] as const) {
      const result = await inflated(encoding, data, 1 << 20);
      expect(result.refusal).toEqual({ code: Status.INTERNAL, message: `request message is not valid ${encoding} data`, reason: 'malformed_request' });
    }
  });
});

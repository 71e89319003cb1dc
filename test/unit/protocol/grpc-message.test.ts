import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeGrpcMessage, encodeGrpcMessage } from '../../../src/protocol/grpc-message.js';

/** Any code point but a lone surrogate (fast-check's own 'binary' unit is slow to warm up). */
const codePoint = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0x10ffff }))
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c));

describe('encodeGrpcMessage', () => {
  it('returns plain printable ASCII unchanged (same string)', () => {
    const s = 'not found: user 42 [x] ~!';
    expect(encodeGrpcMessage(s)).toBe(s);
    expect(encodeGrpcMessage('')).toBe('');
  });

  it('percent-encodes %, controls and UTF-8 bytes with upper-case hex', () => {
    expect(encodeGrpcMessage('100%')).toBe('100%25');
    expect(encodeGrpcMessage('a\r\nb\t')).toBe('a%0D%0Ab%09');
    expect(encodeGrpcMessage('\x7f')).toBe('%7F');
    expect(encodeGrpcMessage('café')).toBe('caf%C3%A9');
    expect(encodeGrpcMessage('🚀')).toBe('%F0%9F%9A%80');
    // the example of PROTOCOL-HTTP2.md's spirit: only the non-ASCII part changes
    expect(encodeGrpcMessage('ok → done')).toBe('ok %E2%86%92 done');
  });

  it('encodes leading and trailing spaces, which header parsers would trim', () => {
    expect(encodeGrpcMessage(' a b  ')).toBe('%20a b%20%20');
    expect(encodeGrpcMessage('   ')).toBe('%20%20%20');
    expect(encodeGrpcMessage('a b')).toBe('a b');
  });

  it('replaces lone surrogates with U+FFFD (not representable in UTF-8)', () => {
    expect(encodeGrpcMessage('a\ud800')).toBe('a%EF%BF%BD');
  });
});

describe('decodeGrpcMessage', () => {
  it('returns strings without % unchanged', () => {
    expect(decodeGrpcMessage('plain text')).toBe('plain text');
  });

  it('decodes %XX sequences, either hex case, as UTF-8', () => {
    expect(decodeGrpcMessage('caf%C3%A9')).toBe('café');
    expect(decodeGrpcMessage('caf%c3%a9')).toBe('café');
    expect(decodeGrpcMessage('100%25')).toBe('100%');
    expect(decodeGrpcMessage('%F0%9F%9A%80!')).toBe('🚀!');
  });

  it('leaves invalid % sequences as they are', () => {
    expect(decodeGrpcMessage('100%')).toBe('100%');
    expect(decodeGrpcMessage('%4')).toBe('%4');
    expect(decodeGrpcMessage('%zz%41')).toBe('%zzA');
    expect(decodeGrpcMessage('é%41')).toBe('éA');
  });

  it('returns the raw input when the decoded bytes are not UTF-8', () => {
    expect(decodeGrpcMessage('bad %FF byte')).toBe('bad %FF byte');
  });

  it('property: decode(encode(s)) === s for any unicode string', () => {
    fc.assert(
      fc.property(fc.string({ unit: codePoint, maxLength: 40 }), (s) => {
        const encoded = encodeGrpcMessage(s);
        expect(encoded).toMatch(/^([\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?)?$/);
        expect(decodeGrpcMessage(encoded)).toBe(s);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 8 }), (s) => {
        expect(decodeGrpcMessage(encodeGrpcMessage(s))).toBe(s);
      }),
      { numRuns: 200 },
    );
  });

  it('property: decoding never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 30 }), (s) => {
        decodeGrpcMessage(s);
      }),
      { numRuns: 200 },
    );
  });
});

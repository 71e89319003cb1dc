import { describe, expect, it } from 'vitest';
import { ACCEPTED_ENCODINGS, compressedMessageRule } from '../../../src/protocol/index.js';

describe('compressedMessageRule (grpc-encoding of a call whose message has the Compressed-Flag)', () => {
  it('gzip and deflate are inflated, whatever their case and surrounding blanks', () => {
    expect(compressedMessageRule('gzip')).toBe('gzip');
    expect(compressedMessageRule('deflate')).toBe('deflate');
    expect(compressedMessageRule(' GZip ')).toBe('gzip');
  });

  it('no grpc-encoding, an empty one, or identity with the flag set is an ill-constructed message (INTERNAL)', () => {
    expect(compressedMessageRule(undefined)).toBe('missing');
    expect(compressedMessageRule('')).toBe('missing');
    expect(compressedMessageRule('identity')).toBe('missing');
  });

  it('any other encoding, or the header repeated, is unsupported (UNIMPLEMENTED)', () => {
    expect(compressedMessageRule('br')).toBe('unsupported');
    expect(compressedMessageRule('snappy')).toBe('unsupported');
    expect(compressedMessageRule('gzip,deflate')).toBe('unsupported');
    expect(compressedMessageRule(['gzip', 'gzip'])).toBe('unsupported');
  });

  it('what the gateway advertises is what it inflates', () => {
    for (const name of ACCEPTED_ENCODINGS.split(',')) expect(compressedMessageRule(name)).not.toBe('unsupported');
  });
});

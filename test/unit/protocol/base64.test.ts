import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Base64Decoder, Base64Error, encodeBase64 } from '../../../src/protocol/base64.js';

function decode(...pieces: string[]): string {
  const dec = new Base64Decoder();
  const out = pieces.map((p) => dec.push(Buffer.from(p, 'latin1')));
  out.push(dec.end());
  return Buffer.concat(out).toString('latin1');
}

function splitAt(s: string, points: number[]): string[] {
  const cuts = [...new Set(points.map((p) => p % (s.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let prev = 0;
  for (const c of cuts) {
    parts.push(s.slice(prev, c));
    prev = c;
  }
  parts.push(s.slice(prev));
  return parts;
}

describe('Base64Decoder', () => {
  it('decodes standard padded base64', () => {
    expect(decode('aGVsbG8=')).toBe('hello');
    expect(decode('aGVsbA==')).toBe('hell');
    expect(decode('aGVs')).toBe('hel');
    expect(decode('')).toBe('');
  });

  it('accepts padding in the middle (independently padded chunks)', () => {
    expect(decode('aA==aGk=aGVs')).toBe('hhihel');
    expect(decode('aA==', 'aA==')).toBe('hh');
  });

  it('returns bytes as soon as a group completes', () => {
    const dec = new Base64Decoder();
    expect(dec.push(Buffer.from('aG')).length).toBe(0);
    expect(dec.push(Buffer.from('Vs')).toString()).toBe('hel');
    expect(dec.push(Buffer.from('bA=')).toString()).toBe('l');
    expect(dec.push(Buffer.from('=')).length).toBe(0);
    expect(dec.end().length).toBe(0);
  });

  it('ignores CR, LF, space and tab anywhere', () => {
    expect(decode('aG\r\nVs\tbG 8\n=')).toBe('hello');
    expect(decode('aGVsbA=\r\n=')).toBe('hell');
  });

  it('accepts the URL-safe alphabet', () => {
    expect(decode('-_-_')).toBe(Buffer.from([0xfb, 0xff, 0xbf]).toString('latin1'));
    expect(decode('+/+/')).toBe(decode('-_-_'));
  });

  it('accepts an unpadded tail of 2 or 3 characters at the end', () => {
    expect(decode('aGVsbA')).toBe('hell');
    expect(decode('aGVsbG8')).toBe('hello');
    expect(decode('aA==aGk')).toBe('hhi');
  });

  it.each([
    ['invalid character', 'aGV*'],
    ['invalid character (non-ASCII)', 'aGV\u00e9'],
    ['dot', 'aG.s'],
    ['padding first in group', '=AAA'],
    ['padding after complete group', 'AAAA='],
    ['padding second in group', 'A==='],
    ['data after first padding', 'AA=A'],
  ])('rejects %s', (_what, input) => {
    expect(() => decode(input)).toThrow(Base64Error);
  });

  it.each([
    ['a single character', 'AAAAA'],
    ['between the two padding characters', 'AA='],
  ])('end() rejects input ending after %s', (_what, input) => {
    const dec = new Base64Decoder();
    dec.push(Buffer.from(input));
    expect(() => dec.end()).toThrow(Base64Error);
  });

  it('error messages carry the offset', () => {
    const dec = new Base64Decoder();
    dec.push(Buffer.from('AAAA'));
    expect(() => dec.push(Buffer.from('AA!A'))).toThrow(/offset 6/);
  });

  it('property: independently padded chunks, split anywhere, decode to the concatenation', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (messages, points) => {
          const text = messages.map((m) => Buffer.from(m).toString('base64')).join('');
          const dec = new Base64Decoder();
          const out = splitAt(text, points).map((p) => dec.push(Buffer.from(p, 'latin1')));
          out.push(dec.end());
          expect(Buffer.concat(out).toString('hex')).toBe(Buffer.concat(messages).toString('hex'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: one base64 string (padded or not, url-safe or not) split anywhere', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        (bytes, urlSafe, points) => {
          const text = Buffer.from(bytes).toString(urlSafe ? 'base64url' : 'base64');
          expect(decode(...splitAt(text, points))).toBe(Buffer.from(bytes).toString('latin1'));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('encodeBase64', () => {
  it('produces padded standard base64', () => {
    expect(encodeBase64(Buffer.from('hell')).toString()).toBe('aGVsbA==');
    expect(encodeBase64(Buffer.from([0xfb, 0xff])).toString()).toBe('+/8=');
    expect(encodeBase64(Buffer.alloc(0)).length).toBe(0);
  });

  it('property: round-trips through the decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const dec = new Base64Decoder();
        const out = Buffer.concat([dec.push(encodeBase64(Buffer.from(bytes))), dec.end()]);
        expect(out.equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

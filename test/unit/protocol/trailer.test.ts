import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAG_TRAILER } from '../../../src/protocol/frame.js';
import { decodeGrpcMessage } from '../../../src/protocol/grpc-message.js';
import { encodeTrailerFrame, parseTrailerBlock } from '../../../src/protocol/trailer.js';

function body(frame: Buffer): string {
  expect(frame[0]).toBe(FLAG_TRAILER);
  expect(frame.readUInt32BE(1)).toBe(frame.length - 5);
  return frame.subarray(5).toString('utf8');
}

describe('encodeTrailerFrame', () => {
  it('OK with no message and no metadata', () => {
    expect(body(encodeTrailerFrame(0, '', {}))).toBe('grpc-status: 0\r\n');
  });

  it('status, percent-encoded message, then metadata in order, one line per value', () => {
    const frame = encodeTrailerFrame(5, 'not found: café 100%', {
      'x-one': 'a',
      'X-Many': ['b', 'c'],
      'x-bin-bin': 'AAEC',
      skipped: undefined,
    });
    expect(body(frame)).toBe(
      'grpc-status: 5\r\n' +
        'grpc-message: not found: caf%C3%A9 100%25\r\n' +
        'x-one: a\r\n' +
        'x-many: b\r\n' +
        'x-many: c\r\n' +
        'x-bin-bin: AAEC\r\n',
    );
  });

  it('handles non-canonical codes', () => {
    expect(body(encodeTrailerFrame(42, '', {}))).toBe('grpc-status: 42\r\n');
  });

  it('drops pseudo-headers, duplicate status fields and values that would inject lines', () => {
    const frame = encodeTrailerFrame(0, '', {
      ':status': '200',
      'grpc-status': '13',
      'grpc-message': 'x',
      'x-evil': 'a\r\ngrpc-status: 0',
      'x-nul': 'a\0b',
      'x-list': ['ok', 'bad\n'],
    });
    expect(body(frame)).toBe('grpc-status: 0\r\nx-list: ok\r\n');
  });

  it('drops the names the gateway owns, as in the headers of a trailers-only answer', () => {
    const frame = encodeTrailerFrame(0, '', {
      'access-control-allow-origin': 'https://evil.example',
      vary: 'origin',
      'content-type': 'text/html',
      'grpc-encoding': 'gzip',
      'set-cookie': 'a=b',
    });
    expect(body(frame)).toBe('grpc-status: 0\r\nset-cookie: a=b\r\n');
  });

  it('round-trips through parseTrailerBlock', () => {
    const frame = encodeTrailerFrame(3, 'bad\r\narg', { 'x-a': ['1', '2'], 'x-b': '' });
    const parsed = parseTrailerBlock(frame.subarray(5));
    expect([...parsed]).toEqual([
      ['grpc-status', ['3']],
      ['grpc-message', ['bad%0D%0Aarg']],
      ['x-a', ['1', '2']],
      ['x-b', ['']],
    ]);
    expect(decodeGrpcMessage(parsed.get('grpc-message')![0]!)).toBe('bad\r\narg');
  });

  it('property: any message and ASCII metadata round-trip', () => {
    const name = fc.stringMatching(/^x-[a-z0-9_.-]{1,10}$/);
    const value = fc.stringMatching(/^[!-~]([ -~]{0,10}[!-~])?$/);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 16 }),
        fc.string({ maxLength: 30 }),
        fc.dictionary(name, fc.array(value, { minLength: 1, maxLength: 3 }), { maxKeys: 4 }),
        (code, message, metadata) => {
          const parsed = parseTrailerBlock(encodeTrailerFrame(code, message, metadata).subarray(5));
          expect(parsed.get('grpc-status')).toEqual([String(code)]);
          expect(decodeGrpcMessage(parsed.get('grpc-message')?.[0] ?? '')).toBe(message);
          for (const [k, v] of Object.entries(metadata)) expect(parsed.get(k)).toEqual(v);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('parseTrailerBlock', () => {
  it('lower-cases names, trims whitespace, accepts bare LF and no space, skips junk lines', () => {
    const parsed = parseTrailerBlock(Buffer.from('Grpc-Status:0\nGRPC-MESSAGE :  hi there \r\n\r\njunk\r\n: x\r\nx-a: 1\r\nX-A: 2'));
    expect([...parsed]).toEqual([
      ['grpc-status', ['0']],
      ['grpc-message', ['hi there']],
      ['x-a', ['1', '2']],
    ]);
  });

  it('empty body → empty map', () => {
    expect(parseTrailerBlock(Buffer.alloc(0)).size).toBe(0);
  });
});

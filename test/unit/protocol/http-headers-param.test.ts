import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeaderError } from '../../../src/protocol/headers.js';
import { parseHttpHeadersParam } from '../../../src/protocol/http-headers-param.js';

/** What goog.net.rpc.HttpCors.generateHttpHeadersOverwriteParam builds. */
function generate(headers: Record<string, string>): string {
  let result = '';
  for (const [key, value] of Object.entries(headers)) result += key + ':' + value + '\r\n';
  return result;
}

describe('parseHttpHeadersParam', () => {
  it('parses what the official client sends', () => {
    const param = generate({
      'Content-Type': 'application/grpc-web-text',
      'X-User-Agent': 'grpc-web-javascript/0.1',
      'X-Grpc-Web': '1',
      'grpc-timeout': '999m',
      authorization: 'Bearer a:b',
    });
    expect(parseHttpHeadersParam(param)).toEqual([
      ['content-type', 'application/grpc-web-text'],
      ['x-user-agent', 'grpc-web-javascript/0.1'],
      ['x-grpc-web', '1'],
      ['grpc-timeout', '999m'],
      ['authorization', 'Bearer a:b'],
    ]);
  });

  it('matches the closure library test vector once URL-decoded', () => {
    expect(parseHttpHeadersParam(decodeURIComponent('foo%3Abar%0D%0A'))).toEqual([['foo', 'bar']]);
  });

  it('trims values, accepts bare LF, no final newline, empty values and empty lines', () => {
    expect(parseHttpHeadersParam('a:  1 \r\n\r\nb:\t2\nc:')).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', ''],
    ]);
    expect(parseHttpHeadersParam('')).toEqual([]);
  });

  it.each([
    ['no colon', 'foo bar\r\n'],
    ['empty name', ':x\r\n'],
    ['space in name', 'fo o:x\r\n'],
    ['space before colon', 'foo :x\r\n'],
    ['non-ASCII name', 'fé:x\r\n'],
    ['control character in value', 'foo:a\u0000b\r\n'],
    ['lone CR in value', 'foo:a\rb\r\n'],
  ])('rejects %s', (_what, value) => {
    expect(() => parseHttpHeadersParam(value)).toThrow(HeaderError);
  });

  it('accepts 100 headers and rejects 101', () => {
    const hundred: Record<string, string> = {};
    for (let i = 0; i < 100; i++) hundred[`x-h${i}`] = String(i);
    expect(parseHttpHeadersParam(generate(hundred))).toHaveLength(100);
    expect(() => parseHttpHeadersParam(generate({ ...hundred, 'x-one-more': '1' }))).toThrow(HeaderError);
  });

  it('property: round-trips generated headers', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
    const value = fc.stringMatching(/^([!-~]([ -~]{0,10}[!-~])?)?$/);
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 10 }), (headers) => {
        expect(parseHttpHeadersParam(generate(headers))).toEqual(
          Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]),
        );
      }),
      { numRuns: 100 },
    );
  });
});

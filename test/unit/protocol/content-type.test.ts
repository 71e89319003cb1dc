import { describe, expect, it } from 'vitest';
import { parseContentType, parseWebContentType } from '../../../src/protocol/content-type.js';

describe('parseWebContentType', () => {
  it.each([
    ['application/grpc-web', 'binary', 'proto', 'application/grpc-web'],
    ['application/grpc-web+proto', 'binary', 'proto', 'application/grpc-web+proto'],
    ['application/grpc-web+json', 'binary', 'json', 'application/grpc-web+json'],
    ['application/grpc-web-text', 'text', 'proto', 'application/grpc-web-text'],
    ['application/grpc-web-text+proto', 'text', 'proto', 'application/grpc-web-text+proto'],
    ['Application/GRPC-Web-Text+Proto', 'text', 'proto', 'application/grpc-web-text+proto'],
    ['  application/grpc-web+proto ; charset=utf-8', 'binary', 'proto', 'application/grpc-web+proto'],
    ['application/grpc-web-text;charset=UTF-8', 'text', 'proto', 'application/grpc-web-text'],
    ['application/grpc-web+JSON; x=y', 'binary', 'json', 'application/grpc-web+json'],
    ['application/grpc-web-text+thrift', 'text', 'thrift', 'application/grpc-web-text+thrift'],
  ])('%s', (value, mode, codec, response) => {
    expect(parseWebContentType(value)).toEqual({ mode, codec, response });
  });

  it.each([
    undefined,
    '',
    'application/grpc',
    'application/grpc+proto',
    'text/plain',
    'application/json',
    'application/grpc-webx',
    'application/grpc-web+',
    'application/grpc-web-text+',
    'application/grpc-web+pro to',
    'application/grpc-web+é',
    'application/grpc-web-textual',
    'x-application/grpc-web',
  ])('rejects %j', (value) => {
    expect(parseWebContentType(value)).toBeNull();
  });

  it('returns shared frozen objects for common and repeated types', () => {
    const a = parseWebContentType('application/grpc-web+proto');
    expect(a).toBe(parseWebContentType('application/grpc-web+proto'));
    expect(Object.isFrozen(a)).toBe(true);
    expect(parseWebContentType('application/grpc-web-text; charset=utf-8')).toBe(
      parseWebContentType('application/grpc-web-text'),
    );
    const json = parseWebContentType('application/grpc-web+json');
    expect(json).toBe(parseWebContentType('application/grpc-web+json'));
    expect(Object.isFrozen(json)).toBe(true);
  });

  it('keeps working once the cache is full', () => {
    for (let i = 0; i < 200; i++) {
      expect(parseWebContentType(`application/grpc-web+c${i}`)?.codec).toBe(`c${i}`);
      expect(parseWebContentType(`text/x${i}`)).toBeNull();
    }
  });
});

describe('parseContentType: gRPC-Web and native gRPC', () => {
  it.each([
    ['application/grpc', 'native', 'proto', 'application/grpc'],
    ['application/grpc+proto', 'native', 'proto', 'application/grpc+proto'],
    ['Application/GRPC+JSON; charset=utf-8', 'native', 'json', 'application/grpc+json'],
    ['application/grpc-web+proto', 'binary', 'proto', 'application/grpc-web+proto'],
    ['application/grpc-web-text', 'text', 'proto', 'application/grpc-web-text'],
  ])('%s', (value, mode, codec, response) => {
    expect(parseContentType(value)).toEqual({ mode, codec, response });
  });

  it.each(['application/grpcx', 'application/grpc+', 'application/grpc-foo', 'application/grpc+a b', 'text/plain'])('rejects %j', (value) => {
    expect(parseContentType(value)).toBeNull();
  });

  it('returns shared frozen objects for native types too', () => {
    expect(parseContentType('application/grpc; x=y')).toBe(parseContentType('application/grpc'));
    expect(Object.isFrozen(parseContentType('application/grpc+proto'))).toBe(true);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  connectionListedHeaders,
  decodeBinaryHeader,
  exposeHeadersValue,
  HeaderError,
  isForwardableRequestHeader,
  isForwardableResponseHeader,
  isValidMetadataKey,
  mergeVary,
} from '../../../src/protocol/headers.js';

describe('isForwardableRequestHeader', () => {
  it.each([
    'connection',
    'keep-alive',
    'proxy-connection',
    'proxy-authorization',
    'proxy-anything',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
    'host',
    'content-length',
    'content-type',
    'accept-encoding',
    'user-agent',
    'x-grpc-web',
    'grpc-timeout',
    'grpc-encoding',
    'grpc-accept-encoding',
    ':authority',
    ':path',
  ])('drops %s', (name) => {
    expect(isForwardableRequestHeader(name)).toBe(false);
  });

  it.each(['origin', 'cookie', 'authorization', 'x-user-agent', 'accept', 'referer', 'x-custom-bin', 'grpcfoo', 'protocol'])(
    'forwards %s',
    (name) => {
      expect(isForwardableRequestHeader(name)).toBe(true);
    },
  );
});

describe('isValidMetadataKey', () => {
  it('accepts gRPC metadata key characters only', () => {
    expect(isValidMetadataKey('x-a_b.c-9')).toBe(true);
    expect(isValidMetadataKey('')).toBe(false);
    expect(isValidMetadataKey('X-Upper')).toBe(false);
    expect(isValidMetadataKey('x!y')).toBe(false);
    expect(isValidMetadataKey('x~y')).toBe(false);
    expect(isValidMetadataKey('é')).toBe(false);
  });
});

describe('isForwardableResponseHeader', () => {
  it.each([
    'connection',
    'keep-alive',
    'transfer-encoding',
    'content-length',
    'content-type',
    'te',
    'trailer',
    'upgrade',
    ':status',
    'grpc-status',
    'grpc-message',
    'grpc-encoding',
    'grpc-accept-encoding',
    'date',
    'vary',
    'access-control-allow-origin',
    'access-control-allow-credentials',
    'access-control-expose-headers',
    'access-control-max-age',
    'access-control-anything',
  ])('drops %s', (name) => {
    expect(isForwardableResponseHeader(name)).toBe(false);
  });

  it.each(['grpc-status-details-bin', 'x-custom', 'x-trace-bin', 'set-cookie', 'strict-transport-security', 'cache-control', 'access-controller'])(
    'forwards %s',
    (name) => {
      expect(isForwardableResponseHeader(name)).toBe(true);
    },
  );
});

describe('mergeVary', () => {
  it("keeps the gateway's names first and adds the Pod's once each, any case", () => {
    expect(mergeVary('Origin', 'accept-language')).toBe('Origin, accept-language');
    expect(mergeVary('Origin', 'origin, Accept-Language')).toBe('Origin, Accept-Language');
    expect(mergeVary('Origin', ['x-a', 'X-A, x-b'])).toBe('Origin, x-a, x-b');
  });

  it("is the Pod's list when the gateway has none, and never empty entries", () => {
    expect(mergeVary(undefined, 'accept-language')).toBe('accept-language');
    expect(mergeVary(undefined, ' , *')).toBe('*');
    expect(mergeVary('Origin', '')).toBe('Origin');
  });
});

describe('exposeHeadersValue', () => {
  it('always lists the gRPC status headers', () => {
    expect(exposeHeadersValue([])).toBe('grpc-status,grpc-message,grpc-status-details-bin');
  });

  it('appends metadata names once each', () => {
    expect(exposeHeadersValue(['x-a', 'grpc-status', 'x-b', 'x-a'])).toBe(
      'grpc-status,grpc-message,grpc-status-details-bin,x-a,x-b',
    );
    expect(exposeHeadersValue(new Set(['x-c']).keys())).toBe('grpc-status,grpc-message,grpc-status-details-bin,x-c');
  });
});

describe('connectionListedHeaders', () => {
  it('null for absent, empty, or only standard hop-by-hop names', () => {
    expect(connectionListedHeaders(undefined)).toBeNull();
    expect(connectionListedHeaders('')).toBeNull();
    expect(connectionListedHeaders('keep-alive')).toBeNull();
    expect(connectionListedHeaders('Keep-Alive')).toBeNull();
    expect(connectionListedHeaders('close')).toBeNull();
    expect(connectionListedHeaders('Upgrade, keep-alive , ')).toBeNull();
  });

  it('returns the extra names, lower-cased and trimmed', () => {
    expect(connectionListedHeaders('keep-alive, X-Foo ,x-bar')).toEqual(new Set(['x-foo', 'x-bar']));
  });
});

describe('decodeBinaryHeader', () => {
  it('decodes standard and URL-safe, padded or not', () => {
    expect(decodeBinaryHeader('AAEC')).toEqual([Buffer.from([0, 1, 2])]);
    expect(decodeBinaryHeader('+/8=')).toEqual([Buffer.from([0xfb, 0xff])]);
    expect(decodeBinaryHeader('-_8')).toEqual([Buffer.from([0xfb, 0xff])]);
    expect(decodeBinaryHeader('AA==')).toEqual([Buffer.from([0])]);
    expect(decodeBinaryHeader('AA')).toEqual([Buffer.from([0])]);
    expect(decodeBinaryHeader('')).toEqual([Buffer.alloc(0)]);
  });

  it('splits comma-joined values and trims them', () => {
    expect(decodeBinaryHeader('AAEC, AA==,AQ')).toEqual([Buffer.from([0, 1, 2]), Buffer.from([0]), Buffer.from([1])]);
  });

  it.each(['AA*A', 'A', 'AAAAA', 'AA=', 'A===', 'AA=A', '=', 'AA==AA', 'AAA==', 'é'])('rejects %j', (value) => {
    expect(() => decodeBinaryHeader(value)).toThrow(HeaderError);
  });

  it('property: round-trips any bytes in every base64 flavour', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.constantFrom('std', 'url', 'unpadded'), (bytes, flavour) => {
        const b = Buffer.from(bytes);
        const text =
          flavour === 'url'
            ? b.toString('base64url')
            : flavour === 'unpadded'
              ? b.toString('base64').replace(/=+$/, '')
              : b.toString('base64');
        expect(decodeBinaryHeader(text)).toEqual([b]);
      }),
      { numRuns: 200 },
    );
  });
});

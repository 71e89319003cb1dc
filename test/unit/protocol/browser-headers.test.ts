import { describe, expect, it } from 'vitest';
import {
  isBrowserOwnedHeader,
  isForwardingHeader,
  isSameOriginRequest,
} from '../../../src/protocol/browser-headers.js';

// The Fetch standard's forbidden request-header names, as the standard lists them, then its prefixes.
const FETCH_FORBIDDEN =
  'Accept-Charset, Accept-Encoding, Access-Control-Request-Headers, Access-Control-Request-Method, Connection, Content-Length, Cookie, Cookie2, Date, DNT, Expect, Host, Keep-Alive, Origin, Referer, Set-Cookie, TE, Trailer, Transfer-Encoding, Upgrade, Via, User-Agent';

describe('isBrowserOwnedHeader', () => {
  it.each([
    ...FETCH_FORBIDDEN.toLowerCase().split(', '),
    'proxy-authorization',
    'proxy-anything',
    'sec-fetch-site',
    'sec-ch-ua',
    // and the forwarding headers
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'forwarded',
    'x-real-ip',
  ])('%s is the browser’s (or a trusted proxy’s)', (name) => {
    expect(isBrowserOwnedHeader(name)).toBe(true);
  });

  it.each(['authorization', 'content-type', 'grpc-timeout', 'x-grpc-web', 'x-user-agent', 'x-custom-bin', 'accept', 'security', 'proxyish', 'x-forwarded'])(
    '%s may come from the page’s script',
    (name) => {
      expect(isBrowserOwnedHeader(name)).toBe(false);
    },
  );
});

describe('isForwardingHeader', () => {
  it('x-forwarded-*, forwarded and x-real-ip, nothing else', () => {
    for (const name of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip']) {
      expect(isForwardingHeader(name)).toBe(true);
    }
    for (const name of ['x-forwarded', 'forwarded-for', 'x-real-ipv6', 'via', 'origin']) expect(isForwardingHeader(name)).toBe(false);
  });
});

describe('isSameOriginRequest', () => {
  it('believes Sec-Fetch-Site when the browser sends it', () => {
    expect(isSameOriginRequest('https://api.example.com', 'api.example.com', 'same-origin')).toBe(true);
    expect(isSameOriginRequest('https://app.example.com', 'api.example.com', 'same-origin')).toBe(true);
    expect(isSameOriginRequest('https://app.example.com', 'api.example.com', 'none')).toBe(true);
    expect(isSameOriginRequest('https://api.example.com', 'api.example.com', 'same-site')).toBe(false);
    expect(isSameOriginRequest('https://evil.example', 'api.example.com', 'cross-site')).toBe(false);
  });

  it('otherwise compares the Origin’s host and port with Host, whatever the scheme', () => {
    expect(isSameOriginRequest('https://api.example.com', 'api.example.com', undefined)).toBe(true);
    expect(isSameOriginRequest('http://127.0.0.1:8080', '127.0.0.1:8080', undefined)).toBe(true);
    expect(isSameOriginRequest('http://127.0.0.1:8081', '127.0.0.1:8080', undefined)).toBe(false);
    expect(isSameOriginRequest('https://evil-api.example.com', 'api.example.com', undefined)).toBe(false);
    expect(isSameOriginRequest('https://api.example.com.evil.net', 'api.example.com', undefined)).toBe(false);
    expect(isSameOriginRequest('null', 'null', undefined)).toBe(false);
    expect(isSameOriginRequest('https://api.example.com', undefined, undefined)).toBe(false);
    expect(isSameOriginRequest('https://', '', undefined)).toBe(false);
  });
});

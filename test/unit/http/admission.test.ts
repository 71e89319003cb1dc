// Admission: every decision made on a request's headers, without a server or a Pod.
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { CorsConfig } from '../../../src/config/types.js';
import { admit, type AdmissionContext, type AdmissionRequest, type AdmittedCall, type AdmissionRefusal } from '../../../src/http/admission.js';
import { compileTrustProxy } from '../../../src/http/forwarding.js';
import { Router } from '../../../src/upstream/router.js';
import type { Upstream } from '../../../src/upstream/types.js';

const upstream = (name: string): Upstream =>
  ({ name, call: () => ({ requestNext() {}, cancel() {} }) }) as unknown as Upstream;
const ECHO = upstream('echo');
const DEFAULT = upstream('default');

function context(o: { cors?: Partial<CorsConfig>; fallback?: boolean; maxCallDurationMs?: number } = {}): AdmissionContext {
  return {
    cors: { allowOrigins: ['*'], allowCredentials: false, maxAgeSeconds: 0, allowHeaders: [], exposeHeaders: [], ...o.cors },
    limits: { maxHeadersCount: 20, maxCallDurationMs: o.maxCallDurationMs ?? 0 },
    router: new Router([{ prefix: '/echo.v1.EchoService/', upstream: ECHO }], o.fallback === false ? null : DEFAULT),
    trust: compileTrustProxy(false),
  };
}

const debugLines: string[] = [];
function request(headers: Record<string, string>, url = '/echo.v1.EchoService/Echo', headerCount?: number, httpVersion = '1.1'): AdmissionRequest {
  return {
    headers,
    headerCount: headerCount ?? Object.keys(headers).length,
    url,
    httpVersion,
    peer: '10.0.0.9',
    encrypted: false,
    ips: () => undefined,
    log: { debug: (_fields, message) => debugLines.push(message) },
  };
}

const WEB = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };

function call(r: AdmissionRequest, c = context()): AdmittedCall {
  const verdict = admit(r, c);
  if (!('call' in verdict)) throw new Error(`refused: ${verdict.refusal.message}`);
  return verdict.call;
}
function refusal(r: AdmissionRequest, c = context()): AdmissionRefusal {
  const verdict = admit(r, c);
  if (!('refusal' in verdict)) throw new Error('admitted');
  return verdict.refusal;
}

describe('admit', () => {
  it('admits a gRPC-Web call: route, upstream, deadline, metadata, client', () => {
    const before = Date.now();
    const c = call(request({ ...WEB, 'grpc-timeout': '2S', 'x-tenant': 'a', origin: 'https://app.example' }));
    expect(c).toMatchObject({ method: '/echo.v1.EchoService/Echo', route: '/echo.v1.EchoService/', upstream: ECHO, crossOrigin: true, clientAddress: '10.0.0.9' });
    expect(c.contentType.mode).toBe('binary');
    expect(c.deadline).toBeGreaterThanOrEqual(before + 2000);
    expect(c.deadline).toBeLessThanOrEqual(Date.now() + 2000);
    expect(c.metadata.get('x-tenant')).toEqual(['a']);
    expect(c.metadata.get('x-forwarded-for')).toEqual(['10.0.0.9']);
    expect(c.metadata.get('content-type')).toEqual([]);
    expect(call(request(WEB, '/other.S/M')).upstream).toBe(DEFAULT);
  });

  it('caps the deadline at --max-call-duration', () => {
    const c = call(request(WEB), context({ maxCallDurationMs: 1000 }));
    expect(c.deadline).toBeLessThanOrEqual(Date.now() + 1000);
    expect(call(request(WEB)).deadline).toBe(Infinity);
  });

  it('refuses, with the status, reason and route each refusal is counted under', () => {
    expect(refusal(request(WEB, '/echo.v1.EchoService/Echo', 21))).toMatchObject({
      httpStatus: 200, code: Status.RESOURCE_EXHAUSTED, reason: 'too_many_headers', route: '',
    });
    expect(refusal(request({ 'content-type': 'text/plain' }))).toMatchObject({
      httpStatus: 415, code: Status.INTERNAL, reason: 'unsupported_media_type', contentType: null,
    });
    const noRoute = refusal(request(WEB, '/other.S/M'), context({ fallback: false }));
    expect(noRoute).toMatchObject({ httpStatus: 200, code: Status.UNIMPLEMENTED, reason: 'no_route' });
    expect(noRoute.contentType?.response).toBe('application/grpc-web+proto');
    expect(refusal(request(WEB, '/not-a-grpc-path'))).toMatchObject({ reason: 'no_route' });
    // Percent-encoding (well-formed or not) is no proto name: refused here, before any Pod.
    expect(refusal(request(WEB, '/echo.v1.EchoService/Echo%'))).toMatchObject({ code: Status.UNIMPLEMENTED, reason: 'no_route' });
    expect(refusal(request(WEB, '/echo.v1.Echo%53ervice/Echo'))).toMatchObject({ code: Status.UNIMPLEMENTED, reason: 'no_route' });
    expect(refusal(request({ ...WEB, 'grpc-timeout': 'soon' }))).toMatchObject({
      httpStatus: 400, code: Status.INTERNAL, reason: 'malformed_request', route: '/echo.v1.EchoService/',
    });
    expect(refusal(request({ ...WEB, 'x-bad!': 'v' }))).toMatchObject({ httpStatus: 400, reason: 'malformed_request' });
    expect(refusal(request({ ...WEB, 'x-trace-bin': '!!!' }))).toMatchObject({ httpStatus: 400, reason: 'malformed_request' });
  });

  it('caps how much of a client-chosen path a refusal message carries', () => {
    const long = `/x.S/${'a'.repeat(5000)}`;
    expect(refusal(request(WEB, long), context({ fallback: false })).message.length).toBeLessThan(300);
  });

  describe('$httpHeaders (suppressCorsPreflight)', () => {
    const param = (text: string) => `?$httpHeaders=${encodeURIComponent(text)}`;
    const path = '/echo.v1.EchoService/Echo';

    it('takes the content type, grpc-timeout and metadata from the parameter', () => {
      const c = call(request({ 'content-type': 'text/plain' }, path + param('content-type:application/grpc-web-text\r\nx-grpc-web:1\r\ngrpc-timeout:1S\r\nauthorization:Bearer t\r\n')));
      expect(c.contentType.mode).toBe('text');
      expect(c.deadline).toBeLessThanOrEqual(Date.now() + 1000);
      expect(c.metadata.get('authorization')).toEqual(['Bearer t']);
    });

    it('drops headers a browser owns, and the cookie of a foreign origin without consent', () => {
      debugLines.length = 0;
      const c = call(
        request(
          { 'content-type': 'text/plain', origin: 'https://evil.example', host: 'api.example', cookie: 'session=1' },
          path + param('content-type:application/grpc-web\r\ncookie:smuggled=1\r\norigin:https://api.example\r\nx-forwarded-for:1.2.3.4\r\n'),
        ),
      );
      expect(c.metadata.get('cookie')).toEqual([]);
      expect(c.metadata.get('origin')).toEqual(['https://evil.example']);
      expect(c.metadata.get('x-forwarded-for')).toEqual(['10.0.0.9']);
      expect(debugLines).toContain('$httpHeaders: browser-owned headers dropped');
      expect(debugLines).toContain('credentials not forwarded: no CORS consent for this origin');
    });

    it('refuses a disallowed origin (403) and a malformed parameter (400); a repeated one is no gRPC-Web', () => {
      const listed = context({ cors: { allowOrigins: ['https://app.example'] } });
      expect(refusal(request({ origin: 'https://evil.example' }, path + param('content-type:application/grpc-web\r\n')), listed)).toMatchObject({
        httpStatus: 403, code: Status.PERMISSION_DENIED, reason: 'origin_not_allowed',
      });
      expect(refusal(request({}, path + param('no colon here')))).toMatchObject({ httpStatus: 400, reason: 'malformed_request' });
      const twice = param('content-type:application/grpc-web\r\n') + '&' + param('x:1').slice(1);
      expect(refusal(request({}, path + twice))).toMatchObject({ httpStatus: 415 });
    });
  });

  describe('native gRPC (application/grpc)', () => {
    const NATIVE = { 'content-type': 'application/grpc', te: 'trailers' };
    const h2 = (headers: Record<string, string>) => request(headers, '/echo.v1.EchoService/Echo', undefined, '2.0');

    it('over HTTP/2: admitted with the same route, deadline and metadata rules as gRPC-Web', () => {
      const before = Date.now();
      const c = call(h2({ ...NATIVE, ':path': '/echo.v1.EchoService/Echo', 'grpc-timeout': '1500m', 'grpc-encoding': 'identity', 'x-tenant': 'a', 'trace-bin': 'AAEC' }));
      expect(c).toMatchObject({ method: '/echo.v1.EchoService/Echo', route: '/echo.v1.EchoService/', upstream: ECHO, crossOrigin: false });
      expect(c.contentType).toEqual({ mode: 'native', codec: 'proto', response: 'application/grpc' });
      expect(c.deadline).toBeGreaterThanOrEqual(before + 1500);
      expect(c.deadline).toBeLessThanOrEqual(Date.now() + 1500);
      expect(c.metadata.get('x-tenant')).toEqual(['a']);
      expect(c.metadata.get('trace-bin')).toEqual([Buffer.from([0, 1, 2])]);
      // Pseudo-headers, te and grpc-* are the hop's own: grpc-js writes the upstream ones.
      for (const name of [':path', 'te', 'grpc-timeout', 'grpc-encoding', 'content-type']) expect(c.metadata.get(name)).toEqual([]);
    });

    it('over HTTP/1.1: refused 505 UNIMPLEMENTED, saying what to use instead', () => {
      expect(refusal(request(NATIVE))).toMatchObject({ httpStatus: 505, code: Status.UNIMPLEMENTED, reason: 'needs_http2' });
      expect(refusal(request({ 'content-type': 'application/grpc+json' })).message).toBe(
        'native gRPC (application/grpc+json) needs HTTP/2; over HTTP/1.1 use gRPC-Web (application/grpc-web)',
      );
    });

    it('a browser cannot name it in $httpHeaders: that is gRPC-Web only', () => {
      const url = `/echo.v1.EchoService/Echo?$httpHeaders=${encodeURIComponent('content-type:application/grpc\r\n')}`;
      expect(refusal(request({ 'content-type': 'text/plain' }, url, undefined, '2.0'))).toMatchObject({ httpStatus: 415 });
    });

    it('cookies of a cross-origin request (a browser page) are withheld, as for gRPC-Web', () => {
      const c = call(h2({ ...NATIVE, origin: 'https://evil.example', cookie: 'session=1' }));
      expect(c.metadata.get('cookie')).toEqual([]);
      expect(call(h2({ ...NATIVE, cookie: 'session=1' })).metadata.get('cookie')).toEqual(['session=1']);
    });
  });
});

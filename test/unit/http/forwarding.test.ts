import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { clientView, compileTrustProxy, forwardedChain, type TrustProxyFn } from '../../../src/http/forwarding.js';

describe('compileTrustProxy', () => {
  it('false trusts nobody, true everybody', () => {
    expect(compileTrustProxy(false)).toBeNull();
    expect(compileTrustProxy(true)!('203.0.113.7', 5)).toBe(true);
  });

  it('N trusts the N nearest hops, whatever their address', () => {
    const two = compileTrustProxy(2)!;
    expect([0, 1, 2].map((hop) => two('203.0.113.7', hop))).toEqual([true, true, false]);
  });

  it('addresses, CIDRs and the named ranges, IPv4-mapped IPv6 peers included', () => {
    const trust = compileTrustProxy(['10.0.0.0/8', '192.0.2.1', 'fd00::/8', 'loopback'])!;
    for (const a of ['10.1.2.3', '::ffff:10.1.2.3', '192.0.2.1', 'fd00::1', '127.0.0.1', '::1']) expect(trust(a, 0)).toBe(true);
    for (const a of ['11.0.0.1', '192.0.2.2', 'fe80::1', 'not-an-ip', '']) expect(trust(a, 0)).toBe(false);
    const local = compileTrustProxy(['uniquelocal', 'linklocal'])!;
    for (const a of ['172.16.0.1', '192.168.1.1', 'fc00::1', '169.254.1.1', 'fe80::1']) expect(local(a, 0)).toBe(true);
    expect(local('8.8.8.8', 0)).toBe(false);
  });
});

describe('clientView', () => {
  const noIps = (): readonly string[] | undefined => {
    throw new Error('must not be asked when the peer is not trusted');
  };

  it('untrusted peer: the peer is the client and all the Pod hears about; own scheme', () => {
    expect(clientView('203.0.113.7', false, null, 'https', noIps)).toEqual({
      address: '203.0.113.7',
      forwardedFor: '203.0.113.7',
      forwardedProto: 'http',
      trustedPeer: false,
    });
    const onlyTen = compileTrustProxy(['10.0.0.0/8']);
    expect(clientView('203.0.113.7', true, onlyTen, 'http', noIps)).toMatchObject({ forwardedFor: '203.0.113.7', forwardedProto: 'https', trustedPeer: false });
  });

  it('trusted peer: the chain from the client to the peer, and the nearest proxy’s scheme', () => {
    const view = clientView('10.0.0.2', false, compileTrustProxy(['10.0.0.0/8']), 'http, https', () => ['10.0.0.2', '10.0.0.1', '203.0.113.7']);
    expect(view).toEqual({ address: '203.0.113.7', forwardedFor: '203.0.113.7, 10.0.0.1, 10.0.0.2', forwardedProto: 'https', trustedPeer: true });
  });

  it('a trusted peer that forwarded for nobody is the client itself', () => {
    expect(clientView('10.0.0.2', false, compileTrustProxy(true), undefined, () => ['10.0.0.2'])).toEqual({
      address: '10.0.0.2',
      forwardedFor: '10.0.0.2',
      forwardedProto: 'http',
      trustedPeer: true,
    });
  });

  it('stops the chain at an entry that is no address, and ignores a scheme that is none', () => {
    const view = clientView('10.0.0.2', false, compileTrustProxy(true), 'ht tp', () => ['10.0.0.2', '203.0.113.7:5123', 'é', '198.51.100.1']);
    expect(view).toMatchObject({ address: '203.0.113.7:5123', forwardedFor: '203.0.113.7:5123, 10.0.0.2', forwardedProto: 'http' });
  });

  it('no peer address (socket already gone): nothing to forward for', () => {
    expect(clientView(undefined, false, compileTrustProxy(true), undefined, noIps)).toMatchObject({ address: undefined, forwardedFor: undefined });
  });
});

describe('forwardedChain', () => {
  // What Fastify's request.ips gives for the same predicate, computed by the library it uses.
  const fastifyIps = createRequire(import.meta.url)('@fastify/proxy-addr').all as (req: object, trust: TrustProxyFn) => string[];
  const cases: Array<[string, string | undefined]> = [
    ['10.0.0.1', undefined],
    ['10.0.0.1', ''],
    ['10.0.0.1', '203.0.113.7'],
    ['10.0.0.1', ' 203.0.113.7 '],
    ['10.0.0.1', '198.51.100.9, 203.0.113.7'],
    ['10.0.0.1', '198.51.100.9,10.0.0.2, 10.0.0.3'],
    ['10.0.0.1', '1.1.1.1,,  ,10.0.0.2'],
    ['10.0.0.1', 'garbage, 10.0.0.2'],
    ['192.0.2.1', '10.0.0.2'],
    ['::ffff:10.0.0.1', '2001:db8::1, 10.0.0.2'],
  ];
  const predicates: Array<[string, TrustProxyFn]> = [
    ['10.0.0.0/8', compileTrustProxy(['10.0.0.0/8'])!],
    ['2 hops', compileTrustProxy(2)!],
    ['everybody', compileTrustProxy(true)!],
  ];

  it('is request.ips: the peer, then x-forwarded-for from the nearest up to the first address not trusted', () => {
    for (const [name, trust] of predicates) {
      for (const [peer, header] of cases) {
        const req = { headers: header === undefined ? {} : { 'x-forwarded-for': header }, socket: { remoteAddress: peer } };
        expect({ name, peer, header, chain: forwardedChain(peer, header, trust) }).toEqual({ name, peer, header, chain: fastifyIps(req, trust) });
      }
    }
  });

  it('undefined when nobody is trusted, as request.ips is then', () => {
    expect(forwardedChain('10.0.0.1', '203.0.113.7', null)).toBeUndefined();
  });
});

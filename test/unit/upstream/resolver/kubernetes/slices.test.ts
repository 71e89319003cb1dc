import { describe, expect, it } from 'vitest';
import { endpointRole, joinSlices, slicePort, type EndpointSlice } from '../../../../../src/upstream/resolver/kubernetes/index.js';

const slice = (name: string, endpoints: EndpointSlice['endpoints'], o: Partial<EndpointSlice> = {}): EndpointSlice => ({
  metadata: { name, labels: { 'kubernetes.io/service-name': 'echo' } },
  addressType: 'IPv4',
  ports: [{ name: 'grpc', port: 50051, protocol: 'TCP' }],
  endpoints,
  ...o,
});

describe('endpointRole (the API rules for conditions)', () => {
  it.each([
    [{ ready: true }, 'rotation'],
    [{}, 'rotation'], // a missing ready means ready
    [{ ready: null, serving: null, terminating: null }, 'rotation'],
    [{ ready: false, serving: true, terminating: true }, 'draining'],
    [{ ready: false, terminating: true }, 'gone'], // a missing serving falls back to ready (false)
    [{ ready: false, serving: false, terminating: true }, 'gone'],
    [{ ready: false, serving: false, terminating: false }, 'gone'],
    [{ ready: false }, 'gone'],
  ] as const)('%j → %s', (conditions, role) => {
    expect(endpointRole({ addresses: ['10.0.0.1'], conditions })).toBe(role);
  });
});

describe('slicePort', () => {
  it('uses a number as given and looks a name up in the slice (TCP only)', () => {
    const s = slice('a', [], { ports: [{ name: 'grpc', port: 8443, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] });
    expect(slicePort(s, 50051)).toBe(50051);
    expect(slicePort(s, 'grpc')).toBe(8443);
    expect(slicePort(s, 'dns')).toBeUndefined();
    expect(slicePort(s, 'http')).toBeUndefined();
  });
});

describe('joinSlices', () => {
  it('joins every slice of the Service, resolving a named port per slice', () => {
    const a = slice('echo-a', [{ addresses: ['10.0.0.1'], zone: 'z1' }], { ports: [{ name: 'grpc', port: 50051 }] });
    const b = slice('echo-b', [{ addresses: ['10.0.0.2'] }], { ports: [{ name: 'grpc', port: 9000 }] });
    const c = slice('echo-c', [{ addresses: ['10.0.0.3'] }], { ports: [{ name: 'metrics', port: 9090 }] });
    expect(joinSlices([a, b, c], 'grpc')).toEqual([
      { host: '10.0.0.1', port: 50051, zone: 'z1' },
      { host: '10.0.0.2', port: 9000 },
    ]);
    expect(joinSlices([a, b, c], 7000).map((x) => `${x.host}:${x.port}`)).toEqual(['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000']);
  });

  it('marks serving+terminating endpoints draining and leaves out the ones not serving', () => {
    const s = slice('echo-a', [
      { addresses: ['10.0.0.1'], conditions: { ready: true, serving: true, terminating: false } },
      { addresses: ['10.0.0.2'], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['10.0.0.3'], conditions: { ready: false, serving: false, terminating: true } },
      { addresses: ['10.0.0.4'], conditions: { ready: false, serving: false, terminating: false } },
    ]);
    expect(joinSlices([s], 'grpc')).toEqual([
      { host: '10.0.0.1', port: 50051 },
      { host: '10.0.0.2', port: 50051, draining: true },
    ]);
  });

  it('a Pod listed in two slices (moving between them) is in rotation if either says so', () => {
    const old = slice('echo-a', [{ addresses: ['10.0.0.1'], conditions: { ready: false, serving: true, terminating: true } }]);
    const fresh = slice('echo-b', [{ addresses: ['10.0.0.1'], conditions: { ready: true } }]);
    expect(joinSlices([old, fresh], 'grpc')).toEqual([{ host: '10.0.0.1', port: 50051 }]);
    expect(joinSlices([fresh, old], 'grpc')).toEqual([{ host: '10.0.0.1', port: 50051 }]);
  });

  it('uses IP slices only, the first address of each endpoint, and skips what is not an IP', () => {
    const v6 = slice('echo-v6', [{ addresses: ['fd00::1', 'fd00::2'] }], { addressType: 'IPv6' });
    const fqdn = slice('echo-fqdn', [{ addresses: ['pod.example.com'] }], { addressType: 'FQDN' });
    const junk = slice('echo-junk', [{ addresses: ['not-an-ip'] }, { addresses: [] }, {}]);
    expect(joinSlices([v6, fqdn, junk], 'grpc')).toEqual([{ host: 'fd00::1', port: 50051 }]);
  });
});

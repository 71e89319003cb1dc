import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  isDnsName,
  MAX_DURATION_MS,
  parseByteSize,
  parseDuration,
  parseHeaderName,
  parseHostPort,
  parseOrigin,
  parseRoute,
  parseTarget,
  parseTrustProxy,
} from '../../../src/config/index.js';

const oneLine = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a throw');
};

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0', 0],
    ['0s', 0],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.1s', 1100],
    ['0.25h', 900_000],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['5', '500', '5x', '', 's', '-1s', '1.5ms', '5 s', '5S', '1s2', 'abc', '1000h'])('rejects %j', (text) => {
    expect(oneLine(() => parseDuration(text))).toMatch(/duration|unit|negative|millisecond|too long/);
  });

  it('explains a bare number and a bad unit', () => {
    expect(oneLine(() => parseDuration('5x'))).toBe("'5x' is not a duration (use e.g. 500ms, 5s, 1m)");
    expect(oneLine(() => parseDuration('500'))).toContain('has no unit');
  });

  it('round-trips through formatDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_DURATION_MS }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it('reads n<unit> as n times the unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.constantFrom(['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000]), (n, [unit, size]) => {
        expect(parseDuration(`${n}${unit}`)).toBe(n * (size as number));
      }),
    );
  });
});

describe('parseByteSize', () => {
  it.each([
    ['4MiB', 4 * 1024 * 1024],
    ['512KiB', 512 * 1024],
    ['1048576', 1048576],
    ['4MB', 4_000_000],
    ['1GiB', 1024 ** 3],
    ['1.5KiB', 1536],
    ['10b', 10],
    ['4mib', 4 * 1024 * 1024],
    ['0', 0],
  ])('%s → %d', (text, n) => expect(parseByteSize(text)).toBe(n));

  it.each(['', 'MiB', '4XB', '-1', '1.3B', '4 M', 'lots'])('rejects %j', (text) => {
    expect(oneLine(() => parseByteSize(text))).toMatch(/byte|unit/);
  });

  it('round-trips plain numbers and binary units', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.constantFrom(['', 1], ['KiB', 1024], ['MiB', 1024 ** 2], ['KB', 1000]), (n, [unit, size]) => {
        expect(parseByteSize(`${n}${unit}`)).toBe(n * (size as number));
      }),
    );
  });
});

describe('parseHostPort', () => {
  it('reads IPv4, [IPv6], names and :PORT', () => {
    expect(parseHostPort('0.0.0.0:8080', 'x')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseHostPort('[::1]:8080', 'x')).toEqual({ host: '::1', port: 8080 });
    expect(parseHostPort(':8080', 'x')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseHostPort('echo.default.svc.cluster.local:50051', 'x')).toEqual({
      host: 'echo.default.svc.cluster.local',
      port: 50051,
    });
  });
  it('allows port 0 only when asked', () => {
    expect(parseHostPort('127.0.0.1:0', 'x', { allowPortZero: true }).port).toBe(0);
    expect(oneLine(() => parseHostPort('127.0.0.1:0', 'x'))).toContain('out of range 1-65535');
  });
  it('fills in a default port', () => {
    expect(parseHostPort('10.0.0.10', 'x', { defaultPort: 53 })).toEqual({ host: '10.0.0.10', port: 53 });
    expect(parseHostPort('fd00::10', 'x', { defaultPort: 53 })).toEqual({ host: 'fd00::10', port: 53 });
    expect(parseHostPort('[fd00::10]:5353', 'x', { defaultPort: 53 })).toEqual({ host: 'fd00::10', port: 5353 });
  });
  it.each([
    ['127.0.0.1', 'has no port'],
    ['127.0.0.1:65536', 'out of range'],
    ['127.0.0.1:http', 'not a port'],
    ['::1:8080', 'brackets'],
    ['[nope]:80', 'not an IPv6'],
    ['bad_host!:80', 'not an IP address or host name'],
    ['999.1.1.1:80', 'not an IP address or host name'],
    ['', 'empty'],
  ])('rejects %j (%s)', (text, why) => {
    expect(oneLine(() => parseHostPort(text, 'listen address'))).toContain(why);
  });
  it('requires an IP when ipOnly', () => {
    expect(oneLine(() => parseHostPort('dns.local', 'DNS server', { defaultPort: 53, ipOnly: true }))).toContain('not an IP');
  });
  it('round-trips any IPv4 and port', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        expect(parseHostPort(`${ip}:${port}`, 'x')).toEqual({ host: ip, port });
      }),
    );
  });
});

describe('parseTarget', () => {
  it('reads static lists', () => {
    expect(parseTarget('10.0.0.1:50051,[::1]:50052, echo:7')).toEqual({
      kind: 'static',
      text: '10.0.0.1:50051,[::1]:50052, echo:7',
      addresses: [
        { host: '10.0.0.1', port: 50051 },
        { host: '::1', port: 50052 },
        { host: 'echo', port: 7 },
      ],
    });
  });
  it('reads dns:///NAME:PORT and dns:NAME:PORT', () => {
    expect(parseTarget('dns:///echo.default.svc.cluster.local:50051')).toEqual({
      kind: 'dns',
      text: 'dns:///echo.default.svc.cluster.local:50051',
      name: 'echo.default.svc.cluster.local',
      port: 50051,
    });
    expect(parseTarget('dns:echo:80')).toMatchObject({ kind: 'dns', name: 'echo', port: 80 });
  });
  it.each([
    ['dns://8.8.8.8/echo:50051', 'authority'],
    ['dns:///echo', 'no port'],
    ['dns:///echo:0', 'out of range'],
    ['dns:///bad_name!:80', 'not a valid DNS name'],
    ['dns:///10.0.0.1:80', 'is an IP address'],
    ['unix:/tmp/sock', "scheme 'unix'"],
    ['http://echo:80', "scheme 'http'"],
    ['10.0.0.1:1,,10.0.0.2:2', 'empty address'],
    ['10.0.0.1:1,10.0.0.1:1', 'twice'],
    ['echo', 'no port'],
    ['', 'empty'],
  ])('rejects %j (%s)', (text, why) => {
    expect(oneLine(() => parseTarget(text))).toContain(why);
  });
  it('accepts every valid generated DNS name', () => {
    const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 65535 }), (labels, port) => {
        const name = labels.join('.');
        expect(isDnsName(name)).toBe(true);
        expect(parseTarget(`dns:///${name}:${port}`)).toEqual({ kind: 'dns', text: `dns:///${name}:${port}`, name, port });
      }),
    );
  });
});

describe('parseRoute', () => {
  it('splits PREFIX=TARGET', () => {
    expect(parseRoute('/echo.v1.EchoService/=dns:///echo:50051')).toMatchObject({
      prefix: '/echo.v1.EchoService/',
      target: { kind: 'dns', name: 'echo', port: 50051 },
    });
  });
  it.each([
    ['echo=1.2.3.4:5', "must start with '/'"],
    ['/echo', 'not PREFIX=TARGET'],
    ['/echo=nope', 'no port'],
  ])('rejects %j', (text, why) => expect(oneLine(() => parseRoute(text))).toContain(why));
});

describe('parseOrigin', () => {
  it('reads *, exact origins (normalised) and anchored patterns', () => {
    expect(parseOrigin('*')).toBe('*');
    expect(parseOrigin('https://app.example.com')).toBe('https://app.example.com');
    expect(parseOrigin('https://App.Example.com:443')).toBe('https://app.example.com');
    expect(parseOrigin('http://localhost:3000')).toBe('http://localhost:3000');
    expect(parseOrigin('capacitor://localhost')).toBe('capacitor://localhost');
    const re = parseOrigin('/https:\\/\\/[a-z]+\\.example\\.com/') as RegExp;
    expect(re).toBeInstanceOf(RegExp);
    expect(re.test('https://app.example.com')).toBe(true);
    expect(re.test('https://app.example.com.evil.net')).toBe(false);
    expect((parseOrigin('/https:\\/\\/APP\\.example\\.com/i') as RegExp).test('https://app.example.com')).toBe(true);
  });
  it.each([
    ['https://app.example.com/', 'no path'],
    ['https://app.example.com/x', 'no path'],
    ['app.example.com', 'not an origin'],
    ['/(unclosed/', 'not a valid regular expression'],
    ['/x/g', 'flags'],
    ['null', 'not an origin'],
  ])('rejects %j (%s)', (text, why) => expect(oneLine(() => parseOrigin(text))).toContain(why));
});

describe('parseHeaderName', () => {
  it('lower-cases tokens', () => expect(parseHeaderName('X-User-ID')).toBe('x-user-id'));
  it.each(['x user', 'x:y', '', 'é'])('rejects %j', (t) => expect(oneLine(() => parseHeaderName(t))).toContain('header name'));
});

describe('parseTrustProxy', () => {
  it('reads booleans, hop counts and CIDR lists', () => {
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('10.0.0.0/8, 192.168.1.1,fd00::/8,loopback')).toEqual([
      '10.0.0.0/8',
      '192.168.1.1',
      'fd00::/8',
      'loopback',
    ]);
  });
  it.each(['10.0.0.0/33', 'nope', '0', 'fd00::/129'])('rejects %j', (t) => {
    expect(() => parseTrustProxy(t)).toThrow();
  });
});

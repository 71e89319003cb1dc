import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../../src/config/index.js';

const UP = ['--upstream', '127.0.0.1:1'];

function files(map: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
    return text;
  };
}

function load(argv: string[], env: Record<string, string> = {}, fs: Record<string, string> = {}): Config {
  const r = loadConfig(argv, env, files(fs));
  if (!('config' in r)) throw new Error('expected a config');
  return r.config;
}

/** The ConfigError message; asserts it is one line. */
function error(argv: string[], env: Record<string, string> = {}, fs: Record<string, string> = {}): string {
  try {
    loadConfig(argv, env, files(fs));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('fills every field', () => {
    const c = load(UP);
    expect(c).toEqual({
      listen: { host: '0.0.0.0', port: 8080 },
      tls: null,
      admin: { host: '0.0.0.0', port: 9901 },
      upstream: { kind: 'static', text: '127.0.0.1:1', addresses: [{ host: '127.0.0.1', port: 1 }] },
      routes: [],
      cors: { allowOrigins: ['*'], allowCredentials: false, maxAgeSeconds: 86400, allowHeaders: [], exposeHeaders: [] },
      limits: {
        maxMessageBytes: 4 * 1024 * 1024,
        maxRequestBytes: Math.ceil(((4 * 1024 * 1024 + 5) * 4) / 3) + 1024,
        maxHeaderBytes: 16 * 1024,
        maxHeadersCount: 100,
        headersTimeoutMs: 30_000,
        requestTimeoutMs: 60_000,
        httpIdleTimeoutMs: 620_000,
        maxCallDurationMs: 0,
        maxConcurrentCalls: 1000,
        maxBufferedRequestBytes: 32 * 1024 * 1024,
        maxClientConnections: 4000,
        maxConcurrentStreams: 100,
      },
      upstreamOptions: {
        balancer: 'round-robin',
        client: 'http2',
        connectTimeoutMs: 5000,
        keepalivePingIntervalMs: 300_000,
        keepalivePingTimeoutMs: 20_000,
        maxRetries: 2,
        retryPolicy: null,
        retryBufferBytes: 256 * 1024,
        streamsPerConnection: 100,
        maxConnectionsPerPod: 4,
        podDrainTimeoutMs: 30_000,
        healthCheckIntervalMs: 10_000,
        healthCheckTimeoutMs: 2000,
        preferZone: null,
        tls: null,
      },
      dns: { servers: [], resolveIntervalMs: 5000, queryTimeoutMs: 2000, resolvConfPath: '/etc/resolv.conf', family: 'any' },
      kubernetes: { kubeconfigPath: null },
      shutdown: { delayMs: 5000, drainTimeoutMs: 30_000 },
      logLevel: 'info',
      accessLog: true,
      trustProxy: false,
      workers: 1,
    } satisfies Config);
  });

  it('reads --workers as a count or auto', () => {
    expect(load([...UP, '--workers', '4']).workers).toBe(4);
    expect(load([...UP, '--workers', 'auto']).workers).toBe('auto');
    expect(load([...UP, '--workers', 'AUTO']).workers).toBe('auto');
    expect(error([...UP, '--workers', '0'])).toMatch(/^--workers: .*too small/);
    expect(error([...UP, '--workers', '65'])).toMatch(/^--workers: .*too large/);
    expect(error([...UP, '--workers', 'two'])).toMatch(/^--workers: /);
  });

  it('derives max-request-size from max-message-size unless given', () => {
    expect(load([...UP, '--max-message-size', '1KiB']).limits.maxRequestBytes).toBe(Math.ceil(((1024 + 5) * 4) / 3) + 1024);
    expect(load([...UP, '--max-message-size', '1KiB', '--max-request-size', '100']).limits.maxRequestBytes).toBe(100);
    expect(error([...UP, '--max-request-size', '4'])).toMatch(/^--max-request-size: .*too small/);
  });
});

describe('every flag reaches its field', () => {
  it('maps values', () => {
    const c = load([
      '--listen=127.0.0.1:0',
      '--admin',
      'off',
      '--upstream',
      'dns:///echo.default.svc.cluster.local:50051',
      '--route',
      '/a.A/=10.0.0.1:1,10.0.0.2:2',
      '--route=/b.B/=dns:b:2',
      '--route=/c.C/=k8s:///c.ns:grpc',
      '--prefer-zone',
      'z1',
      '--kubeconfig',
      '/etc/gateway/kubeconfig',
      '--allow-origin',
      'https://app.example.com',
      '--allow-origin',
      '/https:\\/\\/.*\\.example\\.com/',
      '--allow-credentials',
      '--cors-max-age',
      '10m',
      '--cors-allow-header',
      'X-Token',
      '--cors-expose-header',
      'X-Trace-Id',
      '--max-message-size',
      '1MB',
      '--max-header-size',
      '8KiB',
      '--max-headers',
      '50',
      '--headers-timeout',
      '10s',
      '--request-timeout',
      '20s',
      '--keepalive-timeout',
      '75s',
      '--max-call-duration',
      '1h',
      '--max-concurrent-calls',
      '50',
      '--max-buffered-request-bytes',
      '8MiB',
      '--max-connections',
      '70',
      '--max-concurrent-streams',
      '20',
      '--balancer',
      'least-request',
      '--upstream-client',
      'grpc-js',
      '--connect-timeout',
      '1s',
      '--upstream-keepalive',
      '1m',
      '--upstream-keepalive-timeout',
      '3s',
      '--max-retries',
      '0',
      '--streams-per-connection',
      '10',
      '--max-connections-per-pod',
      '2',
      '--pod-drain-timeout',
      '45s',
      '--retry-buffer-size',
      '1MiB',
      '--health-check-interval',
      '0',
      '--health-check-timeout',
      '500ms',
      '--dns-server',
      '10.96.0.10',
      '--dns-server',
      '[fd00::a]:5353',
      '--resolve-interval',
      '100ms',
      '--dns-timeout',
      '500ms',
      '--resolv-conf',
      '/tmp/resolv.conf',
      '--dns-family',
      'ipv4',
      '--shutdown-delay',
      '0',
      '--drain-timeout',
      '1m',
      '--log-level',
      'debug',
      '--no-access-log',
      '--trust-proxy',
      '10.0.0.0/8,127.0.0.1',
    ]);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.admin).toBeNull();
    expect(c.upstream).toMatchObject({ kind: 'dns', name: 'echo.default.svc.cluster.local', port: 50051 });
    expect(c.routes.map((r) => r.prefix)).toEqual(['/a.A/', '/b.B/', '/c.C/']);
    expect(c.routes[1]!.target).toMatchObject({ kind: 'dns', name: 'b', port: 2 });
    expect(c.routes[2]!.target).toMatchObject({ kind: 'k8s', service: 'c', namespace: 'ns', port: 'grpc' });
    expect(c.kubernetes).toEqual({ kubeconfigPath: '/etc/gateway/kubeconfig' });
    expect(c.cors.allowOrigins[0]).toBe('https://app.example.com');
    expect(c.cors.allowOrigins[1]).toBeInstanceOf(RegExp);
    expect(c.cors).toMatchObject({ allowCredentials: true, maxAgeSeconds: 600, allowHeaders: ['x-token'], exposeHeaders: ['x-trace-id'] });
    expect(c.limits).toEqual({
      maxMessageBytes: 1_000_000,
      maxRequestBytes: Math.ceil(((1_000_000 + 5) * 4) / 3) + 1024,
      maxHeaderBytes: 8192,
      maxHeadersCount: 50,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 20_000,
      httpIdleTimeoutMs: 75_000,
      maxCallDurationMs: 3_600_000,
      maxConcurrentCalls: 50,
      maxBufferedRequestBytes: 8 * 1024 * 1024,
      maxClientConnections: 70,
      maxConcurrentStreams: 20,
    });
    expect(c.upstreamOptions).toEqual({
      balancer: 'least-request',
      client: 'grpc-js',
      connectTimeoutMs: 1000,
      keepalivePingIntervalMs: 60_000,
      keepalivePingTimeoutMs: 3000,
      maxRetries: 0,
      retryPolicy: null,
      retryBufferBytes: 1024 * 1024,
      streamsPerConnection: 10,
      maxConnectionsPerPod: 2,
      podDrainTimeoutMs: 45_000,
      healthCheckIntervalMs: 0,
      healthCheckTimeoutMs: 500,
      preferZone: 'z1',
      tls: null,
    });
    expect(c.dns).toEqual({
      servers: [
        { host: '10.96.0.10', port: 53 },
        { host: 'fd00::a', port: 5353 },
      ],
      resolveIntervalMs: 100,
      queryTimeoutMs: 500,
      resolvConfPath: '/tmp/resolv.conf',
      family: 'ipv4',
    });
    expect(c.shutdown).toEqual({ delayMs: 0, drainTimeoutMs: 60_000 });
    expect(c.logLevel).toBe('debug');
    expect(c.accessLog).toBe(false);
    expect(c.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });

  it('reads booleans in every form', () => {
    expect(load([...UP, '--access-log']).accessLog).toBe(true);
    expect(load([...UP, '--access-log', 'false']).accessLog).toBe(false);
    expect(load([...UP, '--access-log=false']).accessLog).toBe(false);
    expect(load([...UP, '--no-access-log']).accessLog).toBe(false);
    expect(load([...UP], { GWG_ACCESS_LOG: 'false' }).accessLog).toBe(false);
    expect(load(['--access-log', ...UP]).accessLog).toBe(true);
    expect(error([...UP, '--access-log=maybe'])).toBe("--access-log: 'maybe' is not true or false");
    expect(error([...UP, '--no-access-log=true'])).toContain('--no-access-log takes no value');
  });

  it('routes alone are enough', () => {
    const c = load(['--route', '/=127.0.0.1:1']);
    expect(c.upstream).toBeNull();
    expect(c.routes).toHaveLength(1);
  });
});

describe('precedence: defaults < YAML < environment < flags', () => {
  const fs = { '/etc/gwg.yaml': 'upstream: 10.0.0.1:1\nresolve-interval: 1s\nlog-level: warn\nmax-retries: 5\n' };
  it('layers the sources', () => {
    const env = { GWG_CONFIG: '/etc/gwg.yaml', GWG_RESOLVE_INTERVAL: '2s', GWG_LOG_LEVEL: 'error' };
    const c = load(['--log-level', 'trace'], env, fs);
    expect(c.upstream).toMatchObject({ text: '10.0.0.1:1' }); // YAML
    expect(c.upstreamOptions.maxRetries).toBe(5); // YAML
    expect(c.dns.resolveIntervalMs).toBe(2000); // env beats YAML
    expect(c.logLevel).toBe('trace'); // flag beats env
    expect(c.dns.queryTimeoutMs).toBe(2000); // default
  });
  it('--config beats GWG_CONFIG', () => {
    const c = load(['--config', '/b.yaml'], { GWG_CONFIG: '/a.yaml' }, { '/a.yaml': 'upstream: 1.1.1.1:1', '/b.yaml': 'upstream: 2.2.2.2:2' });
    expect(c.upstream).toMatchObject({ text: '2.2.2.2:2' });
  });
  it('treats an empty environment variable as unset', () => {
    expect(load(UP, { GWG_LOG_LEVEL: '', GWG_CONFIG: '' }).logLevel).toBe('info');
  });
  it('a higher source replaces a repeatable list as a whole', () => {
    const fs = { 'c.yaml': 'allow-origin: [https://a.example, https://a2.example]\n' };
    const env = { GWG_CONFIG: 'c.yaml', GWG_ALLOW_ORIGIN: 'https://b.example https://b2.example' };
    expect(load(UP, { GWG_CONFIG: 'c.yaml' }, fs).cors.allowOrigins).toEqual(['https://a.example', 'https://a2.example']);
    expect(load(UP, env, fs).cors.allowOrigins).toEqual(['https://b.example', 'https://b2.example']);
    expect(load([...UP, '--allow-origin', 'https://c.example'], env, fs).cors.allowOrigins).toEqual(['https://c.example']);
  });
});

describe('repeatable settings from each source', () => {
  it('flags: repeat the flag', () => {
    expect(load([...UP, '--cors-allow-header', 'a', '--cors-allow-header', 'b']).cors.allowHeaders).toEqual(['a', 'b']);
  });
  it('environment: whitespace-separated', () => {
    const c = load(UP, { GWG_ROUTE: ' /a/=1.1.1.1:1,2.2.2.2:2\n/b/=dns:///b:2 ', GWG_DNS_SERVER: '10.0.0.1 10.0.0.2:5353' });
    expect(c.routes.map((r) => r.prefix)).toEqual(['/a/', '/b/']);
    expect(c.dns.servers).toEqual([
      { host: '10.0.0.1', port: 53 },
      { host: '10.0.0.2', port: 5353 },
    ]);
  });
  it('YAML: lists, a single scalar, and {prefix, target} route objects', () => {
    const yaml = [
      'route:',
      '  - /a/=1.1.1.1:1',
      '  - prefix: /b/',
      '    target: dns:///b:2',
      'allow-origin: https://one.example',
      'cors-expose-header: [X-A, X-B]',
      'trust-proxy: [10.0.0.0/8, 192.168.0.0/16]',
      'access-log: false',
      'max-message-size: 1048576',
    ].join('\n');
    const c = load(['--config', 'gw.yaml'], {}, { 'gw.yaml': yaml });
    expect(c.routes.map((r) => [r.prefix, r.target.text])).toEqual([
      ['/a/', '1.1.1.1:1'],
      ['/b/', 'dns:///b:2'],
    ]);
    expect(c.cors.allowOrigins).toEqual(['https://one.example']);
    expect(c.cors.exposeHeaders).toEqual(['x-a', 'x-b']);
    expect(c.trustProxy).toEqual(['10.0.0.0/8', '192.168.0.0/16']);
    expect(c.accessLog).toBe(false);
    expect(c.limits.maxMessageBytes).toBe(1048576);
  });
  it('an empty YAML file is fine', () => {
    expect(load([...UP, '--config', 'e.yaml'], {}, { 'e.yaml': '# nothing\n' }).logLevel).toBe('info');
  });
});

describe('cross-setting rules', () => {
  it('needs an upstream or a route', () => {
    expect(error([])).toBe('no upstream: give --upstream TARGET or --route PREFIX=TARGET');
  });
  it('rejects duplicate route prefixes', () => {
    expect(error(['--route', '/a/=1.1.1.1:1', '--route', '/a/=2.2.2.2:2'])).toBe("--route: prefix '/a/' is given twice");
  });
  it('rejects credentials with the * origin, and * mixed with others', () => {
    expect(error([...UP, '--allow-credentials'])).toMatch(/^--allow-credentials: cannot be combined with allow-origin '\*': browsers reject/);
    expect(load([...UP, '--allow-credentials', '--allow-origin', 'https://a.example']).cors.allowCredentials).toBe(true);
    expect(error([...UP, '--allow-origin', '*', '--allow-origin', 'https://a.example'])).toMatch(/^--allow-origin: '\*' already/);
  });
  it('--retry-on needs the idempotent methods named, and builds the retry policy', () => {
    expect(error([...UP, '--retry-on', 'unavailable'])).toMatch(/^--retry-on: .*--retry-methods/);
    expect(error([...UP, '--retry-methods', '/a.B/'])).toMatch(/^--retry-methods: has no effect without --retry-on/);
    expect(error([...UP, '--retry-on', 'ok', '--retry-methods', '/a.B/'])).toMatch(/^--retry-on: 'ok' is not a gRPC status code/);
    expect(error([...UP, '--retry-on', 'unavailable', '--retry-methods', 'a.B'])).toMatch(/not a gRPC method prefix/);
    expect(error([...UP, '--retry-on', '14', '--retry-methods', '/a.B/', '--retry-max-backoff', '10ms'])).toMatch(
      /^--retry-max-backoff: is shorter than retry-backoff/,
    );
    expect(error([...UP, '--retry-on', '14', '--retry-methods', '/a.B/', '--retry-attempts', '6'])).toMatch(/--retry-attempts/);
    const c = load(
      [...UP, '--retry-on', 'UNAVAILABLE,resource-exhausted,14', '--retry-methods', '/a.B/Get', '--retry-methods', '/c.D/'],
      { GWG_RETRY_BUDGET: '10%', GWG_RETRY_ATTEMPTS: '4' },
    );
    expect(c.upstreamOptions.retryPolicy).toEqual({
      codes: [14, 8],
      methods: ['/a.B/Get', '/c.D/'],
      maxAttempts: 4,
      initialBackoffMs: 25,
      maxBackoffMs: 250,
      budgetPercent: 10,
    });
  });

  it('keeps headers-timeout within request-timeout', () => {
    expect(load([...UP, '--request-timeout', '10s']).limits.headersTimeoutMs).toBe(10_000);
    expect(load([...UP, '--request-timeout', '0']).limits.headersTimeoutMs).toBe(30_000);
    expect(error([...UP, '--request-timeout', '10s', '--headers-timeout', '20s'])).toMatch(/^--headers-timeout: 20s is longer than request-timeout \(10s\)/);
  });
  it('keeps max-buffered-request-bytes at least one max-request-size (0 = no bound)', () => {
    expect(error([...UP, '--max-request-size', '2MiB', '--max-buffered-request-bytes', '1MiB'])).toMatch(
      /^--max-buffered-request-bytes: 1048576 bytes is less than max-request-size \(2097152\)/,
    );
    expect(error([...UP, '--max-buffered-request-bytes', '1MiB'], {})).toMatch(/less than max-request-size/); // the derived default too
    // the default follows a raised max-request-size
    expect(load([...UP, '--max-message-size', '64MiB']).limits.maxBufferedRequestBytes).toBe(Math.ceil(((64 * 1024 * 1024 + 5) * 4) / 3) + 1024);
    expect(load([...UP, '--max-buffered-request-bytes', '0']).limits.maxBufferedRequestBytes).toBe(0);
    expect(load([...UP, '--max-request-size', '1MiB', '--max-buffered-request-bytes', '1MiB']).limits.maxBufferedRequestBytes).toBe(1024 * 1024);
  });
});

describe('listener TLS files', () => {
  const pki = { '/tls/tls.crt': 'CERT', '/tls/tls.key': 'KEY', '/tls/ca.crt': 'CA' };
  const TLS = ['--tls-cert', '/tls/tls.crt', '--tls-key', '/tls/tls.key'];
  it('--tls-cert and --tls-key come together; --tls-client-ca needs them', () => {
    expect(load([...UP, ...TLS], {}, pki).tls).toEqual({ certFile: '/tls/tls.crt', keyFile: '/tls/tls.key', clientCaFile: null });
    expect(load([...UP, ...TLS, '--tls-client-ca', '/tls/ca.crt'], {}, pki).tls?.clientCaFile).toBe('/tls/ca.crt');
    expect(error([...UP, '--tls-cert', '/tls/tls.crt'], {}, pki)).toMatch(/^--tls-cert: needs --tls-key FILE/);
    expect(error([...UP, '--tls-key', '/tls/tls.key'], {}, pki)).toMatch(/^--tls-key: needs --tls-cert FILE/);
    expect(error([...UP, '--tls-client-ca', '/tls/ca.crt'], {}, pki)).toMatch(/^--tls-client-ca: client certificates need a TLS listener/);
  });
  it('a file that cannot be read is refused at start, naming the setting in the words of its source', () => {
    expect(error([...UP, '--tls-cert', '/nonexistent/tls.crt', '--tls-key', '/tls/tls.key'], {}, pki)).toBe("--tls-cert: cannot read '/nonexistent/tls.crt': ENOENT");
    expect(error([...UP, '--tls-cert', '/tls/tls.crt'], { GWG_TLS_KEY: '/nonexistent/tls.key' }, pki)).toBe("GWG_TLS_KEY: cannot read '/nonexistent/tls.key': ENOENT");
    expect(error([...UP, ...TLS, '--tls-client-ca', '/nonexistent/ca.crt'], {}, pki)).toBe("--tls-client-ca: cannot read '/nonexistent/ca.crt': ENOENT");
  });
  it('reads the real file system by default', () => {
    const here = fileURLToPath(import.meta.url);
    const r = loadConfig([...UP, '--tls-cert', here, '--tls-key', here], {});
    expect('config' in r && r.config.tls?.certFile).toBe(here);
    expect(() => loadConfig([...UP, '--tls-cert', here, '--tls-key', dirname(here)], {})).toThrow(/^--tls-key: cannot read '.*': EISDIR/);
  });
});

describe('errors name the setting in one line', () => {
  it.each([
    [[...UP, '--resolve-interval', '5x'], {}, "--resolve-interval: '5x' is not a duration (use e.g. 500ms, 5s, 1m)"],
    [[...UP], { GWG_RESOLVE_INTERVAL: '5x' }, "GWG_RESOLVE_INTERVAL: '5x' is not a duration (use e.g. 500ms, 5s, 1m)"],
    [[...UP, '--resolve-interval', '50ms'], {}, /^--resolve-interval: '50ms' is too short \(at least 100ms\)/],
    [[...UP, '--listen', 'nope'], {}, /^--listen: 'nope' has no port/],
    [[...UP, '--admin', '1.2.3.4:99999'], {}, /^--admin: .*out of range/],
    [['--upstream', 'dns://8.8.8.8/x:1'], {}, /^--upstream: .*authority/],
    [['--route', 'x=1.1.1.1:1'], {}, /^--route: .*must start with '\/'/],
    [[...UP, '--allow-origin', 'https://a.example/'], {}, /^--allow-origin: .*no path/],
    [[...UP, '--allow-origin', '/(/'], {}, /^--allow-origin: .*not a valid regular expression/],
    [[...UP, '--cors-allow-header', 'a b'], {}, /^--cors-allow-header: /],
    [[...UP, '--cors-max-age', '1500ms'], {}, /^--cors-max-age: .*whole number of seconds/],
    [[...UP, '--max-message-size', 'big'], {}, /^--max-message-size: /],
    [[...UP, '--max-headers', '0'], {}, /^--max-headers: .*too small/],
    [[...UP, '--max-retries', '-1'], {}, /^--max-retries: /],
    [[...UP, '--balancer', 'random'], {}, "--balancer: 'random' is not one of round-robin, least-request"],
    [[...UP, '--upstream-client', 'grpc'], {}, "--upstream-client: 'grpc' is not one of grpc-js, http2"],
    [[...UP, '--dns-family', 'ipv5'], {}, "--dns-family: 'ipv5' is not one of any, ipv4, ipv6"],
    [[...UP, '--log-level', 'loud'], {}, /^--log-level: 'loud' is not one of fatal, error/],
    [[...UP, '--connect-timeout', '0'], {}, /^--connect-timeout: .*greater than 0/],
    [[...UP, '--dns-server', 'dns.google'], {}, /^--dns-server: .*not an IP address/],
    [[...UP, '--trust-proxy', '10.0.0.0/99'], {}, /^--trust-proxy: /],
    [[...UP, '--resolv-conf='], {}, /^--resolv-conf: needs a value/],
    [[...UP, '--listen'], {}, /^--listen: needs a value \(HOST:PORT\)/],
    [[...UP, '--listen', '--admin', 'off'], {}, /^--listen: needs a value .*--listen=VALUE/],
    [[...UP, '--listen', ':1', '--listen', ':2'], {}, '--listen: given more than once'],
    [[...UP, '--resolve-intervall', '5s'], {}, 'unknown flag --resolve-intervall (did you mean --resolve-interval?) (see --help)'],
    [[...UP, '--frobnicate'], {}, 'unknown flag --frobnicate (see --help)'],
    [[...UP, 'extra'], {}, /^unexpected argument 'extra'/],
    [[...UP, '-listen', ':1'], {}, /^unexpected argument '-listen' \(did you mean --listen\?\)/],
  ] as const)('%j %j', (argv, env, expected) => {
    const msg = error([...argv], env as Record<string, string>);
    if (typeof expected === 'string') expect(msg).toBe(expected);
    else expect(msg).toMatch(expected);
  });
});

describe('YAML file errors', () => {
  it('rejects unknown keys with a hint', () => {
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'upstream: 1.1.1.1:1\nresolve_interval: 5s\n' })).toBe(
      "c.yaml: unknown key 'resolve_interval' (did you mean resolve-interval?)",
    );
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'upstream: 1.1.1.1:1\nbogus: 1\n' })).toBe("c.yaml: unknown key 'bogus'");
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'config: other.yaml\n' })).toBe("c.yaml: 'config' cannot be set in the config file");
  });
  it('names the key of a bad value', () => {
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'upstream: 1.1.1.1:1\nresolve-interval: 5\n' })).toBe(
      "c.yaml: resolve-interval: '5' has no unit (use e.g. 500ms, 5s, 1m)",
    );
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'upstream: [1.1.1.1:1]\n' })).toBe('c.yaml: upstream: expected a single value, not a list');
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'upstream: {a: 1}\n' })).toMatch(/^c\.yaml: upstream: expected a single value, not a mapping/);
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'route:\n  - prefix: /a/\n    tgt: x\n' })).toMatch(/^c\.yaml: route: route has unknown key 'tgt'/);
  });
  it('reports a missing file and syntax errors', () => {
    expect(error(['--config', 'missing.yaml'])).toBe("--config: cannot read config file 'missing.yaml': no such file");
    expect(error([], { GWG_CONFIG: 'missing.yaml' })).toBe("GWG_CONFIG: cannot read config file 'missing.yaml': no such file");
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'upstream: [1.1.1.1:1\n' })).toMatch(/^c\.yaml: YAML syntax error: .*line \d+, column \d+$/);
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': 'a: 1\na: 2\n' })).toMatch(/^c\.yaml: YAML syntax error: .*unique/i);
    expect(error(['--config', 'c.yaml'], {}, { 'c.yaml': '- a\n- b\n' })).toMatch(/^c\.yaml: expected a mapping/);
  });
});

describe('--help and --version', () => {
  it('return markers, even next to bad flags', () => {
    expect(loadConfig(['--help'], {})).toHaveProperty('help');
    expect(loadConfig(['--bogus', '-h'], {})).toHaveProperty('help');
    const v = loadConfig(['--version'], {});
    expect(v).toMatchObject({ version: true, text: expect.stringMatching(/^grpc-web-gateway \d+\.\d+\.\d+/) });
  });
});

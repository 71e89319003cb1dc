// THE table of settings. Flag parsing, environment variables, YAML keys, validation of single
// values and the --help text all come from here, so a setting cannot exist in one and be missing
// from another. Rules that involve several settings live in ./build.ts (buildConfig).
import {
  parseHeaderName,
  parseHostPort,
  parseOrigin,
  parseRoute,
  parseServerName,
  parseTarget,
  parseTrustProxy,
} from './parse-addresses.js';
import {
  formatDuration,
  parseBoolean,
  parseByteSize,
  parseChoice,
  parseDuration,
  parseFilePath,
  parseInteger,
  parseMethodPrefix,
  parseStatusCodes,
} from './parse-values.js';
import { readCertificates, readPrivateKey, type PemFile } from './pem-files.js';
import type { BalancerName, UpstreamClientName, DnsFamily, HostPort, LogLevel, OriginRule, RouteConfig, TargetSpec } from './types.js';

export type SettingKind =
  /** Takes a value: --name VALUE, --name=VALUE. */
  | 'value'
  /** Boolean: --name, --name=BOOL, --name true|false, --no-name. */
  | 'bool'
  /** --config, --help, --version: handled by the loader, not part of Config. */
  | 'meta';

export interface Setting<T = unknown> {
  /** Flag name without the leading dashes, kebab-case; also the YAML key. */
  readonly name: string;
  readonly kind: SettingKind;
  /** Heading it is listed under in --help. */
  readonly group: string;
  /** Placeholder for the value in --help, e.g. "DURATION"; '' for bool and meta settings. */
  readonly metavar: string;
  readonly help: string;
  /** Texts parsed when no source gives the setting: [] for "none" (or an empty list). */
  readonly defaults: readonly string[];
  /** The default as shown in --help when it is not simply `defaults` (e.g. a derived one). */
  readonly defaultText?: string;
  readonly repeatable: boolean;
  /** A second environment variable read when GWG_* is unset (a name other tools already use, e.g. KUBECONFIG). */
  readonly envAlias?: string;
  /** Not settable from the environment / the YAML file (only --help, --version; --config in YAML). */
  readonly noEnv?: boolean;
  readonly noYaml?: boolean;
  /** A non-repeatable setting whose YAML value may be a list, joined with ','. */
  readonly yamlListJoin?: boolean;
  /** Turns one YAML list item that is not a scalar into text for `parse` (e.g. route objects). */
  readonly yamlObject?: (value: Record<string, unknown>) => string;
  /** One value (one item, for repeatable settings) → typed value; throws a one-line Error. */
  readonly parse: (text: string) => T;
}

/** `--resolve-interval` → `GWG_RESOLVE_INTERVAL`. */
export function envName(name: string): string {
  return `GWG_${name.toUpperCase().replace(/-/g, '_')}`;
}

interface Spec<T> extends Omit<Setting<T>, 'kind' | 'repeatable' | 'defaults' | 'metavar'> {
  metavar?: string;
  defaults?: readonly string[];
}

function value<T>(spec: Spec<T> & { metavar: string }): Setting<T> {
  return { kind: 'value', repeatable: false, defaults: [], ...spec };
}
function list<T>(spec: Spec<T> & { metavar: string }): Setting<T> {
  return { kind: 'value', defaults: [], ...spec, repeatable: true };
}
function bool(spec: Omit<Spec<boolean>, 'parse'> & { default: boolean }): Setting<boolean> {
  const { default: d, ...rest } = spec;
  return { kind: 'bool', repeatable: false, metavar: '', defaults: [String(d)], parse: parseBoolean, ...rest };
}
function meta(spec: Omit<Spec<string>, 'parse'> & { metavar?: string }): Setting<string> {
  return { kind: 'meta', repeatable: false, metavar: '', defaults: [], parse: (s) => s, ...spec };
}

const duration =
  (min = 0) =>
  (s: string): number => {
    const ms = parseDuration(s);
    if (ms < min) throw new Error(`'${s}' is too short (at least ${formatDuration(min)})`);
    return ms;
  };
const positiveDuration = (s: string): number => {
  const ms = parseDuration(s);
  if (ms === 0) throw new Error(`'${s}': must be greater than 0`);
  return ms;
};
const bytes =
  (min: number) =>
  (s: string): number => {
    const n = parseByteSize(s);
    if (n < min) throw new Error(`'${s}' is too small (at least ${min} bytes)`);
    return n;
  };
const count =
  (min: number) =>
  (s: string): number =>
    parseInteger(s, min);

/** More worker processes than this is a typo, not a machine. */
export const MAX_WORKERS = 64;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const BALANCERS: readonly BalancerName[] = ['round-robin', 'least-request'];
const UPSTREAM_CLIENTS: readonly UpstreamClientName[] = ['grpc-js', 'http2'];
const DNS_FAMILIES: readonly DnsFamily[] = ['any', 'ipv4', 'ipv6'];

function routeObject(v: Record<string, unknown>): string {
  const keys = Object.keys(v);
  const extra = keys.filter((k) => k !== 'prefix' && k !== 'target');
  if (extra.length > 0) throw new Error(`route has unknown key '${extra[0]}' (expected prefix and target)`);
  if (typeof v.prefix !== 'string' || typeof v.target !== 'string') {
    throw new Error('route needs string prefix and target, e.g. {prefix: /echo.v1.EchoService/, target: dns:///echo:50051}');
  }
  if (v.prefix.includes('=')) throw new Error(`route prefix '${v.prefix}' must not contain '='`);
  return `${v.prefix}=${v.target}`;
}

const G_UP = 'Upstreams';
const G_LISTEN = 'Listeners';
const G_CORS = 'CORS';
const G_LIMITS = 'Limits and timeouts';
const G_POOL = 'Upstream connections';
const G_DNS = 'DNS';
const G_K8S = 'Kubernetes discovery (k8s:/// targets)';
const G_RUN = 'Shutdown, logging, misc';

/** Every setting, by a camelCase handle; the order is the --help order within each group. */
export const S = {
  upstream: value<TargetSpec>({
    name: 'upstream',
    group: G_UP,
    metavar: 'TARGET',
    help: 'Default upstream for paths no --route matches: HOST:PORT[,HOST:PORT...], dns:///NAME:PORT or k8s:///SERVICE.NAMESPACE:PORT',
    defaultText: 'none',
    parse: parseTarget,
  }),
  route: list<RouteConfig>({
    name: 'route',
    group: G_UP,
    metavar: 'PREFIX=TARGET',
    help: 'Send calls whose path starts with PREFIX (e.g. /echo.v1.EchoService/) to TARGET; longest prefix wins',
    defaultText: 'none',
    yamlObject: routeObject,
    parse: parseRoute,
  }),
  listen: value<HostPort>({
    name: 'listen',
    group: G_LISTEN,
    metavar: 'HOST:PORT',
    help: 'Serving listener: gRPC-Web over HTTP/1.1 and HTTP/2 (h2c, or TLS with --tls-cert), /healthz /readyz /; port 0 picks a free port',
    defaults: ['0.0.0.0:8080'],
    parse: (s) => parseHostPort(s, 'listen address', { allowPortZero: true }),
  }),
  admin: value<HostPort | null>({
    name: 'admin',
    group: G_LISTEN,
    metavar: 'HOST:PORT|off',
    help: 'Admin listener (/healthz /readyz /metrics /endpoints); off disables it',
    defaults: ['0.0.0.0:9901'],
    parse: (s) =>
      s.trim().toLowerCase() === 'off' ? null : parseHostPort(s, 'admin address', { allowPortZero: true }),
  }),
  tlsCert: value<string>({
    name: 'tls-cert',
    group: G_LISTEN,
    metavar: 'FILE',
    help: 'PEM certificate chain: the listener speaks TLS (ALPN h2, http/1.1); reloaded within 5s when the file changes (needs --tls-key)',
    defaultText: 'none (cleartext HTTP/1.1 and h2c)',
    parse: parseFilePath,
  }),
  tlsKey: value<string>({
    name: 'tls-key',
    group: G_LISTEN,
    metavar: 'FILE',
    help: 'PEM private key of --tls-cert; reloaded with it',
    defaultText: 'none',
    parse: parseFilePath,
  }),
  tlsClientCa: value<string>({
    name: 'tls-client-ca',
    group: G_LISTEN,
    metavar: 'FILE',
    help: 'Require client certificates signed by this PEM CA bundle (mTLS from a load balancer or mesh); reloaded when it changes',
    defaultText: 'none',
    parse: parseFilePath,
  }),
  allowOrigin: list<OriginRule>({
    name: 'allow-origin',
    group: G_CORS,
    metavar: 'ORIGIN',
    help: 'Allowed browser origin: *, an exact origin https://app.example.com[:port], or /regex/ matched against the whole origin',
    defaults: ['*'],
    parse: parseOrigin,
  }),
  allowCredentials: bool({
    name: 'allow-credentials',
    group: G_CORS,
    help: 'Let the listed origins make credentialed calls: Access-Control-Allow-Credentials: true, and their cookies reach the Pods (needs explicit origins, not *)',
    default: false,
  }),
  corsMaxAge: value<number>({
    name: 'cors-max-age',
    group: G_CORS,
    metavar: 'DURATION',
    help: 'How long browsers may cache a preflight answer (whole seconds)',
    defaults: ['24h'],
    parse: (s) => {
      const ms = parseDuration(s);
      if (ms % 1000 !== 0) throw new Error(`'${s}' is not a whole number of seconds`);
      return ms / 1000;
    },
  }),
  corsAllowHeader: list<string>({
    name: 'cors-allow-header',
    group: G_CORS,
    metavar: 'NAME',
    help: 'Extra request header to allow in preflight answers',
    defaultText: 'none',
    parse: parseHeaderName,
  }),
  corsExposeHeader: list<string>({
    name: 'cors-expose-header',
    group: G_CORS,
    metavar: 'NAME',
    help: 'Extra response header to expose to scripts, besides grpc-status, grpc-message and call metadata',
    defaultText: 'none',
    parse: parseHeaderName,
  }),
  maxMessageSize: value<number>({
    name: 'max-message-size',
    group: G_LIMITS,
    metavar: 'BYTES',
    help: 'Largest single gRPC message, request or response',
    defaults: ['4MiB'],
    parse: bytes(1),
  }),
  maxRequestSize: value<number>({
    name: 'max-request-size',
    group: G_LIMITS,
    metavar: 'BYTES',
    help: 'Largest request body on the wire; the default leaves room for one max message in text (base64) mode',
    defaultText: 'ceil((max-message-size+5)*4/3)+1KiB',
    parse: bytes(5),
  }),
  maxHeaderSize: value<number>({
    name: 'max-header-size',
    group: G_LIMITS,
    metavar: 'BYTES',
    help: 'Largest request header block (Node maxHeaderSize)',
    defaults: ['16KiB'],
    parse: bytes(1),
  }),
  maxHeaders: value<number>({
    name: 'max-headers',
    group: G_LIMITS,
    metavar: 'N',
    help: 'Most request headers accepted',
    defaults: ['100'],
    parse: count(1),
  }),
  headersTimeout: value<number>({
    name: 'headers-timeout',
    group: G_LIMITS,
    metavar: 'DURATION',
    help: 'Time to receive the request headers',
    defaults: ['30s'],
    parse: positiveDuration,
  }),
  requestTimeout: value<number>({
    name: 'request-timeout',
    group: G_LIMITS,
    metavar: 'DURATION',
    help: 'Time to receive the whole request body (never cuts response streams); 0 = none',
    defaults: ['60s'],
    parse: duration(),
  }),
  keepaliveTimeout: value<number>({
    name: 'keepalive-timeout',
    group: G_LIMITS,
    metavar: 'DURATION',
    help: 'Idle HTTP keep-alive timeout; keep it longer than the load balancer\'s (ALB 60s, Google 600s)',
    defaults: ['620s'],
    parse: duration(),
  }),
  maxCallDuration: value<number>({
    name: 'max-call-duration',
    group: G_LIMITS,
    metavar: 'DURATION',
    help: 'Upper bound on any call, streams included; 0 = none',
    defaults: ['0'],
    parse: duration(),
  }),
  maxConcurrentCalls: value<number>({
    name: 'max-concurrent-calls',
    group: G_LIMITS,
    metavar: 'N',
    help: 'Calls in flight at once (per worker process), streams included; past it calls are refused RESOURCE_EXHAUSTED; 0 = no bound',
    defaults: ['1000'],
    parse: count(0),
  }),
  maxBufferedRequestBytes: value<number>({
    name: 'max-buffered-request-bytes',
    group: G_LIMITS,
    metavar: 'BYTES',
    help: 'Request body bytes held at once by all calls in flight (per worker process); past it calls are refused RESOURCE_EXHAUSTED; 0 = no bound',
    defaults: ['32MiB'],
    defaultText: '32MiB, at least max-request-size',
    parse: bytes(0),
  }),
  maxConnections: value<number>({
    name: 'max-connections',
    group: G_LIMITS,
    metavar: 'N',
    help: 'Client connections open at once (per worker process); further ones are closed as they arrive; 0 = no bound',
    defaults: ['4000'],
    parse: count(0),
  }),
  maxConcurrentStreams: value<number>({
    name: 'max-concurrent-streams',
    group: G_LIMITS,
    metavar: 'N',
    help: 'Streams (calls) one HTTP/2 client connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS)',
    defaults: ['100'],
    parse: count(1),
  }),
  balancer: value<BalancerName>({
    name: 'balancer',
    group: G_POOL,
    metavar: BALANCERS.join('|'),
    help: 'How calls are spread over the ready Pods',
    defaults: ['round-robin'],
    parse: (s) => parseChoice(s, BALANCERS),
  }),
  upstreamClient: value<UpstreamClientName>({
    name: 'upstream-client',
    group: G_POOL,
    metavar: UPSTREAM_CLIENTS.join('|'),
    help: 'What speaks HTTP/2 to the Pods: the gateway\'s own node:http2 client (less CPU per call), or grpc-js channels',
    defaults: ['http2'],
    parse: (s) => parseChoice(s, UPSTREAM_CLIENTS),
  }),
  connectTimeout: value<number>({
    name: 'connect-timeout',
    group: G_POOL,
    metavar: 'DURATION',
    help: 'How long a call waits for a ready Pod before failing UNAVAILABLE (with the http2 client, also how long one connection attempt may take)',
    defaults: ['5s'],
    parse: positiveDuration,
  }),
  upstreamKeepalive: value<number>({
    name: 'upstream-keepalive',
    group: G_POOL,
    metavar: 'DURATION',
    // grpc-go and grpc-java servers close (GOAWAY too_many_pings) the connection of a client that
    // pings more often than every 5 minutes while they send nothing: a shorter default would kill
    // quiet server streams to default-configured backends.
    help: 'HTTP/2 keepalive ping interval on upstream connections with calls in flight; lower it only if the servers permit (grpc-go/java default: 5m)',
    defaults: ['5m'],
    parse: positiveDuration,
  }),
  upstreamKeepaliveTimeout: value<number>({
    name: 'upstream-keepalive-timeout',
    group: G_POOL,
    metavar: 'DURATION',
    help: 'How long to wait for a keepalive ping ack before dropping the connection',
    defaults: ['20s'],
    parse: positiveDuration,
  }),
  maxRetries: value<number>({
    name: 'max-retries',
    group: G_POOL,
    metavar: 'N',
    help: 'Transparent retries, on another Pod, of calls the Pod provably never processed (no connection, stream refused, above a GOAWAY)',
    defaults: ['2'],
    parse: count(0),
  }),
  retryOn: value<number[]>({
    name: 'retry-on',
    group: G_POOL,
    metavar: 'CODES',
    help: 'Retry answers with these gRPC status codes (e.g. unavailable,resource-exhausted) on another Pod, for the --retry-methods only: the handler may have run',
    defaultText: 'none',
    parse: parseStatusCodes,
  }),
  retryMethods: list<string>({
    name: 'retry-methods',
    group: G_POOL,
    metavar: 'PREFIX',
    help: 'Methods (gRPC path prefix: /pkg.Service/ or /pkg.Service/Method) you declare idempotent, which --retry-on applies to',
    defaultText: 'none',
    parse: parseMethodPrefix,
  }),
  retryAttempts: value<number>({
    name: 'retry-attempts',
    group: G_POOL,
    metavar: 'N',
    help: 'Attempts in all, the first included, for a call --retry-on applies to',
    defaults: ['3'],
    parse: (s) => parseInteger(s, 2, 5),
  }),
  retryBackoff: value<number>({
    name: 'retry-backoff',
    group: G_POOL,
    metavar: 'DURATION',
    help: 'Backoff before the first --retry-on retry, doubling each time; the wait is random up to it (full jitter)',
    defaults: ['25ms'],
    parse: positiveDuration,
  }),
  retryMaxBackoff: value<number>({
    name: 'retry-max-backoff',
    group: G_POOL,
    metavar: 'DURATION',
    help: 'Largest backoff between --retry-on retries',
    defaults: ['250ms'],
    parse: positiveDuration,
  }),
  retryBudget: value<number>({
    name: 'retry-budget',
    group: G_POOL,
    metavar: 'PERCENT',
    help: 'Retries in progress (--retry-on) may be at most this percent of the calls in progress, and at least 3, so retries cannot multiply an overload',
    defaults: ['20'],
    parse: (s) => parseInteger(s.trim().replace(/%$/, ''), 1, 100),
  }),
  retryBufferSize: value<number>({
    name: 'retry-buffer-size',
    group: G_POOL,
    metavar: 'BYTES',
    help: 'Request bytes of a streamed call (native gRPC client streaming or bidi) kept so it can be sent to another Pod; a call that sends more is never retried',
    defaults: ['256KiB'],
    parse: bytes(0),
  }),
  streamsPerConnection: value<number>({
    name: 'streams-per-connection',
    group: G_POOL,
    metavar: 'N',
    help: 'In-flight calls per connection above which another connection to the same Pod is opened',
    defaults: ['100'],
    parse: count(1),
  }),
  maxConnectionsPerPod: value<number>({
    name: 'max-connections-per-pod',
    group: G_POOL,
    metavar: 'N',
    help: 'Most connections to one Pod',
    defaults: ['4'],
    parse: count(1),
  }),
  podDrainTimeout: value<number>({
    name: 'pod-drain-timeout',
    group: G_POOL,
    metavar: 'DURATION',
    help: 'How long a Pod gone from DNS may keep serving its in-flight calls',
    defaults: ['30s'],
    parse: duration(),
  }),
  healthCheckInterval: value<number>({
    name: 'health-check-interval',
    group: G_POOL,
    metavar: 'DURATION',
    // Envoy's strict_dns clusters in the field reports health-check every 10 s.
    help: 'How often each Pod is sent a grpc.health.v1 Check over its connection (any answer but NOT_SERVING counts as alive; UNIMPLEMENTED too); 0 = off',
    defaults: ['10s'],
    parse: duration(),
  }),
  healthCheckTimeout: value<number>({
    name: 'health-check-timeout',
    group: G_POOL,
    metavar: 'DURATION',
    help: 'A health check unanswered this long fails; two failures in a row take the Pod out of rotation until it answers again',
    defaults: ['2s'],
    parse: positiveDuration,
  }),
  upstreamTls: bool({
    name: 'upstream-tls',
    group: G_POOL,
    help: 'Speak TLS to every Pod, verified against the public CAs Node.js ships (and NODE_EXTRA_CA_CERTS)',
    default: false,
  }),
  upstreamCa: value<PemFile>({
    name: 'upstream-ca',
    group: G_POOL,
    metavar: 'FILE',
    help: 'Verify Pods against this PEM CA bundle instead (implies --upstream-tls); reloaded within 5s when it changes',
    defaultText: 'none',
    parse: readCertificates,
  }),
  upstreamCert: value<PemFile>({
    name: 'upstream-cert',
    group: G_POOL,
    metavar: 'FILE',
    help: 'PEM client certificate chain presented to Pods (mTLS; needs --upstream-key; implies --upstream-tls); reloaded within 5s when it changes, new connections to every Pod replacing the old',
    defaultText: 'none',
    parse: readCertificates,
  }),
  upstreamKey: value<PemFile>({
    name: 'upstream-key',
    group: G_POOL,
    metavar: 'FILE',
    help: 'PEM private key of --upstream-cert (unencrypted)',
    defaultText: 'none',
    parse: readPrivateKey,
  }),
  upstreamServerName: value<string>({
    name: 'upstream-server-name',
    group: G_POOL,
    metavar: 'NAME',
    help: "Name sent as SNI and verified in every Pod's certificate (needs TLS)",
    defaultText: 'the target\'s host name: the Service name for dns:///, SERVICE.NAMESPACE.svc for k8s:///, the host for HOST:PORT',
    parse: parseServerName,
  }),
  dnsServer: list<HostPort>({
    name: 'dns-server',
    group: G_DNS,
    metavar: 'IP[:PORT]',
    help: 'DNS server for dns:/// targets (port 53 if omitted)',
    defaultText: 'the nameservers in --resolv-conf',
    parse: (s) => parseHostPort(s, 'DNS server', { defaultPort: 53, ipOnly: true }),
  }),
  resolveInterval: value<number>({
    name: 'resolve-interval',
    group: G_DNS,
    metavar: 'DURATION',
    help: 'How often dns:/// targets are re-resolved (at least 100ms)',
    defaults: ['5s'],
    parse: duration(100),
  }),
  dnsTimeout: value<number>({
    name: 'dns-timeout',
    group: G_DNS,
    metavar: 'DURATION',
    help: 'Timeout of one DNS query',
    defaults: ['2s'],
    parse: positiveDuration,
  }),
  dnsFamily: value<DnsFamily>({
    name: 'dns-family',
    group: G_DNS,
    metavar: DNS_FAMILIES.join('|'),
    help: 'Record types asked for dns:/// targets: any = A and AAAA (each used whatever happens to the other), ipv4 = A only, ipv6 = AAAA only',
    defaults: ['any'],
    parse: (s) => parseChoice(s, DNS_FAMILIES),
  }),
  resolvConf: value<string>({
    name: 'resolv-conf',
    group: G_DNS,
    metavar: 'PATH',
    help: 'Where to read nameservers from when no --dns-server is given',
    defaults: ['/etc/resolv.conf'],
    parse: (s) => {
      if (s.trim() === '') throw new Error('empty path');
      return s;
    },
  }),
  kubeconfig: value<string>({
    name: 'kubeconfig',
    group: G_K8S,
    metavar: 'FILE',
    help: 'kubeconfig file for k8s:/// targets when running outside a cluster (its current context; also env KUBECONFIG, first file of the list); without it, the in-cluster service account',
    defaultText: 'in-cluster service account',
    envAlias: 'KUBECONFIG',
    parse: (s) => {
      const file = s.split(':').find((f) => f.trim() !== '');
      if (file === undefined) throw new Error('empty path');
      return file;
    },
  }),
  preferZone: value<string>({
    name: 'prefer-zone',
    group: G_K8S,
    metavar: 'ZONE',
    help: "Send calls only to Pods whose EndpointSlice zone is ZONE while that zone has Pods in rotation, else to all (k8s:/// targets; e.g. the node's topology.kubernetes.io/zone)",
    defaultText: 'none',
    parse: (s) => {
      const zone = s.trim();
      if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(zone)) throw new Error(`'${s}' is not a zone name`);
      return zone;
    },
  }),
  workers: value<number | 'auto'>({
    name: 'workers',
    group: G_RUN,
    metavar: 'N|auto',
    help: 'Worker processes sharing the listener (node:cluster), each with its own connections to every Pod; auto = the CPUs this container may use (cgroup quota)',
    defaults: ['1'],
    parse: (s) => (s.trim().toLowerCase() === 'auto' ? 'auto' : parseInteger(s, 1, MAX_WORKERS)),
  }),
  shutdownDelay: value<number>({
    name: 'shutdown-delay',
    group: G_RUN,
    metavar: 'DURATION',
    help: 'After SIGTERM, keep serving (with /readyz failing) this long so endpoint removal propagates',
    defaults: ['5s'],
    parse: duration(),
  }),
  drainTimeout: value<number>({
    name: 'drain-timeout',
    group: G_RUN,
    metavar: 'DURATION',
    help: 'Then wait at most this long for in-flight calls and streams',
    defaults: ['30s'],
    parse: duration(),
  }),
  logLevel: value<LogLevel>({
    name: 'log-level',
    group: G_RUN,
    metavar: LOG_LEVELS.join('|'),
    help: 'Log level',
    defaults: ['info'],
    parse: (s) => parseChoice(s, LOG_LEVELS),
  }),
  accessLog: bool({
    name: 'access-log',
    group: G_RUN,
    help: 'Log one line per call',
    default: true,
  }),
  trustProxy: value<boolean | number | string[]>({
    name: 'trust-proxy',
    group: G_RUN,
    metavar: 'false|true|N|CIDR[,CIDR...]',
    help: 'Trust X-Forwarded-* from: nobody, everybody, the N nearest hops, or these proxies; decides the logged client address and the x-forwarded-for/-proto the Pods get (YAML: a list is fine)',
    defaults: ['false'],
    yamlListJoin: true,
    parse: parseTrustProxy,
  }),
  config: meta({
    name: 'config',
    group: G_RUN,
    metavar: 'FILE',
    help: 'YAML file whose keys are the flag names, e.g. "resolve-interval: 5s"; lists for repeatable flags',
    defaultText: 'none',
    noYaml: true,
  }),
  help: meta({ name: 'help', group: G_RUN, help: 'Print this help and exit', noEnv: true, noYaml: true }),
  version: meta({ name: 'version', group: G_RUN, help: 'Print the version and exit', noEnv: true, noYaml: true }),
} as const satisfies Record<string, Setting<unknown>>;

/** Every setting, in --help order. */
export const SETTINGS: readonly Setting[] = Object.values(S);

/** Group headings in --help order. */
export const GROUPS: readonly string[] = [G_UP, G_LISTEN, G_CORS, G_LIMITS, G_POOL, G_DNS, G_K8S, G_RUN];

export function settingByName(name: string): Setting | undefined {
  return SETTINGS.find((s) => s.name === name);
}

/** What --help shows as the default. */
export function defaultText(s: Setting): string {
  if (s.defaultText !== undefined) return s.defaultText;
  if (s.kind === 'meta') return '';
  return s.defaults.join(' ');
}

export interface SettingRow {
  /** "--resolve-interval" */
  flag: string;
  /** "GWG_RESOLVE_INTERVAL"; '' when not settable from the environment. */
  env: string;
  /** "resolve-interval"; '' when not settable in the YAML file. */
  yaml: string;
  help: string;
  default: string;
  repeatable: boolean;
}

/** The table as plain rows, for README generation and tests of the k8s manifests. */
export function settingsTable(): ReadonlyArray<SettingRow> {
  return SETTINGS.map((s) => ({
    flag: `--${s.name}`,
    env: s.noEnv ? '' : envName(s.name),
    yaml: s.noYaml ? '' : s.name,
    help: s.help,
    default: defaultText(s),
    repeatable: s.repeatable,
  }));
}

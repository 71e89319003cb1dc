// The one validated, typed configuration the gateway is built from.
// Flags, environment variables and the YAML file all end up here (see ./load.ts).

export interface HostPort {
  host: string;
  port: number;
}

/** Where an upstream's Pods come from. */
export type TargetSpec =
  | { kind: 'static'; /** as written, for logs and /endpoints */ text: string; addresses: HostPort[] }
  | { kind: 'dns'; text: string; name: string; port: number }
  /** k8s:///SERVICE.NAMESPACE:PORT: the Service's EndpointSlices, watched; `port` a number or a port name. */
  | { kind: 'k8s'; text: string; service: string; namespace: string; port: number | string };

export interface RouteConfig {
  /** Path prefix, e.g. "/echo.v1.EchoService/" or "/" */
  prefix: string;
  target: TargetSpec;
}

/** An allowed CORS origin: "*", an exact origin, or a pattern written /regex/ in config. */
export type OriginRule = '*' | string | RegExp;

export type BalancerName = 'round-robin' | 'least-request';

/** What speaks HTTP/2 to the Pods: grpc-js channels, or the gateway's own node:http2 client. */
export type UpstreamClientName = 'grpc-js' | 'http2';

export interface CorsConfig {
  allowOrigins: OriginRule[];
  allowCredentials: boolean;
  /** Access-Control-Max-Age in seconds. */
  maxAgeSeconds: number;
  /** Extra request headers to allow besides what the browser asks for (we reflect the request). */
  allowHeaders: string[];
  /** Extra response headers to expose besides gRPC ones and the metadata returned per call. */
  exposeHeaders: string[];
}

export interface LimitsConfig {
  /** Largest single gRPC message, request or response (default 4 MiB). */
  maxMessageBytes: number;
  /** Largest request body on the wire (default: room for one max message in text mode). */
  maxRequestBytes: number;
  /** Node's maxHeaderSize for the HTTP/1.1 listener. */
  maxHeaderBytes: number;
  maxHeadersCount: number;
  /** Time to receive the request headers. */
  headersTimeoutMs: number;
  /** Time to receive the whole request body (never applies to the response stream). */
  requestTimeoutMs: number;
  /** HTTP keep-alive idle timeout; must outlast the load balancer in front (ALB 60 s, Google 600 s). */
  httpIdleTimeoutMs: number;
  /** Upper bound on any call's duration; 0 = none (long server streams are never cut by default). */
  maxCallDurationMs: number;
  /** Calls in flight at once in this process, streams included; 0 = no bound. */
  maxConcurrentCalls: number;
  /** Request body bytes (as received) held at once by this process's calls in flight; 0 = no bound. */
  maxBufferedRequestBytes: number;
  /** Client connections open at once on the gRPC-Web listener (--max-connections, counted by ../http/bounds.ts); 0 = no bound. */
  maxClientConnections: number;
  /** HTTP/2 streams one client connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

/** TLS on the serving listener (--tls-cert, --tls-key, --tls-client-ca); the files are read again when they change. */
export interface ListenerTlsConfig {
  certFile: string;
  keyFile: string;
  /** Require client certificates signed by this CA bundle; null: no client certificates asked for. */
  clientCaFile: string | null;
}

export interface UpstreamOptions {
  balancer: BalancerName;
  /** --upstream-client: grpc-js channels or the node:http2 transport (src/upstream/http2/). */
  client: UpstreamClientName;
  /** How long a call waits for a READY endpoint before failing UNAVAILABLE. */
  connectTimeoutMs: number;
  /** HTTP/2 keepalive ping interval on upstream connections with calls in flight. */
  keepalivePingIntervalMs: number;
  /** How long a keepalive ping may go unanswered before the connection is dropped. */
  keepalivePingTimeoutMs: number;
  /** Transparent retries, on another endpoint, of calls the Pod provably never processed. */
  maxRetries: number;
  /** Retries of answers the application gave (--retry-on); null: none (the default). */
  retryPolicy: RetryPolicyConfig | null;
  /** Request bytes of a streamed call kept for a retry; a call that sends more is not retried. */
  retryBufferBytes: number;
  /** In-flight calls per connection above which another connection to the same Pod is opened. */
  streamsPerConnection: number;
  /** At most this many connections to one Pod. */
  maxConnectionsPerPod: number;
  /** How long a Pod removed from DNS may keep serving its in-flight calls. */
  podDrainTimeoutMs: number;
  /** Active health checks (grpc.health.v1 Check) per Pod; 0 = off. */
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
  /** --prefer-zone: calls stay on Pods of this zone while it has any in rotation; null: no preference. */
  preferZone: string | null;
  /** TLS to every Pod (--upstream-tls and friends); null: plaintext HTTP/2. */
  tls: UpstreamTlsConfig | null;
}

/** How the gateway speaks TLS to Pods. PEM bytes were read and checked at start. */
export interface UpstreamTlsConfig {
  /** CA bundle Pods are verified against; null: Node's bundled public CAs (and NODE_EXTRA_CA_CERTS). */
  ca: Buffer | null;
  /** Client certificate chain and key for mTLS; both or neither. */
  cert: Buffer | null;
  key: Buffer | null;
  /** SNI and the name verified in each Pod's certificate; null: the target's host name. */
  serverName: string | null;
  /** Where ca, cert and key were read from, to read them again when they change; absent: no file given. */
  files?: UpstreamTlsFiles;
}

/** The paths of the upstream TLS files that were given (--upstream-ca, --upstream-cert, --upstream-key). */
export type UpstreamTlsFiles = Partial<Record<'ca' | 'cert' | 'key', string>>;

/** --retry-on and friends: like a gRPC service config's retryPolicy, for idempotent methods only. */
export interface RetryPolicyConfig {
  /** gRPC status codes (numbers) whose answers are retried. */
  codes: number[];
  /** gRPC path prefixes of the methods the user declares idempotent. */
  methods: string[];
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Retries in progress may be at most this percent of the calls in progress (at least 3). */
  budgetPercent: number;
}

export interface DnsConfig {
  /** Empty: use the nameservers of /etc/resolv.conf. */
  servers: HostPort[];
  resolveIntervalMs: number;
  /** Per-query timeout. */
  queryTimeoutMs: number;
  resolvConfPath: string;
  /** Which record types are asked: any = A and AAAA, each used whatever happens to the other. */
  family: DnsFamily;
}

export interface KubernetesConfig {
  /** --kubeconfig (or KUBECONFIG); null: the in-cluster service account. Read only for k8s:/// targets. */
  kubeconfigPath: string | null;
}

export type DnsFamily = 'any' | 'ipv4' | 'ipv6';

export interface ShutdownConfig {
  /** After SIGTERM, keep serving (with /readyz 503) this long so endpoint removal propagates. */
  delayMs: number;
  /** Then wait at most this long for in-flight calls and streams. */
  drainTimeoutMs: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  listen: HostPort;
  /** null: the listener is cleartext (HTTP/1.1 and h2c). */
  tls: ListenerTlsConfig | null;
  /** null: no admin listener. */
  admin: HostPort | null;
  /** Default upstream for every path no route matches; null: such calls are UNIMPLEMENTED. */
  upstream: TargetSpec | null;
  routes: RouteConfig[];
  cors: CorsConfig;
  limits: LimitsConfig;
  upstreamOptions: UpstreamOptions;
  dns: DnsConfig;
  kubernetes: KubernetesConfig;
  shutdown: ShutdownConfig;
  logLevel: LogLevel;
  accessLog: boolean;
  /** Worker processes (node:cluster); 'auto' = usable CPUs, resolved at start (see src/cluster/cpu-count.ts). */
  workers: number | 'auto';
  /** Trust X-Forwarded-For from these proxies (Fastify trustProxy): false, true, hop count or CIDR list. */
  trustProxy: boolean | number | string[];
}

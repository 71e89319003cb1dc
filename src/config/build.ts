// The rules that involve several settings, and the assembly of the typed Config.
import { ConfigError, fail } from './errors.js';
import { formatDuration } from './parse-values.js';
import { keyMatchesCertificate } from './pem-files.js';
import { S, type Setting } from './settings.js';
import type { Config, ListenerTlsConfig, RouteConfig, UpstreamTlsConfig } from './types.js';

/** Parsed values per setting, as buildConfig reads them (./load.ts fills it). */
export interface ResolvedSettings {
  one<T>(s: Setting<T>): T;
  opt<T>(s: Setting<T>): T | undefined;
  all<T>(s: Setting<T>): T[];
  isDefault(s: Setting): boolean;
  label(s: Setting): string;
}

/**
 * Assemble the Config and check the rules that involve several settings. `readFile` is the
 * loader's (the real file system, or a test's): files the gateway reads later are read once here,
 * so that one that is missing or unreadable stops the start naming its setting.
 */
export function buildConfig(r: ResolvedSettings, readFile: (path: string) => string): Config {
  const upstream = r.opt(S.upstream) ?? null;
  const routes: RouteConfig[] = r.all(S.route);
  const seen = new Set<string>();
  for (const route of routes) {
    if (seen.has(route.prefix)) fail(r.label(S.route), `prefix '${route.prefix}' is given twice`);
    seen.add(route.prefix);
  }
  if (upstream === null && routes.length === 0) {
    throw new ConfigError('no upstream: give --upstream TARGET or --route PREFIX=TARGET');
  }

  const allowOrigins = r.all(S.allowOrigin);
  const allowCredentials = r.one(S.allowCredentials);
  if (allowOrigins.includes('*') && allowOrigins.length > 1) {
    fail(r.label(S.allowOrigin), "'*' already allows every origin; give it alone or list only exact origins and patterns");
  }
  if (allowCredentials && allowOrigins.includes('*')) {
    fail(
      r.label(S.allowCredentials),
      "cannot be combined with allow-origin '*': browsers reject credentialed responses from a wildcard origin; list the allowed origins with --allow-origin",
    );
  }

  const maxMessageBytes = r.one(S.maxMessageSize);
  const maxRequestBytes = r.opt(S.maxRequestSize) ?? Math.ceil(((maxMessageBytes + 5) * 4) / 3) + 1024;

  let maxBufferedRequestBytes = r.one(S.maxBufferedRequestBytes);
  // The default follows a raised max-request-size; a value given explicitly must admit one request.
  if (r.isDefault(S.maxBufferedRequestBytes)) maxBufferedRequestBytes = Math.max(maxBufferedRequestBytes, maxRequestBytes);
  if (maxBufferedRequestBytes > 0 && maxBufferedRequestBytes < maxRequestBytes) {
    fail(
      r.label(S.maxBufferedRequestBytes),
      `${maxBufferedRequestBytes} bytes is less than max-request-size (${maxRequestBytes}): a request of the allowed size could never be taken`,
    );
  }

  const requestTimeoutMs = r.one(S.requestTimeout);
  let headersTimeoutMs = r.one(S.headersTimeout);
  // Node refuses headersTimeout > requestTimeout (when the latter is not 0).
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    if (r.isDefault(S.headersTimeout)) {
      headersTimeoutMs = requestTimeoutMs;
    } else {
      fail(
        r.label(S.headersTimeout),
        `${formatDuration(headersTimeoutMs)} is longer than request-timeout (${formatDuration(requestTimeoutMs)}); it must not be`,
      );
    }
  }

  const tls = listenerTls(r, readFile);

  const retryOn = r.opt(S.retryOn);
  const retryMethods = r.all(S.retryMethods);
  if (retryOn !== undefined && retryMethods.length === 0) {
    fail(
      r.label(S.retryOn),
      'retries answers the handler may have produced: name the idempotent methods it applies to with --retry-methods PREFIX',
    );
  }
  if (retryOn === undefined && retryMethods.length > 0) {
    fail(r.label(S.retryMethods), 'has no effect without --retry-on CODES');
  }
  const retryBackoffMs = r.one(S.retryBackoff);
  const retryMaxBackoffMs = r.one(S.retryMaxBackoff);
  if (retryMaxBackoffMs < retryBackoffMs) {
    fail(r.label(S.retryMaxBackoff), `is shorter than retry-backoff (${formatDuration(retryBackoffMs)})`);
  }

  const preferZone = r.opt(S.preferZone) ?? null;
  if (preferZone !== null && ![upstream, ...routes.map((x) => x.target)].some((t) => t?.kind === 'k8s')) {
    fail(r.label(S.preferZone), 'has no effect without a k8s:/// target (zones come from EndpointSlices)');
  }

  return {
    listen: r.one(S.listen),
    tls,
    admin: r.one(S.admin),
    upstream,
    routes,
    cors: {
      allowOrigins,
      allowCredentials,
      maxAgeSeconds: r.one(S.corsMaxAge),
      allowHeaders: [...new Set(r.all(S.corsAllowHeader))],
      exposeHeaders: [...new Set(r.all(S.corsExposeHeader))],
    },
    limits: {
      maxMessageBytes,
      maxRequestBytes,
      maxHeaderBytes: r.one(S.maxHeaderSize),
      maxHeadersCount: r.one(S.maxHeaders),
      headersTimeoutMs,
      requestTimeoutMs,
      httpIdleTimeoutMs: r.one(S.keepaliveTimeout),
      maxCallDurationMs: r.one(S.maxCallDuration),
      maxConcurrentCalls: r.one(S.maxConcurrentCalls),
      maxBufferedRequestBytes,
      maxClientConnections: r.one(S.maxConnections),
      maxConcurrentStreams: r.one(S.maxConcurrentStreams),
    },
    upstreamOptions: {
      balancer: r.one(S.balancer),
      client: r.one(S.upstreamClient),
      connectTimeoutMs: r.one(S.connectTimeout),
      keepalivePingIntervalMs: r.one(S.upstreamKeepalive),
      keepalivePingTimeoutMs: r.one(S.upstreamKeepaliveTimeout),
      maxRetries: r.one(S.maxRetries),
      retryPolicy:
        retryOn === undefined
          ? null
          : {
              codes: retryOn,
              methods: [...new Set(retryMethods)],
              maxAttempts: r.one(S.retryAttempts),
              initialBackoffMs: retryBackoffMs,
              maxBackoffMs: retryMaxBackoffMs,
              budgetPercent: r.one(S.retryBudget),
            },
      retryBufferBytes: r.one(S.retryBufferSize),
      streamsPerConnection: r.one(S.streamsPerConnection),
      maxConnectionsPerPod: r.one(S.maxConnectionsPerPod),
      podDrainTimeoutMs: r.one(S.podDrainTimeout),
      healthCheckIntervalMs: r.one(S.healthCheckInterval),
      healthCheckTimeoutMs: r.one(S.healthCheckTimeout),
      preferZone,
      tls: upstreamTls(r),
    },
    dns: {
      servers: r.all(S.dnsServer),
      resolveIntervalMs: r.one(S.resolveInterval),
      queryTimeoutMs: r.one(S.dnsTimeout),
      resolvConfPath: r.one(S.resolvConf),
      family: r.one(S.dnsFamily),
    },
    kubernetes: { kubeconfigPath: r.opt(S.kubeconfig) ?? null },
    shutdown: {
      delayMs: r.one(S.shutdownDelay),
      drainTimeoutMs: r.one(S.drainTimeout),
    },
    logLevel: r.one(S.logLevel),
    accessLog: r.one(S.accessLog),
    trustProxy: r.one(S.trustProxy),
    workers: r.one(S.workers),
  };
}

/** --upstream-tls and the files that imply it; null when the Pods are spoken to in plaintext. */
function upstreamTls(r: ResolvedSettings): UpstreamTlsConfig | null {
  const ca = r.opt(S.upstreamCa);
  const cert = r.opt(S.upstreamCert);
  const key = r.opt(S.upstreamKey);
  const serverName = r.opt(S.upstreamServerName);
  if (cert !== undefined && key === undefined) fail(r.label(S.upstreamCert), 'needs --upstream-key, the key of that certificate');
  if (key !== undefined && cert === undefined) fail(r.label(S.upstreamKey), 'needs --upstream-cert, the certificate of that key');
  if (cert !== undefined && key !== undefined && !keyMatchesCertificate(cert, key)) {
    fail(r.label(S.upstreamKey), `'${key.path}' is not the key of the certificate in '${cert.path}'`);
  }
  const tls = r.one(S.upstreamTls) || ca !== undefined || cert !== undefined;
  if (!tls) {
    if (serverName !== undefined) fail(r.label(S.upstreamServerName), 'has no effect without --upstream-tls');
    return null;
  }
  const config: UpstreamTlsConfig = { ca: ca?.pem ?? null, cert: cert?.pem ?? null, key: key?.pem ?? null, serverName: serverName ?? null };
  // Read again while the gateway runs (upstream/credentials.ts), as rotated certificates are.
  if (ca !== undefined || cert !== undefined) {
    config.files = { ...(ca && { ca: ca.path }), ...(cert && { cert: cert.path }), ...(key && { key: key.path }) };
  }
  return config;
}

/** The path of a file setting, once it has been read; fails naming the setting if it cannot be. */
function readable(r: ResolvedSettings, s: Setting<string>, path: string, readFile: (path: string) => string): string {
  try {
    readFile(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    fail(r.label(s), `cannot read '${path}': ${e.code ?? e.message}`);
  }
  return path;
}

/** --tls-cert and --tls-key come together; --tls-client-ca needs them; all three can be read. */
function listenerTls(r: ResolvedSettings, readFile: (path: string) => string): ListenerTlsConfig | null {
  const certFile = r.opt(S.tlsCert);
  const keyFile = r.opt(S.tlsKey);
  const clientCaFile = r.opt(S.tlsClientCa) ?? null;
  if (certFile === undefined && keyFile !== undefined) fail(r.label(S.tlsKey), 'needs --tls-cert FILE (the certificate chain it belongs to)');
  if (certFile !== undefined && keyFile === undefined) fail(r.label(S.tlsCert), 'needs --tls-key FILE (its private key)');
  if (certFile === undefined || keyFile === undefined) {
    if (clientCaFile !== null) fail(r.label(S.tlsClientCa), 'client certificates need a TLS listener: give --tls-cert and --tls-key');
    return null;
  }
  return {
    certFile: readable(r, S.tlsCert, certFile, readFile),
    keyFile: readable(r, S.tlsKey, keyFile, readFile),
    clientCaFile: clientCaFile === null ? null : readable(r, S.tlsClientCa, clientCaFile, readFile),
  };
}

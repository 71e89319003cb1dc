// Flags, environment and the YAML file → one validated Config.
// Precedence: defaults < YAML file (--config FILE or GWG_CONFIG) < environment < flags.
// Everything about individual settings comes from the table in ./settings.ts.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { formatDuration } from './parse-values.js';
import { defaultText, envName, GROUPS, S, SETTINGS, settingByName, type Setting } from './settings.js';
import type { Config, RouteConfig } from './types.js';

/** A configuration mistake. The message is one line naming the setting (flag, env var or YAML key). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type LoadResult =
  | { config: Config }
  | { help: string }
  /** `text` is what `--version` prints, e.g. "grpc-web-gateway 0.1.0". */
  | { version: true; text: string };

type Source = { kind: 'default' } | { kind: 'flag' } | { kind: 'env' } | { kind: 'yaml'; file: string };

/** How a setting is named in an error, in the words of the source it came from. */
function labelOf(s: Setting, source: Source): string {
  switch (source.kind) {
    case 'env':
      return envName(s.name);
    case 'yaml':
      return `${source.file}: ${s.name}`;
    default:
      return `--${s.name}`;
  }
}

/** First line only: ConfigError messages are one line. */
function oneLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

function fail(label: string, message: string): never {
  throw new ConfigError(`${label}: ${oneLine(message)}`);
}

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function suggest(name: string, candidates: readonly Setting[], prefix: string): string {
  const norm = name.toLowerCase().replace(/_/g, '-');
  let best: Setting | undefined;
  let bestD = Infinity;
  for (const s of candidates) {
    const d = distance(norm, s.name);
    if (d < bestD) [best, bestD] = [s, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(norm.length / 3))
    ? ` (did you mean ${prefix}${best.name}?)`
    : '';
}

/** Raw texts per setting from one source (repeatable settings may have several). */
type RawValues = Map<Setting, string[]>;

function scanMeta(argv: readonly string[]): 'help' | 'version' | undefined {
  for (const a of argv) {
    if (a === '--') break;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--version') return 'version';
  }
  return undefined;
}

function parseArgv(argv: readonly string[]): RawValues {
  const out: RawValues = new Map();
  const flagSettings = SETTINGS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      const hint = /^-[a-z]/i.test(arg) ? suggest(arg.replace(/^-+/, '').split('=')[0]!, flagSettings, '--') : '';
      const what = arg === '--' ? "'--'" : `argument '${arg}'`;
      throw new ConfigError(`unexpected ${what}${hint}: this command takes only --flags (see --help)`);
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let inline = eq < 0 ? undefined : arg.slice(eq + 1);
    let setting = settingByName(name);
    if (setting === undefined && name.startsWith('no-')) {
      const positive = settingByName(name.slice(3));
      if (positive?.kind === 'bool') {
        if (inline !== undefined) throw new ConfigError(`--${name} takes no value (use --${positive.name}=${inline})`);
        setting = positive;
        inline = 'false';
      }
    }
    if (setting === undefined) {
      throw new ConfigError(`unknown flag --${name}${suggest(name, flagSettings, '--')} (see --help)`);
    }
    const label = `--${setting.name}`;
    let text: string;
    if (setting.name === 'help' || setting.name === 'version') continue;
    if (setting.kind === 'bool') {
      const next = argv[i + 1];
      if (inline !== undefined) text = inline;
      else if (next !== undefined && /^(true|false)$/i.test(next)) text = argv[++i]!;
      else text = 'true';
    } else if (inline !== undefined) {
      text = inline;
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        fail(label, `needs a value (${setting.metavar})${next === undefined ? '' : `; write ${label}=VALUE if it starts with --`}`);
      }
      text = next;
      i++;
    }
    const prev = out.get(setting);
    if (prev !== undefined && !setting.repeatable) fail(label, 'given more than once');
    out.set(setting, [...(prev ?? []), text]);
  }
  return out;
}

function readEnv(env: NodeJS.ProcessEnv): RawValues {
  const out: RawValues = new Map();
  for (const s of SETTINGS) {
    if (s.noEnv) continue;
    const v = env[envName(s.name)];
    if (v === undefined || v.trim() === '') continue; // empty counts as unset (templated manifests)
    out.set(s, s.repeatable ? v.trim().split(/\s+/) : [v]);
  }
  return out;
}

function yamlScalar(v: unknown, s: Setting, label: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && s.yamlObject !== undefined) {
    try {
      return s.yamlObject(v as Record<string, unknown>);
    } catch (err) {
      fail(label, (err as Error).message);
    }
  }
  return fail(label, `expected ${s.repeatable ? 'a list of values' : 'a single value'}, not ${Array.isArray(v) ? 'a nested list' : v === null ? 'an empty item' : 'a mapping'}`);
}

function readYaml(file: string, fileLabel: string, readFile: (path: string) => string): RawValues {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : oneLine(e.message);
    fail(fileLabel, `cannot read config file '${file}': ${why}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const msg = oneLine(doc.errors[0]!.message).replace(/:$/, '');
    throw new ConfigError(`${file}: YAML syntax error: ${msg}`);
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return new Map();
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`${file}: expected a mapping of settings (e.g. "upstream: dns:///echo:50051") at the top level`);
  }
  const yamlSettings = SETTINGS.filter((s) => !s.noYaml);
  const out: RawValues = new Map();
  for (const [key, v] of Object.entries(data as Record<string, unknown>)) {
    const s = settingByName(key);
    if (s === undefined || s.noYaml) {
      const why = s === undefined ? `unknown key '${key}'${suggest(key, yamlSettings, '')}` : `'${key}' cannot be set in the config file`;
      throw new ConfigError(`${file}: ${why}`);
    }
    if (v === null || v === undefined) continue; // "key:" with no value: unset
    const label = `${file}: ${key}`;
    if (Array.isArray(v)) {
      if (s.repeatable) out.set(s, v.map((item) => yamlScalar(item, s, label)));
      else if (s.yamlListJoin) out.set(s, [v.map((item) => yamlScalar(item, s, label)).join(',')]);
      else fail(label, 'expected a single value, not a list');
    } else {
      out.set(s, [yamlScalar(v, s, label)]);
    }
  }
  return out;
}

/** Parsed values per setting, and which source each came from. */
class Resolved {
  private readonly values = new Map<Setting, unknown[]>();
  private readonly sources = new Map<Setting, Source>();

  set(s: Setting, source: Source, values: unknown[]): void {
    this.values.set(s, values);
    this.sources.set(s, source);
  }
  /** A setting with a default. */
  one<T>(s: Setting<T>): T {
    const v = this.values.get(s);
    if (v === undefined || v.length === 0) throw new Error(`internal: --${s.name} has no value`);
    return v[0] as T;
  }
  /** A setting without a default: undefined when not given. */
  opt<T>(s: Setting<T>): T | undefined {
    return this.values.get(s)?.[0] as T | undefined;
  }
  all<T>(s: Setting<T>): T[] {
    return (this.values.get(s) ?? []) as T[];
  }
  isDefault(s: Setting): boolean {
    return (this.sources.get(s) ?? { kind: 'default' }).kind === 'default';
  }
  label(s: Setting): string {
    return labelOf(s, this.sources.get(s) ?? { kind: 'default' });
  }
}

/**
 * Read the configuration. `argv` excludes node and the script (process.argv.slice(2)).
 * Returns { help } / { version } when asked for; throws ConfigError on any mistake.
 */
export function loadConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): LoadResult {
  const wanted = scanMeta(argv);
  if (wanted === 'help') return { help: helpText() };
  if (wanted === 'version') return { version: true, text: versionText() };

  const flags = parseArgv(argv);
  const envValues = readEnv(env);
  const configFlag = flags.get(S.config)?.[0];
  const configEnv = envValues.get(S.config)?.[0];
  let yaml: RawValues = new Map();
  let yamlSource: Source = { kind: 'default' };
  if (configFlag !== undefined || configEnv !== undefined) {
    const file = (configFlag ?? configEnv)!;
    if (file.trim() === '') fail('--config', 'needs a file name');
    yamlSource = { kind: 'yaml', file };
    yaml = readYaml(file, configFlag !== undefined ? '--config' : envName('config'), readFile);
  }

  const resolved = new Resolved();
  for (const s of SETTINGS) {
    if (s.kind === 'meta') continue;
    let source: Source;
    let texts: readonly string[];
    if (flags.has(s)) [source, texts] = [{ kind: 'flag' }, flags.get(s)!];
    else if (envValues.has(s)) [source, texts] = [{ kind: 'env' }, envValues.get(s)!];
    else if (yaml.has(s)) [source, texts] = [yamlSource, yaml.get(s)!];
    else [source, texts] = [{ kind: 'default' }, s.defaults];
    const label = labelOf(s, source);
    const values = texts.map((t) => {
      if (t.trim() === '') fail(label, `needs a value (${s.metavar || 'true|false'})`);
      try {
        return s.parse(t);
      } catch (err) {
        return fail(label, (err as Error).message);
      }
    });
    resolved.set(s, source, values);
  }
  return { config: buildConfig(resolved) };
}

/** Assemble the Config and check the rules that involve several settings. */
function buildConfig(r: Resolved): Config {
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

  return {
    listen: r.one(S.listen),
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
    },
    upstreamOptions: {
      balancer: r.one(S.balancer),
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
      streamsPerConnection: r.one(S.streamsPerConnection),
      maxConnectionsPerPod: r.one(S.maxConnectionsPerPod),
      podDrainTimeoutMs: r.one(S.podDrainTimeout),
      healthCheckIntervalMs: r.one(S.healthCheckInterval),
      healthCheckTimeoutMs: r.one(S.healthCheckTimeout),
    },
    dns: {
      servers: r.all(S.dnsServer),
      resolveIntervalMs: r.one(S.resolveInterval),
      queryTimeoutMs: r.one(S.dnsTimeout),
      resolvConfPath: r.one(S.resolvConf),
      family: r.one(S.dnsFamily),
    },
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

let cachedVersion: string | undefined;

/**
 * The version in package.json: the nearest one up from this module that is ours. Sources sit
 * two levels below it (src/config/), the bundle one or two (dist/cli.js, dist/chunks/).
 */
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    cachedVersion = 'unknown';
    for (let up = '../'; up.length <= 4 * 3; up += '../') {
      let pkg: { name?: string; version?: string };
      try {
        pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as typeof pkg;
      } catch {
        continue;
      }
      if (pkg.name === 'grpc-web-gateway') {
        cachedVersion = pkg.version ?? 'unknown';
        break;
      }
    }
  }
  return cachedVersion;
}

/** What --version prints. */
export function versionText(): string {
  return `grpc-web-gateway ${packageVersion()}`;
}

function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/** Usage and every setting with its environment variable and default. */
export function helpText(): string {
  const out: string[] = [
    'Usage: grpc-web-gateway [FLAGS]',
    '',
    'Proxies gRPC-Web calls from browsers to gRPC servers, spreading every call over the Pods behind',
    'each upstream. At least one of --upstream and --route is required.',
    '',
    ...wrap(
      'Every flag can also be set by its environment variable or as a key of the YAML file given by ' +
        '--config (the flag name without dashes). Precedence: flags > environment > YAML file > defaults. ' +
        'A repeatable flag may be given several times; in the environment separate its values with spaces, ' +
        'in YAML give a list; a higher source replaces the whole list of a lower one.',
      '',
    ),
    '',
    'DURATION: 500ms, 5s, 1m30s, 1h (0 where allowed).  BYTES: 1048576, 512KiB, 4MiB, 4MB (= 4000000).',
    'TARGET: HOST:PORT[,HOST:PORT...] (static; IPv6 as [::1]:50051) or dns:///NAME:PORT (re-resolved).',
  ];
  for (const group of GROUPS) {
    out.push('', `${group}:`);
    for (const s of SETTINGS.filter((x) => x.group === group)) {
      let usage: string;
      if (s.kind === 'bool') usage = `--${s.name}, --no-${s.name}`;
      else usage = s.metavar === '' ? `--${s.name}` : `--${s.name} ${s.metavar}`;
      if (s.repeatable) usage += '  (repeatable)';
      out.push(`  ${usage}`);
      out.push(...wrap(s.help, '      '));
      const facts: string[] = [];
      if (!s.noEnv) facts.push(`env ${envName(s.name)}`);
      const d = defaultText(s);
      if (d !== '') facts.push(`default: ${d}`);
      if (facts.length > 0) out.push(...wrap(`[${facts.join('; ')}]`, '      '));
    }
  }
  return `${out.join('\n')}\n`;
}

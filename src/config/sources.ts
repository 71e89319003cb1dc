// The three sources of settings, each read into raw texts per setting: command-line flags, the
// environment (GWG_*), and the YAML file. Parsing the texts and precedence are ./load.ts's job.
import { parseDocument } from 'yaml';
import { ConfigError, fail, oneLine } from './errors.js';
import { envName, SETTINGS, settingByName, type Setting } from './settings.js';

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
export type RawValues = Map<Setting, string[]>;

export function scanMeta(argv: readonly string[]): 'help' | 'version' | undefined {
  for (const a of argv) {
    if (a === '--') break;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--version') return 'version';
  }
  return undefined;
}

export function parseArgv(argv: readonly string[]): RawValues {
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

export function readEnv(env: NodeJS.ProcessEnv): RawValues {
  const out: RawValues = new Map();
  for (const s of SETTINGS) {
    if (s.noEnv) continue;
    const own = env[envName(s.name)];
    const v = own === undefined || own.trim() === '' ? (s.envAlias === undefined ? own : env[s.envAlias]) : own;
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

export function readYaml(file: string, fileLabel: string, readFile: (path: string) => string): RawValues {
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

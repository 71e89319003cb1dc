// Flags, environment and the YAML file → one validated Config.
// Precedence: defaults < YAML file (--config FILE or GWG_CONFIG) < environment < flags.
// Everything about individual settings comes from the table in ./settings.ts; reading each
// source is ./sources.ts's job, the rules across settings ./build.ts's, --help ./help.ts's.
import { readFileSync } from 'node:fs';
import { buildConfig, type ResolvedSettings } from './build.js';
import { fail, labelOf, type Source } from './errors.js';
import { helpText } from './help.js';
import { envName, S, SETTINGS, type Setting } from './settings.js';
import { parseArgv, readEnv, readYaml, scanMeta, type RawValues } from './sources.js';
import type { Config } from './types.js';
import { versionText } from './version.js';

export { ConfigError } from './errors.js';
export { helpText } from './help.js';
export { packageVersion, versionText } from './version.js';

export type LoadResult =
  | { config: Config }
  | { help: string }
  /** `text` is what `--version` prints, e.g. "grpc-web-gateway 0.1.0". */
  | { version: true; text: string };

/** Parsed values per setting, and which source each came from. */
class Resolved implements ResolvedSettings {
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
  return { config: buildConfig(resolved, readFile) };
}

// Configuration errors: one line, naming the setting in the words of the source it came from.
import { envName, type Setting } from './settings.js';

/** A configuration mistake. The message is one line naming the setting (flag, env var or YAML key). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Source = { kind: 'default' } | { kind: 'flag' } | { kind: 'env' } | { kind: 'yaml'; file: string };

/** How a setting is named in an error, in the words of the source it came from. */
export function labelOf(s: Setting, source: Source): string {
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
export function oneLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

export function fail(label: string, message: string): never {
  throw new ConfigError(`${label}: ${oneLine(message)}`);
}

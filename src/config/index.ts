// The config room: flags, environment and YAML → one validated, typed Config.
export type * from './types.js';
export { ConfigError, helpText, loadConfig, packageVersion, versionText, type LoadResult } from './load.js';
export { envName, settingsTable, type SettingRow } from './settings.js';
export { formatDuration, MAX_DURATION_MS, parseBoolean, parseByteSize, parseDuration, parseInteger } from './parse-values.js';
export {
  isDnsName,
  parseHeaderName,
  parseHostPort,
  parseOrigin,
  parseRoute,
  parseTarget,
  parseTrustProxy,
  type HostPortOptions,
} from './parse-addresses.js';

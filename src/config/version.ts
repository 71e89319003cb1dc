// What --version prints: the version in package.json.
import { readFileSync } from 'node:fs';

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

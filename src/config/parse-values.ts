// Parsers for the value kinds the settings table uses. Each takes the text as written and returns
// the typed value, or throws a plain Error whose message is one line that does NOT name the
// setting: the loader prefixes the flag, environment variable or YAML key the text came from.
//
// Scalars here (durations, sizes, numbers, choices, gRPC codes and method prefixes); addresses,
// targets, routes and origins in ./parse-addresses.ts.

/** Longest delay Node's timers accept (2^31-1 ms, ~24.8 days); longer ones fire at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const DURATION_UNITS: Record<string, bigint> = { ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n };
const DURATION_HINT = '(use e.g. 500ms, 5s, 1m)';

/** Split "1.5" into an exact integer numerator and a power-of-ten denominator. */
function decimal(text: string): { num: bigint; den: bigint } {
  const [int, frac = ''] = text.split('.');
  return { num: BigInt(int + frac), den: 10n ** BigInt(frac.length) };
}

/**
 * "500ms", "2s", "1m", "1h", "1.5s", "1m30s", "0" → milliseconds.
 * A plain number other than "0" is an error: "5" could mean 5 ms or 5 s.
 */
export function parseDuration(s: string): number {
  const text = s.trim();
  if (text === '0') return 0;
  if (text === '') throw new Error(`empty value is not a duration ${DURATION_HINT}`);
  if (text.startsWith('-')) throw new Error(`'${s}': durations cannot be negative`);
  if (/^\d+(\.\d+)?$/.test(text)) throw new Error(`'${s}' has no unit ${DURATION_HINT}`);
  const part = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0n;
  let end = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    const { num, den } = decimal(m[1]!);
    const scaled = num * DURATION_UNITS[m[2]!]!;
    if (scaled % den !== 0n) throw new Error(`'${s}' is finer than a millisecond`);
    total += scaled / den;
    end = part.lastIndex;
  }
  if (end !== text.length || end === 0) throw new Error(`'${s}' is not a duration ${DURATION_HINT}`);
  if (total > BigInt(MAX_DURATION_MS)) {
    throw new Error(`'${s}' is too long (at most 596h, the longest timer Node.js supports)`);
  }
  return Number(total);
}

/** The shortest text parseDuration reads back as `ms`, e.g. 90_000 → "1m30s", 0 → "0". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`${ms} is not a duration in ms`);
  if (ms === 0) return '0';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

const BYTE_UNITS: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  kb: 1000n,
  mb: 1000n ** 2n,
  gb: 1000n ** 3n,
  kib: 1024n,
  mib: 1024n ** 2n,
  gib: 1024n ** 3n,
};
const BYTES_HINT = '(use e.g. 1048576, 512KiB, 4MiB, 4MB)';

/** "4MiB", "512KiB", "1048576", "4MB" (= 4,000,000), "1.5KiB"; units are case-insensitive. */
export function parseByteSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
  if (m === null) throw new Error(`'${s}' is not a byte size ${BYTES_HINT}`);
  const unit = BYTE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) throw new Error(`'${s}': unknown size unit '${m[2]}' ${BYTES_HINT}`);
  const { num, den } = decimal(m[1]!);
  const scaled = num * unit;
  if (scaled % den !== 0n) throw new Error(`'${s}' is not a whole number of bytes`);
  const bytes = scaled / den;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`'${s}' is too large`);
  return Number(bytes);
}

/** A non-negative decimal integer, at least `min`. */
export function parseInteger(s: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const text = s.trim();
  if (!/^\d+$/.test(text)) {
    throw new Error(`'${s}' is not a ${min > 0 ? 'positive' : 'non-negative'} integer`);
  }
  const n = Number(text);
  if (n < min) throw new Error(`'${s}' is too small (at least ${min})`);
  if (n > max) throw new Error(`'${s}' is too large (at most ${max})`);
  return n;
}

/** "true" / "false" (any case). */
export function parseBoolean(s: string): boolean {
  const t = s.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new Error(`'${s}' is not true or false`);
}

/** One of `choices`. */
export function parseChoice<T extends string>(s: string, choices: readonly T[]): T {
  const t = s.trim();
  if ((choices as readonly string[]).includes(t)) return t as T;
  throw new Error(`'${s}' is not one of ${choices.join(', ')}`);
}

/** gRPC status code names (doc/statuscodes.md), in code order, as flags spell them. */
const STATUS_CODE_NAMES = [
  'ok', 'cancelled', 'unknown', 'invalid-argument', 'deadline-exceeded', 'not-found', 'already-exists',
  'permission-denied', 'resource-exhausted', 'failed-precondition', 'aborted', 'out-of-range', 'unimplemented',
  'internal', 'unavailable', 'data-loss', 'unauthenticated',
];

/**
 * "unavailable,resource-exhausted" → [14, 8]. Names in kebab or SCREAMING_SNAKE case, or numbers.
 * OK is refused: it is not a failure to retry.
 */
export function parseStatusCodes(s: string): number[] {
  const codes: number[] = [];
  for (const part of s.split(',')) {
    const word = part.trim().toLowerCase().replace(/_/g, '-');
    if (word === '') continue;
    const code = /^\d+$/.test(word) ? Number(word) : STATUS_CODE_NAMES.indexOf(word);
    if (!(code > 0 && code < STATUS_CODE_NAMES.length)) {
      throw new Error(`'${part.trim()}' is not a gRPC status code other than ok (e.g. unavailable, resource-exhausted, 14)`);
    }
    if (!codes.includes(code)) codes.push(code);
  }
  if (codes.length === 0) throw new Error('no status code given (e.g. unavailable,resource-exhausted)');
  return codes;
}

/** A gRPC method path prefix: "/pkg.Service/" or "/pkg.Service/Method". */
export function parseMethodPrefix(s: string): string {
  const text = s.trim();
  if (!/^\/[^/\s]+\/[^/\s]*$/.test(text)) {
    throw new Error(`'${s}' is not a gRPC method prefix (/package.Service/ or /package.Service/Method)`);
  }
  return text;
}

/** A file path (whether it can be read is checked with the other settings: config/build.ts). */
export function parseFilePath(s: string): string {
  const path = s.trim();
  if (path === '') throw new Error('empty value is not a file path');
  return path;
}

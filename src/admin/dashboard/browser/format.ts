// Pure helpers of the dashboard page: number and time formats, and rates from counter samples.
// Kept apart from the DOM code so that they are unit-tested (test/unit/admin/dashboard-format.test.ts).

/** How far back a rate looks: a Pod's calls/s is its counter's growth over this window. */
export const WINDOW_MS = 5000;
/** Slack for a poll that arrives late, so that a window still spans WINDOW_MS. */
const WINDOW_SLACK_MS = 200;

export type Sample<K extends string> = { t: number } & Record<K, number>;

export function fmtRate(r: number): string {
  if (!Number.isFinite(r) || r <= 0) return '0';
  if (r < 10) return r.toFixed(1);
  return Math.round(r).toLocaleString('en-US');
}

export function fmtInt(n: number): string {
  return Number(n).toLocaleString('en-US');
}

/** "3d 4h", "2h 5m", "1m 7s", "42s": the two largest units only. */
export function fmtDur(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const x = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${x}s`;
  return `${x}s`;
}

export function hhmmss(t: number): string {
  return new Date(t).toTimeString().slice(0, 8);
}

/** Growth per second of `key` over the samples (oldest first) inside the window ending at `now`. */
export function windowRate<K extends string>(hist: ReadonlyArray<Sample<K>>, now: number, key: K): number {
  let i = 0;
  while (i < hist.length - 1 && now - hist[i]!.t > WINDOW_MS + WINDOW_SLACK_MS) i++;
  const a = hist[i];
  const b = hist[hist.length - 1];
  if (!a || !b || a === b || b.t <= a.t) return 0;
  return Math.max(0, ((b[key] - a[key]) * 1000) / (b.t - a.t));
}

/** Drops samples that fell out of the window, keeping one before it so the window stays spanned. */
export function trimWindow(hist: Array<{ t: number }>, now: number): void {
  while (hist.length > 2 && now - hist[1]!.t > WINDOW_MS + WINDOW_SLACK_MS) hist.shift();
}

/**
 * The bars' scale: the even share (the dashed line) sits mid-track, so a balanced upstream reads
 * as bars ending on the line; a hot Pod reaches past it, and never past the track's end.
 */
export function barScale(podsInDns: number, maxShare: number): number {
  const scale = Math.min(1, 2 / Math.max(1, podsInDns));
  return maxShare > scale ? Math.min(1, maxShare * 1.05) : scale;
}

/** The SVG path data of the calls/s sparkline: [line, filled area], or null below two points. */
export function sparkPaths(values: readonly number[], points: number): [string, string] | null {
  if (values.length < 2) return null;
  const max = Math.max(1, ...values);
  const n = points - 1;
  const off = points - values.length;
  const pts = values.map((v, i) => `${(((off + i) / n) * 120).toFixed(1)},${(38 - (v / max) * 34).toFixed(1)}`);
  const line = `M${pts.join(' L')}`;
  return [line, `${line} L120,40 L${((off / n) * 120).toFixed(1)},40 Z`];
}

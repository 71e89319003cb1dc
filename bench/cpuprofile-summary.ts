// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time, and self time
// grouped by package / file, so the hot spots can be read without a flame-graph viewer. Frames
// of the minified dist/ bundle are mapped back through its source maps (dist/**/*.js.map) to the
// src/ file or package they came from, and to the original name where the map has one.
//
//   node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [--top 40]
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' }, callers: { type: 'string' }, inclusive: { type: 'boolean', default: false } },
});
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;

/** A bundle's frames, mapped back to where the code came from (frames outside dist/ stay as they are). */
const maps = new Map<string, SourceMap | null>();
function unbundle(cf: Node['callFrame']): void {
  if (!cf.url.includes('/dist/') || !cf.url.startsWith('file:')) return;
  let map = maps.get(cf.url);
  if (map === undefined) {
    const file = `${fileURLToPath(cf.url)}.map`;
    map = existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : null;
    maps.set(cf.url, map);
  }
  const entry = map?.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number; name?: string } | undefined;
  if (!entry?.originalSource) return;
  cf.url = new URL(entry.originalSource, cf.url).href;
  cf.lineNumber = entry.originalLine ?? cf.lineNumber;
  if (entry.name && cf.functionName.length <= 2) cf.functionName = entry.name;
}
for (const n of profile.nodes) unbundle(n.callFrame);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const src = url.lastIndexOf('/src/');
  if (src !== -1) return url.slice(src + 1);
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}
function group(url: string): string {
  if (!url) return '(native / gc / idle)';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const src = url.lastIndexOf('/src/');
  if (src !== -1) return url.slice(src + 1);
  const d = url.indexOf('/dist/');
  return d !== -1 ? url.slice(d + 1) : url;
}

const fn = new Map<string, number>();
const groups = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anonymous)'}  ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const g = cf.functionName === '(idle)' ? '(idle)' : cf.functionName === '(garbage collector)' ? '(gc)' : group(cf.url);
  groups.set(g, (groups.get(g) ?? 0) + t);
}
const idle = groups.get('(idle)') ?? 0;
// Percentages of busy time (idle excluded): what the process spent its CPU on.
const pct = (t: number): string => ((100 * t) / (total - idle)).toFixed(1).padStart(5) + '%';
process.stdout.write(`profile: ${(total / 1e6).toFixed(2)} s sampled, ${((total - idle) / 1e6).toFixed(2)} s busy (percentages: of busy time)\n\nby package / file:\n`);
for (const [g, t] of [...groups].filter(([g]) => g !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`${pct(t)}  ${g}\n`);
process.stdout.write(`\ntop ${values.top} functions by self time:\n`);
for (const [k, t] of [...fn].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) process.stdout.write(`${pct(t)}  ${k}\n`);

if (values.callers) {
  // Self time of every function named --callers, by the stack (5 frames up) it was called from.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map<string, number>();
  for (const [id, t] of self) {
    if (byId.get(id)!.callFrame.functionName !== values.callers) continue;
    const frames: string[] = [];
    for (let p = parent.get(id); p !== undefined && frames.length < 6; p = parent.get(p)) {
      const cf = byId.get(p)!.callFrame;
      frames.push(`${cf.functionName || '(anon)'}@${shortUrl(cf.url)}:${cf.lineNumber + 1}`);
    }
    const k = frames.join(' < ');
    stacks.set(k, (stacks.get(k) ?? 0) + t);
  }
  process.stdout.write(`\ncallers of ${values.callers}:\n`);
  for (const [k, t] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`${pct(t)}  ${k}\n`);
}

if (values.inclusive) {
  // Total time per function (its own plus its callees'), each sample counted once per function.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inc = new Map<string, number>();
  for (const [id, t] of self) {
    const seen = new Set<string>();
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const cf = byId.get(p)!.callFrame;
      if (cf.functionName === '(root)' || cf.functionName === '(idle)') continue;
      const k = `${cf.functionName || '(anonymous)'}  ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inc.set(k, (inc.get(k) ?? 0) + t);
    }
  }
  process.stdout.write(`\ntop ${values.top} functions by total (inclusive) time:\n`);
  for (const [k, t] of [...inc].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) process.stdout.write(`${pct(t)}  ${k}\n`);
}

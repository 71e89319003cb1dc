// Text rendering of the demo's per-Pod share table. Pure functions: data in, lines out.

export type PodState = 'new' | 'serving' | 'draining' | 'gone';

export interface PodRow {
  address: string;
  /** Calls this Pod answered in the last interval (client's view). */
  calls: number;
  /** Calls over the whole run. */
  total: number;
  state: PodState;
  /** The gateway's view from /endpoints: READY, CONNECTING, ..., "draining" or "-" (not in its pool). */
  gateway: string;
  /** Failed calls on this Pod as the gateway counts them. */
  failed: number;
}

export interface Frame {
  elapsedS: number;
  phase: string;
  /** Seconds since the previous frame: what `calls` covers. */
  intervalS: number;
  rows: PodRow[];
  /** Whole run. */
  ok: number;
  failed: number;
  connections: number;
  events: string[];
}

const BAR_WIDTH = 30;

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

export function num(n: number): string {
  return n.toLocaleString('en-US');
}

export function bar(share: number, ascii: boolean): string {
  const cells = Math.max(0, Math.min(BAR_WIDTH * 8, Math.round(share * BAR_WIDTH * 8)));
  if (ascii) return '#'.repeat(Math.round(cells / 8));
  const partial = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
  return '█'.repeat(Math.floor(cells / 8)) + partial[cells % 8]!;
}

/** The table for one refresh: a status line, one row per Pod, totals, recent events. */
export function renderFrame(f: Frame, opts: { ascii: boolean }): string[] {
  const intervalCalls = f.rows.reduce((a, r) => a + r.calls, 0);
  const live = f.rows.filter((r) => r.state !== 'gone').length;
  const lines: string[] = [];
  lines.push(
    `t=${f.elapsedS.toFixed(0)}s  ${f.phase}  ·  ${live} Pod${live === 1 ? '' : 's'} up  ·  ` +
      `${num(Math.round(intervalCalls / f.intervalS))} calls/s over ${f.connections} client connection${f.connections === 1 ? '' : 's'}` +
      `  ·  last ${f.intervalS.toFixed(1)} s:`,
  );
  const addrWidth = Math.max(15, ...f.rows.map((r) => r.address.length));
  lines.push(
    `  ${pad('POD', addrWidth)}  ${pad('CALLS', 9, true)}  ${pad('SHARE', 6, true)}  ${pad('', BAR_WIDTH)}  ` +
      `${pad('STATE', 8)}  ${pad('GATEWAY', 10)}  ${pad('FAILED', 6, true)}`,
  );
  for (const r of f.rows) {
    const share = intervalCalls > 0 ? r.calls / intervalCalls : 0;
    lines.push(
      `  ${pad(r.address, addrWidth)}  ${pad(num(r.calls), 9, true)}  ${pad(`${(share * 100).toFixed(1)}%`, 6, true)}  ` +
        `${pad(bar(share, opts.ascii), BAR_WIDTH)}  ${pad(r.state, 8)}  ${pad(r.gateway, 10)}  ${pad(String(r.failed), 6, true)}`,
    );
  }
  lines.push(`  total ${num(f.ok + f.failed)} calls, failed ${num(f.failed)}`);
  if (f.events.length > 0) {
    lines.push('  recent events:');
    for (const e of f.events) lines.push(`    ${e}`);
  }
  return lines;
}

// The bench's second layout for the HTTP/2 targets: the load client and the backend pinned to one
// CPU (in the direct baseline and on the gateway path alike, so both get the same CPU budget) and
// the gateway pinned to another. It asks whether the gateway keeps up when it is not starved, as
// in production where it is its own Pod; the shared-core figures stay beside it, unchanged.
import { readFileSync, readdirSync } from 'node:fs';
import { processTree } from './procs.js';
import { perRound, type RoundSample, type TargetCheck } from './stats.js';

/** Which CPU each side of a pinned run gets. */
export interface PinLayout {
  /** the load client and the backend, in both the direct and the gateway paths */
  loadCpu: number;
  /** the gateway, alone */
  gatewayCpu: number;
}

/** The pinned layout, or why it does not run (printed, and shown in the targets table). */
export type PinPlan = { layout: PinLayout; skip: null } | { layout: null; skip: string };

export type PinMode = 'auto' | 'on' | 'off';

/** Where a spawned process runs; `onSpawn` sees its PID (taskset execs the command: same PID). */
export interface Placement {
  cpu: number;
  onSpawn?: (pid: number) => void;
}

/** The direct baseline of the pinned layout; every pinned gateway row is a ratio over it. */
export const PINNED_DIRECT = 'direct grpc-js (pinned)';
/** Suffix of a gateway path in the pinned layout. */
export const OWN_CORE = ' (own core)';
/** Appended to each HTTP/2 target for its pinned row. */
export const PINNED_TARGET_SUFFIX = ', gateway on its own core (client+backend pinned to one CPU in both)';

/** "0-2,5" (Cpus_allowed_list, taskset's syntax) → [0, 1, 2, 5]. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/**
 * The pinned layout on the CPUs this process may use (its affinity, not the machine's count: a
 * container or a taskset'd shell may allow fewer), or the reason it cannot run.
 */
export function planPinning(mode: PinMode, hasTaskset: boolean, allowedCpus: readonly number[]): PinPlan {
  if (mode === 'off') return { layout: null, skip: 'not run (--pin off)' };
  const why = !hasTaskset
    ? 'taskset is not installed (apt-get install util-linux)'
    : allowedCpus.length < 2
      ? `only ${allowedCpus.length} CPU available (${allowedCpus.join(',') || 'none'})`
      : null;
  if (why === null) return { layout: { loadCpu: allowedCpus[0]!, gatewayCpu: allowedCpus[1]! }, skip: null };
  if (mode === 'on') throw new Error(`--pin on: the pinned layout cannot run: ${why}`);
  return { layout: null, skip: why };
}

/** `command args...` run on `cpu` only: every thread it starts inherits the mask. */
export function pinnedCommand(placement: Placement | undefined, command: string, args: string[]): [string, string[]] {
  return placement ? ['taskset', ['-c', String(placement.cpu), command, ...args]] : [command, args];
}

/** CPUs the process may run on now (the whole process, or one thread with `tid`). */
export function allowedCpus(pid: number, tid = pid): number[] {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (!m) throw new Error(`/proc/${pid}/task/${tid}/status has no Cpus_allowed_list`);
  return parseCpuList(m[1]!);
}

/**
 * Why `name` (every thread of PID and of its descendants) is not pinned to `cpu` alone, or null
 * when it is. Threads are read one by one: pinning set after start only moves the main thread.
 */
export function pinProblem(name: string, pid: number, cpu: number): string | null {
  let comm: string;
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return `${name} (PID ${pid}) is gone: its CPUs could not be read`;
  }
  // Still the taskset wrapper: it has not set the mask and exec'd the command yet.
  if (comm === 'taskset') return `${name} (PID ${pid}) is still taskset, not yet the command`;
  for (const p of processTree(pid)) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // a descendant that exited meanwhile
    }
    for (const tid of tids) {
      let cpus: number[];
      try {
        cpus = allowedCpus(p, Number(tid));
      } catch {
        continue; // a thread that exited meanwhile
      }
      if (cpus.length !== 1 || cpus[0] !== cpu) {
        return `${name} (PID ${p}${tid === String(p) ? '' : `, thread ${tid}`}) may run on CPUs ${cpus.join(',')}, not only on ${cpu}`;
      }
    }
  }
  return null;
}

/**
 * The pinning checks of one pinned step: long-lived processes checked at once, a load tool once
 * it runs (after `delayMs`, retried while still the taskset wrapper). The step fails if any
 * check failed or could not be made.
 */
export class PinWatch {
  private readonly problems: string[] = [];
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly delayMs = 1000) {}

  now(name: string, pid: number, cpu: number): void {
    const why = pinProblem(name, pid, cpu);
    if (why) this.problems.push(why);
  }

  /** A Placement for a load tool: checked while it runs. */
  tool(name: string, cpu: number): Placement {
    return {
      cpu,
      onSpawn: (pid) => {
        this.pending.push(this.later(name, pid, cpu));
      },
    };
  }

  private async later(name: string, pid: number, cpu: number): Promise<void> {
    let why: string | null = null;
    for (let attempt = 0; attempt < 10; attempt++) {
      await new Promise((r) => setTimeout(r, attempt === 0 ? this.delayMs : 100));
      why = pinProblem(name, pid, cpu);
      if (why === null || !why.includes('still taskset')) break;
    }
    if (why) this.problems.push(why);
  }

  /** After the step: null when every process was where it should be. */
  async result(): Promise<string | null> {
    await Promise.all(this.pending);
    if (this.pending.length === 0 && this.problems.length === 0) return 'no load tool was checked';
    return this.problems.length ? this.problems.join('; ') : null;
  }
}

/** The direct path a row's "× direct grpc-js" is taken against: the one of its own layout. */
export function directPathFor(path: string): string {
  return path.endsWith(OWN_CORE) || path === PINNED_DIRECT ? PINNED_DIRECT : 'direct grpc-js';
}

/** What happened to the pinned layout in this run, for its target rows. */
export interface PinOutcome {
  /** why the layout did not run, or null */
  skip: string | null;
  /** the pinning failures of each (case, path), by "case/path" */
  failures: ReadonlyMap<string, string>;
}

/**
 * The pinned row of one HTTP/2 target: same-round ratio of the own-core gateway over the pinned
 * direct client, against `min`. Skipped → not met, not failed (null); a pinning failure on either
 * path → not met.
 */
export function pinnedTarget<S extends RoundSample & { callsPerS: number }>(
  sharedTarget: string,
  samples: readonly S[],
  c: string,
  gatewayPath: string,
  outcome: PinOutcome,
  min: number,
): TargetCheck {
  const target = sharedTarget + PINNED_TARGET_SUFFIX;
  if (outcome.skip !== null) return { target, value: `skipped: ${outcome.skip}`, met: null };
  const failed = outcome.failures.get(`${c}/${gatewayPath}`) ?? outcome.failures.get(`${c}/${PINNED_DIRECT}`);
  if (failed !== undefined) return { target, value: 'pinning failed', met: false };
  const v = perRound(samples, c, gatewayPath, PINNED_DIRECT, (s) => s.callsPerS);
  if (!Number.isFinite(v)) return { target, value: 'skipped: not measured', met: null };
  return { target, value: `${v.toFixed(2)}×`, met: v >= min };
}

// Child processes for the bench: start, wait for ready, stop by PID; /proc readings.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';

/** Every process this bench started and has not yet seen exit: stopped by PID on the way out. */
const live = new Set<ChildProcess>();

export function killAllStarted(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export interface ServiceOptions {
  /** stdout goes to /dev/null instead of being read (chatty processes: access log). */
  quietStdout?: boolean;
  /** The service is ready once a stdout line makes this return non-null (ignored with quietStdout). */
  ready?: (line: string) => boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A long-running process under test (backend, gateway, peer). */
export class Service {
  readonly child: ChildProcess;
  stderr = '';
  private stdoutLines: string[] = [];

  private constructor(
    readonly name: string,
    command: string,
    args: string[],
    options: ServiceOptions,
  ) {
    const stdio: StdioOptions = ['ignore', options.quietStdout ? openSync('/dev/null', 'w') : 'pipe', 'pipe'];
    this.child = spawn(command, args, { stdio, env: options.env ?? process.env, cwd: options.cwd });
    live.add(this.child);
    this.child.on('exit', () => live.delete(this.child));
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (s: string) => {
      if (this.stderr.length < 20_000) this.stderr += s;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(name: string, command: string, args: string[], options: ServiceOptions = {}): Promise<Service> {
    const svc = new Service(name, command, args, options);
    if (!options.quietStdout && options.ready) await svc.waitFor(options.ready, 30_000);
    return svc;
  }

  /** Resolves with the first stdout line accepted by `test`; rejects if the process exits first. */
  private waitFor(test: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const out = this.child.stdout!;
    out.setEncoding('utf8');
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => fail(new Error(`${this.name}: not ready within ${timeoutMs} ms`)), timeoutMs);
      const onData = (s: string): void => {
        buf += s;
        let nl;
        while ((nl = buf.indexOf('\n')) !== -1) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.stdoutLines.push(line);
          if (test(line)) {
            cleanup();
            // Keep draining stdout so the child never blocks on a full pipe.
            out.on('data', () => {});
            resolve(line);
            return;
          }
        }
      };
      const onExit = (code: number | null): void =>
        fail(new Error(`${this.name} exited (${code}) before it was ready: ${this.stderr.trim().slice(-2000)}`));
      const cleanup = (): void => {
        clearTimeout(timer);
        out.off('data', onData);
        this.child.off('exit', onExit);
      };
      const fail = (e: Error): void => {
        cleanup();
        reject(e);
      };
      out.on('data', onData);
      this.child.once('exit', onExit);
    });
  }

  readyLine(): string | undefined {
    return this.stdoutLines.at(-1);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(this.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a bounded tool (load generator, client) to completion; killed after timeoutMs. `onSpawn`
 * gets its PID while it runs (the pinned layout checks where it may run).
 */
export function runTool(
  command: string,
  args: string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
  onSpawn?: (pid: number) => void,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    live.add(child);
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < 50_000) stderr += s;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** The BENCHJSON line a bench tool printed. */
export function benchJson<T>(name: string, r: ToolResult): T {
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (!line) {
    throw new Error(
      `${name}: no result (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${(r.stderr || r.stdout).trim().slice(-1500)}`,
    );
  }
  return JSON.parse(line.slice('BENCHJSON '.length)) as T;
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

// ---- /proc ------------------------------------------------------------------------------------

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clkTck = Number(r.stdout.trim()) || 100;
  }
  return clkTck;
}

/**
 * The process and its descendants (a --workers gateway is a primary and its workers): every
 * figure below is summed over them, so one process and a process tree compare alike.
 */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let children = '';
    try {
      children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    for (const c of children.trim().split(/\s+/)) if (c) out.push(Number(c));
  }
  return out;
}

function sumTree(pid: number, f: (p: number) => number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      sum += f(p);
    } catch {
      // a worker that exited between the listing and the read
    }
  }
  return sum;
}

/** CPU seconds (user + system) used so far by the process and its descendants. */
export function cpuSeconds(pid: number): number {
  return sumTree(pid, (p) => {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / ticksPerSecond();
  });
}

function statusKiB(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Resident set size now, MiB (VmRSS), of the process and its descendants. */
export function rssMiB(pid: number): number {
  return sumTree(pid, (p) => statusKiB(p, 'VmRSS')) / 1024;
}

/**
 * Peak resident set size since start or the last resetPeak, MiB (VmHWM): for a process tree,
 * the sum of each process's peak (an upper bound: the peaks need not coincide).
 */
export function peakRssMiB(pid: number): number {
  return sumTree(pid, (p) => statusKiB(p, 'VmHWM')) / 1024;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: "5" > /proc/PID/clear_refs). False if refused. */
export function resetPeak(pid: number): boolean {
  try {
    for (const p of processTree(pid)) writeFileSync(`/proc/${p}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Busy and total CPU time so far of the whole machine, or of CPU `cpu` (/proc/stat, in ticks). */
export function machineTicks(cpu?: number): { busy: number; total: number } {
  const name = cpu === undefined ? 'cpu' : `cpu${cpu}`;
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(name + ' '));
  if (!line) throw new Error(`/proc/stat has no ${name} line`);
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet (under `maxBusy` of all cores busy over a 250 ms window),
 * at most `limitMs`: what the previous step left running (GC, closing connections, another
 * process's idle-time work) must not be measured as the next step's contention. Returns the
 * last window's busy fraction.
 */
export async function settle(maxBusy = 0.15, limitMs = 3000): Promise<number> {
  const end = Date.now() + limitMs;
  let busy = 1;
  while (Date.now() < end) {
    const a = machineTicks();
    await new Promise((r) => setTimeout(r, 250));
    const b = machineTicks();
    busy = b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
    if (busy < maxBusy) break;
  }
  return busy;
}

// The bench's pinned layout (bench/pinning.ts): the plan, the taskset command line, the /proc
// check that each process (every thread of it) runs only where the layout says, and the target
// rows with their same-round ratios.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OWN_CORE,
  PINNED_DIRECT,
  PINNED_TARGET_SUFFIX,
  PinWatch,
  allowedCpus,
  directPathFor,
  parseCpuList,
  pinProblem,
  pinnedCommand,
  pinnedTarget,
  planPinning,
} from '../../../bench/pinning.js';
import { cpuSeconds, machineTicks, runTool } from '../../../bench/procs.js';
import { perRound } from '../../../bench/stats.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore' });
  started.push(child);
  return child;
}

/** Polls `f` until it returns non-undefined, at most `ms`. */
async function until<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Node is past start-up: its V8 platform and libuv threads run beside the main thread. */
const threadsStarted = (pid: number): Promise<true> =>
  until(() => (readdirSync(`/proc/${pid}/task`).length > 3 && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node' ? true : undefined));

const mine = allowedCpus(process.pid);
const TARGET = 'native gRPC passthrough (grpc-js client, h2c): calls/s ≥ 0.8× direct grpc-js';

describe('pinned layout plan and command line', () => {
  it('parses Cpus_allowed_list syntax and rejects anything else', () => {
    expect(parseCpuList('0-1')).toEqual([0, 1]);
    expect(parseCpuList('0,2-4,7\n')).toEqual([0, 2, 3, 4, 7]);
    expect(parseCpuList('3')).toEqual([3]);
    expect(() => parseCpuList('0-1,x')).toThrow(/not a CPU list/);
  });

  it('puts the load on the first allowed CPU and the gateway on the second', () => {
    expect(planPinning('auto', true, [2, 5, 6])).toEqual({ layout: { loadCpu: 2, gatewayCpu: 5 }, skip: null });
    expect(planPinning('on', true, [0, 1])).toEqual({ layout: { loadCpu: 0, gatewayCpu: 1 }, skip: null });
  });

  it('skips with the reason when taskset is missing, one CPU is allowed, or --pin off; --pin on fails instead', () => {
    expect(planPinning('auto', false, [0, 1])).toEqual({ layout: null, skip: expect.stringMatching(/taskset is not installed/) });
    expect(planPinning('auto', true, [3])).toEqual({ layout: null, skip: 'only 1 CPU available (3)' });
    expect(planPinning('off', true, [0, 1])).toEqual({ layout: null, skip: 'not run (--pin off)' });
    expect(() => planPinning('on', false, [0, 1])).toThrow(/--pin on: .*taskset is not installed/);
    expect(() => planPinning('on', true, [0])).toThrow(/--pin on: .*only 1 CPU/);
  });

  it('wraps a pinned command in taskset -c and leaves an unpinned one alone', () => {
    expect(pinnedCommand({ cpu: 1 }, 'h2load', ['-c1', '-t1', 'http://x/'])).toEqual(['taskset', ['-c', '1', 'h2load', '-c1', '-t1', 'http://x/']]);
    expect(pinnedCommand(undefined, 'wrk', ['-t1'])).toEqual(['wrk', ['-t1']]);
  });

  it('takes each row\'s ratio against the direct client of its own layout', () => {
    expect(directPathFor('gateway grpc-js' + OWN_CORE)).toBe(PINNED_DIRECT);
    expect(directPathFor(PINNED_DIRECT)).toBe(PINNED_DIRECT);
    expect(directPathFor('gateway grpc-js')).toBe('direct grpc-js');
    expect(directPathFor('direct h2load')).toBe('direct grpc-js');
  });
});

describe('pinning check on real processes', () => {
  const cpu = mine[0]!;
  const other = mine[1] ?? cpu + 1;

  it('passes a process started under taskset, every thread included, and names the CPU it is not pinned to', async () => {
    // node starts several threads (V8 platform, libuv): all inherit taskset's mask.
    const child = start(...pinnedCommand({ cpu }, process.execPath, ['-e', 'setTimeout(() => {}, 30000)']));
    const pid = child.pid!;
    await threadsStarted(pid);
    expect(pinProblem('node', pid, cpu)).toBeNull();
    expect(pinProblem('node', pid, other)).toMatch(new RegExp(`^node \\(PID ${pid}\\) may run on CPUs ${cpu}, not only on ${other}$`));
  });

  it('fails a process pinned after start on its main thread only, naming the thread', async () => {
    const child = start(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    const pid = child.pid!;
    // Once node has started its threads, move the main thread alone (no -a).
    await threadsStarted(pid);
    expect(spawnSync('taskset', ['-p', '-c', String(cpu), String(pid)]).status).toBe(0);
    expect(allowedCpus(pid)).toEqual([cpu]);
    const why = pinProblem('gateway', pid, cpu);
    if (mine.length > 1) expect(why).toMatch(new RegExp(`^gateway \\(PID ${pid}, thread \\d+\\) may run on CPUs ${mine.join(',')}, not only on ${cpu}$`));
    else expect(why).toBeNull(); // one allowed CPU: every thread is on it anyway
  });

  it('reports a process that is gone', () => {
    const r = spawnSync('true');
    expect(pinProblem('wrk', r.pid!, cpu)).toMatch(/wrk \(PID \d+\) is gone/);
  });

  it('checks a load tool while it runs: pinned passes, unpinned fails, none checked fails', async () => {
    const ok = new PinWatch(100);
    const at = ok.tool('sleep', cpu);
    const r = await runTool(...pinnedCommand(at, 'sleep', ['1']), 10_000, undefined, at.onSpawn);
    expect(r.code).toBe(0);
    expect(await ok.result()).toBeNull();

    const bad = new PinWatch(100);
    const notWrapped = bad.tool('sleep', cpu);
    await runTool('sleep', ['1'], 10_000, undefined, notWrapped.onSpawn);
    if (mine.length > 1) expect(await bad.result()).toMatch(new RegExp(`^sleep \\(PID \\d+\\) may run on CPUs ${mine.join(',')}, not only on ${cpu}$`));
    else expect(await bad.result()).toBeNull();

    expect(await new PinWatch(100).result()).toBe('no load tool was checked');
  });
});

describe('per-CPU busy time (what the pinned steps print)', () => {
  const tickS = 1 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim());

  it('reads one CPU\'s ticks, and counts a process pinned there as that CPU\'s busy time', async () => {
    const cpu = mine[mine.length - 1]!;
    const t0 = performance.now();
    const before = machineTicks(cpu);
    const spin = start(...pinnedCommand({ cpu }, process.execPath, ['-e', 'for (;;) {}']));
    const used = await until(() => {
      const s = cpuSeconds(spin.pid!);
      return s >= 0.5 ? s : undefined;
    }, 20_000);
    spin.kill('SIGKILL');
    const after = machineTicks(cpu);
    const wallS = (performance.now() - t0) / 1000;
    // One CPU's clock: about the wall time (the whole machine's line would be one per CPU).
    const totalS = (after.total - before.total) * tickS;
    expect(totalS).toBeGreaterThan(wallS * 0.5);
    expect(totalS).toBeLessThan(wallS * 1.5 + 2 * tickS);
    // Every tick the spinner ran is a busy tick of that CPU (2 ticks of rounding).
    expect((after.busy - before.busy) * tickS).toBeGreaterThanOrEqual(used - 2 * tickS);
  });

  it('refuses a CPU the machine does not have', () => {
    expect(() => machineTicks(4096)).toThrow('/proc/stat has no cpu4096 line');
  });
});

describe('pinned target rows', () => {
  const row = (round: number, path: string, callsPerS: number) => ({ case: 'grpc64', round, path, callsPerS });
  // Per-round ratios 1.0, 0.5 and 0.9: median 0.9, where the ratio of the medians would be 1.0.
  const samples = [
    row(1, PINNED_DIRECT, 1000), row(1, 'gateway grpc-js' + OWN_CORE, 1000),
    row(2, PINNED_DIRECT, 2000), row(2, 'gateway grpc-js' + OWN_CORE, 1000),
    row(3, PINNED_DIRECT, 900), row(3, 'gateway grpc-js' + OWN_CORE, 810),
    row(1, 'direct grpc-js', 4000), row(1, 'gateway grpc-js', 2000),
    row(2, 'direct grpc-js', 4000), row(2, 'gateway grpc-js', 1600),
    row(3, 'direct grpc-js', 4000), row(3, 'gateway grpc-js', 2400),
  ];
  const none = { skip: null, failures: new Map<string, string>() };

  it('is the median of same-round ratios of the own-core gateway over the pinned direct client', () => {
    expect(perRound(samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, PINNED_DIRECT, (s) => s.callsPerS)).toBeCloseTo(0.9, 10);
    expect(pinnedTarget(TARGET, samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, none, 0.8)).toEqual({
      target: TARGET + PINNED_TARGET_SUFFIX,
      value: '0.90×',
      met: true,
    });
    expect(pinnedTarget(TARGET, samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, none, 0.95).met).toBe(false);
  });

  it('leaves the shared-core ratio alone (its own direct client, its own rounds)', () => {
    expect(perRound(samples, 'grpc64', 'gateway grpc-js', 'direct grpc-js', (s) => s.callsPerS)).toBeCloseTo(0.5, 10);
  });

  it('never pairs samples of different rounds', () => {
    const lopsided = [row(1, PINNED_DIRECT, 1000), row(2, 'gateway grpc-js' + OWN_CORE, 1000)];
    expect(pinnedTarget(TARGET, lopsided, 'grpc64', 'gateway grpc-js' + OWN_CORE, none, 0.8)).toEqual({
      target: TARGET + PINNED_TARGET_SUFFIX,
      value: 'skipped: not measured',
      met: null,
    });
  });

  it('shows a skipped layout with its reason, never as met', () => {
    const c = pinnedTarget(TARGET, samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, { skip: 'taskset is not installed', failures: new Map() }, 0.8);
    expect(c).toEqual({ target: TARGET + PINNED_TARGET_SUFFIX, value: 'skipped: taskset is not installed', met: null });
  });

  it('fails the row when pinning did not take on its gateway path or on the pinned direct path', () => {
    for (const path of ['gateway grpc-js' + OWN_CORE, PINNED_DIRECT]) {
      const failures = new Map([[`grpc64/${path}`, 'grpc-client (PID 1) may run on CPUs 0,1, not only on 0']]);
      expect(pinnedTarget(TARGET, samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, { skip: null, failures }, 0.8)).toEqual({
        target: TARGET + PINNED_TARGET_SUFFIX,
        value: 'pinning failed',
        met: false,
      });
    }
    // A failure in another case's path does not touch this row.
    const elsewhere = new Map([[`h2web64/${PINNED_DIRECT}`, 'x']]);
    expect(pinnedTarget(TARGET, samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, { skip: null, failures: elsewhere }, 0.8).met).toBe(true);
  });
});

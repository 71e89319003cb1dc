// Shared by the resolver tests (not a test file itself: vitest only collects *.test.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedAddress, ResolverListener } from '../../../../src/upstream/types.js';

export interface Recorder extends ResolverListener {
  sets: ResolvedAddress[][];
  errors: Error[];
  /** Resolves with the first set (counting from now, or from index `from`) that satisfies pred. */
  waitForSet(pred: (s: ResolvedAddress[]) => boolean, timeoutMs?: number, from?: number): Promise<ResolvedAddress[]>;
  waitForErrors(n: number, timeoutMs?: number): Promise<void>;
}

export function recorder(): Recorder {
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const rec: Recorder = {
    sets: [],
    errors: [],
    onAddresses(a) {
      rec.sets.push(a);
      wake();
    },
    onError(e) {
      rec.errors.push(e);
      wake();
    },
    waitForSet(pred, timeoutMs = 3000, from = rec.sets.length) {
      return until(() => rec.sets.slice(from).find(pred), timeoutMs, 'address set', waiters);
    },
    async waitForErrors(n, timeoutMs = 3000) {
      await until(() => (rec.errors.length >= n ? true : undefined), timeoutMs, `${n} errors`, waiters);
    },
  };
  return rec;
}

function until<T>(probe: () => T | undefined, timeoutMs: number, what: string, waiters: Array<() => void>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      const v = probe();
      if (v !== undefined) {
        clearTimeout(t);
        resolve(v);
        return true;
      }
      return false;
    };
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    if (check()) return;
    const again = () => {
      if (!check()) waiters.push(again);
    };
    waiters.push(again);
  });
}

export const hosts = (s: ResolvedAddress[]): string[] => s.map((a) => a.host);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(pred: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A resolv.conf in a temp dir; returns its path and a cleanup. */
export async function tempResolvConf(text: string): Promise<{ file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'resolver-test-'));
  const file = path.join(dir, 'resolv.conf');
  await writeFile(file, text);
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

import { describe, expect, it } from 'vitest';
import { workerExitVerdict } from '../../../src/cluster/supervisor.js';

describe("workerExitVerdict: what a --workers worker's exit means to the primary", () => {
  const exit = (stopping: boolean, listening: boolean, code: number | null, signal: string | null) =>
    workerExitVerdict({ stopping, listening, code, signal });

  it('only a worker that exits by itself before its listener is up failed to start', () => {
    expect(exit(false, false, 1, null)).toBe('start-failure'); // a taken port, a bad setting
    expect(exit(false, false, 0, null)).toBe('start-failure');
    // Killed from outside before it was ready: the OOM killer, a SIGKILL, an early Ctrl-C.
    for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT']) expect(exit(false, false, null, signal)).toBe('restart');
  });

  it('a worker that was serving is restarted, however it ended', () => {
    expect(exit(false, true, 1, null)).toBe('restart');
    expect(exit(false, true, 0, null)).toBe('restart');
    expect(exit(false, true, null, 'SIGKILL')).toBe('restart');
  });

  it("while the gateway stops, the stop's own signals are no failure; an error or any other signal is", () => {
    expect(exit(true, true, 0, null)).toBe('stopped');
    expect(exit(true, false, null, 'SIGTERM')).toBe('stopped'); // still starting: no handler yet
    expect(exit(true, false, null, 'SIGINT')).toBe('stopped'); // Ctrl-C reaches the whole group
    expect(exit(true, true, 1, null)).toBe('failed');
    expect(exit(true, true, null, 'SIGKILL')).toBe('failed');
    expect(exit(true, false, 1, null)).toBe('failed');
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { BURST_SUMMARY_MS, BurstLog, CallBounds } from '../../../src/http/bounds.js';
import { loggablePath, reasonForStatus } from '../../../src/http/refusal.js';

function recorder() {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  return { lines, log: { warn: (fields: object, message: string) => void lines.push({ fields: fields as Record<string, unknown>, message }) } };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('BurstLog', () => {
  it('one line when a burst starts, one summary per interval while it lasts, none once it is over', () => {
    vi.useFakeTimers();
    const { lines, log } = recorder();
    const burst = new BurstLog(log, 'max-concurrent-calls', 10, 'calls');
    for (let i = 0; i < 100; i++) burst.hit();
    expect(lines).toEqual([
      { fields: { bound: 'max-concurrent-calls', limit: 10 }, message: 'max-concurrent-calls (10) reached: refusing calls' },
    ]);
    vi.advanceTimersByTime(BURST_SUMMARY_MS);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toEqual({
      fields: { bound: 'max-concurrent-calls', limit: 10, refused: 99, intervalMs: BURST_SUMMARY_MS },
      message: 'max-concurrent-calls (10): 99 calls refused in the last 5 s',
    });
    // still going: 3 more in the next interval
    for (let i = 0; i < 3; i++) burst.hit();
    vi.advanceTimersByTime(BURST_SUMMARY_MS);
    expect(lines.at(-1)!.fields.refused).toBe(3);
    // a quiet interval ends the burst silently; the next refusal starts a new one
    vi.advanceTimersByTime(BURST_SUMMARY_MS * 3);
    expect(lines).toHaveLength(3);
    burst.hit();
    expect(lines).toHaveLength(4);
    expect(lines[3]!.message).toBe('max-concurrent-calls (10) reached: refusing calls');
    burst.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never keeps a process alive (its timer is unref-ed)', () => {
    const burst = new BurstLog(recorder().log, 'max-connections', 1, 'connections');
    burst.hit();
    const timer = (burst as unknown as { timer: NodeJS.Timeout }).timer;
    expect(timer.hasRef()).toBe(false);
    burst.stop();
  });
});

describe('CallBounds', () => {
  it('hands out call slots up to the bound and takes them back', () => {
    const { lines, log } = recorder();
    const b = new CallBounds({ maxConcurrentCalls: 2, maxBufferedRequestBytes: 0 }, log);
    expect([b.startCall(), b.startCall(), b.startCall()]).toEqual([true, true, false]);
    expect(b.callsInFlight).toBe(2);
    b.endCall();
    expect(b.startCall()).toBe(true);
    expect(lines).toHaveLength(1);
    b.stop();
  });

  it('reserves request bytes up to the bound (the one that would cross it is refused) and releases them', () => {
    const b = new CallBounds({ maxConcurrentCalls: 0, maxBufferedRequestBytes: 100 }, recorder().log);
    expect(b.reserve(60)).toBe(true);
    expect(b.reserve(41)).toBe(false);
    expect(b.reserve(40)).toBe(true);
    expect(b.bufferedBytes).toBe(100);
    b.release(60);
    expect(b.reserve(60)).toBe(true);
    b.stop();
  });

  it('0 means no bound', () => {
    const b = new CallBounds({ maxConcurrentCalls: 0, maxBufferedRequestBytes: 0 }, recorder().log);
    for (let i = 0; i < 10_000; i++) expect(b.startCall()).toBe(true);
    expect(b.reserve(2 ** 40)).toBe(true);
  });
});

describe('refusal helpers', () => {
  it('names a refusal known only by its HTTP status', () => {
    const expected = { 403: 'origin_not_allowed', 405: 'method_not_allowed', 415: 'unsupported_media_type', 400: 'malformed_request', 500: 'internal' };
    for (const [status, reason] of Object.entries(expected)) expect(reasonForStatus(Number(status)), status).toBe(reason);
  });

  it('logs at most 256 characters of a client path', () => {
    expect(loggablePath('/a.B/C')).toBe('/a.B/C');
    const long = '/' + 'x'.repeat(2000);
    expect(loggablePath(long)).toBe(`${long.slice(0, 256)}…`);
  });
});

import { describe, expect, it } from 'vitest';
import { DASHBOARD_HTML } from '../../../src/admin/dashboard/index.js';
import {
  WINDOW_MS,
  barScale,
  fmtDur,
  fmtRate,
  sparkPaths,
  trimWindow,
  windowRate,
} from '../../../src/admin/dashboard/browser/format.js';

describe('dashboard page helpers', () => {
  it('formats rates and durations as the tiles show them', () => {
    expect(fmtRate(0)).toBe('0');
    expect(fmtRate(Number.NaN)).toBe('0');
    expect(fmtRate(3.14)).toBe('3.1');
    expect(fmtRate(12345.6)).toBe('12,346');
    expect(fmtDur(42.9)).toBe('42s');
    expect(fmtDur(67)).toBe('1m 7s');
    expect(fmtDur(2 * 3600 + 5 * 60)).toBe('2h 5m');
    expect(fmtDur(3 * 86400 + 4 * 3600)).toBe('3d 4h');
    expect(fmtDur(-5)).toBe('0s');
  });

  it('computes a rate over the last window of samples, never negative', () => {
    const hist = [
      { t: 0, calls: 0 },
      { t: 1000, calls: 10 },
      { t: 6000, calls: 60 },
      { t: 7000, calls: 80 },
    ];
    // From the oldest sample inside the window: at 7000, t=6000 (t=1000 is 6 s old).
    expect(windowRate(hist, 7000, 'calls')).toBe(20);
    expect(windowRate(hist.slice(0, 3), 6000, 'calls')).toBe(10); // from t=1000: 50 calls in 5 s
    expect(windowRate([{ t: 0, calls: 5 }], 0, 'calls')).toBe(0);
    // A counter that restarts (a new Pod object) reads 0, not a negative rate.
    expect(windowRate([{ t: 0, calls: 50 }, { t: 1000, calls: 0 }], 1000, 'calls')).toBe(0);
    const trimmed = hist.slice();
    trimWindow(trimmed, 7000 + WINDOW_MS);
    expect(trimmed.map((s) => s.t)).toEqual([6000, 7000]);
  });

  it('draws the even share mid-track and never a bar past the end', () => {
    expect(barScale(4, 0.25)).toBe(0.5);
    expect(barScale(1, 1)).toBe(1);
    expect(barScale(4, 0.8)).toBeCloseTo(0.84);
    expect(barScale(2, 0.99)).toBe(1);
  });

  it('makes the sparkline from two points on', () => {
    expect(sparkPaths([5], 60)).toBeNull();
    const paths = sparkPaths([0, 10], 60);
    expect(paths?.[0]).toBe('M118.0,38.0 L120.0,4.0');
    expect(paths?.[1]).toBe('M118.0,38.0 L120.0,4.0 L120,40 L118.0,40 Z');
  });
});

describe('the dashboard page', () => {
  it('is one document with its style and compiled script inlined, nothing fetched but /endpoints', () => {
    expect(DASHBOARD_HTML.startsWith('<!doctype html>')).toBe(true);
    expect(DASHBOARD_HTML).not.toContain('/*STYLE*/');
    expect(DASHBOARD_HTML).not.toContain('/*SCRIPT*/');
    expect(DASHBOARD_HTML).toContain('--accent: #3d5afe');
    // The script is compiled for the browser: no TypeScript, no module syntax.
    const script = DASHBOARD_HTML.slice(DASHBOARD_HTML.indexOf('<script>') + 8, DASHBOARD_HTML.indexOf('</script>'));
    expect(script).toContain('endpoints');
    expect(script).not.toMatch(/^\s*import\s|\bexport\s/m);
    expect(() => new Function(script)).not.toThrow();
    expect(DASHBOARD_HTML.match(/<script/g)).toHaveLength(1);
    expect(DASHBOARD_HTML).not.toMatch(/<(link|script)[^>]+(src|href)="(?!data:)/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGrpcTimeout, TimeoutFormatError } from '../../../src/protocol/timeout.js';

describe('parseGrpcTimeout', () => {
  it.each([
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3_000],
    ['250m', 250],
    ['1500u', 1.5],
    ['1000000n', 1],
    ['5n', 0.000005],
    ['0m', 0],
    ['00000001S', 1000],
    ['99999999H', 99_999_999 * 3_600_000],
  ])('%s → %d ms', (value, ms) => {
    expect(parseGrpcTimeout(value)).toBe(ms);
  });

  it.each(['', 'm', '1', '10', '1s', '1h', '1x', '123456789m', '-1m', '+1m', ' 1m', '1m ', '1.5S', '1 m', '１m', 'a1m'])(
    'rejects %j',
    (value) => {
      expect(() => parseGrpcTimeout(value)).toThrow(TimeoutFormatError);
    },
  );

  it('property: matches the spec grammar', () => {
    const units: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.constantFrom(...Object.keys(units)), (n, unit) => {
        expect(parseGrpcTimeout(`${n}${unit}`)).toBeCloseTo(n * units[unit]!, 6);
      }),
      { numRuns: 200 },
    );
  });
});

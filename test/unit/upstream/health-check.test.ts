import { Metadata, status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { SERVING_STATUS, servingStatus, verdictOf } from '../../../src/upstream/health-check.js';

const st = (code: Status) => ({ code, details: '', metadata: new Metadata() });

describe('health check verdicts', () => {
  it('decodes HealthCheckResponse.status', () => {
    expect(servingStatus(Buffer.from([0x08, 0x01]))).toBe(SERVING_STATUS.SERVING);
    expect(servingStatus(Buffer.from([0x08, 0x02]))).toBe(SERVING_STATUS.NOT_SERVING);
    expect(servingStatus(Buffer.alloc(0))).toBe(SERVING_STATUS.UNKNOWN);
    // An unknown length-delimited field before it is skipped.
    expect(servingStatus(Buffer.from([0x12, 0x02, 0x61, 0x62, 0x08, 0x02]))).toBe(SERVING_STATUS.NOT_SERVING);
  });

  it('counts any answer as alive except NOT_SERVING; timeouts and dead connections as no answer', () => {
    expect(verdictOf(st(Status.OK), Buffer.from([0x08, 0x01]))).toBe('alive');
    expect(verdictOf(st(Status.OK), Buffer.from([0x08, 0x02]))).toBe('not-serving');
    expect(verdictOf(st(Status.UNIMPLEMENTED), null)).toBe('alive'); // no health service
    expect(verdictOf(st(Status.PERMISSION_DENIED), null)).toBe('alive');
    expect(verdictOf(st(Status.DEADLINE_EXCEEDED), null)).toBe('no-answer');
    expect(verdictOf(st(Status.UNAVAILABLE), null)).toBe('no-answer');
  });
});

import { describe, expect, it } from 'vitest';
import { cgroupCpuLimit, cpusFromCgroupV1, cpusFromCgroupV2, usableCpus } from '../../../src/cluster/cpu-count.js';

const files =
  (map: Record<string, string>) =>
  (path: string): string | null =>
    map[path] ?? null;

describe('--workers auto: usable CPUs', () => {
  it('reads cgroup v2 cpu.max, rounding a fractional limit up', () => {
    expect(cpusFromCgroupV2('max 100000\n')).toBeNull();
    expect(cpusFromCgroupV2('200000 100000\n')).toBe(2);
    expect(cpusFromCgroupV2('150000 100000')).toBe(2);
    expect(cpusFromCgroupV2('50000 100000')).toBe(1);
    expect(cpusFromCgroupV2('')).toBeNull();
  });

  it('reads cgroup v1 quota and period; -1 is no limit', () => {
    expect(cpusFromCgroupV1('-1\n', '100000\n')).toBeNull();
    expect(cpusFromCgroupV1('400000\n', '100000\n')).toBe(4);
    expect(cpusFromCgroupV1('garbage', '100000')).toBeNull();
  });

  it('prefers v2, falls back to v1, and is null without a limit', () => {
    expect(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '300000 100000' }))).toBe(3);
    expect(
      cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })),
    ).toBe(2);
    expect(cgroupCpuLimit(files({}))).toBeNull();
  });

  it('takes the smaller of the CPUs and the limit, at least 1 and at most the cap', () => {
    const limit2 = files({ '/sys/fs/cgroup/cpu.max': '200000 100000' });
    expect(usableCpus(64, limit2, 64)).toBe(2);
    expect(usableCpus(64, files({}), 8)).toBe(8);
    expect(usableCpus(4, files({}), 8)).toBe(4);
    expect(usableCpus(64, files({ '/sys/fs/cgroup/cpu.max': '10000 100000' }), 8)).toBe(1);
  });
});

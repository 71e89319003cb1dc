// How many CPUs this process may really use, for `--workers auto`. os.availableParallelism()
// counts the CPUs of the node (sched affinity), not a container's CPU limit: a Pod limited
// to 2 CPUs on a 64-core node would otherwise fork 64 workers that all get throttled.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** cgroup v2 `cpu.max` ("200000 100000", or "max 100000" for no limit) → CPUs, or null. */
export function cpusFromCgroupV2(text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === 'max' || !period) return null;
  return cpusFromQuota(Number(quota), Number(period));
}

/** cgroup v1 `cpu.cfs_quota_us` (-1 = no limit) and `cpu.cfs_period_us` → CPUs, or null. */
export function cpusFromCgroupV1(quotaText: string, periodText: string): number | null {
  return cpusFromQuota(Number(quotaText.trim()), Number(periodText.trim()));
}

function cpusFromQuota(quota: number, period: number): number | null {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return null;
  // A limit of 1.5 CPUs can keep two workers busy part of the time; round up, at least 1.
  return Math.max(1, Math.ceil(quota / period));
}

type ReadText = (path: string) => string | null;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** The CPU limit of this process's cgroup (v2, else v1), or null when there is none. */
export function cgroupCpuLimit(read: ReadText = readText): number | null {
  const v2 = read('/sys/fs/cgroup/cpu.max');
  if (v2 !== null) return cpusFromCgroupV2(v2);
  const quota = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us');
  const period = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us');
  return quota !== null && period !== null ? cpusFromCgroupV1(quota, period) : null;
}

/** `--workers auto`: the smaller of the CPUs we may run on and the cgroup limit, capped at `max`. */
export function usableCpus(max: number, read: ReadText = readText, parallelism = availableParallelism()): number {
  const limit = cgroupCpuLimit(read);
  return Math.max(1, Math.min(max, parallelism, limit ?? parallelism));
}

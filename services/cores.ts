import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

/** Where the cgroup's CPU quota is written: v2's one file, or v1's quota and period. */
export interface QuotaFiles {
  readonly cpuMax: string
  readonly cfsQuota: string
  readonly cfsPeriod: string
}

const CGROUP: QuotaFiles = {
  cpuMax: '/sys/fs/cgroup/cpu.max',
  cfsQuota: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
  cfsPeriod: '/sys/fs/cgroup/cpu/cpu.cfs_period_us',
}

/**
 * The cores this process is given: the CPUs it may run on, capped by the cgroup's CPU quota (a
 * container limited to 2 cores on a 32-core node is given 2, which Node's availableParallelism alone
 * would not say). No quota, or none readable: the CPUs.
 */
export function coresGiven(files: QuotaFiles = CGROUP): number {
  const cpus = availableParallelism()
  const quota = quotaOf(files)
  if (quota === undefined || !(quota > 0) || !Number.isFinite(quota)) return cpus
  return Math.max(1, Math.min(cpus, Math.ceil(quota)))
}

/** The quota in cores: cgroup v2's "QUOTA PERIOD" ("max ..." is none), else v1's two files (-1 is none). */
function quotaOf(files: QuotaFiles): number | undefined {
  const v2 = read(files.cpuMax)
  if (v2 !== undefined) {
    const match = /^(\d+) (\d+)$/.exec(v2)
    return match === null ? undefined : Number(match[1]) / Number(match[2])
  }
  const [quota, period] = [read(files.cfsQuota), read(files.cfsPeriod)]
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined
  return Number(quota) / Number(period)
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}

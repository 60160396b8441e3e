import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { coresGiven } from '../../services/cores.js'

t.test("the cores given: the CPUs, capped by the cgroup's quota (v2 or v1)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-cores-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let n = 0
  const file = (text: string | undefined) => {
    const path = join(dir, `f${n++}`)
    if (text !== undefined) writeFileSync(path, text)
    return path
  }
  const v2 = (text: string | undefined) =>
    coresGiven({ cpuMax: file(text), cfsQuota: file(undefined), cfsPeriod: file(undefined) })
  const v1 = (quota: string, period: string) =>
    coresGiven({ cpuMax: file(undefined), cfsQuota: file(quota), cfsPeriod: file(period) })
  const cpus = availableParallelism()
  t.equal(v2(undefined), cpus, 'no cgroup file: the CPUs')
  t.equal(v2('max 100000\n'), cpus, 'no quota: the CPUs')
  t.equal(v2('100000 100000\n'), 1, 'a quota of one core')
  t.equal(v2('50000 100000\n'), 1, 'half a core: one process')
  t.equal(v2('150000 100000\n'), Math.min(cpus, 2), 'one and a half cores: two, at most the CPUs')
  t.equal(v2(`${(cpus + 8) * 100000} 100000\n`), cpus, 'a quota above the CPUs: the CPUs')
  for (const junk of ['', 'garbage', '-5 100000', '100000', '1e9 100000', '0 0', '5 0', `${'9'.repeat(400)} 1`])
    t.equal(v2(junk), cpus, `"${junk.slice(0, 20)}": read as no quota`)
  t.equal(v1('100000\n', '100000\n'), 1, 'cgroup v1: a quota of one core')
  t.equal(v1('-1\n', '100000\n'), cpus, 'cgroup v1: -1 is no quota')
  t.equal(v1('abc', '100000'), cpus, 'cgroup v1: junk is no quota')
})

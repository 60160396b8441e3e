import t from 'tap'
import { KeySet } from '../../../services/worker/key-set.js'

t.test('keys are found after growing and after compacting; absent ones are not', async (t) => {
  const set = new KeySet(8)
  const key = (i: number) => [(i * 2654435761) >>> 0, (i * 40503 + 7) >>> 0] as const
  let added = 0
  for (let i = 1; i <= 10_000; i++) if (set.add(...key(i))) added++
  t.equal(added, 10_000, 'each key was new')
  t.equal(set.size, 10_000)
  t.notOk(set.add(...key(5)), 'a key already there is not added twice')
  t.equal(set.size, 10_000)
  const grown = set.bytes
  t.ok(grown >= (10_000 / 0.75) * 8, 'at most three quarters full while growing')
  set.compact()
  t.ok(set.bytes < grown, 'compacting gives memory back')
  t.ok(set.bytes <= Math.ceil(10_000 / 0.8) * 8, 'to about 80% full')
  let found = 0
  for (let i = 1; i <= 10_000; i++) if (set.has(...key(i))) found++
  t.equal(found, 10_000)
  let absent = 0
  for (let i = 10_001; i <= 20_000; i++) if (!set.has(...key(i))) absent++
  t.equal(absent, 10_000)
})

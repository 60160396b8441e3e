import t from 'tap'
import { copyKey } from '../../../services/worker/copy-key.js'
import { RecentIds } from '../../../services/worker/recent-ids.js'

const MINUTE = 60_000
const key = (i: number) => copyKey('kz-ids-01', `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`)

t.test('a key is remembered for the window after it was first seen, then forgotten', async (t) => {
  // Slices of 10 / 8 minutes: a key lives between 10 and 11.25 minutes.
  const ids = new RecentIds({ windowMs: 10 * MINUTE, maxEntries: 1000 }, 0)
  ids.add(key(1), 0)
  ids.add(key(2), 4 * MINUTE)
  ids.add(key(1), 9 * MINUTE)
  ids.advance(10 * MINUTE)
  t.ok(ids.has(key(1)), 'at 10 minutes')
  ids.advance(11.5 * MINUTE)
  t.notOk(ids.has(key(1)), 'gone past the window from its first sight: seeing it again did not renew it')
  t.ok(ids.has(key(2)), 'a later key stays')
  ids.advance(15.4 * MINUTE)
  t.notOk(ids.has(key(2)))
  t.equal(ids.size, 0)
})

t.test('past the most entries the oldest are forgotten early and counted', async (t) => {
  const evicted: number[] = []
  // 80 entries at most: slices of 10 keys.
  const ids = new RecentIds({ windowMs: 10 * MINUTE, maxEntries: 80, onEvicted: (n) => evicted.push(n) }, 0)
  for (let i = 0; i < 80; i++) ids.add(key(i), i)
  t.same(evicted, [], 'the window holds as many as it may')
  t.equal(ids.size, 80)
  ids.add(key(80), 80)
  t.same(evicted, [10], 'the oldest slice goes whole')
  t.equal(ids.size, 71)
  t.notOk(ids.has(key(0)))
  t.notOk(ids.has(key(9)))
  t.ok(ids.has(key(10)))
  t.ok(ids.has(key(80)))
  for (let i = 81; i < 300; i++) ids.add(key(i), i)
  t.ok(ids.size <= 80, 'never more than the most entries')
  t.equal(
    evicted.reduce((a, b) => a + b, 0),
    300 - ids.size,
    'every key forgotten early is counted',
  )
})

t.test('a quiet window keeps no empty slices and forgets nothing early', async (t) => {
  const ids = new RecentIds({ windowMs: 8, maxEntries: 1000 }, 0)
  for (let at = 0; at < 1000; at += 3) ids.add(key(at), at)
  ids.advance(1000)
  t.ok(ids.size > 0 && ids.size <= 4, 'only the last window of keys')
  t.ok(ids.has(key(999)))
  t.notOk(ids.has(key(900)))
})

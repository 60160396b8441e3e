import t from 'tap'
import { eventKey, RecentIds } from '../../../services/worker/recent-ids.js'

t.test('the key holds the sensor and the event id', async (t) => {
  t.equal(eventKey('kz-ids-01', 'e1'), 'kz-ids-01:e1')
  t.not(eventKey('a', 'e1'), eventKey('b', 'e1'))
})

t.test('the oldest id is forgotten first; a deleted one is forgotten at once and its slot left empty', async (t) => {
  const ids = new RecentIds(3)
  for (const id of ['a', 'b', 'c']) ids.add(id)
  ids.add('d')
  t.same(
    ['a', 'b', 'c', 'd'].map((id) => ids.has(id)),
    [false, true, true, true],
  )
  ids.delete('c')
  ids.delete('never')
  t.equal(ids.size, 2)
  t.notOk(ids.has('c'))
  ids.add('c')
  ids.add('e')
  t.same(
    ['b', 'c', 'd', 'e'].map((id) => ids.has(id)),
    [false, true, true, true],
    'b was the oldest; the emptied slot evicts nothing',
  )
  ids.add('f')
  t.same(
    ['c', 'd', 'e', 'f'].map((id) => ids.has(id)),
    [true, false, true, true],
  )
})

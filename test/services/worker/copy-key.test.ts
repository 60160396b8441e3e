import t from 'tap'
import { copyKey } from '../../../services/worker/copy-key.js'

const ID = '3f2b8c1e-9a4d-4e6f-8b2a-0c1d2e3f4a5b'

t.test('the key holds the sensor and the event id, and reads a UUID as ClickHouse does', async (t) => {
  t.same(copyKey('kz-ids-01', ID), copyKey('kz-ids-01', ID), 'the same pair, the same key')
  t.same(copyKey('kz-ids-01', ID.toUpperCase()), copyKey('kz-ids-01', ID), 'letter case is not part of a UUID')
  t.notSame(copyKey('kz-ids-02', ID), copyKey('kz-ids-01', ID), 'another sensor reusing the id')
  t.notSame(copyKey('kz-ids-01', ID.replace(/b$/, 'c')), copyKey('kz-ids-01', ID), 'one bit of the id')
  t.notSame(copyKey('kz-ids-0', `1${ID}`), copyKey('kz-ids-01', ID), 'where the sensor ends matters')
  t.notSame(copyKey('kz-ids-01', 'not-a-uuid'), copyKey('kz-ids-01', 'not-a-uuie'), 'an id that is not a UUID')
  const { hi, lo } = copyKey('kz-ids-01', ID)
  t.ok(Number.isInteger(hi) && hi >= 0 && hi < 2 ** 32 && Number.isInteger(lo) && lo >= 0 && lo < 2 ** 32)
  t.ok(hi !== 0 || lo !== 0, 'never the empty slot')
})

t.test('a million distinct pairs give a million distinct keys', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 1_000_000; i++) {
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`
    const { hi, lo } = copyKey(`sensor-${i % 7}`, id)
    seen.add(`${hi}:${lo}`)
  }
  t.equal(seen.size, 1_000_000, 'ids that differ in a few bits still spread')
})

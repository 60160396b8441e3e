import t from 'tap'
import { openClickHouse } from '../../../services/clickhouse/index.js'
import { makeEvents } from '../../helpers/events.js'
import { testConfig } from '../../helpers/stack.js'

// A message of the events topic holds one or more events: the engine keeps each event's line beside
// its offset, so that a replay can tell which of a message's events are stored, and a part of a
// range named by the lines of its ends is dropped when inserted again.
const config = testConfig()
const store = await openClickHouse(config)
await store.migrate()
t.teardown(() => store.close())

const topic = 'positions-test'
const range = { topic, partition: 2, firstOffset: '40', lastOffset: '41' }
// Dated now: the default retention would drop an older event.
const events = makeEvents(6, 71, Date.now() - 60_000, 1)
const at = (offset: string, index: number, i: number) => ({ offset, index, event: events[i]! })

async function storedLines(): Promise<{ offset: string; index: number }[]> {
  return store.reader.rows(
    `SELECT toString(kafka_offset) AS offset, kafka_index AS index FROM events_raw
     WHERE kafka_topic = {topic:String} ORDER BY kafka_offset, kafka_index`,
    { topic },
  )
}

t.test('each event is stored with its line, and storedPositions names them by offset and line', async (t) => {
  const part = [at('40', 0, 0), at('40', 1, 1), at('40', 2, 2)]
  await store.events.insert(part, range, { first: '40', last: '40.2' })
  t.same(await storedLines(), [
    { offset: '40', index: 0 },
    { offset: '40', index: 1 },
    { offset: '40', index: 2 },
  ])
  t.same((await store.ledger.storedPositions(range)).sort(), ['40', '40.1', '40.2'])

  await store.events.insert(part, range, { first: '40', last: '40.2' })
  t.equal((await storedLines()).length, 3, 'the same part again is dropped')
  await store.events.insert([at('41', 0, 3), at('41', 1, 4)], range, { first: '41', last: '41.1' })
  await store.events.insert([at('41', 2, 5)], range, { first: '41.2', last: '41.2' })
  t.same((await store.ledger.storedPositions(range)).sort(), ['40', '40.1', '40.2', '41', '41.1', '41.2'])
  t.same(
    await store.ledger.storedPositions({ ...range, firstOffset: '41' }).then((p) => p.sort()),
    ['41', '41.1', '41.2'],
    'only the range asked for',
  )
})

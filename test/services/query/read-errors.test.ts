import t from 'tap'
import { openClickHouse, type Reader } from '../../../services/clickhouse/index.js'
import { QalqanError } from '../../../services/errors.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { buildQueryApi } from '../../../services/query/api.js'
import { checkUuidParams, readError } from '../../../services/query/read-errors.js'
import { testConfig, TOKENS } from '../../helpers/stack.js'

const config = testConfig({ QALQAN_QUERY_CACHE_SECONDS: '0' })
const store = await openClickHouse(config)
await store.migrate()
// Nothing listens on port 9: the client's own error for a server that cannot be reached.
const unreachable = await openClickHouse(testConfig({ QALQAN_CLICKHOUSE_URL: 'http://127.0.0.1:9' }))
t.teardown(async () => {
  await unreachable.close()
  await store.close()
})

/** What the reader rejects with for this query, from the real engine or client. */
async function failure(reader: Reader, query: string, params: Record<string, unknown> = {}): Promise<unknown> {
  try {
    await reader.rows(query, params)
  } catch (err) {
    return err
  }
  throw new Error(`${query} did not fail`)
}

const badUuid = await failure(store.reader, 'SELECT count() FROM events_raw WHERE event_id = {id:UUID}', {
  id: '------------------------------------',
})
const badNumber = await failure(store.reader, 'SELECT {n:UInt32} AS n', { n: -1 })
const badTime = await failure(store.reader, "SELECT {t:DateTime64(3, 'UTC')} AS t", { t: 'yesterday' })
const syntax = await failure(store.reader, 'SELEC 1')
const transport = await failure(unreachable.reader, 'SELECT 1')

t.test('a value ClickHouse refuses is the request at fault: 400, not retryable', async (t) => {
  for (const [what, err] of [
    ['a malformed UUID', badUuid],
    ['a negative UInt32', badNumber],
    ['a time it cannot parse', badTime],
  ] as const) {
    const known = readError(err)
    t.match(known, { code: 'QLQ_ERR_INVALID_QUERY', status: 400, retryable: false }, what)
    t.match(known.message, /^ClickHouse refused a value of this query \([A-Z_]+\): check the parameters$/, what)
    t.equal(known.cause, err, `${what}: the cause is kept`)
  }
})

t.test('a query ClickHouse cannot run is a fault of the program: 500, not retryable', async (t) => {
  t.match(readError(syntax), { code: 'QLQ_ERR_INTERNAL', status: 500, retryable: false })
})

t.test('a server that cannot be reached may come back: 503, retryable', async (t) => {
  t.match(readError(transport), { code: 'QLQ_ERR_CLICKHOUSE_UNAVAILABLE', status: 503, retryable: true })
  const known = new QalqanError('QLQ_ERR_INVALID_CURSOR')
  t.equal(readError(known), known, 'an error of the catalogue passes unchanged')
})

t.test('values bound to UUID placeholders are checked before the query is sent', async (t) => {
  const query = 'SELECT 1 WHERE {a:UUID} < {b:UUID}'
  const good = '0a1b2c3d-0000-4000-8000-00000000abcd'
  t.doesNotThrow(() => checkUuidParams(query, { a: good, b: good.toUpperCase() }))
  for (const bad of ['-'.repeat(36), 'zz', '', `${good}0`, "x' OR 1=1 --", 42, undefined]) {
    t.throws(
      () => checkUuidParams(query, { a: good, b: bad }),
      { code: 'QLQ_ERR_INVALID_QUERY', status: 400, message: /^b: must be a UUID/ },
      String(bad),
    )
  }
})

t.test('through the API: what the reader rejects with decides the answer', async (t) => {
  const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
  // The reader as the API sees it, failing with the errors the real engine and client raised above.
  const failing = (err: unknown) =>
    buildQueryApi(config, {
      logger: createLogger('silent'),
      tokens: () => tokens,
      clickhouse: {
        rows: async () => {
          throw err
        },
      },
    })
  const ask = (app: ReturnType<typeof failing>) =>
    app.inject({
      method: 'GET',
      url: '/v1/summary?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z',
      headers: { authorization: `Bearer ${TOKENS.analyst}` },
    })
  const refused = failing(badUuid)
  const down = failing(transport)
  t.teardown(async () => {
    await refused.close()
    await down.close()
  })
  const data = await ask(refused)
  t.equal(data.statusCode, 400)
  t.match(data.json(), { error: 'QLQ_ERR_INVALID_QUERY', retryable: false })
  t.notOk(data.headers['retry-after'], 'no Retry-After: retrying cannot help')
  const unavailable = await ask(down)
  t.equal(unavailable.statusCode, 503)
  t.match(unavailable.json(), { error: 'QLQ_ERR_CLICKHOUSE_UNAVAILABLE', retryable: true })
  t.equal(unavailable.headers['retry-after'], '5')
})

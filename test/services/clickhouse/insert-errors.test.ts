import t from 'tap'
import { classifyInsertError, StoreDataError } from '../../../services/clickhouse/errors.js'

/** The shape of @clickhouse/client's ClickHouseError: a message, the error's number and, mostly, its name. */
function engineError(code: string, type?: string): Error {
  return Object.assign(new Error(`Code: ${code}. DB::Exception: something`), { code, type })
}

t.test('ClickHouse refusing the rows is a data error; the transport and the engine failing are not', async (t) => {
  for (const [code, type] of [
    ['25', 'CANNOT_PARSE_ESCAPE_SEQUENCE'],
    ['41', 'CANNOT_PARSE_DATETIME'],
    ['117', 'INCORRECT_DATA'],
    ['53', 'TYPE_MISMATCH'],
    ['469', 'VIOLATED_CONSTRAINT'],
  ] as const) {
    const err = engineError(code, type)
    const classified = classifyInsertError(err)
    t.type(classified, StoreDataError, type)
    t.match(classified, { code: type, message: err.message, cause: err })
  }
  t.match(classifyInsertError(engineError('27')), { code: '27' }, 'by number when unnamed')
  t.type(classifyInsertError(engineError('27')), StoreDataError)

  for (const err of [
    engineError('252', 'TOO_MANY_PARTS'),
    engineError('241', 'MEMORY_LIMIT_EXCEEDED'),
    engineError('159', 'TIMEOUT_EXCEEDED'),
    engineError('209'),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }),
    new Error('Timeout error.'),
  ])
    t.equal(classifyInsertError(err), err, `${err.message}: passed on as it is`)
  t.equal(classifyInsertError('not an error'), 'not an error')
})

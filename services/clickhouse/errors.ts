/**
 * How an insert failed, in plain terms, so that the worker never sees the vendor client's errors:
 * a StoreDataError means ClickHouse refused the rows themselves (trying again cannot help, finding
 * the bad rows can); any other error is the transport or the engine (unreachable, timeouts, too many
 * parts, memory), which passes, so the insert is tried again.
 */
export class StoreDataError extends Error {
  override readonly name = 'StoreDataError'

  constructor(
    message: string,
    /** ClickHouse's error name, such as CANNOT_PARSE_ESCAPE_SEQUENCE, or its number when unnamed. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** Errors about the values of rows: parse and type errors, and a table's CHECK constraints, by name. */
const DATA_ERROR_TYPES = new Set([
  'VIOLATED_CONSTRAINT',
  'INCORRECT_DATA',
  'TYPE_MISMATCH',
  'CANNOT_CONVERT_TYPE',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN',
  'TOO_LARGE_STRING_SIZE',
  'DECIMAL_OVERFLOW',
])

/** The same errors by number, for a message that does not name its error: CANNOT_PARSE_* and the above. */
const DATA_ERROR_CODES = new Set([
  '6',
  '25',
  '26',
  '27',
  '38',
  '41',
  '53',
  '70',
  '72',
  '117',
  '131',
  '321',
  '349',
  '376',
])

/**
 * The error as a StoreDataError when ClickHouse refused the data, else the error itself. Read by
 * shape, not by class: the embedded engine throws its own copy of the client's ClickHouseError.
 */
export function classifyInsertError(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof StoreDataError) return err
  const { code, type } = err as Error & { code?: unknown; type?: unknown }
  const data =
    typeof type === 'string'
      ? type.startsWith('CANNOT_PARSE_') || DATA_ERROR_TYPES.has(type)
      : typeof code === 'string' && DATA_ERROR_CODES.has(code)
  if (!data) return err
  return new StoreDataError(err.message, typeof type === 'string' ? type : String(code), { cause: err })
}

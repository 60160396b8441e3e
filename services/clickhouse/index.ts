/**
 * The ClickHouse wing: the only place that imports @clickhouse/client and chdb. The roles see the
 * interfaces and openClickHouse, so the code and SQL are the same on a server and on the embedded engine.
 */
export { classifyInsertError, StoreDataError } from './errors.js'
export type {
  EventKey,
  EventStore,
  Ledger,
  OffsetEvent,
  OffsetPart,
  OffsetRange,
  PlannedRange,
  Reader,
} from './interfaces.js'
export { positionOf } from './events.js'
export { type ClickHouse, openClickHouse } from './open.js'
export { withoutCredentials } from './location.js'

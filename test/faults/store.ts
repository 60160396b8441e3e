import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PROJECT_ROOT } from '../../services/paths.js'
import { readWholeTopic } from '../helpers/kafka.js'
import type { CaseSettings } from './processes.js'

/** What ClickHouse holds of a case's events topic. */
export interface Stored {
  /** Rows of events_raw. */
  rows: number
  /** Event id -> how many rows hold it. */
  copies: Map<string, number>
  /** sum(events) over attacks_1m: the aggregates. */
  aggregated: number
}

// The embedded engine binds its folder to one process for the process's life, so the reading is
// done by a process of its own, once the worker has stopped, with the built program's own client.
const READER = `
const [path, topic, root] = process.argv.slice(1)
const { loadConfig } = await import(root + '/dist/services/config.js')
const { createClickHouse } = await import(root + '/dist/services/clickhouse/client.js')
const client = await createClickHouse(loadConfig({ QALQAN_ROLE: 'worker', QALQAN_CLICKHOUSE_URL: 'chdb:' + path }))
const rows = async (query) => (await client.query({ query, query_params: { topic }, format: 'JSONEachRow' })).json()
const ids = await rows('SELECT toString(event_id) AS id, count() AS n FROM events_raw WHERE kafka_topic = {topic:String} GROUP BY id')
const [aggregated] = await rows('SELECT sum(events) AS events FROM attacks_1m')
process.stdout.write(JSON.stringify({ ids, aggregated: Number(aggregated?.events ?? 0) }))
await client.close()
`

/** Reads the case's events back from its ClickHouse folder; the worker must have stopped. */
export function readStore(settings: CaseSettings): Stored {
  const root = pathToFileURL(PROJECT_ROOT).href
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', READER, settings.clickhousePath, settings.topics.events, root],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, cwd: join(PROJECT_ROOT) },
  )
  if (result.status !== 0)
    throw new Error(`reading ClickHouse failed (${result.status}): ${result.stderr.slice(-2000)}`)
  const read = JSON.parse(result.stdout) as { ids: { id: string; n: string | number }[]; aggregated: number }
  const copies = new Map(read.ids.map(({ id, n }) => [id, Number(n)]))
  let rows = 0
  for (const n of copies.values()) rows += n
  return { rows, copies, aggregated: read.aggregated }
}

/** How the stored events compare with what the sensor sent and had acknowledged. */
export function compare(
  stored: Stored,
  sent: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  acknowledged: Iterable<string>,
) {
  const missing = [...acknowledged].filter((id) => !stored.copies.has(id))
  const invented = [...stored.copies.keys()].filter((id) => !sent.has(id))
  const duplicated = [...stored.copies].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`)
  return { missing, invented, duplicated }
}

export interface RejectedRecordRead {
  reason: string
  stage: string
  format: string
  sensor_id: string
  index?: number
  raw?: string
}

/** Every record of the case's rejected topic. */
export async function readRejected(settings: CaseSettings): Promise<RejectedRecordRead[]> {
  return (await readWholeTopic(settings.topics.rejected, settings.brokers)).map(
    (value) => JSON.parse(value) as RejectedRecordRead,
  )
}

/** Reason -> how many rejected records give it, with digits and times folded so that alike reasons group. */
export function reasonsOf(records: readonly RejectedRecordRead[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const record of records) {
    const reason = record.reason.replace(/\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})?/g, '<time>').slice(0, 160)
    counts[reason] = (counts[reason] ?? 0) + 1
  }
  return counts
}

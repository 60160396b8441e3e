import { type CanonicalEvent, NOT_WELL_FORMED } from '../../schemas/event.js'
import { StoreDataError } from './errors.js'

/**
 * events_raw's columns in the order eventRow writes them. TabSeparated, not JSONEachRow: the engine
 * reads it in about two thirds of the time (bench/RESULTS.md, the engine's own limit), and the
 * worker inserts what it validated, never a text the engine might read otherwise.
 */
export const EVENT_COLUMNS = [
  'event_id',
  'occurred_at',
  'received_at',
  'time_source',
  'device',
  'log_source',
  'sensor_id',
  'sensor_type',
  'category',
  'severity',
  'signature',
  'signature_id',
  'mitre_technique',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'protocol',
  'src_country',
  'src_scope',
  'org',
  'sector',
  'region',
  'count',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
  'kafka_index',
] as const

/**
 * The TabSeparated rows of events, in order. Written into one buffer and read back as one string:
 * V8 joins thousands of template strings about four times slower than this (7 µs an event more,
 * bench/FINDINGS.md), as each is a tree of pieces until something flattens it.
 */
export function eventRows(
  events: readonly { offset: string; index?: number | undefined; event: CanonicalEvent }[],
  topic: string,
  partition: number,
): string {
  const kafka = kafkaColumns(topic, partition)
  let buffer = Buffer.allocUnsafe(events.length * 512 + 4096)
  let length = 0
  for (const { offset, index = 0, event } of events) {
    const row = eventRow(event, kafka, offset, index)
    // A row's UTF-8 takes at most three bytes per UTF-16 unit.
    if (buffer.length - length < row.length * 3) {
      const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + row.length * 3))
      buffer.copy(grown, 0, 0, length)
      buffer = grown
    }
    length += buffer.write(row, length)
  }
  return buffer.toString('utf8', 0, length)
}

/**
 * One TabSeparated row of events_raw, ending in a line break. `kafka` is the topic and partition
 * already escaped and joined (kafkaColumns). A field the event leaves out gets its column's default.
 */
function eventRow(event: CanonicalEvent, kafka: string, offset: string, index: number): string {
  return `${event.event_id}\t${time(event.occurred_at)}\t${time(event.received_at)}\t${event.time_source ?? 'event'}\t${text(event.device)}\t${text(event.log_source)}\t${text(event.sensor_id)}\t${event.sensor_type}\t${event.category}\t${event.severity}\t${text(event.signature)}\t${text(event.signature_id)}\t${text(event.mitre_technique)}\t${text(event.src_ip)}\t${event.src_port ?? '\\N'}\t${text(event.dst_ip)}\t${event.dst_port ?? '\\N'}\t${text(event.protocol)}\t${event.src_country}\t${event.src_scope}\t${text(event.org)}\t${event.sector}\t${event.region}\t${event.count}\t${kafka}\t${offset}\t${index}\n`
}

/** The topic and partition columns of a range's rows. */
function kafkaColumns(topic: string, partition: number): string {
  return `${text(topic)}\t${partition}`
}

const SPECIAL = /[\t\n\r\\\0]/
const ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\', '\0': '\\0' }

/**
 * A string as TabSeparated writes it: backslash, tab, line breaks and NUL escaped. A lone surrogate
 * would reach the engine as U+FFFD, silently: refused as data instead (the schema refuses it first).
 */
function text(value: string | undefined): string {
  if (value === undefined) return ''
  if (!value.isWellFormed()) {
    throw new StoreDataError(`the text ${JSON.stringify(value.slice(0, 80))} is ${NOT_WELL_FORMED}`, 'NOT_WELL_FORMED')
  }
  return SPECIAL.test(value) ? value.replace(/[\t\n\r\\\0]/g, (c) => ESCAPES[c] as string) : value
}

/**
 * A validated ISO time as the engine's basic parser reads DateTime64(3): `YYYY-MM-DD hh:mm:ss.sss`
 * in UTC. The collector writes `toISOString()`'s form, taken apart as it is; any other offset or
 * precision goes through Date (to the millisecond, as the column keeps it).
 */
function time(iso: string): string {
  const utc = iso.length === 24 && iso.charCodeAt(23) === 0x5a ? iso : new Date(iso).toISOString()
  return `${utc.slice(0, 10)} ${utc.slice(11, 23)}`
}

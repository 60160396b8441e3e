import { CanonicalEvent } from '../../schemas/event.js'
import { describeIssues } from '../errors.js'

/** A readable message: its event, and its text when that can be stored as it is. */
export interface ReadEvent {
  readonly event: CanonicalEvent
  /** Undefined when the text says less than the event (a field the schema fills in is missing). */
  readonly text: string | undefined
}

/**
 * Fields the schema fills in when a writer left them out, whose default in events_raw differs
 * (src_scope's column has none): a text without them is stored from the event instead.
 */
const FILLED_BY_SCHEMA = ['src_country', 'src_scope'] as const

/** One line of a message of the events topic: its text, and its event or why there is none. */
export interface MessageLine {
  readonly raw: string
  readonly read: ReadEvent | string
}

/**
 * The events of a message of the events topic, one per line: the collector writes the events of one
 * partition in one message, each event's JSON text on a line of its own. A trailing line break ends
 * the last line; a message whose lines are not JSON but whose whole text is one event (written over
 * several lines by another writer) is that event.
 */
export function readLines(raw: string): MessageLine[] {
  if (!raw.includes('\n')) return [{ raw, read: readEvent(raw) }]
  const lines = raw.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const read = lines.map((line) => ({ raw: line, read: readEvent(line) }))
  const first = read[0]?.read
  if (lines.length > 1 && typeof first === 'string' && first.startsWith(NOT_JSON)) {
    const whole = readEvent(raw)
    if (typeof whole !== 'string') return [{ raw, read: whole }]
  }
  return read
}

const NOT_JSON = 'not valid JSON'

/** The canonical event in one line of a message (or a message of one event), or why there is none. */
export function readMessage(raw: string): CanonicalEvent | string {
  const read = readEvent(raw)
  return typeof read === 'string' ? read : read.event
}

/** readMessage, and the message's text when ClickHouse may read it in place of the event. */
export function readEvent(raw: string): ReadEvent | string {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    return `${NOT_JSON}: ${(err as Error).message}`
  }
  const parsed = CanonicalEvent.safeParse(value)
  if (!parsed.success) return `not a canonical event: ${describeIssues(parsed.error.issues)}`
  return { event: parsed.data, text: storableText(raw, value as Record<string, unknown>) }
}

/**
 * The text as one JSONEachRow line, if it holds the event exactly. What JSON.parse and ClickHouse
 * read differently (a key given twice, 2.0 for an integer) ClickHouse refuses, and the row goes to
 * the rejected topic like any other it refuses.
 */
function storableText(raw: string, value: Record<string, unknown>): string | undefined {
  if (raw.includes('\n') || raw.includes('\r')) return undefined
  for (const field of FILLED_BY_SCHEMA) if (!(field in value)) return undefined
  return raw.trim()
}

import { CanonicalEvent } from '../../schemas/event.js'
import { describeIssues } from '../errors.js'

/** One line of a message of the events topic: its text, and its event or why there is none. */
export interface MessageLine {
  readonly raw: string
  readonly read: CanonicalEvent | string
}

const NOT_JSON = 'not valid JSON'

/**
 * The events of a message of the events topic, one per line: the collector writes the events of one
 * partition in one message, each event's JSON text on a line of its own. A trailing line break ends
 * the last line; a message whose lines are not JSON but whose whole text is one event (written over
 * several lines by another writer) is that event.
 */
export function readLines(raw: string): MessageLine[] {
  if (!raw.includes('\n')) return [{ raw, read: readMessage(raw) }]
  const lines = raw.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const read = lines.map((line) => ({ raw: line, read: readMessage(line) }))
  const first = read[0]?.read
  if (lines.length > 1 && typeof first === 'string' && first.startsWith(NOT_JSON)) {
    const whole = readMessage(raw)
    if (typeof whole !== 'string') return [{ raw, read: whole }]
  }
  return read
}

/** The canonical event in one line of a message (or a message of one event), or why there is none. */
export function readMessage(raw: string): CanonicalEvent | string {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    return `${NOT_JSON}: ${(err as Error).message}`
  }
  const parsed = CanonicalEvent.safeParse(value)
  return parsed.success ? parsed.data : `not a canonical event: ${describeIssues(parsed.error.issues)}`
}

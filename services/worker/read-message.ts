import { CanonicalEvent } from '../../schemas/event.js'
import { describeIssues } from '../errors.js'

/** The canonical event in a message of the events topic, or why there is none. */
export function readMessage(raw: string): CanonicalEvent | string {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    return `not valid JSON: ${(err as Error).message}`
  }
  const parsed = CanonicalEvent.safeParse(value)
  return parsed.success ? parsed.data : `not a canonical event: ${describeIssues(parsed.error.issues)}`
}

import type { Test } from 'tap'
import { SensorEvent } from '../../schemas/event.js'
import type { Decoded } from '../../services/collector/decode/decoded.js'

/** The decoded event, which must also pass the schema on its own. */
export function eventOf(t: Test, decoded: Decoded): SensorEvent {
  if (decoded.kind !== 'event') {
    t.fail(`expected an event, got ${decoded.kind}: ${decoded.reason}`)
    return {} as SensorEvent
  }
  t.ok(SensorEvent.safeParse(decoded.event).success, 'the event passes the schema')
  return decoded.event
}

/** The reason of a record decoded as `kind`. */
export function reasonOf(t: Test, decoded: Decoded, kind: 'invalid' | 'skipped' = 'invalid'): string {
  t.equal(decoded.kind, kind, `decoded as ${kind}`)
  return decoded.kind === kind ? decoded.reason : ''
}

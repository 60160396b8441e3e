import { SensorEvent } from '../../schemas/event.js'
import { describeIssues } from '../errors.js'

export type Validated = { ok: true; event: SensorEvent } | { ok: false; reason: string }

/** Checks one parsed event against the sensor-facing schema; the reason names every bad field. */
export function validate(value: unknown): Validated {
  const result = SensorEvent.safeParse(value)
  return result.success ? { ok: true, event: result.data } : { ok: false, reason: describeIssues(result.error.issues) }
}

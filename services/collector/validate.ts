import type { z } from 'zod'
import { SensorEvent } from '../../schemas/event.js'

export type Validated = { ok: true; event: SensorEvent } | { ok: false; reason: string }

/** Checks one parsed event against the sensor-facing schema; the reason names every bad field. */
export function validate(value: unknown): Validated {
  const result = SensorEvent.safeParse(value)
  return result.success ? { ok: true, event: result.data } : { ok: false, reason: describeIssues(result.error.issues) }
}

/** `field.path: message; ...`, at most a handful, so a hostile event cannot make the answer huge. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], max = 5): string {
  const parts = issues.slice(0, max).map((issue) => {
    const path = issue.path.map(String).join('.')
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.slice(0, 5).map((key) => JSON.stringify(key.slice(0, 64))).join(', ')}` : issue.message
    return path === '' ? message : `${path}: ${message}`
  })
  if (issues.length > max) parts.push(`and ${issues.length - max} more`)
  return parts.join('; ')
}

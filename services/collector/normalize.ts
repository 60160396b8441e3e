import type { CanonicalEvent, SensorEvent, TimeSource } from '../../schemas/event.js'
import type { Sensor } from '../http/tokens.js'
import { absurdTime, type TimeLimits } from '../time-limits.js'

export interface NormalizeContext {
  readonly sensor: Sensor
  readonly receivedAt: Date
  readonly newEventId: () => string
  /** The worker's time rule: what it would drop is refused here, where the sensor hears why. */
  readonly timeLimits: TimeLimits
}

export type Normalized = { ok: true; event: CanonicalEvent } | { ok: false; reason: string }

/**
 * A validated sensor event as a canonical event: who sent it and where its target is come from the
 * sensor's registration, never from the body; times are UTC, with where occurred_at came from.
 */
export function normalize(input: SensorEvent, context: NormalizeContext, timeSource: TimeSource = 'event'): Normalized {
  const occurred = new Date(input.occurred_at)
  if (Number.isNaN(occurred.getTime()) || !isCalendarDate(input.occurred_at)) {
    return { ok: false, reason: `occurred_at: ${input.occurred_at.slice(0, 40)} is not a real date` }
  }
  const offset = offsetBeyondLimits(input.occurred_at)
  if (offset !== undefined) {
    return { ok: false, reason: `occurred_at: UTC offset ${offset} is beyond ±14:00, so the clock is not in any zone` }
  }
  const { sensor } = context
  const event: CanonicalEvent = {
    v: 1,
    event_id: input.event_id ?? context.newEventId(),
    occurred_at: occurred.toISOString(),
    received_at: context.receivedAt.toISOString(),
    sensor_id: sensor.id,
    sensor_type: sensor.type,
    category: input.category,
    severity: input.severity,
    signature: input.signature,
    signature_id: input.signature_id,
    mitre_technique: input.mitre_technique,
    src_ip: input.src_ip,
    src_port: input.src_port,
    dst_ip: input.dst_ip,
    dst_port: input.dst_port,
    protocol: input.protocol?.toLowerCase(),
    src_country: '',
    src_scope: 'public',
    org: sensor.org,
    sector: sensor.sector,
    region: sensor.region,
    count: input.count,
    time_source: timeSource,
    device: input.device,
    log_source: input.log_source,
  }
  const absurd = absurdTime(event, context.timeLimits)
  return absurd === undefined ? { ok: true, event } : { ok: false, reason: absurd }
}

/** The offset of an ISO time when it is wider than ±14:00: no zone on Earth is (Kiribati's +14:00 is the widest). */
function offsetBeyondLimits(isoTime: string): string | undefined {
  const offset = /[+-](\d{2}):?(\d{2})$/.exec(isoTime)
  if (offset === null) return undefined
  const minutes = Number(offset[1]) * 60 + Number(offset[2])
  return minutes > 14 * 60 ? offset[0] : undefined
}

/** Date parsing rolls 2025-02-30 over into March; a sensor that sent it has a bug worth hearing about. */
function isCalendarDate(isoTime: string): boolean {
  const year = Number(isoTime.slice(0, 4))
  const month = Number(isoTime.slice(5, 7))
  const day = Number(isoTime.slice(8, 10))
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

import type { CanonicalEvent, SensorEvent } from '../../schemas/event.js'
import type { Sensor } from '../http/tokens.js'

export interface NormalizeContext {
  readonly sensor: Sensor
  readonly receivedAt: Date
  readonly newEventId: () => string
}

export type Normalized = { ok: true; event: CanonicalEvent } | { ok: false; reason: string }

/**
 * A validated sensor event as a canonical event: who sent it and where its target is come from the
 * sensor's registration, never from the body; times are UTC.
 */
export function normalize(input: SensorEvent, context: NormalizeContext): Normalized {
  const occurred = new Date(input.occurred_at)
  if (Number.isNaN(occurred.getTime()) || !isCalendarDate(input.occurred_at)) {
    return { ok: false, reason: `occurred_at: ${input.occurred_at.slice(0, 40)} is not a real date` }
  }
  const { sensor } = context
  return {
    ok: true,
    event: {
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
    },
  }
}

/** Date parsing rolls 2025-02-30 over into March; a sensor that sent it has a bug worth hearing about. */
function isCalendarDate(isoTime: string): boolean {
  const year = Number(isoTime.slice(0, 4))
  const month = Number(isoTime.slice(5, 7))
  const day = Number(isoTime.slice(8, 10))
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

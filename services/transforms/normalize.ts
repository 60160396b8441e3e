import type { CanonicalEvent, SensorEvent } from '../../schemas/event.js'
import type { Sensor } from '../tokens.js'

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
  if (Number.isNaN(occurred.getTime())) return { ok: false, reason: `occurred_at: ${input.occurred_at} is not a real date` }
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
      org: sensor.org,
      sector: sensor.sector,
      region: sensor.region,
      count: input.count,
    },
  }
}

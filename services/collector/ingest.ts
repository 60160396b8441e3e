import type { CanonicalEvent } from '../../schemas/event.js'
import { type RejectedRecord, rawFields } from '../../schemas/rejected.js'
import type { EventSender } from '../kafka/index.js'
import type { Metrics } from '../metrics.js'
import { type RateLimiter, rateLimited } from './rate-limit.js'
import type { Sensor } from '../http/tokens.js'
import type { DecodedRecord } from './decode/decoded.js'
import { normalize } from './normalize.js'
import { keyedEventId, recordEventId } from './event-id.js'
import type { TimeLimits } from '../time-limits.js'

/** What a request's events came to: accepted (in Kafka), skipped (not attacks) and rejected by index. */
export interface IngestResult {
  accepted: number
  skipped: number
  rejected: { index: number; reason: string }[]
}

export interface IngestDeps {
  readonly kafka: EventSender
  readonly metrics: Metrics
  readonly rateLimiter: RateLimiter
  /** Places the event; the sensor's registration says whom it may file events under. */
  readonly enrich: (event: CanonicalEvent, sensor: Sensor) => CanonicalEvent
  readonly timeLimits: TimeLimits
  /** QALQAN_COLLECTOR_MAX_COUNT: the most occurrences one event may stand for; unset, the schema's. */
  readonly maxCount?: number
}

const MAX_REJECTIONS_LISTED = 100

/**
 * The collector's path for every format: rate limit, normalize and enrich each decoded record,
 * then write events and rejections to Kafka together. Resolves once Kafka acknowledged them.
 */
export async function ingest(
  records: readonly DecodedRecord[],
  sensor: Sensor,
  format: string,
  deps: IngestDeps,
  request: { receivedAt?: Date; idempotencyKey?: string } = {},
): Promise<IngestResult> {
  const { receivedAt = new Date(), idempotencyKey } = request
  const wait = deps.rateLimiter.take(sensor.id, records.length)
  if (wait > 0) {
    deps.metrics.error('http', 'rate_limited')
    throw rateLimited(sensor.id, wait)
  }
  const events: CanonicalEvent[] = []
  const rejected: RejectedRecord[] = []
  const skews: number[] = []
  let skipped = 0
  for (const { decoded, ...record } of records) {
    if (decoded.kind === 'skipped') {
      skipped++
      continue
    }
    let reason = decoded.kind === 'invalid' ? decoded.reason : ''
    if (decoded.kind === 'event') {
      // An id the sensor gave none is derived, not drawn, so a resent record is known as a copy.
      const newEventId = () =>
        idempotencyKey === undefined
          ? recordEventId(sensor.id, record.raw())
          : keyedEventId(sensor.id, idempotencyKey, record.index)
      const normalized = normalize(
        decoded.event,
        { sensor, receivedAt, newEventId, timeLimits: deps.timeLimits },
        decoded.timeSource,
      )
      if (decoded.timeSource !== 'received') {
        const skew = clockSkew(decoded.event.occurred_at, normalized.ok, receivedAt, deps.timeLimits)
        if (skew !== undefined) skews.push(skew)
      }
      if (!normalized.ok) reason = normalized.reason
      else if (deps.maxCount !== undefined && normalized.event.count > deps.maxCount) {
        reason = `count: ${normalized.event.count} is above ${deps.maxCount}, the most one event may stand for (QALQAN_COLLECTOR_MAX_COUNT): send it as several events, or ask the operator to raise the ceiling`
      } else {
        const event = deps.enrich(normalized.event, sensor)
        // An event larger than Kafka takes in one message is refused here, with its reason.
        const refused = deps.kafka.refusal?.(event)
        if (refused === undefined) {
          events.push(event)
          continue
        }
        reason = refused
      }
    }
    rejected.push({
      reason,
      stage: decoded.kind === 'invalid' ? 'decode' : 'normalize',
      format,
      sensor_id: sensor.id,
      index: record.index,
      received_at: receivedAt.toISOString(),
      ...rawFields(record.raw()),
    })
  }

  deps.metrics.stage('decode', {
    received: records.length,
    sent: events.length,
    discarded: skipped,
    discardReason: 'not_an_attack',
  })
  if (rejected.length > 0) deps.metrics.error('decode', 'invalid_event', rejected.length)
  await deps.kafka.send(events, rejected)
  deps.metrics.sensorSeen(sensor.id, receivedAt)
  deps.metrics.sensorEvents(sensor.id, events.length, rejected.length)
  deps.metrics.sensorClockSkew(sensor.id, skews)
  return {
    accepted: events.length,
    skipped,
    rejected: rejected.slice(0, MAX_REJECTIONS_LISTED).map(({ index, reason }) => ({ index: index ?? -1, reason })),
  }
}

/**
 * How far the sensor's clock is behind the collector's, in seconds (receive time minus the event's
 * time; negative: ahead), from an event whose time the time rule accepted or refused as too far
 * off; undefined for a time refused for another reason.
 */
function clockSkew(occurredAt: string, accepted: boolean, receivedAt: Date, limits: TimeLimits): number | undefined {
  const skewMs = receivedAt.getTime() - Date.parse(occurredAt)
  if (Number.isNaN(skewMs)) return undefined
  return accepted || skewMs < -limits.maxFutureMs || skewMs > limits.maxAgeMs ? skewMs / 1000 : undefined
}

import { randomUUID } from 'node:crypto'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { RejectedRecord } from '../../schemas/rejected.js'
import { QalqanError } from '../errors.js'
import type { EventSender } from '../kafka/index.js'
import type { Metrics } from '../metrics.js'
import type { RateLimiter } from './rate-limit.js'
import type { Sensor } from '../http/tokens.js'
import type { DecodedRecord } from './decode/decoded.js'
import { normalize } from './normalize.js'

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
  readonly enrich: (event: CanonicalEvent) => CanonicalEvent
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
): Promise<IngestResult> {
  const wait = deps.rateLimiter.take(sensor.id, records.length)
  if (wait > 0) {
    deps.metrics.error('http', 'rate_limited')
    throw new QalqanError(
      'QLQ_ERR_RATE_LIMITED',
      `sensor ${sensor.id} sends faster than its rate limit: retry in ${wait} s`,
      { retryAfterSeconds: wait },
    )
  }
  const receivedAt = new Date()
  const events: CanonicalEvent[] = []
  const rejected: RejectedRecord[] = []
  let skipped = 0
  for (const record of records) {
    const { decoded } = record
    if (decoded.kind === 'skipped') {
      skipped++
      continue
    }
    let reason = decoded.kind === 'invalid' ? decoded.reason : ''
    if (decoded.kind === 'event') {
      const normalized = normalize(decoded.event, { sensor, receivedAt, newEventId: randomUUID })
      if (normalized.ok) {
        events.push(deps.enrich(normalized.event))
        continue
      }
      reason = normalized.reason
    }
    rejected.push({
      reason,
      stage: decoded.kind === 'invalid' ? 'decode' : 'normalize',
      format,
      sensor_id: sensor.id,
      index: record.index,
      received_at: receivedAt.toISOString(),
      raw: record.raw(),
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
  return {
    accepted: events.length,
    skipped,
    rejected: rejected.slice(0, MAX_REJECTIONS_LISTED).map(({ index, reason }) => ({ index: index ?? -1, reason })),
  }
}

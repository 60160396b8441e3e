import type { Logger } from 'pino'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { RejectedRecord } from '../../schemas/rejected.js'
import type { EventKey, Ledger } from '../clickhouse/index.js'
import { ingest, type IngestDeps } from '../collector/ingest.js'
import type { Sensor } from '../http/tokens.js'
import type { EventSender, TopicMessage } from '../kafka/index.js'
import { type Filters, matches } from './filters.js'
import { readRejected } from './read-rejected.js'
import { type DecodeSettings, redecode, sensorIdOf } from './redecode.js'
import { type ReplaySummary, Tally } from './summary.js'

export interface ReplayDeps {
  readonly logger: Logger
  /** The registered sensor with this id, or undefined. */
  readonly sensors: (id: string) => Sensor | undefined
  /** Where replayed events go (the events topic); its refusal() is asked in a dry run too. */
  readonly events: EventSender
  /**
   * Which events events_raw already holds, asked before each batch is produced (or counted, in a dry
   * run); undefined to produce without asking, as --no-check-stored does.
   */
  readonly stored: Pick<Ledger, 'storedEventIds'> | undefined
  /** The collector's path after decoding, as the collector is configured. */
  readonly ingest: Omit<IngestDeps, 'kafka'>
  readonly decode: DecodeSettings
  readonly filters: Filters
  readonly dryRun: boolean
  /** A progress line every this many records read. */
  readonly progressEvery: number
  /** Events sent to Kafka together (and asked about in events_raw) at most. */
  readonly sendBatch: number
}

/** How many unreadable messages are logged one by one; the rest are only counted. */
const LOGGED_UNREADABLE = 10

/**
 * Replays rejection records through the collector's current path: each record the filters take is
 * decoded again from its original text with its sensor's registration (ingest.ts then normalizes,
 * enriches and sizes it exactly as for a request), and what now passes is produced to the events
 * topic. Ids are the collector's: the sensor's own, else derived from the sensor and the original
 * text, so a record replayed twice, or also accepted once, is one event to the worker; and an event
 * events_raw already holds, by its sensor and id, is left out, however long ago it was stored.
 * Nothing is written to the rejected topic: what is still refused is counted with its reason, as are
 * records cut short, of sensors no longer registered, and messages that are no rejection record at all.
 */
export class Replay {
  private readonly tally: Tally
  private readonly pending: CanonicalEvent[] = []
  private readonly captured: { events: CanonicalEvent[]; rejected: RejectedRecord[] } = { events: [], rejected: [] }
  private readonly ingestDeps: IngestDeps

  constructor(private readonly deps: ReplayDeps) {
    this.tally = new Tally(deps.dryRun, deps.stored !== undefined)
    const { captured } = this
    // The collector's path writes to this; the replay decides what goes on to Kafka.
    const capture: EventSender = {
      send: async (events, rejected) => {
        captured.events.push(...events)
        captured.rejected.push(...rejected)
      },
      refusal: (event) => deps.events.refusal?.(event),
    }
    this.ingestDeps = { ...deps.ingest, kafka: capture }
  }

  /** Replays one fetched batch of the rejected topic; resolves once Kafka acknowledged its events. */
  async take(messages: readonly TopicMessage[]): Promise<void> {
    for (const message of messages) {
      await this.replayOne(message)
      if (this.tally.read % this.deps.progressEvery === 0)
        this.deps.logger.info(progress(this.summary()), 'replaying rejected records')
      if (this.pending.length >= this.deps.sendBatch) await this.flush()
    }
    await this.flush()
  }

  /** The counts so far; after take() resolved, every replayed event is in Kafka. */
  summary(): ReplaySummary {
    return this.tally.summary()
  }

  private async replayOne(message: TopicMessage): Promise<void> {
    const { tally, deps } = this
    tally.read++
    const read = readRejected(message.value)
    if (!read.ok) {
      if (tally.addUnreadable(read.kind) <= LOGGED_UNREADABLE) {
        deps.logger.warn(
          { partition: message.partition, offset: message.offset, problem: read.problem },
          'skipped a message of the rejected topic',
        )
      }
      return
    }
    const { record } = read
    if (!matches(deps.filters, record)) return
    tally.matched++
    if (read.cut) {
      tally.cut++
      return
    }
    const sensorId = sensorIdOf(record)
    const sensor = sensorId === undefined ? undefined : deps.sensors(sensorId)
    if (sensor === undefined) {
      tally.addUnknownSensor(sensorId)
      return
    }
    const redecoded = redecode(record, sensor, deps.decode)
    const result = await ingest([redecoded.record], sensor, record.format, this.ingestDeps, {
      receivedAt: redecoded.receivedAt,
    })
    const events = this.captured.events.splice(0)
    for (const rejected of this.captured.rejected.splice(0)) tally.addRejected(rejected.reason)
    tally.notAttacks += result.skipped
    this.pending.push(...events)
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return
    const batch = this.pending.splice(0)
    const events = await this.notStored(batch)
    if (!this.deps.dryRun && events.length > 0) await this.deps.events.send(events, [])
    this.tally.replayed += events.length
    this.tally.alreadyStored += batch.length - events.length
  }

  /** The events of the batch that events_raw does not hold. */
  private async notStored(batch: CanonicalEvent[]): Promise<CanonicalEvent[]> {
    const { stored } = this.deps
    if (stored === undefined) return batch
    const held = await stored.storedEventIds(
      batch.map((event) => ({ sensorId: event.sensor_id, eventId: event.event_id })),
    )
    if (held.length === 0) return batch
    const heldKeys = new Set(held.map(keyOf))
    return batch.filter((event) => !heldKeys.has(keyOf({ sensorId: event.sensor_id, eventId: event.event_id })))
  }
}

function keyOf(key: EventKey): string {
  return JSON.stringify([key.sensorId, key.eventId.toLowerCase()])
}

/** The counts of a progress line. */
export function progress(summary: ReplaySummary): Record<string, number> {
  return {
    read: summary.read,
    unreadable: summary.unreadable.total,
    matched: summary.matched,
    replayed: summary.replayed,
    alreadyStored: summary.alreadyStored,
    stillRejected: summary.stillRejected.total,
    cut: summary.cut,
    unknownSensor: summary.unknownSensor.total,
  }
}

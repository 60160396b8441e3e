import { randomUUID } from 'node:crypto'
import { Partitioners } from 'kafkajs'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { OffsetEvent } from '../../services/clickhouse/index.js'
import { testKafka } from './kafka.js'

const PLACES = [
  ['government', 'KZ-71', 'Test E-Gov Astana'],
  ['finance', 'KZ-75', 'Test Bank Almaty'],
  ['energy', 'KZ-23', 'Test Refinery Atyrau'],
  ['education', 'KZ-35', 'Test University Karaganda'],
] as const
const CATEGORIES = ['scan', 'bruteforce', 'exploit', 'malware', 'ddos'] as const
const COUNTRIES = ['', 'CN', 'RU', 'US', 'KZ'] as const

/** A seeded stream of canonical events, as the collector writes them, over `minutes` minutes from `start`. */
export function makeEvents(
  count: number,
  seed: number,
  start = Date.parse('2025-03-01T00:00:00Z'),
  minutes = 10,
): CanonicalEvent[] {
  let state = seed
  const random = (n: number) => {
    state = (state * 48271) % 2147483647
    return state % n
  }
  return Array.from({ length: count }, () => {
    const [sector, region, org] = PLACES[random(PLACES.length)] ?? PLACES[0]
    const occurred = start + random(minutes * 60_000)
    return {
      v: 1,
      event_id: randomUUID(),
      occurred_at: new Date(occurred).toISOString(),
      received_at: new Date(occurred + random(5_000)).toISOString(),
      sensor_id: 'test-sensor',
      sensor_type: 'ids',
      category: CATEGORIES[random(CATEGORIES.length)] ?? 'scan',
      severity: 1 + random(4),
      signature: 'generated',
      src_ip: `203.0.113.${random(200)}`,
      dst_ip: `198.51.100.${random(50)}`,
      src_country: COUNTRIES[random(COUNTRIES.length)] ?? '',
      src_scope: 'public',
      org,
      sector,
      region,
      count: 1 + random(3),
    }
  })
}

/** The key of attacks_1m without the window, and the total count per key. */
export function totalsByKey(events: readonly CanonicalEvent[]): Record<string, number> {
  const totals: Record<string, number> = {}
  for (const e of events) {
    const key = `${e.sector}|${e.region}|${e.category}|${e.severity}|${e.src_country}`
    totals[key] = (totals[key] ?? 0) + e.count
  }
  return sortKeys(totals)
}

export function sortKeys(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** Writes events to a topic as the collector does (key = event id), in sends of `batch`. */
export async function produceEvents(
  topic: string,
  events: readonly CanonicalEvent[],
  options: { brokers?: string; batch?: number; pauseMs?: number } = {},
): Promise<void> {
  const producer = testKafka(options.brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    const size = options.batch ?? 1000
    for (let i = 0; i < events.length; i += size) {
      await producer.send({
        topic,
        acks: -1,
        messages: events.slice(i, i + size).map((e) => ({ key: e.event_id, value: JSON.stringify(e) })),
      })
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs))
    }
  } finally {
    await producer.disconnect()
  }
}

/**
 * An event of the query fixtures, numbered `serial`: its id, its source address and its offset. It
 * is placed at `org` in `region` of `sector`, and happened when it was received.
 */
export function fixtureEvent(
  serial: number,
  occurred_at: string,
  place: { sector: CanonicalEvent['sector']; org: string; region: CanonicalEvent['region'] },
  count: number,
  more: Partial<CanonicalEvent> = {},
): OffsetEvent {
  return {
    offset: String(serial),
    event: {
      v: 1,
      event_id: `00000000-0000-4000-8000-${String(serial).padStart(12, '0')}`,
      occurred_at,
      received_at: occurred_at,
      sensor_id: 'fixture',
      sensor_type: 'ids',
      category: 'scan',
      severity: 2,
      signature: 'ET SCAN fixture',
      src_ip: `203.0.113.${serial}`,
      dst_ip: '198.51.100.1',
      src_country: 'CN',
      src_scope: 'public',
      ...place,
      count,
      ...more,
    },
  }
}

import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { CanonicalEvent } from '../../../../schemas/event.js'
import { buildCollector } from '../../../../services/collector/app.js'
import { decodeCef } from '../../../../services/collector/decode/cef.js'
import { decodeContextOf } from '../../../../services/collector/arrival.js'
import { ingest, type IngestDeps } from '../../../../services/collector/ingest.js'
import { RateLimiter } from '../../../../services/collector/rate-limit.js'
import { ConfigError, loadConfig } from '../../../../services/config.js'
import { hashToken, type Sensor, TokenRegistry } from '../../../../services/http/tokens.js'
import { createLogger } from '../../../../services/logger.js'
import { Metrics } from '../../../../services/metrics.js'
import { MemorySender } from '../../../helpers/memory.js'
import { TOKENS, TOKENS_FILE } from '../../../helpers/stack.js'

// A record's time needs its sensor's zone and the receive time: the routes know both before the
// body is read. These tests follow a line through ingest, and through the collector's routes.

/** Forcepoint writes rt without a zone; before 2024-03-01 Almaty was UTC+6, from then UTC+5. */
const JANUARY =
  'CEF:0|FORCEPOINT|Firewall|6.10.2|70019|Connection_Discarded|0|deviceExternalId=NGFW-ALA node 1 dvc=192.0.2.1 dvchost=192.0.2.1 src=203.0.113.7 dst=192.0.2.44 spt=52311 dpt=3389 proto=6 act=Discard deviceFacility=Packet Filtering rt=Jan 17 2024 08:56:21 cs1Label=RuleID cs1=2097157.12'
const MARCH = JANUARY.replace('rt=Jan 17 2024', 'rt=Mar 17 2024')
/** Check Point without rt and without a syslog header: no time at all. */
const TIMELESS =
  'CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Drop cp_severity=Very-High baseEventCount=12 c6a2=2001:db8::555 c6a3=2001:db8:1::1'
/** The line with an RFC 3164 header (no year, no zone) showing `instant` on a clock in `timeZone`, and no rt. */
function headed(instant: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      month: 'short',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(instant)
      .map((part) => [part.type, part.value]),
  )
  const stamp = `${parts['month']} ${parts['day']} ${parts['hour']}:${parts['minute']}:${parts['second']}`
  return `<134>${stamp} fw-ala ${JANUARY.replace(' rt=Jan 17 2024 08:56:21', '')}`
}

function sensor(timeZone?: string): Sensor {
  return {
    id: 'kz-fw-01',
    token_sha256: hashToken('kz-fw-01'),
    type: 'firewall',
    org: 'Test Grid Almaty',
    sector: 'energy',
    region: 'KZ-75',
    ...(timeZone === undefined ? {} : { time_zone: timeZone }),
  }
}

/** The collector's settings the routes build a decode context from (QALQAN_COLLECTOR_DEFAULT_TIME_ZONE=UTC). */
const ROUTES = { maxDepth: 32, timeZone: 'UTC' }

async function throughIngest(lines: string[], who: Sensor, routes = ROUTES) {
  const kafka = new MemorySender()
  const deps: IngestDeps = {
    kafka,
    metrics: new Metrics(),
    rateLimiter: new RateLimiter(1_000, 10_000),
    enrich: (event) => event,
    timeLimits: { maxFutureMs: 3_600_000, maxAgeMs: 3650 * 86_400_000 },
  }
  // Decoded as the routes decode: the sensor is admitted on the headers, before the body is read.
  const context = decodeContextOf({ sensor: who } as FastifyRequest, routes)
  const records = lines.map((line, index) => ({ index, decoded: decodeCef(line, context), raw: () => line }))
  const result = await ingest(records, who, 'cef', deps, { receivedAt: context.receivedAt })
  return { result, events: kafka.events.map((event) => CanonicalEvent.parse(event)) }
}

t.test('a sensor registered in Asia/Almaty: each side of 2024-03-01 in its own UTC minute', async (t) => {
  const { result, events } = await throughIngest([JANUARY, MARCH], sensor('Asia/Almaty'), ROUTES)
  t.match(result, { accepted: 2, rejected: [] })
  t.same(
    events.map((e) => [e.occurred_at.slice(0, 16), e.time_source]),
    [
      ['2024-01-17T02:56', 'event'],
      ['2024-03-17T03:56', 'event'],
    ],
  )
})

t.test('the sensor zone wins over the default; a sensor with none is in the default', async (t) => {
  const qyzylorda = await throughIngest([JANUARY, MARCH], sensor('Asia/Qyzylorda'), ROUTES)
  t.same(
    qyzylorda.events.map((e) => e.occurred_at),
    ['2024-01-17T03:56:21.000Z', '2024-03-17T03:56:21.000Z'],
  )
  const none = await throughIngest([JANUARY], sensor(), ROUTES)
  t.same(
    none.events.map((e) => e.occurred_at),
    ['2024-01-17T08:56:21.000Z'],
    'QALQAN_COLLECTOR_DEFAULT_TIME_ZONE=UTC',
  )
})

t.test('a record with no time at all gets the receive time, and says so', async (t) => {
  const before = Date.now()
  const { events } = await throughIngest([TIMELESS], sensor('Asia/Almaty'), ROUTES)
  const after = Date.now()
  t.equal(events.length, 1)
  const [event] = events
  t.equal(event?.time_source, 'received')
  t.equal(event?.occurred_at, event?.received_at, 'occurred_at is exactly the receive time')
  const occurred = Date.parse(event?.occurred_at ?? '')
  t.ok(occurred >= before - 1 && occurred <= after + 1, 'the receive time of this request, not the decode time')
  t.equal(event?.count, 12)
})

t.test('a syslog header time: the sensor zone, the year nearest the receive time', async (t) => {
  // An hour ago, as a clock in Almaty showed it: no year and no zone in the header.
  const anHourAgo = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000)
  const { events } = await throughIngest([headed(anHourAgo, 'Asia/Almaty')], sensor('Asia/Almaty'), ROUTES)
  t.same(
    events.map((e) => [e.occurred_at, e.time_source]),
    [[anHourAgo.toISOString(), 'header']],
  )
  const elsewhere = await throughIngest([headed(anHourAgo, 'Europe/Berlin')], sensor('Europe/Berlin'), ROUTES)
  t.equal(elsewhere.events[0]?.occurred_at, anHourAgo.toISOString(), 'the same instant from a clock in Berlin')
})

t.test(
  'through the routes: /v1/events/cef and HEC raw read times in the sensor zone from the token registry',
  async (t) => {
    const config = loadConfig({
      QALQAN_ROLE: 'collector',
      QALQAN_TOKENS_FILE: TOKENS_FILE,
      QALQAN_COLLECTOR_DEFAULT_TIME_ZONE: 'UTC',
      QALQAN_WORKER_MAX_AGE_DAYS: '3650',
    })
    t.equal(config.collector.timeZone, 'UTC')
    const kafka = new MemorySender()
    const registry = TokenRegistry.fromFile(TOKENS_FILE)
    const app = buildCollector(config, {
      logger: createLogger('silent'),
      tokens: () => registry,
      kafka,
      metrics: new Metrics(),
      enrich: (event) => event,
      readiness: () => [],
    })
    t.teardown(() => app.close())
    const post = (url: string, authorization: string, payload: string) =>
      app.inject({ method: 'POST', url, headers: { authorization, 'content-type': 'text/plain' }, payload })

    // test-hp-almaty is registered in Asia/Almaty, test-ids-astana names no zone.
    t.equal(
      (await post('/v1/events/cef', `Bearer ${TOKENS.almaty}`, `${JANUARY}\n${MARCH}\n${TIMELESS}`)).statusCode,
      202,
    )
    t.equal((await post('/v1/events/cef', `Bearer ${TOKENS.astana}`, JANUARY)).statusCode, 202)
    // test-fw-atyrau is registered in Asia/Atyrau, UTC+5 on both sides.
    const raw = await post('/services/collector/raw?sourcetype=fortigate_cef', `Splunk ${TOKENS.atyrau}`, JANUARY)
    t.equal(raw.statusCode, 200)
    t.same(
      kafka.events.map((e) => [e.sensor_id, e.occurred_at, e.time_source]),
      [
        ['test-hp-almaty', '2024-01-17T02:56:21.000Z', 'event'],
        ['test-hp-almaty', '2024-03-17T03:56:21.000Z', 'event'],
        ['test-hp-almaty', kafka.events[2]?.received_at, 'received'],
        ['test-ids-astana', '2024-01-17T08:56:21.000Z', 'event'],
        ['test-fw-atyrau', '2024-01-17T03:56:21.000Z', 'event'],
      ],
    )
  },
)

t.test('QALQAN_COLLECTOR_DEFAULT_TIME_ZONE: Asia/Almaty unless set, an unknown name refused at load', async (t) => {
  t.equal(loadConfig({ QALQAN_ROLE: 'worker' }).collector.timeZone, 'Asia/Almaty')
  t.equal(
    loadConfig({ QALQAN_ROLE: 'worker', QALQAN_COLLECTOR_DEFAULT_TIME_ZONE: 'asia/qyzylorda' }).collector.timeZone,
    'Asia/Qyzylorda',
  )
  for (const name of ['Asia/Almati', '+05:00', 'UTC+5', '']) {
    let message = ''
    try {
      loadConfig({ QALQAN_ROLE: 'worker', QALQAN_COLLECTOR_DEFAULT_TIME_ZONE: name })
    } catch (err) {
      t.type(err, ConfigError)
      message = (err as Error).message
    }
    t.match(
      message,
      /QALQAN_COLLECTOR_DEFAULT_TIME_ZONE=".*" \(in the environment\): ".*" is not a time zone name this Node\.js knows: use an IANA name such as Asia\/Almaty/,
      JSON.stringify(name),
    )
  }
})

import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CanonicalEvent } from '../../../schemas/event.js'
import { PROJECT_ROOT } from '../../../services/paths.js'
import { FORMATS, type LineFormat } from '../../../services/collector/decode/formats.js'
import { startCollector } from '../../helpers/collector.js'
import { readTopic } from '../../helpers/kafka.js'
import { TOKENS } from '../../helpers/stack.js'

const FIXTURES: Record<LineFormat, { good: string; bad: string }> = {
  suricata: { good: 'suricata-eve.json', bad: 'suricata-eve-bad.json' },
  cowrie: { good: 'cowrie.json', bad: 'cowrie-bad.json' },
  cef: { good: 'cef.log', bad: 'cef-bad.log' },
}

function fixture(name: string): string[] {
  return readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'sensors', name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
}

/** What the format's decoder says of each line: the expectation the collector is held to. */
function expectations(format: LineFormat, lines: string[]) {
  const context = { maxDepth: 32, receivedAt: new Date(), timeZone: 'Asia/Almaty' }
  const decoded = lines.map((line) => FORMATS[format](line, context))
  return {
    events: decoded.filter((d) => d.kind === 'event').length,
    skipped: decoded.filter((d) => d.kind === 'skipped').length,
    invalid: decoded.flatMap((d, index) => (d.kind === 'invalid' ? [index] : [])),
  }
}

for (const format of Object.keys(FIXTURES) as LineFormat[]) {
  t.test(`${format}: the fixtures go through the collector into Kafka and come out canonical`, async (t) => {
    // The CEF fixture's flood summary counts 120,000, above the default QALQAN_COLLECTOR_MAX_COUNT.
    const { app, config } = await startCollector(t, { QALQAN_COLLECTOR_MAX_COUNT: '1000000' })
    const lines = [...fixture(FIXTURES[format].good), ...fixture(FIXTURES[format].bad)]
    const expected = expectations(format, lines)
    t.ok(expected.events > 0 && expected.invalid.length > 0, 'the fixtures hold good and bad records')
    const res = await app.inject({
      method: 'POST',
      url: `/v1/events/${format}`,
      headers: { authorization: `Bearer ${TOKENS.almaty}`, 'content-type': 'text/plain' },
      payload: lines.join('\n'),
    })
    t.equal(res.statusCode, 202)
    const answer = res.json()
    t.equal(answer.accepted, expected.events)
    t.equal(answer.skipped, expected.skipped)
    t.same(
      answer.rejected.map((r: { index: number }) => r.index),
      expected.invalid,
    )

    const events = (await readTopic(config.kafka.topics.events, expected.events)).map((value) =>
      CanonicalEvent.parse(JSON.parse(value)),
    )
    t.equal(events.length, expected.events)
    t.ok(
      events.every((e) => e.sensor_id === 'test-hp-almaty' && e.sector === 'finance' && e.region === 'KZ-75'),
      'who and where from the token',
    )
    t.ok(
      events.every((e) => e.occurred_at.endsWith('Z')),
      'times in UTC',
    )

    const rejected = (await readTopic(config.kafka.topics.rejected, expected.invalid.length)).map((value) =>
      JSON.parse(value),
    )
    t.equal(rejected.length, expected.invalid.length)
    for (const record of rejected) {
      t.equal(record.raw, lines[record.index], `rejected line ${record.index} kept as sent`)
      t.match(record, { format, sensor_id: 'test-hp-almaty', reason: /./ })
    }
  })
}

t.test('HEC: envelopes pick their decoder by sourcetype, answer in HEC codes, and land canonical', async (t) => {
  const { app, config } = await startCollector(t)
  const suricata = fixture('suricata-eve.json')[0] ?? ''
  const cef = fixture('cef.log')[0] ?? ''
  const cowrie = JSON.parse(fixture('cowrie.json').find((line) => line.includes('login.failed')) ?? '{}')
  const canonical = { category: 'ddos', severity: 4, signature: 'UDP flood', src_ip: '203.0.113.77', count: 500 }
  const body = [
    JSON.stringify({ sourcetype: 'suricata:eve', event: suricata }),
    JSON.stringify({ sourcetype: 'cef', event: cef }),
    JSON.stringify({ sourcetype: 'cowrie', event: cowrie }),
    JSON.stringify({ time: 1740798930.5, event: canonical }),
  ].join('')
  const hec = (url: string, payload: string, authorization = `Splunk ${TOKENS.atyrau}`) =>
    app.inject({ method: 'POST', url, headers: { authorization, 'content-type': 'application/json' }, payload })

  const res = await hec('/services/collector/event', body)
  t.equal(res.statusCode, 200)
  t.match(res.json(), { text: 'Success', code: 0, accepted: 4 })
  const events = (await readTopic(config.kafka.topics.events, 4)).map((value) =>
    CanonicalEvent.parse(JSON.parse(value)),
  )
  t.same(events.map((e) => e.category).sort(), ['bruteforce', 'ddos', 'scan', 'scan'].sort())
  t.equal(
    events.find((e) => e.category === 'ddos')?.occurred_at,
    '2025-03-01T03:15:30.500Z',
    'HEC time fills occurred_at',
  )
  t.ok(events.every((e) => e.sensor_id === 'test-fw-atyrau'))

  const missing = await hec(
    '/services/collector',
    `${JSON.stringify({ event: canonical, time: 1740798930 })}{"host":"x"}`,
  )
  t.equal(missing.statusCode, 400)
  t.match(missing.json(), { code: 12, text: 'Event field is required', 'invalid-event-number': 1, accepted: 1 })
  const rejected = (await readTopic(config.kafka.topics.rejected, 1)).map((value) => JSON.parse(value))
  t.match(rejected[0], { raw: '{"host":"x"}', format: 'hec' })

  t.match((await hec('/services/collector', body, '')).json(), { code: 2, text: 'Token is required' })
  t.equal((await hec('/services/collector', body, 'Splunk wrong')).statusCode, 401)
  const analyst = await hec('/services/collector', body, `Splunk ${TOKENS.analyst}`)
  t.equal(analyst.statusCode, 403)
  t.match(analyst.json(), { code: 4 })
  t.match((await hec('/services/collector', '')).json(), { code: 5, text: 'No data' })

  const raw = await app.inject({
    method: 'POST',
    url: '/services/collector/raw?sourcetype=cef&channel=00000000-0000-0000-0000-000000000000',
    headers: { authorization: `Splunk ${TOKENS.atyrau}` },
    payload: fixture('cef.log').slice(0, 3).join('\n'),
  })
  t.equal(raw.statusCode, 200)
  t.match(raw.json(), { code: 0, accepted: 3 })

  const health = await app.inject({ method: 'GET', url: '/services/collector/health' })
  t.same(health.json(), { text: 'HEC is healthy', code: 17 })
})

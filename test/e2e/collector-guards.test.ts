import t, { type Test } from 'tap'
import { createLogger } from '../../services/logger.js'
import { startRoles } from '../../services/roles.js'
import { readTopic, readWholeTopic, waitForGroupCaughtUp } from '../helpers/kafka.js'
import { testConfig, TOKENS } from '../helpers/stack.js'

// What the collector refuses or recognises so that ClickHouse counts each event once and never
// refuses an insert: through every role, on the real broker and engine.

/** Every role on a fresh topic pair; the query cache off so a count read is the count stored. */
async function stack(t: Test) {
  const config = testConfig({ QALQAN_QUERY_CACHE_SECONDS: '0' })
  const running = await startRoles(config, createLogger('warn'))
  t.teardown(() => running.close())
  const { collector, query } = running.urls
  if (collector === undefined || query === undefined) throw new Error('all roles should run')
  return { config, collector, query }
}

/** Events stored per minute in [from, to), read back through the query API. */
async function stored(query: string, from: string, to: string): Promise<Record<string, number>> {
  const res = await fetch(`${query}/v1/timeseries?from=${from}&to=${to}&step=1m&group_by=sector`, {
    headers: { authorization: `Bearer ${TOKENS.analyst}` },
  })
  if (res.status !== 200) throw new Error(`query answered ${res.status}: ${await res.text()}`)
  const body = (await res.json()) as { points: { time: string; events: number }[] }
  const totals: Record<string, number> = {}
  for (const point of body.points) totals[point.time] = (totals[point.time] ?? 0) + point.events
  return totals
}

t.test('a lone surrogate among valid events is rejected; the valid ones are stored', async (t) => {
  const { config, collector, query } = await stack(t)
  const line = (minute: number, signature: string) =>
    JSON.stringify({
      occurred_at: `2025-04-01T00:0${minute}:30Z`,
      category: 'scan',
      severity: 2,
      signature,
      src_ip: '203.0.113.10',
      count: 1 + minute,
    })
  // The escape as a sensor's JSON carries it: valid UTF-8 text that parses to half a pair.
  const bad = line(2, 'LONE_SURROGATE').replace('LONE_SURROGATE', 'probe \\ud800')
  t.match(bad, /probe \\ud800/)
  const body = [line(0, 'probe'), line(1, 'probe'), bad, line(3, 'probe'), line(4, 'probe \ud83d\ude00')].join('\n')
  const res = await fetch(`${collector}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/x-ndjson' },
    body,
  })
  t.equal(res.status, 202)
  t.same(await res.json(), {
    accepted: 4,
    skipped: 0,
    rejected: [{ index: 2, reason: 'signature: not well-formed Unicode (a lone surrogate)' }],
  })
  const [rejected] = (await readTopic(config.kafka.topics.rejected, 1)).map((value) => JSON.parse(value))
  t.match(rejected, { index: 2, stage: 'decode', reason: 'signature: not well-formed Unicode (a lone surrogate)' })

  await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)
  t.same(
    await stored(query, '2025-04-01T00:00:00Z', '2025-04-01T01:00:00Z'),
    {
      '2025-04-01T00:00:00.000Z': 1,
      '2025-04-01T00:01:00.000Z': 2,
      '2025-04-01T00:03:00.000Z': 4,
      '2025-04-01T00:04:00.000Z': 5,
    },
    'the four valid events are counted, the worker did not stall on the fifth',
  )
})

t.test('the same Suricata request posted twice counts once', async (t) => {
  const { config, collector, query } = await stack(t)
  const alert = (second: number, sid: number) =>
    JSON.stringify({
      timestamp: `2025-05-01T05:0${second % 3}:${String(second).padStart(2, '0')}.123456+0500`,
      flow_id: 1_000_000 + second,
      event_type: 'alert',
      src_ip: '203.0.113.10',
      src_port: 40_000 + second,
      dest_ip: '198.51.100.20',
      dest_port: 22,
      proto: 'TCP',
      alert: {
        signature_id: sid,
        signature: 'ET SCAN Potential SSH Scan',
        category: 'Attempted Information Leak',
        severity: 2,
      },
    })
  const flow = JSON.stringify({
    timestamp: '2025-05-01T05:00:00.000000+0500',
    event_type: 'flow',
    src_ip: '203.0.113.10',
  })
  const body = [alert(1, 2001219), flow, alert(2, 2001219), alert(3, 2001220), alert(4, 2001219)].join('\n')
  const post = () =>
    fetch(`${collector}/v1/events/suricata`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'text/plain' },
      body,
    })
  // The first send's answer lost, say: the sensor cannot know, and sends the request again.
  for (let send = 0; send < 2; send++) {
    const res = await post()
    t.equal(res.status, 202)
    t.same(await res.json(), { accepted: 4, skipped: 1, rejected: [] })
  }

  const messages = (await readWholeTopic(config.kafka.topics.events)).map(
    (value) => JSON.parse(value) as { event_id: string },
  )
  t.equal(messages.length, 8, 'both copies reached Kafka')
  t.equal(new Set(messages.map((m) => m.event_id)).size, 4, 'a copy carries the id of its original')

  await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)
  t.same(
    await stored(query, '2025-05-01T00:00:00Z', '2025-05-01T01:00:00Z'),
    { '2025-05-01T00:00:00.000Z': 1, '2025-05-01T00:01:00.000Z': 2, '2025-05-01T00:02:00.000Z': 1 },
    'four events, each counted once',
  )
})

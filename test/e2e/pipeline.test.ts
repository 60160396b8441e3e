import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogger } from '../../services/logger.js'
import { startRoles } from '../../services/roles.js'
import { hashToken } from '../../services/http/tokens.js'
import { readTopic } from '../helpers/kafka.js'
import { testConfig, TOKENS, TOKENS_FILE } from '../helpers/stack.js'

// Who each token is, as test/fixtures/tokens.json registers it.
const SENSORS = {
  [TOKENS.astana]: { sector: 'government', region: 'KZ-71' },
  [TOKENS.almaty]: { sector: 'finance', region: 'KZ-75' },
  [TOKENS.atyrau]: { sector: 'energy', region: 'KZ-23' },
} as const

const CATEGORIES = ['scan', 'bruteforce', 'exploit', 'malware'] as const

/** The start of the minute of an ISO time, in ISO. */
function minuteOf(isoTime: string): string {
  return new Date(Math.floor(Date.parse(isoTime) / 60_000) * 60_000).toISOString()
}

t.test('events posted to the collector come back from the query API as exact per-minute counts', async (t) => {
  const running = await startRoles(testConfig(), createLogger('warn'))
  t.teardown(() => running.close())
  const { collector: collectorUrl, query: queryUrl } = running.urls
  if (collectorUrl === undefined || queryUrl === undefined) throw new Error('all roles should run')

  const expected = new Map<string, number>()
  let seed = 7
  const random = (n: number) => {
    seed = (seed * 48271) % 2147483647
    return seed % n
  }
  const base = Date.parse('2025-03-01T00:00:00Z')
  for (const token of Object.keys(SENSORS) as (keyof typeof SENSORS)[]) {
    for (let request = 0; request < 3; request++) {
      const events = Array.from({ length: 40 }, () => ({
        occurred_at: new Date(base + random(5) * 60_000 + random(60_000)).toISOString(),
        category: CATEGORIES[random(CATEGORIES.length)],
        severity: 1 + random(4),
        signature: 'E2E test signature',
        src_ip: `203.0.113.${random(255)}`,
        count: 1 + random(3),
      }))
      const ndjson = request % 2 === 1
      const res = await fetch(`${collectorUrl}/v1/events`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': ndjson ? 'application/x-ndjson' : 'application/json',
        },
        body: ndjson ? events.map((e) => JSON.stringify(e)).join('\n') : JSON.stringify(events),
      })
      t.equal(res.status, 202)
      t.same(await res.json(), { accepted: 40, skipped: 0, rejected: [] })
      const { sector, region } = SENSORS[token]
      for (const event of events) {
        const key = `${minuteOf(event.occurred_at)}|${sector}|${region}`
        expected.set(key, (expected.get(key) ?? 0) + event.count)
      }
    }
  }

  const url = `${queryUrl}/v1/timeseries?from=2025-03-01T00:00:00Z&to=2025-03-01T01:00:00Z&step=1m&group_by=sector,region`
  const want = Object.fromEntries([...expected].sort())
  let got: Record<string, number> = {}
  for (let attempt = 0; attempt < 120; attempt++) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKENS.analyst}` } })
    t.equal(res.status, 200, 'query answers', { bail: true })
    const body = (await res.json()) as { points: { time: string; sector: string; region: string; events: number }[] }
    got = Object.fromEntries(body.points.map((r) => [`${r.time}|${r.sector}|${r.region}`, r.events]).sort())
    if (JSON.stringify(got) === JSON.stringify(want)) break
    await sleep(500)
  }
  t.same(got, want, 'the aggregates equal exactly what was posted')
  t.equal(Object.keys(want).length, 15, 'three sectors and regions over five minutes')
})

t.test('the device and log source, from HEC envelopes and the records, are stored and read back', async (t) => {
  const running = await startRoles(testConfig(), createLogger('warn'))
  t.teardown(() => running.close())
  const { collector: collectorUrl, query: queryUrl } = running.urls
  if (collectorUrl === undefined || queryUrl === undefined) throw new Error('all roles should run')
  const event = (minute: number, signature: string) => ({
    occurred_at: `2025-04-01T00:0${minute}:00Z`,
    category: 'scan',
    severity: 2,
    signature,
    src_ip: '203.0.113.9',
  })
  const cef = 'CEF:0|Fortinet|FortiGate|7.2.5|0419016384|Port scan detected|7|src=203.0.113.10 rt=1743465780000'
  const hec = [
    { event: event(1, 'hec canonical'), host: 'gw-astana-01', source: 'tcp:6514' },
    {
      event: { ...event(2, 'hec own device'), device: 'sensor-says', log_source: 'own.log' },
      host: 'forwarder',
      source: 'in',
    },
    { event: cef, sourcetype: 'cef', host: 'h'.repeat(400), source: 42 },
  ]
  const res = await fetch(`${collectorUrl}/services/collector/event`, {
    method: 'POST',
    headers: { authorization: `Splunk ${TOKENS.astana}` },
    body: hec.map((envelope) => JSON.stringify(envelope)).join('\n'),
  })
  t.equal(res.status, 200, await res.clone().text())
  const direct = await fetch(`${collectorUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json' },
    body: JSON.stringify([event(4, 'direct without'), { ...event(5, 'direct with'), device: 'ids-7' }]),
  })
  t.equal(direct.status, 202)

  const url = `${queryUrl}/v1/events?from=2025-04-01T00:00:00Z&to=2025-04-01T01:00:00Z`
  let stored: { signature: string; device: string; log_source: string }[] = []
  for (let attempt = 0; attempt < 120 && stored.length < 5; attempt++) {
    if (attempt > 0) await sleep(500)
    const answer = await fetch(url, { headers: { authorization: `Bearer ${TOKENS.analyst}` } })
    t.equal(answer.status, 200, 'query answers', { bail: true })
    stored = ((await answer.json()) as { events: typeof stored }).events
  }
  t.same(
    stored.map(({ signature, device, log_source }) => ({ signature, device, log_source })),
    [
      { signature: 'direct with', device: 'ids-7', log_source: '' },
      { signature: 'direct without', device: '', log_source: '' },
      { signature: 'Port scan detected', device: 'h'.repeat(255), log_source: '' },
      { signature: 'hec own device', device: 'sensor-says', log_source: 'own.log' },
      { signature: 'hec canonical', device: 'gw-astana-01', log_source: 'tcp:6514' },
    ],
    "newest first: each as the sender named it, '' when it did not",
  )
})

t.test('enrichment and registries reloaded without a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-registries-'))
  const tokensFile = join(dir, 'tokens.json')
  const assetsFile = join(dir, 'assets.json')
  const registry = JSON.parse(readFileSync(TOKENS_FILE, 'utf8'))
  writeFileSync(tokensFile, JSON.stringify(registry))
  writeFileSync(
    assetsFile,
    JSON.stringify({
      assets: [{ cidr: '198.51.100.0/24', org: 'Test Power Grid Pavlodar', sector: 'energy', region: 'KZ-55' }],
    }),
  )
  const config = testConfig({
    QALQAN_ROLE: 'collector',
    QALQAN_TOKENS_FILE: tokensFile,
    QALQAN_ASSETS_FILE: assetsFile,
  })
  const running = await startRoles(config, createLogger('silent'))
  t.teardown(() => running.close())
  const post = (token: string, event: Record<string, unknown>) =>
    fetch(`${running.urls.collector}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        occurred_at: '2025-03-01T00:00:00Z',
        category: 'scan',
        severity: 2,
        signature: 'enrich',
        ...event,
      }),
    })

  t.equal((await post(TOKENS.astana, { src_ip: '8.8.8.8', dst_ip: '198.51.100.7' })).status, 202)
  t.equal((await post(TOKENS.astana, { src_ip: '10.1.2.3', dst_ip: '192.0.2.1' })).status, 202)
  const written = (await readTopic(config.kafka.topics.events, 2)).map((value) => JSON.parse(value))
  const placed = written.find((e) => e.src_ip === '8.8.8.8')
  const fallback = written.find((e) => e.src_ip === '10.1.2.3')
  t.match(
    placed,
    { org: 'Test Power Grid Pavlodar', sector: 'energy', region: 'KZ-55', src_country: 'US', src_scope: 'public' },
    'the asset registry places the target',
  )
  t.match(
    fallback,
    { org: 'Test E-Gov Astana', sector: 'government', region: 'KZ-71', src_country: '', src_scope: 'private' },
    'else the sensor registration',
  )

  const newToken = 'test-sensor-new'
  t.equal((await post(newToken, { src_ip: '8.8.8.8' })).status, 401)
  registry.sensors.push({
    id: 'test-new',
    token_sha256: hashToken(newToken),
    type: 'waf',
    org: 'New Org',
    sector: 'education',
    region: 'KZ-35',
  })
  writeFileSync(tokensFile, JSON.stringify(registry))
  running.reload()
  t.equal(
    (await post(newToken, { src_ip: '8.8.8.8' })).status,
    202,
    'a sensor added to the file is let in after a reload',
  )
  writeFileSync(tokensFile, '{broken')
  running.reload()
  t.equal((await post(newToken, { src_ip: '8.8.8.8' })).status, 202, 'a broken file keeps the previous registry')
  // Every replica sharing the file would be taken out of rotation together: it stays ready.
  const ready = await fetch(`${running.urls.collector}/readyz`)
  t.equal(ready.status, 200, 'and stays ready, serving with it')
  t.same(await ready.json(), { status: 'ready' }, 'the public port says nothing of the file')
  const detailed = await fetch(`${running.opsUrl}/readyz`)
  t.equal(detailed.status, 200, 'the ops port too')
  t.match(
    await detailed.json(),
    { status: 'ready', roles: { collector: [] }, warnings: { collector: [/tokens\.json/] } },
    'and warns of the file, with its path and error',
  )
  writeFileSync(tokensFile, JSON.stringify(registry))
  running.reload()
  const fixed = (await (await fetch(`${running.opsUrl}/readyz`)).json()) as { warnings: unknown }
  t.same(fixed.warnings, {}, 'the warning goes with the fix')
})

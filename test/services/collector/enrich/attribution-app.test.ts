import t, { type Test } from 'tap'
import { buildCollector } from '../../../../services/collector/app.js'
import { AssetRegistry } from '../../../../services/collector/enrich/assets.js'
import { enrich, type EnrichLookups } from '../../../../services/collector/enrich/enrich.js'
import { countryOf } from '../../../../services/collector/enrich/geoip.js'
import { loadConfig } from '../../../../services/config.js'
import { TokenRegistry } from '../../../../services/http/tokens.js'
import { createLogger } from '../../../../services/logger.js'
import { Metrics } from '../../../../services/metrics.js'
import { MemorySender } from '../../../helpers/memory.js'
import { sample } from '../../../helpers/metric-sample.js'
import { TOKENS, TOKENS_FILE } from '../../../helpers/stack.js'

// Through the collector's HTTP app: which organisation an event is filed under is the sensor's
// registration (test/fixtures/tokens.json) to decide, not the dst_ip the sensor writes.

const assets = new AssetRegistry([
  { cidr: '198.51.100.0/24', org: 'Test Power Grid Pavlodar', sector: 'energy', region: 'KZ-55' },
  { cidr: '192.0.2.0/24', org: 'Test Refinery Atyrau SCADA', sector: 'energy', region: 'KZ-23' },
])

function collector(t: Test, settings: Record<string, string> = {}) {
  const config = loadConfig({
    QALQAN_ROLE: 'collector',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    // The events are dated in 2025: the horizon must reach them.
    QALQAN_WORKER_MAX_AGE_DAYS: '3650',
    ...settings,
  })
  const tokens = TokenRegistry.fromFile(TOKENS_FILE)
  const sender = new MemorySender()
  const metrics = new Metrics()
  // As services/collector/start.ts wires it.
  const lookups: EnrichLookups = {
    assets: (ip) => assets.lookup(ip),
    country: countryOf,
    refused: (event) => metrics.attributionRefused(event.sensor_id),
  }
  const app = buildCollector(config, {
    logger: createLogger('silent'),
    tokens: () => tokens,
    kafka: sender,
    metrics,
    enrich: (event, sensor) => enrich(event, lookups, sensor),
    readiness: () => [],
  })
  t.teardown(() => app.close())
  return { app, sender, metrics }
}

const attack = (dstIp: string, fields: Record<string, unknown> = {}) => ({
  occurred_at: '2025-03-01T08:15:30+05:00',
  category: 'exploit',
  severity: 4,
  signature: 'Modbus write to a PLC register',
  src_ip: '203.0.113.10',
  dst_ip: dstIp,
  ...fields,
})

async function post(app: ReturnType<typeof collector>['app'], token: string, body: unknown) {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  })
  return { status: response.statusCode, body: response.json() as Record<string, unknown> }
}

t.test('a sensor cannot file events under another organisation by naming its address', async (t) => {
  const { app, sender, metrics } = collector(t)
  // Almaty's entry grants nothing: the grid's and the refinery's addresses stay with the bank.
  const answer = await post(app, TOKENS.almaty, [attack('198.51.100.7'), attack('192.0.2.1'), attack('10.0.0.1')])
  t.same(answer, { status: 202, body: { accepted: 3, skipped: 0, rejected: [] } }, 'accepted, as the bank')
  t.same(
    sender.events.map((e) => [e.dst_ip, e.org, e.sector, e.region]),
    [
      ['198.51.100.7', 'Test Bank Almaty', 'finance', 'KZ-75'],
      ['192.0.2.1', 'Test Bank Almaty', 'finance', 'KZ-75'],
      ['10.0.0.1', 'Test Bank Almaty', 'finance', 'KZ-75'],
    ],
  )
  t.equal(await sample(metrics, 'qalqan_collector_attribution_refused_total{sensor="test-hp-almaty"}'), 2)
})

t.test('a sensor files events under another organisation when its entry allows it', async (t) => {
  const { app, sender, metrics } = collector(t)
  // Astana may file under 198.51.100.0/24, Atyrau under the refinery's SCADA organisation.
  t.equal((await post(app, TOKENS.astana, [attack('198.51.100.7'), attack('192.0.2.1')])).status, 202)
  t.equal((await post(app, TOKENS.atyrau, [attack('192.0.2.1'), attack('198.51.100.7')])).status, 202)
  t.same(
    sender.events.map((e) => [e.sensor_id, e.dst_ip, e.org, e.sector, e.region]),
    [
      ['test-ids-astana', '198.51.100.7', 'Test Power Grid Pavlodar', 'energy', 'KZ-55'],
      ['test-ids-astana', '192.0.2.1', 'Test E-Gov Astana', 'government', 'KZ-71'],
      ['test-fw-atyrau', '192.0.2.1', 'Test Refinery Atyrau SCADA', 'energy', 'KZ-23'],
      ['test-fw-atyrau', '198.51.100.7', 'Test Refinery Atyrau', 'energy', 'KZ-23'],
    ],
  )
  t.equal(await sample(metrics, 'qalqan_collector_attribution_refused_total{sensor="test-ids-astana"}'), 1)
  t.equal(await sample(metrics, 'qalqan_collector_attribution_refused_total{sensor="test-fw-atyrau"}'), 1)
})

t.test('an event above QALQAN_COLLECTOR_MAX_COUNT is rejected with its reason; the others pass', async (t) => {
  const { app, sender } = collector(t, { QALQAN_COLLECTOR_MAX_COUNT: '500' })
  const answer = await post(app, TOKENS.astana, [
    attack('198.51.100.7', { count: 500 }),
    attack('198.51.100.7', { count: 501 }),
  ])
  t.same(answer, {
    status: 202,
    body: {
      accepted: 1,
      skipped: 0,
      rejected: [
        {
          index: 1,
          reason:
            'count: 501 is above 500, the most one event may stand for (QALQAN_COLLECTOR_MAX_COUNT): send it as several events, or ask the operator to raise the ceiling',
        },
      ],
    },
  })
  t.same(
    sender.events.map((e) => e.count),
    [500],
  )
  t.same(
    sender.rejected.map((r) => [r.index, r.stage]),
    [[1, 'normalize']],
  )

  const defaults = collector(t)
  const alone = await post(defaults.app, TOKENS.astana, attack('198.51.100.7', { count: 10_001 }))
  t.equal(alone.status, 400, 'the default ceiling is 10,000: a request of one such event is refused')
  t.match(alone.body, {
    error: 'QLQ_ERR_INVALID_EVENTS',
    rejected: [{ index: 0, reason: /^count: 10001 is above 10000/ }],
  })
})

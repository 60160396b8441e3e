import t from 'tap'
import { CanonicalEvent } from '../../../../schemas/event.js'
import { AssetRegistry, type Asset } from '../../../../services/collector/enrich/assets.js'
import { mayAttribute } from '../../../../services/collector/enrich/attribution.js'
import { enrich, type EnrichLookups } from '../../../../services/collector/enrich/enrich.js'
import { countryOf } from '../../../../services/collector/enrich/geoip.js'
import { type Sensor, TokenRegistry } from '../../../../services/http/tokens.js'
import { TOKENS, TOKENS_FILE } from '../../../helpers/stack.js'

// The sensors as test/fixtures/tokens.json registers them: Astana may file under the networks
// 198.51.100.0/24 and 2001:db8:71::/48, Atyrau under "Test Refinery Atyrau SCADA", Almaty only
// under its own organisation.
const tokens = TokenRegistry.fromFile(TOKENS_FILE)
function sensor(token: string): Sensor {
  const principal = tokens.authenticate(token)
  if (principal?.role !== 'sensor') throw new Error(`${token} is no sensor of the fixture`)
  return principal.sensor
}
const astana = sensor(TOKENS.astana)
const almaty = sensor(TOKENS.almaty)
const atyrau = sensor(TOKENS.atyrau)

const assets = new AssetRegistry([
  { cidr: '198.51.100.0/24', org: 'Test Power Grid Pavlodar', sector: 'energy', region: 'KZ-55' },
  { cidr: '203.0.113.0/24', org: 'Test Bank Almaty', sector: 'finance', region: 'KZ-71' },
  { cidr: '192.0.2.0/24', org: 'Test Refinery Atyrau SCADA', sector: 'energy', region: 'KZ-23' },
  { cidr: '2001:db8:71::/48', org: 'Test Akimat Astana', sector: 'government', region: 'KZ-71' },
  { cidr: '2001:db8::/32', org: 'Test Telecom', sector: 'telecom', region: 'KZ-75' },
])

/** An event of `from` as normalize() hands it on: placed by the sensor's registration. */
function eventOf(from: Sensor, dstIp: string | undefined): CanonicalEvent {
  return CanonicalEvent.parse({
    v: 1,
    event_id: '2f6c1d7e-0b3a-4c5d-8e9f-a0b1c2d3e4f5',
    occurred_at: '2025-03-01T03:15:30.000Z',
    received_at: '2025-03-01T03:15:31.250Z',
    sensor_id: from.id,
    sensor_type: from.type,
    category: 'exploit',
    severity: 4,
    signature: 'Modbus write to a PLC register',
    src_ip: '8.8.8.8',
    ...(dstIp === undefined ? {} : { dst_ip: dstIp }),
    src_country: '',
    src_scope: 'public',
    org: from.org,
    sector: from.sector,
    region: from.region,
    count: 1,
  })
}

function enrichAs(from: Sensor, dstIp: string | undefined) {
  const refused: { sensor: string; org: string }[] = []
  const lookups: EnrichLookups = {
    assets: (ip) => assets.lookup(ip),
    country: countryOf,
    refused: (event, asset) => refused.push({ sensor: event.sensor_id, org: asset.org }),
  }
  const enriched = enrich(eventOf(from, dstIp), lookups, from)
  return { placed: { org: enriched.org, sector: enriched.sector, region: enriched.region }, refused }
}

const own = (from: Sensor) => ({ org: from.org, sector: from.sector, region: from.region })

t.test('a sensor whose entry grants nothing is placed by the registry only within its own organisation', async (t) => {
  t.same(enrichAs(almaty, '203.0.113.9'), {
    placed: { org: 'Test Bank Almaty', sector: 'finance', region: 'KZ-71' },
    refused: [],
  })
  for (const dstIp of ['198.51.100.7', '192.0.2.1', '2001:db8:71::5', '::ffff:198.51.100.7']) {
    t.same(
      enrichAs(almaty, dstIp),
      { placed: own(almaty), refused: [{ sensor: 'test-hp-almaty', org: assets.lookup(dstIp)?.org }] },
      `${dstIp}: keeps its own placement, and the refusal is told`,
    )
  }
})

t.test('networks in attribute_to let a sensor file events aimed at them under whoever holds them', async (t) => {
  t.same(enrichAs(astana, '198.51.100.7'), {
    placed: { org: 'Test Power Grid Pavlodar', sector: 'energy', region: 'KZ-55' },
    refused: [],
  })
  t.same(enrichAs(astana, '::ffff:198.51.100.200').placed.org, 'Test Power Grid Pavlodar', 'IPv4-mapped as IPv4')
  t.same(enrichAs(astana, '2001:db8:71:ffff::1').placed.org, 'Test Akimat Astana')
  t.same(
    enrichAs(astana, '2001:db8:72::1'),
    { placed: own(astana), refused: [{ sensor: 'test-ids-astana', org: 'Test Telecom' }] },
    'next to a granted network is not in it',
  )
  t.same(enrichAs(astana, '192.0.2.1').refused, [{ sensor: 'test-ids-astana', org: 'Test Refinery Atyrau SCADA' }])
})

t.test('organisations in attribute_to let a sensor file events under them, wherever they are', async (t) => {
  t.same(enrichAs(atyrau, '192.0.2.77'), {
    placed: { org: 'Test Refinery Atyrau SCADA', sector: 'energy', region: 'KZ-23' },
    refused: [],
  })
  t.same(enrichAs(atyrau, '198.51.100.7'), {
    placed: own(atyrau),
    refused: [{ sensor: 'test-fw-atyrau', org: 'Test Power Grid Pavlodar' }],
  })
})

t.test('an event with no target, or one the registry does not hold, is no refusal', async (t) => {
  for (const from of [almaty, astana, atyrau]) {
    t.same(enrichAs(from, undefined), { placed: own(from), refused: [] })
    t.same(enrichAs(from, '10.1.2.3'), { placed: own(from), refused: [] })
  }
})

t.test('mayAttribute: the organisation is compared as written; grants of different entries stay apart', async (t) => {
  const asset = (org: string): Asset => ({ cidr: '192.0.2.0/24', org, sector: 'energy', region: 'KZ-23' })
  t.ok(mayAttribute(atyrau, '192.0.2.1', asset('Test Refinery Atyrau SCADA')))
  t.notOk(mayAttribute(atyrau, '192.0.2.1', asset('test refinery atyrau scada')))
  t.notOk(mayAttribute(atyrau, '192.0.2.1', asset('Test Refinery Atyrau SCADA ')))
  t.ok(mayAttribute(atyrau, '192.0.2.1', asset('Test Refinery Atyrau')), 'its own')
  const twin = { org: atyrau.org, attribute_to: { networks: ['192.0.2.0/25'] } }
  t.ok(mayAttribute(twin, '192.0.2.1', asset('Other')))
  t.notOk(mayAttribute(twin, '192.0.2.200', asset('Other')))
  t.notOk(mayAttribute(atyrau, '192.0.2.1', asset('Other')), 'the first entry did not take the second one grant')
  t.notOk(mayAttribute({ org: 'X', attribute_to: {} }, '192.0.2.1', asset('Other')), 'an empty grant grants nothing')
  t.notOk(mayAttribute({ org: 'X', attribute_to: { networks: ['0.0.0.0/0'] } }, 'not an address', asset('Other')))
})

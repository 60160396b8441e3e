import t from 'tap'
import { CanonicalEvent } from '../../../../schemas/event.js'
import { AssetRegistry } from '../../../../services/collector/enrich/assets.js'
import { countryOf } from '../../../../services/collector/enrich/geoip.js'
import type { AttributionRights } from '../../../../services/collector/enrich/attribution.js'
import { enrich, type EnrichLookups } from '../../../../services/collector/enrich/enrich.js'

const registry = new AssetRegistry([
  { cidr: '2.133.0.0/16', org: 'KazRefinery', sector: 'energy', region: 'KZ-23' },
  { cidr: '2.133.7.0/24', org: 'KazRefinery SCADA', sector: 'energy', region: 'KZ-47' },
  { cidr: '2a02:6b8:1::/48', org: 'Astana Hospital', sector: 'healthcare', region: 'KZ-71' },
])

const lookups: EnrichLookups = { assets: (ip) => registry.lookup(ip), country: countryOf }

/** A sensor that may file events under any organisation (test/services/collector/enrich/attribution.test.ts narrows it). */
const everywhere: AttributionRights = { org: 'Sensor Owner', attribute_to: { networks: ['0.0.0.0/0', '::/0'] } }

/** A canonical event as normalize() hands it on: target from the sensor, no scope or country yet. */
function event(fields: Partial<CanonicalEvent> = {}): CanonicalEvent {
  return CanonicalEvent.parse({
    v: 1,
    event_id: '0b1e3c4a-5d6e-4f70-8a9b-0c1d2e3f4a5b',
    occurred_at: '2025-03-01T03:15:30.000Z',
    received_at: '2025-03-01T03:15:31.250Z',
    sensor_id: 'kz-fw-01',
    sensor_type: 'firewall',
    category: 'scan',
    severity: 2,
    signature: 'TCP SYN scan',
    src_ip: '8.8.8.8',
    dst_port: 502,
    protocol: 'tcp',
    src_country: '',
    src_scope: 'public',
    org: 'Sensor Owner',
    sector: 'government',
    region: 'KZ-71',
    count: 1,
    ...fields,
  })
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

t.test('the asset registry places the target by dst_ip, the most specific network first', async (t) => {
  const enriched = enrich(event({ dst_ip: '2.133.7.10' }), lookups, everywhere)
  t.match(enriched, { org: 'KazRefinery SCADA', sector: 'energy', region: 'KZ-47' })
  t.match(enrich(event({ dst_ip: '2.133.200.1' }), lookups, everywhere), {
    org: 'KazRefinery',
    sector: 'energy',
    region: 'KZ-23',
  })
  t.match(enrich(event({ dst_ip: '2a02:6b8:1::25' }), lookups, everywhere), {
    org: 'Astana Hospital',
    sector: 'healthcare',
    region: 'KZ-71',
  })
  t.match(enrich(event({ dst_ip: '::ffff:2.133.7.10' }), lookups, everywhere), { org: 'KazRefinery SCADA' })
})

t.test("without dst_ip, or with one the registry does not hold, the sensor's registration stays", async (t) => {
  const sensorTarget = { org: 'Sensor Owner', sector: 'government', region: 'KZ-71' }
  t.match(enrich(event(), lookups, everywhere), sensorTarget)
  t.match(enrich(event({ dst_ip: '2.134.0.1' }), lookups, everywhere), sensorTarget)
  t.match(enrich(event({ dst_ip: '10.0.0.5' }), lookups, everywhere), sensorTarget)
})

t.test('the source gets its scope, and a country only when public', async (t) => {
  const cases: [string, string, string][] = [
    ['8.8.8.8', 'public', 'US'],
    ['2.132.0.1', 'public', 'KZ'],
    ['2001:4860:4860::8888', 'public', 'US'],
    ['::ffff:95.56.0.1', 'public', 'KZ'],
    ['10.1.2.3', 'private', ''],
    ['192.168.1.1', 'private', ''],
    ['100.64.1.1', 'private', ''],
    ['127.0.0.1', 'loopback', ''],
    ['fe80::1', 'link_local', ''],
    ['239.1.1.1', 'multicast', ''],
    ['203.0.113.55', 'reserved', ''],
    ['2001:db8::1', 'reserved', ''],
  ]
  for (const [srcIp, scope, country] of cases) {
    const enriched = enrich(event({ src_ip: srcIp }), lookups)
    t.equal(enriched.src_scope, scope, `${srcIp} scope`)
    t.equal(enriched.src_country, country, `${srcIp} country`)
  }
})

t.test('the country database is asked only about public sources', async (t) => {
  const asked: string[] = []
  const counting: EnrichLookups = {
    assets: lookups.assets,
    country: (ip) => {
      asked.push(ip)
      return countryOf(ip)
    },
  }
  enrich(event({ src_ip: '10.0.0.1' }), counting)
  enrich(event({ src_ip: '203.0.113.1' }), counting)
  enrich(event({ src_ip: '95.56.0.1' }), counting)
  t.same(asked, ['95.56.0.1'])
})

t.test('a country lookup that answers something other than an alpha-2 code gives no country', async (t) => {
  for (const answer of ['us', 'USA', 'U', ' US', '']) {
    t.equal(enrich(event(), { ...lookups, country: () => answer }).src_country, '', JSON.stringify(answer))
  }
})

t.test('the input is not changed, and the output is a valid canonical event', async (t) => {
  const input = deepFreeze(event({ src_ip: '2.132.0.1', dst_ip: '2.133.7.10', src_country: '', src_scope: 'public' }))
  const before = structuredClone(input)
  const enriched = enrich(input, lookups, everywhere)
  t.not(enriched, input)
  t.same(input, before)
  t.same(CanonicalEvent.parse(enriched), enriched)
  t.same(enriched, {
    ...before,
    src_country: 'KZ',
    src_scope: 'public',
    org: 'KazRefinery SCADA',
    sector: 'energy',
    region: 'KZ-47',
  })
})

t.test('a stale scope or country on the input is replaced', async (t) => {
  const enriched = enrich(event({ src_ip: '10.0.0.1', src_scope: 'public', src_country: 'RU' }), lookups)
  t.equal(enriched.src_scope, 'private')
  t.equal(enriched.src_country, '')
})

t.test("without the sensor's registration, only the organisation the event already carries is allowed", async (t) => {
  const refused: string[] = []
  const told: EnrichLookups = { ...lookups, refused: (e, asset) => refused.push(`${e.event_id} ${asset.org}`) }
  t.match(enrich(event({ dst_ip: '2.133.7.10' }), told), { org: 'Sensor Owner', sector: 'government', region: 'KZ-71' })
  t.same(refused, ['0b1e3c4a-5d6e-4f70-8a9b-0c1d2e3f4a5b KazRefinery SCADA'])
  t.match(enrich(event({ dst_ip: '2.133.7.10', org: 'KazRefinery SCADA' }), told), { region: 'KZ-47' })
  t.equal(refused.length, 1, 'its own organisation is no refusal')
})

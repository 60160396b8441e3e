import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AssetRegistry, type Asset } from '../../../../services/collector/enrich/assets.js'
import { QalqanError } from '../../../../services/errors.js'

type Entry = { cidr: string; org: string; sector: Asset['sector']; region: Asset['region'] }

const entry = (
  cidr: string,
  org: string,
  sector: Asset['sector'] = 'government',
  region: Asset['region'] = 'KZ-71',
): Entry => ({ cidr, org, sector, region })

const NESTED: Entry[] = [
  entry('10.0.0.0/8', 'Ministry network'),
  entry('10.1.0.0/16', 'Ministry of Finance', 'finance'),
  entry('10.1.2.0/24', 'Treasury', 'finance', 'KZ-75'),
  entry('10.1.2.3/32', 'Treasury mail server', 'finance', 'KZ-75'),
  entry('198.51.100.0/24', 'KazRefinery', 'energy', 'KZ-23'),
  entry('2001:db8::/32', 'IPv6 ministry'),
  entry('2001:db8:1::/48', 'IPv6 hospital', 'healthcare', 'KZ-35'),
  entry('2001:db8:1:2::1/128', 'IPv6 hospital gateway', 'healthcare', 'KZ-35'),
]

function registryFile(t: Test, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-assets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'assets.json')
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

/** The message of the QLQ_ERR_ASSETS_INVALID error that loading this file must throw. */
function rejection(t: Test, content: unknown): string {
  const path = registryFile(t, content)
  try {
    AssetRegistry.fromFile(path)
  } catch (err) {
    t.type(err, QalqanError)
    t.equal((err as QalqanError).code, 'QLQ_ERR_ASSETS_INVALID')
    t.equal((err as QalqanError).status, 500)
    t.equal((err as QalqanError).retryable, false)
    t.match((err as Error).message, path, 'the message names the file')
    return (err as Error).message
  }
  t.fail(`accepted: ${JSON.stringify(content).slice(0, 200)}`)
  return ''
}

t.test('the most specific network wins, for IPv4 and IPv6', async (t) => {
  const registry = AssetRegistry.fromFile(registryFile(t, { assets: NESTED }))
  t.equal(registry.size, NESTED.length)
  const orgOf = (ip: string): string | undefined => registry.lookup(ip)?.org
  t.equal(orgOf('10.200.0.1'), 'Ministry network')
  t.equal(orgOf('10.1.200.1'), 'Ministry of Finance')
  t.equal(orgOf('10.1.2.4'), 'Treasury')
  t.equal(orgOf('10.1.2.3'), 'Treasury mail server')
  t.equal(orgOf('10.1.2.255'), 'Treasury')
  t.equal(orgOf('10.255.255.255'), 'Ministry network')
  t.equal(orgOf('11.0.0.0'), undefined)
  t.equal(orgOf('9.255.255.255'), undefined)
  t.equal(orgOf('198.51.100.255'), 'KazRefinery')
  t.equal(orgOf('2001:db8:ffff::1'), 'IPv6 ministry')
  t.equal(orgOf('2001:db8:1:ffff::1'), 'IPv6 hospital')
  t.equal(orgOf('2001:db8:1:2::1'), 'IPv6 hospital gateway')
  t.equal(orgOf('2001:DB8:1:2:0:0:0:1'), 'IPv6 hospital gateway', 'any spelling of the address')
  t.equal(orgOf('2001:db8:1:2::2'), 'IPv6 hospital')
  t.equal(orgOf('2001:db9::1'), undefined)
  t.same(registry.lookup('10.1.2.3'), {
    cidr: '10.1.2.3/32',
    org: 'Treasury mail server',
    sector: 'finance',
    region: 'KZ-75',
  })
  t.ok(Object.isFrozen(registry.lookup('10.1.2.3')), 'assets cannot be changed by a caller')
})

t.test('IPv4-mapped IPv6 addresses are looked up as IPv4; IPv4 networks never match IPv6', async (t) => {
  const registry = new AssetRegistry(NESTED)
  t.equal(registry.lookup('::ffff:10.1.2.3')?.org, 'Treasury mail server')
  t.equal(registry.lookup('::FFFF:0a01:0203')?.org, 'Treasury mail server')
  t.equal(registry.lookup('::a01:203'), undefined, 'IPv4-compatible ::10.1.2.3 is IPv6')
  t.equal(registry.lookup('fe80::1%eth0'), undefined)
})

t.test('not an address: undefined', async (t) => {
  const registry = new AssetRegistry(NESTED)
  for (const junk of [
    '',
    '10.1.2',
    '10.1.2.3.4',
    '10.1.2.256',
    '010.1.2.3',
    '10.1.2.3/32',
    'example.org',
    '2001:db8::1::1',
    'x'.repeat(10_000),
  ]) {
    t.equal(registry.lookup(junk), undefined, JSON.stringify(junk.slice(0, 20)))
  }
})

t.test('an empty registry and a default route', async (t) => {
  t.equal(new AssetRegistry([]).lookup('10.1.2.3'), undefined)
  const registry = new AssetRegistry([
    entry('0.0.0.0/0', 'everything v4'),
    entry('::/0', 'everything v6'),
    entry('10.0.0.0/8', 'ten'),
  ])
  t.equal(registry.lookup('8.8.8.8')?.org, 'everything v4')
  t.equal(registry.lookup('255.255.255.255')?.org, 'everything v4')
  t.equal(registry.lookup('10.0.0.1')?.org, 'ten')
  t.equal(registry.lookup('2a00::1')?.org, 'everything v6')
  t.equal(registry.lookup('::ffff:8.8.8.8')?.org, 'everything v4')
})

/** mulberry32: the same pseudo-random sequence on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('lookup agrees with a linear longest-prefix scan on a random registry', async (t) => {
  const next = random(77)
  const bits = (count: number): bigint => {
    let value = 0n
    for (let i = 0; i < count; i++) value = (value << 1n) | (next() < 0.5 ? 0n : 1n)
    return value
  }
  // Networks crowd into a few /8s and /32s so that they nest and addresses hit them.
  const v4Bases = [10n, 172n, 95n]
  const v6Bases = [0x20010db8n, 0x2a020000n]
  const networks: { family: 4 | 6; network: bigint; prefix: number; entry: Entry }[] = []
  const seen = new Set<string>()
  for (let i = 0; i < 3_000; i++) {
    const family = next() < 0.7 ? 4 : 6
    const width = family === 4 ? 32 : 128
    const prefix = family === 4 ? 8 + Math.floor(next() * 25) : 32 + Math.floor(next() * 97)
    const base =
      family === 4 ? v4Bases[Math.floor(next() * v4Bases.length)]! : v6Bases[Math.floor(next() * v6Bases.length)]!
    const head = family === 4 ? 8 : 32
    const network =
      (((base << BigInt(width - head)) | bits(width - head)) >> BigInt(width - prefix)) << BigInt(width - prefix)
    const key = `${family}/${network}/${prefix}`
    if (seen.has(key)) continue
    seen.add(key)
    const address =
      family === 4 ? [24, 16, 8, 0].map((s) => Number((network >> BigInt(s)) & 255n)).join('.') : hex6(network)
    networks.push({ family, network, prefix, entry: entry(`${address}/${prefix}`, `org ${networks.length}`) })
  }
  const registry = new AssetRegistry(networks.map((n) => n.entry))
  let checked = 0
  let hits = 0
  let wrong = 0
  for (let i = 0; i < 5_000; i++) {
    const source = networks[Math.floor(next() * networks.length)]!
    const width = source.family === 4 ? 32 : 128
    const address = source.network | (bits(width - source.prefix) & ((1n << BigInt(width - source.prefix)) - 1n))
    const alsoOutside = next() < 0.2 ? address ^ (1n << BigInt(width - 1 - Math.floor(next() * 12))) : address
    const text =
      source.family === 4
        ? [24, 16, 8, 0].map((s) => Number((alsoOutside >> BigInt(s)) & 255n)).join('.')
        : hex6(alsoOutside)
    let best: (typeof networks)[number] | undefined
    for (const candidate of networks) {
      if (candidate.family !== source.family) continue
      const shift = BigInt(width - candidate.prefix)
      if (alsoOutside >> shift === candidate.network >> shift && (best === undefined || candidate.prefix > best.prefix))
        best = candidate
    }
    const found = registry.lookup(text)
    checked++
    if (found !== undefined) hits++
    if (found?.org !== best?.entry.org && wrong++ < 10)
      t.fail(`${text}: lookup ${found?.cidr}, scan ${best?.entry.cidr}`)
  }
  t.equal(wrong, 0, `${checked} addresses, ${hits} in some network`)
  t.ok(hits > checked / 2)
})

function hex6(value: bigint): string {
  const hex = value.toString(16).padStart(32, '0')
  return (hex.match(/.{4}/g) ?? []).join(':')
}

t.test('a file that is not a registry is refused with the reason', async (t) => {
  t.match(rejection(t, 'not json'), /cannot read the asset registry .* as JSON/)
  t.match(rejection(t, '{"assets": ['), /as JSON/)
  t.match(rejection(t, ''), /as JSON/)
  t.match(rejection(t, []), /\(top\): .*expected object/)
  t.match(rejection(t, null), /\(top\)/)
  t.match(rejection(t, {}), /assets: .*expected array/)
  t.match(rejection(t, { assets: {} }), /assets: .*expected array/)
  t.match(rejection(t, { assets: NESTED, sensors: [] }), /Unrecognized key.*sensors/)

  const missing = join(mkdtempSync(join(tmpdir(), 'qalqan-assets-')), 'absent.json')
  t.teardown(() => rmSync(join(missing, '..'), { recursive: true, force: true }))
  t.throws(() => AssetRegistry.fromFile(missing), {
    code: 'QLQ_ERR_ASSETS_INVALID',
    message: /cannot read the asset registry .*absent\.json.*ENOENT/,
  })
})

t.test('hostile keys are unknown keys, not prototypes', async (t) => {
  t.match(rejection(t, `{"assets": [], "__proto__": {"polluted": true}}`), /\(top\): Unrecognized key: "__proto__"/)
  t.match(
    rejection(
      t,
      `{"assets": [{"cidr": "10.0.0.0/8", "org": "x", "sector": "energy", "region": "KZ-23", "__proto__": {"sector": "finance"}}]}`,
    ),
    /assets\.0: Unrecognized key: "__proto__"/,
  )
  t.match(
    rejection(
      t,
      `{"assets": [{"cidr": "10.0.0.0/8", "org": "x", "sector": "energy", "region": "KZ-23", "constructor": {}}]}`,
    ),
    /assets\.0: Unrecognized key: "constructor"/,
  )
  t.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype is untouched')
})

t.test('each bad entry is named by its index and field', async (t) => {
  const good = entry('10.0.0.0/8', 'ok')
  const message = rejection(t, {
    assets: [
      good,
      { ...good, cidr: 10 },
      { ...good, org: '' },
      { ...good, sector: 'banking' },
      { ...good, region: 'KZ-99' },
      { cidr: '10.2.0.0/16' },
      { ...good, cidr: '10.3.0.0/16', org: 'x'.repeat(257) },
    ],
  })
  t.match(message, /assets\.1\.cidr: .*expected string/)
  t.match(message, /assets\.2\.org: /)
  t.match(message, /assets\.3\.sector: /)
  t.match(message, /assets\.4\.region: /)
  t.match(message, /assets\.5\.org: .*expected string/)
  t.match(message, /assets\.5\.sector: /)
  t.match(message, /assets\.6\.org: .*<=256/)
  t.notMatch(message, /assets\.0/)
})

t.test('a cidr that is not a network is refused with the reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['10.0.0.0', /the \/length is missing/],
    ['10.0.0.0/', /prefix length "" must be a whole number from 0 to 32/],
    ['10.0.0.0/33', /from 0 to 32/],
    ['10.0.0.0/08', /from 0 to 32/],
    ['10.0.0.0/-1', /from 0 to 32/],
    ['10.0.0.0/8.0', /from 0 to 32/],
    ['10.0.0.0/99999999999999999999', /prefix length "999999999999" must be a whole number from 0 to 32/],
    ['2001:db8::/129', /from 0 to 128/],
    ['2001:db8::/1e2', /from 0 to 128/],
    ['10.0.0.1/8', /host bits are set: the network is 10\.0\.0\.0\/8/],
    ['198.51.100.7/24', /host bits are set: the network is 198\.51\.100\.0\/24/],
    ['2001:db8::1/32', /host bits are set: the network is 2001:db8::\/32/],
    ['2001:db8:1:2:3::/48', /host bits are set: the network is 2001:db8:1::\/48/],
    ['10.0.0/8', /"10\.0\.0" is not an IPv4 or IPv6 address/],
    ['010.0.0.0/8', /is not an IPv4 or IPv6 address/],
    ['example.org/24', /is not an IPv4 or IPv6 address/],
    ['10.0.0.0/8/8', /from 0 to 32/],
    ['fe80::%eth0/64', /zone/],
    ['::ffff:198.51.100.0/120', /write an IPv4-mapped network as IPv4/],
    [' 10.0.0.0/8', /is not an IPv4 or IPv6 address/],
    [`${'1'.repeat(100)}/8`, /assets\.0\.cidr: Too big/],
  ]
  for (const [cidr, reason] of cases) {
    t.match(rejection(t, { assets: [entry(cidr, 'x')] }), reason, cidr.slice(0, 40))
    t.throws(
      () => new AssetRegistry([entry(cidr, 'x')]),
      { code: 'QLQ_ERR_ASSETS_INVALID' },
      `the constructor refuses ${cidr.slice(0, 40)} too`,
    )
  }
  t.match(rejection(t, { assets: [entry('10.0.0.0/8', 'x'), entry('10.0.0.1/8', 'x')] }), /assets\.1\.cidr: host bits/)
})

t.test('one network listed twice is refused, naming both entries; nesting is fine', async (t) => {
  t.match(
    rejection(t, { assets: [entry('10.0.0.0/8', 'a'), entry('10.1.0.0/16', 'b'), entry('10.0.0.0/8', 'c')] }),
    /assets\.2\.cidr: 10\.0\.0\.0\/8 is the same network as assets\.0\.cidr/,
  )
  t.match(
    rejection(t, { assets: [entry('2001:db8::/32', 'a'), entry('2001:0db8:0::/32', 'b')] }),
    /assets\.1\.cidr: 2001:0db8:0::\/32 is the same network as assets\.0\.cidr/,
  )
  t.doesNotThrow(
    () => new AssetRegistry([entry('10.0.0.0/8', 'a'), entry('10.0.0.0/9', 'b'), entry('10.0.0.0/32', 'c')]),
  )
})

t.test('a registry with many mistakes lists the first 20 and counts the rest', async (t) => {
  const assets = Array.from({ length: 50 }, (_, i) => entry(`10.0.${i}.1/24`, 'x'))
  const message = rejection(t, { assets })
  t.match(message, /assets\.19\.cidr/)
  t.notMatch(message, /assets\.20\.cidr/)
  t.match(message, /and 30 more$/)
  t.ok(message.length < 4_000, `the message stays readable (${message.length} characters)`)
})

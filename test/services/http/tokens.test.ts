import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QalqanError } from '../../../services/errors.js'
import { bearerToken, hashToken, TokenRegistry } from '../../../services/http/tokens.js'
import { TOKENS, TOKENS_FILE } from '../../helpers/stack.js'

const fixture = JSON.parse(readFileSync(TOKENS_FILE, 'utf8')) as {
  sensors: Record<string, string>[]
  analysts: Record<string, string>[]
}
const [astana, almaty] = fixture.sensors as [Record<string, string>, Record<string, string>, Record<string, string>]

function registryFile(t: Test, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-tokens-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'tokens.json')
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

/** The message of the QLQ_ERR_TOKENS_INVALID error that loading this file must throw. */
function rejection(t: Test, path: string): string {
  try {
    TokenRegistry.fromFile(path)
  } catch (err) {
    t.type(err, QalqanError)
    t.equal((err as QalqanError).code, 'QLQ_ERR_TOKENS_INVALID')
    t.equal((err as QalqanError).retryable, false)
    return (err as Error).message
  }
  t.fail('the registry was accepted')
  return ''
}

t.test('hashToken is the hex SHA-256 of the UTF-8 token', async (t) => {
  t.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.equal(hashToken('токен'), createHash('sha256').update(Buffer.from('токен', 'utf8')).digest('hex'))
})

t.test('the fixture registry authenticates each sensor and the analyst', async (t) => {
  const registry = TokenRegistry.fromFile(TOKENS_FILE)
  const expected = {
    [TOKENS.astana]: {
      id: 'test-ids-astana',
      type: 'ids',
      sector: 'government',
      region: 'KZ-71',
      org: 'Test E-Gov Astana',
    },
    [TOKENS.almaty]: {
      id: 'test-hp-almaty',
      type: 'honeypot',
      sector: 'finance',
      region: 'KZ-75',
      org: 'Test Bank Almaty',
    },
    [TOKENS.atyrau]: {
      id: 'test-fw-atyrau',
      type: 'firewall',
      sector: 'energy',
      region: 'KZ-23',
      org: 'Test Refinery Atyrau',
    },
  }
  for (const [token, sensor] of Object.entries(expected)) {
    const principal = registry.authenticate(token)
    t.equal(principal?.role, 'sensor', token)
    t.match(principal?.role === 'sensor' ? principal.sensor : undefined, sensor, token)
  }
  const analyst = registry.authenticate(TOKENS.analyst)
  t.equal(analyst?.role, 'analyst')
  t.equal(analyst?.role === 'analyst' ? analyst.analyst.id : undefined, 'test-analyst')
})

t.test('an unknown token authenticates no one', async (t) => {
  const registry = TokenRegistry.fromFile(TOKENS_FILE)
  for (const token of [
    '',
    'test-sensor',
    `${TOKENS.astana} `,
    TOKENS.astana.toUpperCase(),
    astana['token_sha256'] ?? '',
  ]) {
    t.equal(registry.authenticate(token), undefined, JSON.stringify(token))
  }
})

t.test('an empty registry is valid and admits no one', async (t) => {
  const registry = TokenRegistry.fromFile(registryFile(t, {}))
  t.equal(registry.authenticate(TOKENS.astana), undefined)
})

t.test('an unreadable registry names the file', async (t) => {
  const notJson = registryFile(t, '{"sensors": [')
  t.match(rejection(t, notJson), `cannot read the token registry ${notJson} as JSON`)
  const missing = join(tmpdir(), 'qalqan-no-such-dir', 'tokens.json')
  t.match(rejection(t, missing), `cannot read the token registry ${missing} as JSON`)
})

t.test('an invalid registry names the file and the path of each problem', async (t) => {
  const cases: [string, unknown, string][] = [
    ['unknown top-level key', { ...fixture, admins: [] }, '(top): Unrecognized key: "admins"'],
    [
      'unknown sensor key',
      { sensors: [{ ...astana, sector_override: 'finance' }] },
      'sensors.0: Unrecognized key: "sector_override"',
    ],
    [
      'short hash',
      { sensors: [astana, { ...almaty, token_sha256: 'abc123' }] },
      'sensors.1.token_sha256: must be the SHA-256 of the token',
    ],
    [
      'uppercase hash',
      { sensors: [{ ...astana, token_sha256: astana['token_sha256']?.toUpperCase() }] },
      'sensors.0.token_sha256: must be the SHA-256',
    ],
    [
      'token instead of hash',
      { analysts: [{ id: 'a', token_sha256: TOKENS.analyst }] },
      'analysts.0.token_sha256: must be the SHA-256',
    ],
    ['legacy region code', { sensors: [{ ...astana, region: 'KZ-AST' }] }, 'sensors.0.region: '],
    ['unknown sector', { sensors: [{ ...astana, sector: 'banking' }] }, 'sensors.0.sector: '],
    ['unknown sensor type', { sensors: [{ ...astana, type: 'antivirus' }] }, 'sensors.0.type: '],
    ['missing org', { sensors: [{ ...astana, org: undefined }] }, 'sensors.0.org: '],
    ['an array', [astana], '(top): '],
    [
      'unknown time zone',
      { sensors: [{ ...astana, time_zone: 'Asia/Almati' }] },
      'sensors.0.time_zone: "Asia/Almati" is not a time zone name this Node.js knows: use an IANA name such as Asia/Almaty',
    ],
    [
      'a fixed offset for a zone',
      { sensors: [{ ...astana, time_zone: '+05:00' }] },
      'sensors.0.time_zone: "+05:00" is not',
    ],
    ['an empty time zone', { sensors: [{ ...astana, time_zone: '' }] }, 'sensors.0.time_zone: "" is not'],
    ['a time zone that is not text', { sensors: [{ ...astana, time_zone: 5 }] }, 'sensors.0.time_zone: '],
    [
      'a network with host bits set',
      { sensors: [{ ...astana, attribute_to: { networks: ['198.51.100.0/24', '198.51.100.1/24'] } }] },
      'sensors.0.attribute_to.networks.1: host bits are set: the network is 198.51.100.0/24',
    ],
    [
      'an address for a network',
      { sensors: [{ ...astana, attribute_to: { networks: ['198.51.100.7'] } }] },
      'sensors.0.attribute_to.networks.0: must be a network such as 198.51.100.0/24 or 2001:db8::/32 (the /length is missing)',
    ],
    [
      'a prefix beyond the family',
      { sensors: [{ ...astana, attribute_to: { networks: ['2001:db8::/129'] } }] },
      'sensors.0.attribute_to.networks.0: the prefix length "129" must be a whole number from 0 to 128',
    ],
    [
      'a network that is no address',
      { sensors: [{ ...astana, attribute_to: { networks: ['kazakhtelecom/16'] } }] },
      'sensors.0.attribute_to.networks.0: "kazakhtelecom" is not an IPv4 or IPv6 address',
    ],
    [
      'an unknown key in attribute_to',
      { sensors: [{ ...astana, attribute_to: { orgs: ['Test Bank Almaty'], sectors: ['finance'] } }] },
      'sensors.0.attribute_to: unknown key "orgs", "sectors": attribute_to takes organisations (names as the asset registry writes them) and networks (such as 198.51.100.0/24)',
    ],
    [
      'one organisation for a list',
      { sensors: [{ ...astana, attribute_to: { organisations: 'Test Bank Almaty' } }] },
      'sensors.0.attribute_to.organisations: ',
    ],
    [
      'an empty organisation',
      { sensors: [{ ...astana, attribute_to: { organisations: [''] } }] },
      'sensors.0.attribute_to.organisations.0: ',
    ],
    [
      'attribute_to as a list',
      { sensors: [{ ...astana, attribute_to: ['Test Bank Almaty'] }] },
      'sensors.0.attribute_to: ',
    ],
  ]
  for (const [name, content, expected] of cases) {
    t.test(name, async (t) => {
      const path = registryFile(t, content)
      const message = rejection(t, path)
      t.match(message, `the token registry ${path} is invalid: `)
      t.match(message, expected)
    })
  }
})

t.test('every problem of a registry is reported at once', async (t) => {
  const message = rejection(
    t,
    registryFile(t, {
      sensors: [
        { ...astana, region: 'KZ-AST' },
        { ...almaty, token_sha256: 'x' },
      ],
    }),
  )
  t.match(message, /sensors\.0\.region: .*; sensors\.1\.token_sha256: /)
})

t.test('two entries with one token are rejected, naming the file and both entries', async (t) => {
  const sensors = registryFile(t, { sensors: [astana, { ...almaty, token_sha256: astana['token_sha256'] }] })
  const sensorsMessage = rejection(t, sensors)
  t.match(sensorsMessage, 'share one token')
  t.match(sensorsMessage, sensors)
  t.match(sensorsMessage, /test-ids-astana[\s\S]*test-hp-almaty/)

  const acrossRoles = registryFile(t, {
    sensors: [astana],
    analysts: [{ id: 'test-analyst', token_sha256: astana['token_sha256'] }],
  })
  const acrossMessage = rejection(t, acrossRoles)
  t.match(acrossMessage, 'share one token')
  t.match(acrossMessage, acrossRoles)
  t.match(acrossMessage, /test-ids-astana[\s\S]*test-analyst/)
})

t.test('bearerToken reads Authorization: Bearer <token>', async (t) => {
  const cases: [string | undefined, string | undefined][] = [
    ['Bearer abc.DEF-123_~', 'abc.DEF-123_~'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer    abc   ', 'abc'],
    ['Bearer\tabc\t', 'abc'],
    [`Bearer ${'x'.repeat(512)}`, 'x'.repeat(512)],
    [undefined, undefined],
    ['', undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Bearer    ', undefined],
    ['Bearerabc', undefined],
    [' Bearer abc', undefined],
    ['Splunk x', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearer abc def', undefined],
    [`Bearer ${'x'.repeat(513)}`, undefined],
    ['Bearer abc\u0000', undefined],
    ['Bearer a\u0001b', undefined],
    ['Bearer a\u007fb', undefined],
    ['Bearer abc\r\n', undefined],
    ['Bearer abc\nBearer def', undefined],
    ['Bearer tökén', undefined],
  ]
  for (const [header, token] of cases)
    t.equal(bearerToken(header), token, JSON.stringify(header)?.slice(0, 60) ?? 'no header')
})

// A backtracking pattern would take minutes on these headers: the timeout is the check.
t.test('bearerToken answers a long hostile header quickly', { timeout: 10_000 }, async (t) => {
  t.equal(bearerToken(`Bearer${' '.repeat(100_000)}\u0001`), undefined)
  t.equal(bearerToken(`Bearer ${'x'.repeat(100_000)}`), undefined)
})

t.test('a sensor may name the zone of its clock: an IANA name, spelled as the runtime spells it', async (t) => {
  const fixtureRegistry = TokenRegistry.fromFile(TOKENS_FILE)
  const zoneOf = (token: string) => {
    const principal = fixtureRegistry.authenticate(token)
    return principal?.role === 'sensor' ? principal.sensor.time_zone : 'not a sensor'
  }
  t.equal(zoneOf(TOKENS.almaty), 'Asia/Almaty')
  t.equal(zoneOf(TOKENS.atyrau), 'Asia/Atyrau')
  t.equal(zoneOf(TOKENS.astana), undefined, 'none: the collector default applies')

  const zones: [string, string][] = [
    ['Asia/Qyzylorda', 'Asia/Qyzylorda'],
    ['asia/almaty', 'Asia/Almaty'],
    ['UTC', 'UTC'],
    ['Etc/GMT-5', 'Etc/GMT-5'],
    ['Europe/Berlin', 'Europe/Berlin'],
  ]
  for (const [written, kept] of zones) {
    const registry = TokenRegistry.fromFile(registryFile(t, { sensors: [{ ...astana, time_zone: written }] }))
    const principal = registry.authenticate(TOKENS.astana)
    t.equal(principal?.role === 'sensor' ? principal.sensor.time_zone : undefined, kept, written)
  }
})

t.test('a sensor may be let file events under other organisations or networks: attribute_to', async (t) => {
  const registry = TokenRegistry.fromFile(TOKENS_FILE)
  const grantOf = (token: string) => {
    const principal = registry.authenticate(token)
    return principal?.role === 'sensor' ? principal.sensor.attribute_to : 'not a sensor'
  }
  t.same(grantOf(TOKENS.astana), { networks: ['198.51.100.0/24', '2001:db8:71::/48'] })
  t.same(grantOf(TOKENS.atyrau), { organisations: ['Test Refinery Atyrau SCADA'] })
  t.equal(grantOf(TOKENS.almaty), undefined, 'none: its own organisation only')
  const zoneOf = (token: string) => {
    const principal = registry.authenticate(token)
    return principal?.role === 'sensor' ? principal.sensor.time_zone : 'not a sensor'
  }
  t.equal(zoneOf(TOKENS.atyrau), 'Asia/Atyrau', 'beside a time zone')

  const open = TokenRegistry.fromFile(
    registryFile(t, { sensors: [{ ...almaty, attribute_to: { organisations: [], networks: ['0.0.0.0/0', '::/0'] } }] }),
  )
  const principal = open.authenticate(TOKENS.almaty)
  t.same(principal?.role === 'sensor' ? principal.sensor.attribute_to : undefined, {
    organisations: [],
    networks: ['0.0.0.0/0', '::/0'],
  })
})

t.test('token lifecycle and certificate bindings: what the registry accepts and refuses', async (t) => {
  const base = { ...astana }
  const hash = (n: number) => hashToken(`lifecycle-${n}`)
  const cases: [string, unknown, string][] = [
    ['a time without a zone', { sensors: [{ ...base, not_after: '2027-01-01T00:00:00' }] }, 'sensors.0.not_after'],
    ['a date alone', { sensors: [{ ...base, not_after: '2027-01-01' }] }, 'sensors.0.not_after'],
    ['revoked as text', { sensors: [{ ...base, revoked: 'yes' }] }, 'sensors.0.revoked'],
    [
      'an empty binding',
      { sensors: [{ ...base, client_certificate: {} }] },
      'name the certificate by sha256, subject or both',
    ],
    [
      'a short fingerprint',
      { sensors: [{ ...base, client_certificate: { sha256: 'AB:CD' } }] },
      'sensors.0.client_certificate.sha256',
    ],
    [
      'a subject without attributes',
      { sensors: [{ ...base, client_certificate: { subject: 'kz-ids-01' } }] },
      'sensors.0.client_certificate.subject',
    ],
    [
      'an unknown binding key',
      { sensors: [{ ...base, client_certificate: { issuer: 'CN=x' } }] },
      'sensors.0.client_certificate',
    ],
    [
      'an analyst with a certificate',
      { analysts: [{ id: 'a', token_sha256: hash(1), client_certificate: {} }] },
      'analysts.0',
    ],
    [
      'two sensors bound to one certificate',
      {
        sensors: [
          { ...base, client_certificate: { sha256: 'a'.repeat(64) } },
          { ...almaty, client_certificate: { sha256: 'A'.repeat(64) } },
        ],
      },
      'bound to one client certificate',
    ],
  ]
  for (const [label, content, expected] of cases) t.match(rejection(t, registryFile(t, content)), expected, label)

  const registry = TokenRegistry.fromFile(
    registryFile(t, {
      sensors: [
        { ...base, token_sha256: hash(2), not_after: '2030-01-01T00:00:00+05:00' },
        { ...base, token_sha256: hash(3), revoked: true },
        { ...base, token_sha256: hash(4), revoked: false, client_certificate: { sha256: 'AB'.repeat(32) } },
        { ...almaty, token_sha256: hash(5), client_certificate: { subject: 'cn = kz-hp-01 , O=Bank' } },
      ],
      analysts: [{ id: 'soc-1', name: 'Analyst One', token_sha256: hash(6), not_after: '2020-01-01T00:00:00Z' }],
    }),
  )
  const before = new Date('2029-12-31T19:00:00Z')
  const after = new Date('2029-12-31T19:00:01Z')
  t.ok(registry.authenticate('lifecycle-2', before), 'valid up to its not_after (19:00 UTC is midnight at +05:00)')
  t.equal(registry.authenticate('lifecycle-2', after), undefined, 'refused after it')
  t.equal(registry.authenticate('lifecycle-3'), undefined, 'a revoked token authenticates no one')
  t.equal(registry.lookup('lifecycle-3')?.role, 'sensor', 'but is known, so that its refusal can say why')
  t.ok(registry.authenticate('lifecycle-4'), 'revoked: false is not revoked')
  t.equal(registry.authenticate('lifecycle-6'), undefined, 'an expired analyst token')
  const analyst = registry.lookup('lifecycle-6')
  t.equal(analyst?.role === 'analyst' ? analyst.analyst.name : undefined, 'Analyst One')

  t.same([...registry.holdersOf({ sha256: 'ab'.repeat(32), subject: 'CN=anything' })], ['test-ids-astana'])
  t.same(
    [...registry.holdersOf({ sha256: 'cd'.repeat(32), subject: 'C=KZ\nO=Bank\nCN=kz-hp-01' })],
    ['test-hp-almaty'],
    'a subject binding: each attribute it names, in any order, case of the type aside',
  )
  t.same([...registry.holdersOf({ sha256: 'cd'.repeat(32), subject: 'O=Bank\nCN=kz-hp-02' })], [], 'another CN')
  t.same([...registry.holdersOf({ sha256: 'cd'.repeat(32), subject: 'CN=kz-hp-01' })], [], 'O missing')
})

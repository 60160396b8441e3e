import t from 'tap'
import { isIP } from 'node:net'
import { ADDRESS_SCOPES } from '../../../../schemas/event.js'
import { formatIPv4, mask32, masks128, parseAddress, wordsToBigInt } from '../../../../schemas/ip-address.js'
import { scopeOf, type AddressScope } from '../../../../services/collector/enrich/address-scope.js'

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

const EXPECTED: Record<AddressScope, readonly string[]> = {
  private: [
    '10.0.0.0',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '100.127.255.255',
    'fc00::1',
    'fd12:3456:789a::1',
    '::ffff:10.1.2.3',
    '::ffff:c0a8:0101',
  ],
  loopback: ['127.0.0.1', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'],
  link_local: ['169.254.0.1', '169.254.169.254', 'fe80::1', 'febf:ffff::1', 'fe80::1%eth0'],
  multicast: ['224.0.0.1', '239.255.255.250', 'ff02::1', 'ff05::1:3'],
  reserved: [
    '0.0.0.0',
    '0.1.2.3',
    '240.0.0.1',
    '255.255.255.255',
    '192.0.0.8',
    '198.18.0.1',
    '198.19.255.255',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.55',
    '::',
    '2001:db8::1',
    '2001:db8:ffff::1',
    '3fff::1',
    '2001:2::1',
    '100::1',
    '64:ff9b::808:808',
    '::ffff:203.0.113.9',
  ],
  public: [
    '8.8.8.8',
    '1.1.1.1',
    '2.132.0.1',
    '95.56.0.1',
    '9.255.255.255',
    '11.0.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '126.255.255.255',
    '128.0.0.1',
    '169.253.255.255',
    '192.0.1.255',
    '192.0.3.0',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2001:4860:4860::8888',
    '2a02:6b8::feed:0ff',
    '2001:db9::1',
    '::ffff:8.8.8.8',
    '::FFFF:8.8.8.8',
  ],
}

t.test('scopeOf classifies each kind of address', async (t) => {
  t.same(Object.keys(EXPECTED).sort(), [...ADDRESS_SCOPES].sort(), 'every scope is tested')
  for (const [scope, addresses] of Object.entries(EXPECTED)) {
    for (const address of addresses) t.equal(scopeOf(address), scope, address)
  }
})

t.test('scopeOf calls what is not an address reserved', async (t) => {
  for (const junk of [
    '',
    'x',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4 ',
    ' ::1',
    ':::',
    '1::2::3',
    'g::1',
    '::ffff:1.2.3',
    '1.2.3.4/32',
    'a'.repeat(100),
  ]) {
    t.equal(scopeOf(junk), 'reserved', JSON.stringify(junk))
  }
})

t.test('parseAddress: IPv4 as a number, IPv4-mapped IPv6 as that IPv4, other IPv6 as four words', async (t) => {
  t.equal(parseAddress('0.0.0.0'), 0)
  t.equal(parseAddress('255.255.255.255'), 4294967295)
  t.equal(parseAddress('198.51.100.7'), 0xc6336407)
  t.equal(parseAddress('::ffff:198.51.100.7'), 0xc6336407)
  t.equal(parseAddress('::ffff:c633:6407'), 0xc6336407)
  t.equal(parseAddress('0:0:0:0:0:ffff:198.51.100.7'), 0xc6336407)
  t.same(parseAddress('::1'), [0, 0, 0, 1])
  t.same(parseAddress('::'), [0, 0, 0, 0])
  t.same(parseAddress('2001:db8::'), [0x20010db8, 0, 0, 0])
  t.same(parseAddress('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff])
  t.same(parseAddress('::1.2.3.4'), [0, 0, 0, 0x01020304], 'IPv4-compatible (deprecated) stays IPv6')
  t.same(parseAddress('fe80::1%eth0'), [0xfe800000, 0, 0, 1], 'the zone is ignored')
  t.equal(parseAddress('fe80::1%'), undefined, 'an empty zone is not an address')
  t.equal(formatIPv4(0xc6336407), '198.51.100.7')
  t.equal(formatIPv4(0), '0.0.0.0')
  t.equal(formatIPv4(4294967295), '255.255.255.255')
  t.equal(wordsToBigInt([0x20010db8, 0, 0, 0xffffffff]), (0x20010db8n << 96n) | 0xffffffffn)
})

t.test('masks: a prefix length as 32-bit masks in the signed form & yields', async (t) => {
  t.equal(mask32(0), 0)
  t.equal(mask32(8), 0xff000000 | 0)
  t.equal(mask32(32), -1)
  t.equal(mask32(-5), 0)
  t.equal(mask32(40), -1)
  t.same(masks128(0), [0, 0, 0, 0])
  t.same(masks128(48), [-1, 0xffff0000 | 0, 0, 0])
  t.same(masks128(128), [-1, -1, -1, -1])
})

/** Strings that are often almost addresses: mixed hex groups, colons, dots, octets with leading zeros. */
function candidate(next: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T
  const octet = (): string =>
    pick([
      '0',
      '1',
      '9',
      '10',
      '99',
      '100',
      '199',
      '249',
      '255',
      '256',
      '01',
      '300',
      '',
      String(Math.floor(next() * 256)),
    ])
  const ipv4 = (): string => [octet(), octet(), octet(), octet()].slice(0, next() < 0.9 ? 4 : 3).join('.')
  if (next() < 0.3) return ipv4()
  const hextet = (): string => {
    const length = pick([0, 1, 1, 2, 3, 4, 4, 4, 5])
    let text = ''
    for (let i = 0; i < length; i++) text += pick([...'0123456789abcdefABCDEF', ...(next() < 0.05 ? ['g', 'x'] : [])])
    return text
  }
  const groups: string[] = []
  const count = Math.floor(next() * 9) + 1
  for (let i = 0; i < count; i++) groups.push(hextet())
  let text = groups.join(':')
  if (next() < 0.5) {
    const at = Math.floor(next() * (text.length + 1))
    text = `${text.slice(0, at)}${pick(['::', ':', ':::'])}${text.slice(at)}`
  }
  if (next() < 0.2) text += `:${ipv4()}`
  if (next() < 0.1) text = `::ffff:${ipv4()}`
  if (next() < 0.05) text += pick(['%eth0', '%', '%1', '% '])
  return text
}

function canonicalIPv6(value: bigint): string {
  const hex = value.toString(16).padStart(32, '0')
  const groups = hex.match(/.{4}/g) ?? []
  return new URL(`http://[${groups.join(':')}]`).hostname
}

t.test('parseAddress accepts exactly what isIP accepts, with the value the URL parser finds', async (t) => {
  const next = random(20250301)
  let valid = 0
  let disagreements = 0
  let wrongValues = 0
  for (let i = 0; i < 50_000; i++) {
    const text = candidate(next)
    const parsed = parseAddress(text)
    const family = isIP(text)
    if ((family !== 0) !== (parsed !== undefined)) {
      if (disagreements++ < 10)
        t.fail(`${JSON.stringify(text)}: isIP ${family}, parseAddress ${JSON.stringify(parsed)}`)
      continue
    }
    if (parsed === undefined) continue
    valid++
    if (text.includes('%')) continue
    const reference = family === 4 ? text : new URL(`http://[${text}]`).hostname
    const mine =
      typeof parsed !== 'number'
        ? canonicalIPv6(wordsToBigInt(parsed))
        : family === 4
          ? formatIPv4(parsed)
          : canonicalIPv6(0xffff00000000n | BigInt(parsed))
    if (mine !== reference && wrongValues++ < 10)
      t.fail(`${JSON.stringify(text)}: parsed as ${mine}, the URL parser says ${reference}`)
  }
  t.equal(wrongValues, 0, 'no value differs from the URL parser')
  t.equal(disagreements, 0, 'no disagreement with isIP')
  t.ok(valid > 5_000, `${valid} of the candidates are addresses`)
})

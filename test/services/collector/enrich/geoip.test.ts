import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { COUNTRY_DATABASE_PATH, countryDatabase, countryOf } from '../../../../services/collector/enrich/geoip.js'
import { PROJECT_ROOT } from '../../../../services/paths.js'

// What the pinned database snapshot says (RIR registrations: 1.1.1.1 is APNIC's, registered in AU).
const KNOWN: Record<string, string> = {
  '8.8.8.8': 'US',
  '1.1.1.1': 'AU',
  '2.132.0.1': 'KZ', // Kazakhtelecom
  '95.56.0.1': 'KZ',
  '77.88.8.8': 'RU',
  '2001:4860:4860::8888': 'US',
  '2606:4700:4700::1111': 'US',
  '2a01:540::1': 'RU',
}

t.test('the database ships in the npm package, and nothing is fetched', async (t) => {
  t.ok(COUNTRY_DATABASE_PATH.startsWith(join(PROJECT_ROOT, 'node_modules')), COUNTRY_DATABASE_PATH)
  t.ok(COUNTRY_DATABASE_PATH.endsWith('.mmdb'))
  t.ok(existsSync(COUNTRY_DATABASE_PATH))
  const pkg = JSON.parse(readFileSync(join(COUNTRY_DATABASE_PATH, '..', 'package.json'), 'utf8')) as {
    license?: string
  }
  t.equal(pkg.license, 'CC0-1.0')
  const { builtAt } = countryDatabase()
  t.type(builtAt, Date)
  t.ok(builtAt.getTime() > Date.UTC(2024, 0, 1), `built ${builtAt.toISOString()}`)
})

t.test('well-known addresses have their registered country', async (t) => {
  for (const [ip, country] of Object.entries(KNOWN)) t.equal(countryOf(ip), country, ip)
})

t.test('IPv4-mapped IPv6 is looked up as IPv4', async (t) => {
  t.equal(countryOf('::ffff:8.8.8.8'), 'US')
  t.equal(countryOf('::FFFF:0284:0001'), 'KZ', '::ffff:2.132.0.1 written in hex')
  t.equal(countryOf('::ffff:2.132.0.1'), 'KZ')
})

t.test('addresses that are not public have no country, whatever the snapshot says', async (t) => {
  // The snapshot itself places 192.168.0.0/16, 172.16.0.0/12, 198.51.100.0/24 and 203.0.113.0/24 in
  // AU, and 2001:db8::/32 in JP.
  for (const ip of [
    '10.0.0.1',
    '127.0.0.1',
    '192.168.1.1',
    '172.16.0.1',
    '192.0.2.1',
    '198.51.100.1',
    '203.0.113.55',
    '100.64.0.1',
    '::1',
    'fe80::1',
    'fe80::1%eth0',
    '2001:db8::1',
    'fd00::1',
    '::',
    '::ffff:192.168.1.1',
  ]) {
    t.equal(countryOf(ip), '', ip)
  }
})

t.test('what is not an address: empty, never a guess', async (t) => {
  // The database reader itself would read '1.2.3' as 1.2.3.0 and answer a country.
  for (const junk of [
    '',
    'x',
    '1.2.3',
    '1.2.3.4.5',
    '999.1.1.1',
    '08.8.8.8',
    '8.8.8.8 ',
    '::g',
    '1::2::3',
    'KZ',
    '__proto__',
    'x'.repeat(100_000),
  ]) {
    t.equal(countryOf(junk), '', JSON.stringify(junk.slice(0, 20)))
  }
})

t.test('every answer is an uppercase alpha-2 code or empty', async (t) => {
  let known = 0
  for (let i = 0; i < 2_000; i++) {
    const ip = `${(i * 7919) % 224}.${(i * 31) % 256}.${(i * 17) % 256}.1`
    const country = countryOf(ip)
    if (!/^([A-Z]{2})?$/.test(country)) t.fail(`${ip}: ${country}`)
    if (country !== '') known++
  }
  t.ok(known > 1_000, `${known} of 2000 addresses have a country`)
})

import t from 'tap'
import { NetworkList } from '../../../../services/collector/enrich/network-list.js'

t.test('a network list holds the addresses of its IPv4 and IPv6 networks, IPv4-mapped as IPv4', async (t) => {
  const list = new NetworkList(['198.51.100.0/24', '192.0.2.128/25', '203.0.113.7/32', '2001:db8:71::/48'])
  const cases: [string, boolean][] = [
    ['198.51.100.0', true],
    ['198.51.100.255', true],
    ['198.51.101.0', false],
    ['198.51.99.255', false],
    ['192.0.2.128', true],
    ['192.0.2.127', false],
    ['203.0.113.7', true],
    ['203.0.113.8', false],
    ['::ffff:198.51.100.9', true],
    ['::ffff:c633:6409', true],
    ['2001:db8:71::', true],
    ['2001:db8:71:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:DB8:71::1', true],
    ['fe80::1%eth0', false],
    ['2001:db8:72::', false],
    ['2001:db8:70:ffff::', false],
    ['198.51.100.1/32', false],
    ['', false],
    ['not an address', false],
  ]
  for (const [ip, held] of cases) t.equal(list.has(ip), held, ip)
})

t.test('/0 holds every address of its family, and only of it', async (t) => {
  const v4 = new NetworkList(['0.0.0.0/0'])
  const v6 = new NetworkList(['::/0'])
  t.ok(v4.has('255.255.255.255'))
  t.ok(v4.has('::ffff:10.0.0.1'))
  t.notOk(v4.has('2001:db8::1'))
  t.ok(v6.has('2001:db8::1'))
  t.ok(v6.has('::'))
  t.notOk(v6.has('10.0.0.1'))
  t.notOk(new NetworkList([]).has('10.0.0.1'), 'an empty list holds nothing')
})

t.test('a network list refuses what is not a network, naming it', async (t) => {
  t.throws(() => new NetworkList(['198.51.100.1/24']), {
    message: '"198.51.100.1/24": host bits are set: the network is 198.51.100.0/24',
  })
  t.throws(() => new NetworkList(['198.51.100.0']), { message: /the \/length is missing/ })
})

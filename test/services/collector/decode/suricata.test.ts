import { readFileSync } from 'node:fs'
import t from 'tap'
import { eventOf, reasonOf } from '../../../helpers/decoded.js'
import { checkMutations, JSON_JUNK } from '../../../helpers/mutations.js'
import type { SensorEvent } from '../../../../schemas/event.js'
import { decodeSuricata as decodeSuricataWith } from '../../../../services/collector/decode/suricata.js'
import type { DecodeContext } from '../../../../services/collector/decode/decoded.js'

/** At the default limits (QALQAN_COLLECTOR_MAX_DEPTH=32), from a sensor in Almaty. */
const AT: DecodeContext = { maxDepth: 32, receivedAt: new Date('2024-03-14T05:00:00.000Z'), timeZone: 'Asia/Almaty' }
const decodeSuricata = (record: string, context: Partial<DecodeContext> = {}) =>
  decodeSuricataWith(record, { ...AT, ...context })

function fixture(name: string): string[] {
  return readFileSync(new URL(`../../../fixtures/sensors/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
}

/** One alert line as Suricata writes it, with some fields replaced. */
function alertLine(alert: Record<string, unknown> = {}, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    timestamp: '2025-03-01T08:15:30.000123+0500',
    flow_id: 1234567890123456,
    in_iface: 'ens3',
    event_type: 'alert',
    src_ip: '203.0.113.10',
    src_port: 51514,
    dest_ip: '198.51.100.20',
    dest_port: 22,
    proto: 'TCP',
    alert: {
      action: 'allowed',
      gid: 1,
      signature_id: 2001219,
      rev: 20,
      signature: 'TEST SSH scan',
      category: 'Attempted Information Leak',
      severity: 2,
      ...alert,
    },
    ...fields,
  })
}

t.test('an alert becomes the canonical fields', async (t) => {
  t.same(eventOf(t, decodeSuricata(alertLine())), {
    occurred_at: '2025-03-01T08:15:30.000123+05:00',
    category: 'scan',
    severity: 3,
    signature: 'TEST SSH scan',
    signature_id: '2001219',
    src_ip: '203.0.113.10',
    src_port: 51514,
    dst_ip: '198.51.100.20',
    dst_port: 22,
    protocol: 'tcp',
    count: 1,
  })
})

t.test("the time is the record's own, whatever the receive time, zone and envelope time given", async (t) => {
  for (const line of [
    alertLine(),
    JSON.stringify({ ...JSON.parse(alertLine()), event_type: 'anomaly', anomaly: { type: 'decode' } }),
  ]) {
    const decoded = decodeSuricata(line)
    t.equal(decoded.kind === 'event' ? decoded.timeSource : undefined, 'event')
    const elsewhere = decodeSuricata(line, {
      receivedAt: new Date('2031-07-01T00:00:00.000Z'),
      timeZone: 'America/Los_Angeles',
      envelopeTime: new Date('2020-01-01T00:00:00.000Z'),
    })
    t.same(elsewhere, decoded)
  }
})

t.test('every line of the fixture', async (t) => {
  const expected: Array<{ kind: string; event?: Partial<SensorEvent>; reason?: string }> = [
    {
      kind: 'event',
      event: {
        category: 'scan',
        severity: 3,
        signature_id: '2001219',
        occurred_at: '2025-03-01T08:15:30.000123+05:00',
      },
    },
    {
      kind: 'event',
      event: {
        category: 'web_attack',
        severity: 4,
        mitre_technique: 'T1190',
        src_ip: '2001:0db8:0000:0000:0000:0000:0000:0bad',
        dst_ip: '2001:0db8:0001:0000:0000:0000:0000:0080',
      },
    },
    {
      kind: 'event',
      event: { category: 'other', severity: 2, protocol: 'icmp', src_ip: '192.0.2.44', dst_ip: '198.51.100.20' },
    },
    { kind: 'event', event: { category: 'malware', severity: 4, mitre_technique: 'T1071' } },
    {
      kind: 'event',
      event: {
        category: 'botnet_c2',
        severity: 4,
        src_ip: '198.51.100.66',
        src_port: 443,
        dst_ip: '192.0.2.15',
        dst_port: 50344,
      },
    },
    {
      kind: 'event',
      event: {
        category: 'exploit',
        severity: 4,
        mitre_technique: 'T1190',
        occurred_at: '2025-03-01T08:21:14.006881+05:00',
      },
    },
    {
      kind: 'event',
      event: { category: 'ddos', severity: 3, protocol: 'udp', occurred_at: '2025-03-01T03:22:05.771200+00:00' },
    },
    { kind: 'event', event: { category: 'policy_violation', severity: 2 } },
    {
      kind: 'event',
      event: {
        category: 'scan',
        severity: 3,
        signature: 'ET CINS Active Threat Intelligence Poor Reputation IP group 33',
      },
    },
    { kind: 'event', event: { category: 'phishing', severity: 4, mitre_technique: 'T1566' } },
    { kind: 'event', event: { category: 'web_attack', severity: 4, signature_id: '9100021' } },
    {
      kind: 'event',
      event: { category: 'other', severity: 2, signature: 'SURICATA HTTP unable to match response to request' },
    },
    { kind: 'event', event: { category: 'policy_violation', severity: 1 } },
    {
      kind: 'event',
      event: {
        category: 'other',
        severity: 1,
        signature: 'anomaly: applayer APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS',
      },
    },
    { kind: 'skipped', reason: '"flow"' },
    { kind: 'skipped', reason: '"dns"' },
    { kind: 'skipped', reason: '"tls"' },
    { kind: 'skipped', reason: '"http"' },
    { kind: 'skipped', reason: '"fileinfo"' },
    { kind: 'skipped', reason: '"stats"' },
  ]
  const lines = fixture('suricata-eve.json')
  t.equal(lines.length, expected.length, 'one expectation per line')
  lines.forEach((line, i) => {
    const decoded = decodeSuricata(line)
    const want = expected[i]
    if (want === undefined) return
    t.equal(decoded.kind, want.kind, `line ${i + 1}: ${want.kind}`)
    if (want.event !== undefined) t.has(eventOf(t, decoded), want.event, `line ${i + 1}: fields`)
    if (want.reason !== undefined) t.match(reasonOf(t, decoded, 'skipped'), want.reason, `line ${i + 1}: reason`)
  })
})

t.test('every line of the bad fixture is invalid, with its reason', async (t) => {
  const reasons = [
    /not valid JSON/,
    /^timestamp: expected an ISO 8601 time, got "2014-03-15 10:11:12\.123456"$/,
    /not valid JSON/,
    /alert: missing/,
    /src_ip/,
    /alert\.severity/,
    /occurred_at/,
    /event_type: missing/,
  ]
  const lines = fixture('suricata-eve-bad.json')
  t.equal(lines.length, reasons.length, 'one expectation per line')
  for (const [i, line] of lines.entries())
    t.match(reasonOf(t, decodeSuricata(line), 'invalid'), reasons[i] ?? /./, `line ${i + 1}`)
})

t.test('alert.severity 1 (highest) is 4 (critical), and so on down', async (t) => {
  const cases: Array<[number, number]> = [
    [1, 4],
    [2, 3],
    [3, 2],
    [4, 1],
    [5, 1],
    [255, 1],
  ]
  for (const [suricata, ours] of cases)
    t.equal(eventOf(t, decodeSuricata(alertLine({ severity: suricata }))).severity, ours, `${suricata} -> ${ours}`)
  for (const bad of [0, -1, 1.5, '1', null, [], {}, Number.POSITIVE_INFINITY]) {
    t.match(
      reasonOf(t, decodeSuricata(alertLine({ severity: bad })), 'invalid'),
      /^alert\.severity: expected an integer/,
      `${JSON.stringify(bad)} is refused`,
    )
  }
  t.match(reasonOf(t, decodeSuricata(alertLine({ severity: undefined })), 'invalid'), /got nothing/, 'missing')
})

t.test('the ruleset group in the signature decides the category', async (t) => {
  const cases: Array<[string, string]> = [
    ['ET SCAN Nmap Scripting Engine User-Agent Detected', 'scan'],
    ['ET CINS Active Threat Intelligence Poor Reputation IP group 1', 'scan'],
    ['ET DROP Spamhaus DROP Listed Traffic Inbound group 9', 'scan'],
    ['ET DSHIELD Block Listed Source group 1', 'scan'],
    ['ET COMPROMISED Known Compromised or Hostile Host Traffic group 3', 'scan'],
    ['ET EXPLOIT Possible Spring4Shell RCE', 'exploit'],
    ['ET SHELLCODE Possible Call with No Offset TCP Shellcode', 'exploit'],
    ['ET MALWARE Win32/AgentTesla Exfil', 'malware'],
    ['ET TROJAN Possible Mirai Infected Host', 'malware'],
    ['ET MOBILE_MALWARE Android/Spy.Agent', 'malware'],
    ['ET WORM Possible WannaCry SMB Traffic', 'malware'],
    ['ET CNC Feodo Tracker Reported CnC Server group 1', 'botnet_c2'],
    ['ET BOTCC Shadowserver Reported CnC Server Port 80 Group 1', 'botnet_c2'],
    ['ET WEB_SERVER Possible SQL Injection Attempt', 'web_attack'],
    ['ET WEB_SPECIFIC_APPS WordPress Plugin SQLi', 'web_attack'],
    ['ET WEB_CLIENT Malicious JavaScript', 'web_attack'],
    ['ET DOS Possible Memcached DDoS Amplification', 'ddos'],
    ['ET PHISHING Successful Generic Phish', 'phishing'],
    ['ET POLICY Outbound SSH on Non-Standard Port', 'policy_violation'],
    ['GPL SCAN nmap XMAS', 'scan'],
    ['GPL ATTACK_RESPONSE id check returned root', 'exploit'],
    ['ET ATTACK_RESPONSE Possible /etc/passwd via HTTP (linux style)', 'exploit'],
    ['ETPRO TROJAN Win32/Emotet Checkin', 'malware'],
  ]
  for (const [signature, category] of cases) {
    // The group wins over the classtype, which here says something else.
    t.equal(
      eventOf(t, decodeSuricata(alertLine({ signature, category: 'Potential Corporate Privacy Violation' }))).category,
      category,
      signature,
    )
  }
})

t.test('without a known group, the classtype decides the category', async (t) => {
  const cases: Array<[string, string]> = [
    ['Attempted Information Leak', 'scan'],
    ['Detection of a Network Scan', 'scan'],
    ['Attempted Administrator Privilege Gain', 'exploit'],
    ['Attempted User Privilege Gain', 'exploit'],
    ['Executable code was detected', 'exploit'],
    ['Web Application Attack', 'web_attack'],
    ['A Network Trojan was detected', 'malware'],
    ['Malware Command and Control Activity Detected', 'botnet_c2'],
    ['Detection of a Denial of Service Attack', 'ddos'],
    ['Attempted Denial of Service', 'ddos'],
    ['Potential Corporate Privacy Violation', 'policy_violation'],
    ['Successful Credential Theft Detected', 'phishing'],
    ['Attempt to login by a default username and password', 'bruteforce'],
    ['web application attack', 'web_attack'],
    ['Misc activity', 'other'],
    ['Not Suspicious Traffic', 'other'],
    ['', 'other'],
    ['constructor', 'other'],
    ['__proto__', 'other'],
  ]
  for (const [classtype, category] of cases) {
    t.equal(
      eventOf(t, decodeSuricata(alertLine({ signature: 'ET INFO Something Unmapped', category: classtype }))).category,
      category,
      classtype,
    )
  }
  t.equal(
    eventOf(t, decodeSuricata(alertLine({ signature: 'LOCAL rule', category: 42 }))).category,
    'other',
    'a classtype that is not text',
  )
  t.equal(
    eventOf(t, decodeSuricata(alertLine({ signature: 'ETSCAN without the space', category: 'Misc activity' })))
      .category,
    'other',
  )
})

t.test('the MITRE technique is the first of the rule metadata, when it looks like one', async (t) => {
  const mitre = (metadata: unknown) => eventOf(t, decodeSuricata(alertLine({ metadata }))).mitre_technique
  t.equal(mitre({ mitre_technique_id: ['T1190'] }), 'T1190')
  t.equal(mitre({ mitre_technique_id: ['T1566.002', 'T1566'] }), 'T1566.002')
  t.equal(mitre({ mitre_technique_id: ['TA0001'] }), undefined, 'a tactic is not a technique')
  t.equal(mitre({ mitre_technique_id: ['T1071_001'] }), undefined)
  t.equal(mitre({ mitre_technique_id: [] }), undefined)
  t.equal(mitre({ mitre_technique_id: 'T1190' }), undefined, 'not the array Suricata writes')
  t.equal(mitre({ mitre_technique_id: [{ id: 'T1190' }] }), undefined)
  t.equal(mitre({ created_at: ['2010_07_30'] }), undefined, 'metadata without MITRE')
  t.equal(mitre(['T1190']), undefined)
  t.equal(mitre(null), undefined)
  t.notOk('mitre_technique' in eventOf(t, decodeSuricata(alertLine())), 'no metadata, no technique')
})

t.test("timestamps: offsets with and without a colon, Z; none is read in the sensor's zone", async (t) => {
  const at = (timestamp: unknown) => decodeSuricata(alertLine({}, { timestamp }))
  t.equal(eventOf(t, at('2024-05-01T10:11:12.123456+0500')).occurred_at, '2024-05-01T10:11:12.123456+05:00')
  t.equal(eventOf(t, at('2024-05-01T10:11:12.123456+05:00')).occurred_at, '2024-05-01T10:11:12.123456+05:00')
  t.equal(eventOf(t, at('2024-05-01T10:11:12.123456-0330')).occurred_at, '2024-05-01T10:11:12.123456-03:30')
  t.equal(eventOf(t, at('2024-05-01T10:11:12.123456Z')).occurred_at, '2024-05-01T10:11:12.123456Z')
  t.equal(eventOf(t, at('2024-05-01T10:11:12+0000')).occurred_at, '2024-05-01T10:11:12+00:00')
  t.equal(eventOf(t, at('2024-05-01T10:11:12.123456')).occurred_at, '2024-05-01T05:11:12.123Z', 'Almaty, UTC+5')
  t.equal(
    eventOf(t, at('2024-02-01T10:11:12')).occurred_at,
    '2024-02-01T04:11:12.000Z',
    'Almaty before March 2024, UTC+6',
  )
  t.equal(eventOf(t, at('2024-05-01T10:11:12.9')).occurred_at, '2024-05-01T05:11:12.900Z')
  const inLosAngeles = decodeSuricata(alertLine({}, { timestamp: '2024-05-01T10:11:12.123456' }), {
    timeZone: 'America/Los_Angeles',
  })
  t.equal(eventOf(t, inLosAngeles).occurred_at, '2024-05-01T17:11:12.123Z', 'Los Angeles, UTC-7 in May')
  t.equal(
    reasonOf(t, at('2024-02-30T10:11:12.123456'), 'invalid'),
    'timestamp: "2024-02-30T10:11:12.123456" is not a calendar date and time',
  )
  t.match(reasonOf(t, at('2024-05-01T24:00:00'), 'invalid'), /^timestamp: .* is not a calendar date and time$/)
  t.match(reasonOf(t, at('2025-02-30T10:11:12.000000+0500'), 'invalid'), /^occurred_at:/, 'not a calendar date')
  t.match(reasonOf(t, at('2024-05-01T25:11:12+0500'), 'invalid'), /^occurred_at:/)
  t.match(reasonOf(t, at('2024-05-01T10:11:12+05'), 'invalid'), /^timestamp: expected an ISO 8601 time/)
  t.match(reasonOf(t, at('2024-05-01 10:11:12+0500'), 'invalid'), /^timestamp:/)
  t.match(reasonOf(t, at(1714540272), 'invalid'), /got 1714540272/)
  t.match(reasonOf(t, at(undefined), 'invalid'), /got nothing/)
  t.match(reasonOf(t, at({ toString: 1 }), 'invalid'), /got an object/)
  t.match(
    reasonOf(t, at('x'.repeat(100_000)), 'invalid'),
    /^timestamp: expected an ISO 8601 time, got "x{64}\.\.\."$/,
    'a long value is cut in the reason',
  )
})

t.test('addresses, ports and protocol', async (t) => {
  const icmp = eventOf(
    t,
    decodeSuricata(
      alertLine({}, { proto: 'ICMP', src_port: undefined, dest_port: undefined, icmp_type: 8, icmp_code: 0 }),
    ),
  )
  t.equal(icmp.protocol, 'icmp')
  t.notOk('src_port' in icmp || 'dst_port' in icmp, 'ICMP has no ports')
  const v6 = eventOf(
    t,
    decodeSuricata(
      alertLine(
        {},
        {
          src_ip: '2001:db8::bad',
          dest_ip: '2001:db8:1::80',
          proto: 'IPv6-ICMP',
          src_port: undefined,
          dest_port: undefined,
        },
      ),
    ),
  )
  t.has(v6, { src_ip: '2001:db8::bad', dst_ip: '2001:db8:1::80', protocol: 'ipv6-icmp' })
  t.equal(eventOf(t, decodeSuricata(alertLine({}, { proto: '047' }))).protocol, '047', 'an unnamed protocol number')
  t.notOk('protocol' in eventOf(t, decodeSuricata(alertLine({}, { proto: undefined }))))
  t.notOk('dst_ip' in eventOf(t, decodeSuricata(alertLine({}, { dest_ip: undefined }))))
  t.equal(
    eventOf(t, decodeSuricata(alertLine({}, { dst_ip: '192.0.2.1', dest_ip: undefined }))).dst_ip,
    undefined,
    'dst_ip is not an EVE field',
  )
  t.equal(
    eventOf(t, decodeSuricata(alertLine({ action: 'blocked' }))).category,
    'scan',
    'a blocked alert is still an attack',
  )
})

t.test('with the target keyword, alert.source names the attacker', async (t) => {
  const line = alertLine({ source: { ip: '198.51.100.20', port: 22 }, target: { ip: '203.0.113.10', port: 51514 } })
  t.has(eventOf(t, decodeSuricata(line)), {
    src_ip: '198.51.100.20',
    src_port: 22,
    dst_ip: '203.0.113.10',
    dst_port: 51514,
  })
  const icmp = eventOf(
    t,
    decodeSuricata(alertLine({ source: { ip: '198.51.100.20' }, target: { ip: '203.0.113.10' } }, { proto: 'ICMP' })),
  )
  t.notOk('src_port' in icmp || 'dst_port' in icmp)
  t.equal(
    eventOf(t, decodeSuricata(alertLine({ source: { ip: '198.51.100.20' } }))).src_ip,
    '203.0.113.10',
    'a source without a target is ignored',
  )
  t.match(reasonOf(t, decodeSuricata(alertLine({ source: { ip: 'not an ip' }, target: {} })), 'invalid'), /^src_ip:/)
})

t.test('signature and signature_id', async (t) => {
  const long = eventOf(t, decodeSuricata(alertLine({ signature: 'ET SCAN '.padEnd(2000, 'x') })))
  t.equal(long.signature.length, 512, 'cut to the schema limit')
  t.equal(long.category, 'scan')
  const emoji = eventOf(t, decodeSuricata(alertLine({ signature: `${'x'.repeat(511)}😀tail` })))
  t.equal(emoji.signature, 'x'.repeat(511), 'a surrogate pair is not split')
  t.match(reasonOf(t, decodeSuricata(alertLine({ signature: '' })), 'invalid'), /^signature:/)
  t.match(reasonOf(t, decodeSuricata(alertLine({ signature: 42 })), 'invalid'), /^signature:/)
  t.notOk('signature_id' in eventOf(t, decodeSuricata(alertLine({ signature_id: undefined }))))
  t.match(reasonOf(t, decodeSuricata(alertLine({ signature_id: 1e20 })), 'invalid'), /^signature_id:/, 'not a SID')
  t.match(reasonOf(t, decodeSuricata(alertLine({ signature_id: { a: 1 } })), 'invalid'), /^signature_id:/)
})

t.test('a flow_id beyond 2^53 (and beyond 64 bits) changes nothing', async (t) => {
  const base = eventOf(t, decodeSuricata(alertLine()))
  for (const flowId of ['9007199254740993', '1981371493847261743', '18446744073709551617', '1e400', '-1']) {
    const line = alertLine().replace('"flow_id":1234567890123456', `"flow_id":${flowId}`)
    t.not(line, alertLine(), 'the flow_id was replaced')
    t.same(eventOf(t, decodeSuricata(line)), base, flowId)
  }
})

t.test('an anomaly is a low-severity event of category other', async (t) => {
  const anomaly = (value: unknown) =>
    decodeSuricata(alertLine({}, { event_type: 'anomaly', alert: undefined, anomaly: value }))
  t.has(eventOf(t, anomaly({ type: 'decode', event: 'decoder.ipv4.trunc_pkt' })), {
    category: 'other',
    severity: 1,
    signature: 'anomaly: decode decoder.ipv4.trunc_pkt',
    src_ip: '203.0.113.10',
    dst_ip: '198.51.100.20',
  })
  t.notOk('signature_id' in eventOf(t, anomaly({ type: 'stream', event: 'stream.pkt_invalid_timestamp' })))
  t.equal(eventOf(t, anomaly({ type: 'applayer' })).signature, 'anomaly: applayer')
  t.equal(eventOf(t, anomaly({})).signature, 'anomaly')
  t.equal(
    eventOf(t, anomaly({ type: 7, event: { x: 1 } })).signature,
    'anomaly',
    'parts that are not text are left out',
  )
  t.equal(eventOf(t, anomaly({ type: 'decode', event: 'e'.repeat(1000) })).signature.length, 512)
  t.equal(
    eventOf(
      t,
      decodeSuricata(
        alertLine({}, { event_type: 'anomaly', anomaly: { type: 'decode' }, timestamp: '2025-03-01T08:15:30.5' }),
      ),
    ).occurred_at,
    '2025-03-01T03:15:30.500Z',
    "an anomaly's time without an offset is read in the sensor's zone",
  )
  t.match(
    reasonOf(
      t,
      decodeSuricata(
        alertLine({}, { event_type: 'anomaly', anomaly: { type: 'decode' }, timestamp: '2025-03-01T08:15:30.5+05' }),
      ),
      'invalid',
    ),
    /^timestamp: expected an ISO 8601 time/,
  )
  t.match(reasonOf(t, anomaly(undefined), 'invalid'), /^anomaly: missing/)
  t.match(reasonOf(t, anomaly('decode'), 'invalid'), /^anomaly: missing/)
  t.match(
    reasonOf(
      t,
      decodeSuricata(
        JSON.stringify({
          event_type: 'anomaly',
          anomaly: { type: 'decode', event: 'decoder.ipv4.trunc_pkt' },
          timestamp: '2025-03-01T08:15:30+0500',
        }),
      ),
      'invalid',
    ),
    /^src_ip:/,
    'an anomaly without addresses',
  )
})

t.test('every other event_type is skipped, naming it, whatever else the record holds', async (t) => {
  for (const eventType of [
    'flow',
    'netflow',
    'dns',
    'http',
    'tls',
    'ssh',
    'smb',
    'fileinfo',
    'stats',
    'drop',
    'frame',
    'Alert',
    'ALERT',
  ]) {
    t.match(
      reasonOf(t, decodeSuricata(JSON.stringify({ event_type: eventType })), 'skipped'),
      `event_type ${JSON.stringify(eventType)}`,
      eventType,
    )
  }
  t.equal(
    reasonOf(t, decodeSuricata(JSON.stringify({ event_type: 'y'.repeat(10_000) })), 'skipped').length < 200,
    true,
    'a long event_type is cut in the reason',
  )
  for (const bad of [undefined, '', 42, null, ['alert'], { alert: true }]) {
    t.match(
      reasonOf(t, decodeSuricata(JSON.stringify({ event_type: bad, alert: {} })), 'invalid'),
      /^event_type: missing/,
      JSON.stringify(bad) ?? 'missing',
    )
  }
})

t.test('malformed and hostile records are invalid, never a throw', async (t) => {
  const records: Array<[string, RegExp]> = [
    ['', /not valid JSON/],
    ['   ', /not valid JSON/],
    ['not json', /not valid JSON/],
    ['{"event_type":"alert",', /not valid JSON/],
    ['null', /not a JSON object but null/],
    ['42', /not a JSON object but 42/],
    ['true', /not a JSON object/],
    ['"alert"', /not a JSON object/],
    [`[${alertLine()}]`, /not a JSON object but an array/],
    ['[]', /an array/],
    [`${'['.repeat(10_000)}${']'.repeat(10_000)}`, /deeper than/],
    [`{"event_type":"alert","alert":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`, /deeper than/],
    ['{"__proto__":{"event_type":"alert","alert":{"severity":1}}}', /^event_type: missing/],
    [
      '{"timestamp":"2025-03-01T08:15:30+0500","event_type":"alert","src_ip":"203.0.113.10","alert":{"__proto__":{"severity":1},"toString":1}}',
      /^alert\.severity: .* got nothing/,
    ],
    [alertLine({}, { alert: 'alert' }), /^alert: missing/],
    [alertLine({}, { alert: [1, 2] }), /^alert: missing/],
    [alertLine({}, { alert: null }), /^alert: missing/],
    [alertLine({}, { src_ip: undefined }), /^src_ip:/],
    [alertLine({}, { src_ip: '203.0.113.256' }), /^src_ip:/],
    [alertLine({}, { src_ip: 3405803786 }), /^src_ip:/],
    [alertLine({}, { src_ip: { toString: 1 } }), /^src_ip:/],
    [alertLine({}, { src_port: 65536 }), /^src_port:/],
    [alertLine({}, { src_port: -1 }), /^src_port:/],
    [alertLine({}, { dest_port: '22' }), /^dst_port:/],
    [alertLine({}, { dest_port: 22.5 }), /^dst_port:/],
    [alertLine({}, { dest_ip: 'localhost' }), /^dst_ip:/],
    [alertLine({}, { proto: 'T C P' }), /^protocol:/],
    [alertLine({}, { proto: 6 }), /^protocol:/],
    [alertLine({}, { proto: 'x'.repeat(100) }), /^protocol:/],
    [alertLine({}, { timestamp: null }), /^timestamp:/],
  ]
  for (const [record, reason] of records) {
    t.match(reasonOf(t, decodeSuricata(record), 'invalid'), reason, record.slice(0, 80))
  }
  // __proto__ in the text is an own key after JSON.parse: it neither adds fields nor breaks the event.
  const smuggled = alertLine().replace(
    '{"timestamp"',
    '{"__proto__":{"category":"ddos","count":99,"sector":"finance"},"timestamp"',
  )
  t.same(eventOf(t, decodeSuricata(smuggled)), eventOf(t, decodeSuricata(alertLine())))
  const huge = alertLine({}, { payload_printable: 'A'.repeat(2_000_000), http: { url: '/'.repeat(100_000) } })
  t.equal(decodeSuricata(huge).kind, 'event', 'a huge payload is ignored')
})

t.test('no mutation of a real line makes the decoder throw or emit a bad event', async (t) => {
  checkMutations(
    t,
    decodeSuricata,
    [...fixture('suricata-eve.json'), ...fixture('suricata-eve-bad.json')],
    JSON_JUNK,
    42,
  )
})

t.test('a lone surrogate (a JSON escape of half a pair) is refused naming the field', async (t) => {
  t.same(decodeSuricata(alertLine({ signature: 'ET SCAN probe \ud800' })), {
    kind: 'invalid',
    reason: 'signature: not well-formed Unicode (a lone surrogate)',
  })
  t.match(decodeSuricata(alertLine({}, { event_type: 'anomaly', anomaly: { type: 'decode', event: 'x\udfff' } })), {
    kind: 'invalid',
    reason: 'signature: not well-formed Unicode (a lone surrogate)',
  })
  t.equal(decodeSuricata(alertLine({ signature: 'ET SCAN probe \ud83d\ude00' })).kind, 'event', 'a whole pair is fine')
})

t.test("EVE's host (suricata.yaml sensor-name) is the device; anything but text is left out", async (t) => {
  const deviceOf = (host: unknown) => eventOf(t, decodeSuricata(alertLine({}, { host }))).device
  t.equal(deviceOf('ids-astana-01'), 'ids-astana-01')
  t.equal(
    eventOf(t, decodeSuricata(alertLine({}, { event_type: 'anomaly', anomaly: { type: 'decode' }, host: 'ids-2' })))
      .device,
    'ids-2',
    'an anomaly too',
  )
  for (const host of [undefined, '', ' ', 7, false, null, { name: 'ids' }, ['ids']])
    t.equal(deviceOf(host), undefined, `${JSON.stringify(host)}: no device, the event stands`)
  t.equal(deviceOf('h'.repeat(70_000)), 'h'.repeat(255), 'cut to the schema limit')
  t.same(decodeSuricata(alertLine({}, { host: '\udfffids' })), {
    kind: 'invalid',
    reason: 'device: not well-formed Unicode (a lone surrogate)',
  })
  t.equal(
    reasonOf(t, decodeSuricata(alertLine({}, { event_type: 'flow', host: 'ids-1' })), 'skipped'),
    'event_type "flow" is not an alert or an anomaly',
    'a skipped record stays skipped',
  )
})

import t from 'tap'
import { CanonicalEvent, SensorEvent } from '../../schemas/event.js'
import { describeIssues } from '../../services/errors.js'

const valid = {
  occurred_at: '2025-03-01T08:15:30.000123+05:00',
  category: 'scan',
  severity: 2,
  signature: 'ET SCAN Potential SSH Scan',
  signature_id: '2001219',
  mitre_technique: 'T1046',
  src_ip: '203.0.113.10',
  src_port: 51514,
  dst_ip: '2001:db8::20',
  dst_port: 22,
  protocol: 'tcp',
}

function reasons(value: unknown): string {
  const result = SensorEvent.safeParse(value)
  return result.success ? '' : describeIssues(result.error.issues, 50)
}

t.test('a complete sensor event is valid and count defaults to 1', async (t) => {
  const result = SensorEvent.safeParse(valid)
  t.ok(result.success)
  t.equal(result.data?.count, 1)
})

t.test('the smallest valid event: time, category, severity, signature, source', async (t) => {
  const { occurred_at, category, severity, signature, src_ip } = valid
  t.ok(SensorEvent.safeParse({ occurred_at, category, severity, signature, src_ip }).success)
})

t.test('each bad field is named by its path', async (t) => {
  t.match(reasons({ ...valid, severity: 5 }), /^severity: /)
  t.match(reasons({ ...valid, severity: 2.5 }), /^severity: /)
  t.match(reasons({ ...valid, category: 'hacking' }), /^category: .*scan/)
  t.match(reasons({ ...valid, src_ip: '999.1.1.1' }), /^src_ip: must be an IPv4 or IPv6 address/)
  t.match(reasons({ ...valid, dst_port: 70000 }), /^dst_port: /)
  t.match(reasons({ ...valid, occurred_at: '2025-03-01T08:15:30' }), /^occurred_at: /)
  t.match(reasons({ ...valid, mitre_technique: 'T99' }), /^mitre_technique: must look like T1110/)
  t.match(reasons({ ...valid, count: 0 }), /^count: /)
  t.match(reasons({ ...valid, signature: '' }), /^signature: /)
  t.match(reasons({ ...valid, signature: 'x'.repeat(513) }), /^signature: /)
})

t.test('who and where cannot come from the body', async (t) => {
  t.match(reasons({ ...valid, sensor_id: 'spoofed' }), /unknown field\(s\) "sensor_id"/)
  t.match(reasons({ ...valid, sector: 'finance', region: 'KZ-75' }), /unknown field\(s\) "sector", "region"/)
})

t.test('hostile keys and shapes are rejected, not merged', async (t) => {
  const hostile = JSON.parse(
    `{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},${JSON.stringify(valid).slice(1)}`,
  )
  t.match(reasons(hostile), /unknown field\(s\) "__proto__", "constructor"/)
  t.equal(({} as Record<string, unknown>)['polluted'], undefined)
  t.match(reasons(null), /expected object/)
  t.match(reasons([valid]), /expected object/)
  t.match(reasons('event'), /expected object/)
})

t.test('many bad fields give a bounded reason', async (t) => {
  const result = SensorEvent.safeParse({
    a: 1,
    b: 2,
    severity: 'x',
    category: 1,
    src_ip: 2,
    signature: 3,
    occurred_at: 4,
  })
  t.notOk(result.success)
  const reason = describeIssues(result.error?.issues ?? [])
  t.match(reason, /and \d+ more$/)
})

t.test('the canonical event requires what the collector adds', async (t) => {
  const canonical = {
    ...valid,
    v: 1,
    event_id: '0b1e3c4a-5d6e-4f70-8a9b-0c1d2e3f4a5b',
    received_at: '2025-03-01T03:15:31.000Z',
    sensor_id: 'kz-ids-01',
    sensor_type: 'ids',
    org: 'Example',
    sector: 'government',
    region: 'KZ-71',
    count: 3,
  }
  const parsed = CanonicalEvent.safeParse(canonical)
  t.ok(parsed.success)
  t.equal(parsed.data?.src_country, '')
  t.notOk(CanonicalEvent.safeParse({ ...canonical, region: 'KZ-AST' }).success, 'legacy region codes are not canonical')
  t.notOk(CanonicalEvent.safeParse({ ...canonical, v: 2 }).success)
  t.notOk(CanonicalEvent.safeParse({ ...canonical, sector: 'banking' }).success)
})

t.test('device and log_source: optional text of 1 to 255 characters, well-formed, in both schemas', async (t) => {
  const canonical = {
    ...valid,
    v: 1,
    event_id: '0b1e3c4a-5d6e-4f70-8a9b-0c1d2e3f4a5b',
    received_at: '2025-03-01T03:15:31.000Z',
    sensor_id: 'kz-ids-01',
    sensor_type: 'ids',
    org: 'Example',
    sector: 'government',
    region: 'KZ-71',
    count: 1,
  }
  for (const [name, schema, base] of [
    ['sensor', SensorEvent, valid],
    ['canonical', CanonicalEvent, canonical],
  ] as const) {
    const parse = (fields: Record<string, unknown>) => schema.safeParse({ ...base, ...fields })
    t.ok(parse({}).success, `${name}: neither is required`)
    t.match(
      parse({ device: 'fw-ala-01', log_source: '/var/log/suricata/eve.json' }).data,
      { device: 'fw-ala-01', log_source: '/var/log/suricata/eve.json' },
      name,
    )
    t.ok(parse({ device: 'd'.repeat(255), log_source: '\u{1F6E1}'.repeat(127) }).success, `${name}: 255 units`)
    for (const field of ['device', 'log_source']) {
      for (const bad of ['', 'x'.repeat(256), 'fw\ud800', 42, null, ['fw']]) {
        const result = parse({ [field]: bad })
        t.notOk(result.success, `${name}: ${field} ${JSON.stringify(bad).slice(0, 20)}`)
        t.match(result.success ? '' : describeIssues(result.error.issues), new RegExp(`^${field}: `))
      }
    }
  }
})

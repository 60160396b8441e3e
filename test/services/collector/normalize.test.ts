import t from 'tap'
import { CanonicalEvent, SensorEvent } from '../../../schemas/event.js'
import type { Sensor } from '../../../services/http/tokens.js'
import { normalize, type NormalizeContext } from '../../../services/collector/normalize.js'
import { validate } from '../../../services/collector/validate.js'

const sensor: Sensor = {
  id: 'kz-ids-01',
  token_sha256: 'fb3606603bc453c40a059bb709bb96a59a39413aa70ff7e41db94a7b5555c110',
  type: 'ids',
  org: 'E-Gov Astana',
  sector: 'government',
  region: 'KZ-71',
}

const receivedAt = new Date('2025-03-01T03:15:31.250Z')
const newId = '0b1e3c4a-5d6e-4f70-8a9b-0c1d2e3f4a5b'

function context(): NormalizeContext & { issued: number } {
  const ctx = {
    sensor,
    receivedAt,
    // Wide enough for the 1969 case below; the time rule has its own tests with tight limits.
    timeLimits: { maxFutureMs: 3_600_000, maxAgeMs: 100 * 365 * 86_400_000 },
    issued: 0,
    newEventId: () => {
      ctx.issued++
      return newId
    },
  }
  return ctx
}

/** A sensor event as validate() hands it on. */
function sensorEvent(fields: Record<string, unknown> = {}): SensorEvent {
  return SensorEvent.parse({
    occurred_at: '2025-03-01T08:15:30.000123+05:00',
    category: 'bruteforce',
    severity: 3,
    signature: 'SSH brute force',
    src_ip: '203.0.113.55',
    ...fields,
  })
}

function normalized(input: SensorEvent, ctx = context()): CanonicalEvent {
  const result = normalize(input, ctx)
  if (!result.ok) throw new Error(`expected a canonical event, got: ${result.reason}`)
  return result.event
}

t.test('who and where come from the sensor', async (t) => {
  const event = normalized(sensorEvent())
  t.match(event, {
    sensor_id: 'kz-ids-01',
    sensor_type: 'ids',
    org: 'E-Gov Astana',
    sector: 'government',
    region: 'KZ-71',
  })
  const other = normalized(sensorEvent(), {
    ...context(),
    sensor: { ...sensor, id: 'kz-fw-9', type: 'firewall', org: 'Bank', sector: 'finance', region: 'KZ-75' },
  })
  t.match(other, { sensor_id: 'kz-fw-9', sensor_type: 'firewall', org: 'Bank', sector: 'finance', region: 'KZ-75' })
})

t.test('a smuggled sector, region or sensor in the input does not reach the event', async (t) => {
  // validate() refuses these fields; normalize must not copy them even if one slipped through.
  const smuggled = {
    ...sensorEvent(),
    sector: 'finance',
    region: 'KZ-75',
    sensor_id: 'spoofed',
    org: 'Spoof',
  } as SensorEvent
  t.match(normalized(smuggled), { sector: 'government', region: 'KZ-71', sensor_id: 'kz-ids-01', org: 'E-Gov Astana' })
})

t.test('the result is a valid canonical event with every sensor field kept', async (t) => {
  const input = sensorEvent({
    signature_id: '2001219',
    mitre_technique: 'T1110.001',
    src_port: 51514,
    dst_ip: '2001:db8::20',
    dst_port: 22,
    protocol: 'tcp',
    count: 7,
  })
  const event = normalized(input)
  t.ok(CanonicalEvent.safeParse(event).success, 'the canonical schema accepts it')
  t.match(event, {
    v: 1,
    category: 'bruteforce',
    severity: 3,
    signature: 'SSH brute force',
    signature_id: '2001219',
    mitre_technique: 'T1110.001',
    src_ip: '203.0.113.55',
    src_port: 51514,
    dst_ip: '2001:db8::20',
    dst_port: 22,
    protocol: 'tcp',
    count: 7,
    src_country: '',
  })
  t.equal(event.received_at, '2025-03-01T03:15:31.250Z')
})

t.test('occurred_at becomes UTC', async (t) => {
  const cases: [string, string][] = [
    ['2025-03-01T08:15:30.000123+05:00', '2025-03-01T03:15:30.000Z'],
    ['2025-03-01T03:15:30Z', '2025-03-01T03:15:30.000Z'],
    ['2025-03-01T00:30:00+06:00', '2025-02-28T18:30:00.000Z'],
    ['2024-12-31T23:59:59-05:00', '2025-01-01T04:59:59.000Z'],
    ['2024-02-29T12:00:00+00:00', '2024-02-29T12:00:00.000Z'],
    ['1969-12-31T23:59:59.999Z', '1969-12-31T23:59:59.999Z'],
  ]
  for (const [input, expected] of cases)
    t.equal(normalized(sensorEvent({ occurred_at: input })).occurred_at, expected, input)
})

t.test('event_id is assigned only when the sensor sent none', async (t) => {
  const given = 'a3bb189e-8bf9-4888-9912-ace4e6543002'
  const kept = context()
  t.equal(normalized(sensorEvent({ event_id: given }), kept).event_id, given)
  t.equal(kept.issued, 0, 'no id was drawn')

  const assigned = context()
  t.equal(normalized(sensorEvent(), assigned).event_id, newId)
  t.equal(assigned.issued, 1)
})

t.test('protocol is lowercased; absent stays absent', async (t) => {
  t.equal(normalized(sensorEvent({ protocol: 'TCP' })).protocol, 'tcp')
  t.equal(normalized(sensorEvent({ protocol: 'IPv6-ICMP' })).protocol, 'ipv6-icmp')
  t.equal(normalized(sensorEvent()).protocol, undefined)
})

t.test('an impossible date is rejected, never moved to another day', async (t) => {
  for (const impossible of ['2025-02-30T00:00:00Z', '2025-02-29T10:00:00+05:00', '2025-04-31T23:00:00Z']) {
    // The schema refuses it first...
    const checked = validate({ ...sensorEvent(), occurred_at: impossible })
    t.notOk(checked.ok, `validate refuses ${impossible}`)
    // ...and normalize, handed it anyway, must not turn it into a real but wrong date.
    const result = normalize({ ...sensorEvent(), occurred_at: impossible }, context())
    t.same(result.ok ? result.event.occurred_at : 'rejected', 'rejected', `normalize rejects ${impossible}`)
  }
  const garbage = normalize({ ...sensorEvent(), occurred_at: 'yesterday' }, context())
  t.match(garbage, { ok: false, reason: /occurred_at: yesterday is not a real date/ })
})

t.test('normalize does not change its input', async (t) => {
  const input = sensorEvent({ protocol: 'TCP' })
  const copy = structuredClone(input)
  normalized(input)
  t.same(input, copy)
})

t.test('a time the worker would drop is refused here, by the same rule and settings', async (t) => {
  const ctx = { ...context(), timeLimits: { maxFutureMs: 600_000, maxAgeMs: 7 * 86_400_000 } }
  const cases: [string, RegExp | undefined][] = [
    // receivedAt is 2025-03-01T03:15:31.250Z.
    ['2025-03-01T03:25:31.250Z', undefined],
    ['2025-03-01T03:25:31.251Z', /more than 600 s after the event was received .*QALQAN_WORKER_MAX_FUTURE_SECONDS/],
    ['2025-02-22T03:15:31.250Z', undefined],
    ['2025-02-22T03:15:31.249Z', /more than 7 days before the event was received .*QALQAN_WORKER_MAX_AGE_DAYS/],
    ['9999-12-31T23:59:59Z', /QALQAN_WORKER_MAX_FUTURE_SECONDS/],
    ['0000-01-01T00:00:00Z', /QALQAN_WORKER_MAX_AGE_DAYS/],
  ]
  for (const [occurred, refused] of cases) {
    const result = normalize(sensorEvent({ occurred_at: occurred }), ctx)
    if (refused === undefined) t.ok(result.ok, `${occurred} is accepted`)
    else t.match(result, { ok: false, reason: refused }, `${occurred} is refused`)
  }
})

t.test('a UTC offset beyond ±14:00 is refused: no zone has one', async (t) => {
  // The instants are all plausible; only the offsets are not.
  for (const occurred of ['2025-03-01T17:14:30+14:00', '2025-02-28T15:15:30-12:00', '2025-02-28T13:15:30-14:00'])
    t.ok(normalize(sensorEvent({ occurred_at: occurred }), context()).ok, `${occurred} is accepted`)
  for (const [occurred, offset] of [
    ['2025-03-02T03:14:30+23:59', '+23:59'],
    ['2025-03-01T17:15:30+14:01', '+14:01'],
    ['2025-02-28T13:15:30-14:01', '-14:01'],
  ]) {
    t.same(
      normalize(sensorEvent({ occurred_at: occurred }), context()),
      { ok: false, reason: `occurred_at: UTC offset ${offset} is beyond ±14:00, so the clock is not in any zone` },
      occurred,
    )
  }
})

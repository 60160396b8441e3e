import t from 'tap'
import { CanonicalEvent } from '../../../schemas/event.js'
import { idempotencyKeyOf, keyedEventId, recordEventId } from '../../../services/collector/event-id.js'

const RECORD =
  '{"timestamp":"2025-03-01T10:15:30.123456+0500","flow_id":1234567890123456,"event_type":"alert","src_ip":"203.0.113.10","src_port":40000,"dest_ip":"198.51.100.20","dest_port":22,"proto":"TCP","alert":{"signature_id":2001219,"signature":"ET SCAN Potential SSH Scan","severity":2}}'
// RFC 9562 version 8 (custom, here SHA-256 name-based), variant 10.
const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('the same record from the same sensor has the same id; anything else another', async (t) => {
  const id = recordEventId('kz-ids-01', RECORD)
  t.match(id, UUID_V8)
  t.equal(recordEventId('kz-ids-01', RECORD), id, 'a resend gets the id it had')
  t.not(recordEventId('kz-ids-02', RECORD), id, 'another sensor, another event')
  t.not(recordEventId('kz-ids-01', `${RECORD} `), id, 'another text, another event')
  // The sensor id is length-prefixed: moving text across the boundary changes the id.
  t.not(recordEventId('a\nb', 'c'), recordEventId('a', 'b\nc'))
  t.ok(CanonicalEvent.shape.event_id.safeParse(id).success, 'the canonical schema takes it')
})

t.test('an Idempotency-Key names the request: its records are told apart by index', async (t) => {
  const first = keyedEventId('kz-ids-01', 'batch-42', 0)
  t.match(first, UUID_V8)
  t.equal(keyedEventId('kz-ids-01', 'batch-42', 0), first)
  t.not(keyedEventId('kz-ids-01', 'batch-42', 1), first)
  t.not(keyedEventId('kz-ids-01', 'batch-43', 0), first)
  t.not(keyedEventId('kz-ids-02', 'batch-42', 0), first, "one sensor's key never matches another's")
  t.not(keyedEventId('kz-ids-01', 'x', 0), recordEventId('kz-ids-01', 'x\n0'), 'keyed and record ids never meet')
})

t.test('the header is used when it holds one non-blank key', async (t) => {
  t.equal(idempotencyKeyOf({ 'idempotency-key': ' batch-42 ' }), 'batch-42')
  t.equal(idempotencyKeyOf({ 'idempotency-key': '  ' }), undefined)
  t.equal(idempotencyKeyOf({}), undefined)
  t.equal(idempotencyKeyOf({ 'idempotency-key': ['a', 'b'] }), undefined)
})

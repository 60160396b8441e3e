import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { jsonSchemas } from '../../schemas/export-json-schema.js'
import { PROJECT_ROOT } from '../../services/paths.js'

t.test('the committed JSON Schemas are the ones the zod schemas give (npm run schemas)', async (t) => {
  for (const [file, schema] of Object.entries(jsonSchemas())) {
    const committed: unknown = JSON.parse(readFileSync(join(PROJECT_ROOT, 'schemas', file), 'utf8'))
    t.same(committed, schema, file)
  }
})

t.test('the sensor-facing schema states what a sensor must send', async (t) => {
  const schema = jsonSchemas()['sensor-event.schema.json'] as {
    required: string[]
    additionalProperties: boolean
    properties: Record<string, unknown>
  }
  t.same([...schema.required].sort(), ['category', 'occurred_at', 'severity', 'signature', 'src_ip'])
  t.equal(schema.additionalProperties, false)
  t.notOk('sensor_id' in schema.properties, 'sensor_id comes from the token')
})

// Writes the JSON Schemas of the sensor-facing and canonical events and of the rejected topic's
// records next to this file, for sensor vendors and forwarders that validate before they send and
// for whoever reads the topics. A test checks the files are current.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { PROJECT_ROOT } from '../services/paths.js'
import { CanonicalEvent, SensorEvent } from './event.js'
import { RejectedRecord } from './rejected.js'

export function jsonSchemas(): Record<string, unknown> {
  return {
    'sensor-event.schema.json': {
      $id: 'urn:qalqan:schema:sensor-event:v1',
      title: 'Qalqan sensor event v1',
      ...z.toJSONSchema(SensorEvent, { io: 'input' }),
    },
    'canonical-event.schema.json': {
      $id: 'urn:qalqan:schema:canonical-event:v1',
      title: 'Qalqan canonical event v1',
      ...z.toJSONSchema(CanonicalEvent),
    },
    'rejected-record.schema.json': {
      $id: 'urn:qalqan:schema:rejected-record:v1',
      title: 'Qalqan rejected record v1',
      ...z.toJSONSchema(RejectedRecord),
    },
  }
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  for (const [file, schema] of Object.entries(jsonSchemas())) {
    writeFileSync(join(PROJECT_ROOT, 'schemas', file), `${JSON.stringify(schema, null, 2)}\n`)
    console.log(`wrote schemas/${file}`)
  }
}

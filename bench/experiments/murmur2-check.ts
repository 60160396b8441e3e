/** Checks services/kafka/murmur2.ts against kafkajs's own murmur2 on many keys, and times both. */
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { murmur2 } from '../../services/kafka/murmur2.js'

const require = createRequire(import.meta.url)
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number

const keys = Array.from({ length: 200_000 }, (_, i) => (i % 10 === 0 ? `key-${i}-${'x'.repeat(i % 7)}` : randomUUID()))
let mismatches = 0
for (const key of keys) if (murmur2(Buffer.from(key)) !== kafkajsMurmur2(key)) mismatches++
const time = (f: () => void) => {
  const started = performance.now()
  f()
  return performance.now() - started
}
const ours = time(() => keys.forEach((key) => murmur2(Buffer.from(key))))
const theirs = time(() => keys.forEach((key) => kafkajsMurmur2(key)))
process.stdout.write(`${keys.length} keys, ${mismatches} mismatches; kafkajs ${theirs.toFixed(0)} ms, Math.imul ${ours.toFixed(0)} ms\n`)
process.exitCode = mismatches === 0 ? 0 : 1

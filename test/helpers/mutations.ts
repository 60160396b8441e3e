import type { Test } from 'tap'
import { SensorEvent } from '../../schemas/event.js'
import type { Decoded, DecodeContext, Decoder } from '../../services/collector/decode/decoded.js'

/** Characters that break JSON records in interesting ways. */
export const JSON_JUNK = [
  '"',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '\\',
  '0',
  '-',
  'e',
  ' ',
  'null',
  '1e999',
  '"__proto__"',
  '\u0000',
  '😀',
]

/** The context mutated lines are decoded with: the default limits, a sensor in Almaty, a fixed arrival. */
const CONTEXT: DecodeContext = {
  maxDepth: 32,
  receivedAt: new Date('2024-03-14T05:00:00.000Z'),
  timeZone: 'Asia/Almaty',
}

/**
 * 3,000 seeded mutations of real lines (cut short, or a junk piece spliced in): the decoder must
 * never throw, every event it makes must pass the schema, every reason must be short and non-empty.
 */
export function checkMutations(
  t: Test,
  decode: Decoder,
  lines: readonly string[],
  junk: readonly string[],
  seed: number,
): void {
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  let events = 0
  for (let round = 0; round < 3000; round++) {
    const line = lines[random(lines.length)] ?? ''
    const at = random(line.length + 1)
    const mutated =
      random(2) === 0
        ? line.slice(0, at)
        : line.slice(0, at) + (junk[random(junk.length)] ?? '') + line.slice(at + random(4))
    let decoded: Decoded
    try {
      decoded = decode(mutated, CONTEXT)
    } catch (err) {
      t.fail(`threw on ${JSON.stringify(mutated.slice(0, 200))}: ${String(err)}`)
      continue
    }
    if (decoded.kind === 'event') {
      events++
      if (!SensorEvent.safeParse(decoded.event).success)
        t.fail(`a bad event from ${JSON.stringify(mutated.slice(0, 200))}`)
    } else if (decoded.reason === '' || decoded.reason.length > 600) {
      t.fail(`a bad reason from ${JSON.stringify(mutated.slice(0, 200))}`)
    }
  }
  t.ok(events > 0, 'some mutations still decode')
}

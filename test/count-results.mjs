// Counts the assertions of a TAP stream as "N passed, N failed". A subtest's own closing line is
// not an assertion: it is the test point at the indentation where its "# Subtest:" header stood.
// A subtest that failed without a failing assertion of its own (a crash, a timeout) counts as one failure.
import { readFileSync } from 'node:fs'

const lines = readFileSync(process.argv[2] ?? '/dev/stdin', 'utf8').split('\n')
const openSubtests = []
let passed = 0
let failed = 0
for (const line of lines) {
  const indent = line.length - line.trimStart().length
  const text = line.trimStart()
  if (text.startsWith('# Subtest')) {
    openSubtests.push({ indent, failedBefore: failed })
    continue
  }
  const point = /^(not )?ok\b/.exec(text)
  if (point === null) continue
  if (openSubtests.at(-1)?.indent === indent) {
    const subtest = openSubtests.pop()
    if (point[1] !== undefined && failed === subtest.failedBefore) failed++
    continue
  }
  if (/#\s*(SKIP|TODO)\b/i.test(text)) continue
  if (point[1] === undefined) passed++
  else failed++
}
console.log(`${passed} passed, ${failed} failed`)

import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Test } from 'tap'
import { PROJECT_ROOT } from '../../services/paths.js'

/** The table every fault case adds its counts to; test/faults/run.sh starts it afresh and prints it. */
export const SUMMARY_FILE = join(PROJECT_ROOT, '.tap', 'faults-summary.md')

const HEADER = [
  '| case | events sent | acknowledged (2xx) | stored (ClickHouse) | rejected (topic) | answers | what happened |',
  '| --- | ---: | ---: | ---: | ---: | --- | --- |',
].join('\n')

export interface Row {
  case: string
  sent: number
  acknowledged: number
  stored: number
  rejected: number
  answers: ReadonlyMap<number, number> | string
  note: string
}

/** Adds a row to the summary table and prints it in the test's output. */
export function record(t: Test, row: Row): void {
  const answers =
    typeof row.answers === 'string'
      ? row.answers
      : [...row.answers]
          .sort(([a], [b]) => a - b)
          .map(([status, n]) => `${status === 0 ? 'no answer' : status} x${n}`)
          .join(', ')
  const cells = [row.case, row.sent, row.acknowledged, row.stored, row.rejected, answers, row.note]
  const line = `| ${cells.map((cell) => String(cell).replaceAll('|', '/').replaceAll('\n', ' ')).join(' | ')} |`
  if (!existsSync(SUMMARY_FILE)) {
    mkdirSync(dirname(SUMMARY_FILE), { recursive: true })
    writeFileSync(SUMMARY_FILE, `${HEADER}\n`)
  }
  appendFileSync(SUMMARY_FILE, `${line}\n`)
  t.comment(line)
}

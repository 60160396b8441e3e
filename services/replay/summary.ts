import { UNREADABLE, type Unreadable } from './read-rejected.js'

/** How many reasons (and sensors) are counted apart; the rest are counted together, so memory stays bounded. */
const MAX_KEYS = 10_000
const TOP = 10

/** What a replay did with the records it read, as printed at the end (and as JSON with --json). */
export interface ReplaySummary {
  readonly dryRun: boolean
  /** Whether events_raw was asked which events it already holds (not with --no-check-stored). */
  readonly storedChecked: boolean
  /** Messages read from the rejected topic. */
  readonly read: number
  /** Messages that were no rejection record at all, skipped: by kind. */
  readonly unreadable: { readonly total: number } & Readonly<Record<Unreadable, number>>
  /** Rejection records the filters took. */
  readonly matched: number
  /** Records the current decoders accept: produced to the events topic (in a dry run, that would be). */
  readonly replayed: number
  /** Records the current decoders accept whose event events_raw already holds: left out. */
  readonly alreadyStored: number
  /** Records the current decoders read as traffic that is not an attack: dropped, as the collector does. */
  readonly notAttacks: number
  /** Records still refused, with the most common reasons now given. */
  readonly stillRejected: { readonly total: number; readonly reasons: readonly { reason: string; count: number }[] }
  /** Records whose raw text was cut short: not replayable from the topic. */
  readonly cut: number
  /** Records of a sensor that is not (or no longer) in the registry. */
  readonly unknownSensor: { readonly total: number; readonly sensors: readonly { sensor: string; count: number }[] }
}

/** Counts by key, at most MAX_KEYS keys apart. */
class Counts {
  private readonly counts = new Map<string, number>()
  private others = 0

  add(key: string): void {
    const count = this.counts.get(key)
    if (count !== undefined) this.counts.set(key, count + 1)
    else if (this.counts.size < MAX_KEYS) this.counts.set(key, 1)
    else this.others++
  }

  top(n: number, otherKey: string): { key: string; count: number }[] {
    const top = [...this.counts]
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
      .slice(0, n)
      .map(([key, count]) => ({ key, count }))
    return this.others > 0 ? [...top, { key: otherKey, count: this.others }] : top
  }
}

/** The running counts of one replay. */
export class Tally {
  read = 0
  matched = 0
  replayed = 0
  alreadyStored = 0
  notAttacks = 0
  stillRejected = 0
  cut = 0
  unknownSensor = 0
  private readonly unreadable = Object.fromEntries(UNREADABLE.map((kind) => [kind, 0])) as Record<Unreadable, number>
  private readonly reasons = new Counts()
  private readonly sensors = new Counts()

  constructor(
    private readonly dryRun: boolean,
    private readonly storedChecked: boolean,
  ) {}

  /** Counts one more unreadable message; returns how many there were so far. */
  addUnreadable(kind: Unreadable): number {
    this.unreadable[kind]++
    return Object.values(this.unreadable).reduce((sum, count) => sum + count, 0)
  }

  addRejected(reason: string): void {
    this.stillRejected++
    this.reasons.add(reason)
  }

  addUnknownSensor(sensor: string | undefined): void {
    this.unknownSensor++
    this.sensors.add(sensor ?? '(none)')
  }

  summary(): ReplaySummary {
    const unreadable = Object.values(this.unreadable).reduce((sum, count) => sum + count, 0)
    return {
      dryRun: this.dryRun,
      storedChecked: this.storedChecked,
      read: this.read,
      unreadable: { total: unreadable, ...this.unreadable },
      matched: this.matched,
      replayed: this.replayed,
      alreadyStored: this.alreadyStored,
      notAttacks: this.notAttacks,
      stillRejected: {
        total: this.stillRejected,
        reasons: this.reasons.top(TOP, '(other reasons)').map(({ key, count }) => ({ reason: key, count })),
      },
      cut: this.cut,
      unknownSensor: {
        total: this.unknownSensor,
        sensors: this.sensors.top(TOP, '(other sensors)').map(({ key, count }) => ({ sensor: key, count })),
      },
    }
  }
}

/** The summary for a person: one line per count, the reasons and sensors under theirs. */
export function formatSummary(summary: ReplaySummary): string {
  const { unreadable } = summary
  const kinds = UNREADABLE.filter((kind) => unreadable[kind] > 0).map((kind) => `${unreadable[kind]} ${kind}`)
  const line = (label: string, count: number, note = '') => `  ${label.padEnd(22)} ${String(count).padStart(9)}${note}`
  const lines = [
    `replay-rejected: ${summary.dryRun ? 'dry run, nothing was produced' : 'done'}`,
    line('read', summary.read),
    line('unreadable, skipped', unreadable.total, kinds.length > 0 ? `  (${kinds.join(', ')})` : ''),
    line('matched the filters', summary.matched),
    line(summary.dryRun ? 'would be replayed' : 'replayed as events', summary.replayed),
    line('already stored', summary.alreadyStored, summary.storedChecked ? '' : '  (not checked: --no-check-stored)'),
    line('not attacks, dropped', summary.notAttacks),
    line('still rejected', summary.stillRejected.total),
    ...summary.stillRejected.reasons.map(({ reason, count }) => `    ${String(count).padStart(9)}  ${oneLine(reason)}`),
    line('cut, not replayable', summary.cut),
    line('unknown sensor', summary.unknownSensor.total),
    ...summary.unknownSensor.sensors.map(({ sensor, count }) => `    ${String(count).padStart(9)}  ${oneLine(sensor)}`),
  ]
  return `${lines.join('\n')}\n`
}

/** Text from the topic on one line of a terminal: control characters shown escaped, long text cut. */
function oneLine(text: string): string {
  const flat = JSON.stringify(text).slice(1, -1)
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat
}

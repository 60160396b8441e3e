/**
 * Memory per remembered event id of the worker's copy detection, against the raw key it stands for
 * (a 16-byte sensor id and a 16-byte UUID: 32 bytes). Each representation is filled in a process of
 * its own, seeded, and measured after a full garbage collection as heap plus array buffers.
 *
 *   npx tsc -p bench/tsconfig.json && node --expose-gc dist/bench/dedup-memory.js
 *
 * Representations: `map` is a Map from `sensor:uuid` strings to the time first seen (the simple
 * way); `strings` is what the worker kept before (a Map of the strings to their slot in a ring
 * array of them); `window` is services/worker/recent-ids.ts (64-bit keys in typed-array slices).
 * Also the CPU time of a lookup of an absent key (every new event makes one) and of a present one.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { copyKey } from '../services/worker/copy-key.js'
import { RecentIds } from '../services/worker/recent-ids.js'

const KINDS = ['map', 'strings', 'window'] as const
type Kind = (typeof KINDS)[number]
const SIZES = [1_000_000, 5_000_000]
const SENSORS = 500
const RAW_KEY_BYTES = 32

interface Measure {
  readonly kind: Kind
  readonly entries: number
  readonly bytesPerEntry: number
  readonly missNs: number
  readonly hitNs: number
}

/** A seeded stream of (sensor, uuid) pairs: sensor ids of 16 characters, random version-4 UUIDs. */
function pairs(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state
  }
  const hex = (n: number) => n.toString(16).padStart(8, '0')
  const sensors = Array.from({ length: SENSORS }, (_, i) => `kz-ids-${String(i).padStart(9, '0')}`)
  return () => {
    const a = hex(next())
    const b = hex(next())
    const c = hex(next())
    const d = hex(next())
    // Flat strings, as JSON.parse gives the worker: a string built from slices would keep them alive.
    const uuid = JSON.parse(`"${a}-${b.slice(0, 4)}-4${b.slice(5)}-a${c.slice(1, 4)}-${c.slice(4)}${d}"`) as string
    return { sensor: sensors[next() % SENSORS] as string, uuid }
  }
}

function usedBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  gc()
  gc()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

function measure(kind: Kind, entries: number): Measure {
  const next = pairs(7)
  const before = usedBytes()
  let has: (sensor: string, uuid: string) => boolean
  let keep: unknown
  if (kind === 'map') {
    const map = new Map<string, number>()
    const now = Date.now()
    for (let i = 0; i < entries; i++) {
      const { sensor, uuid } = next()
      map.set(`${sensor}:${uuid}`, now + i)
    }
    has = (sensor, uuid) => map.has(`${sensor}:${uuid}`)
    keep = map
  } else if (kind === 'strings') {
    const ids = new Map<string, number>()
    const ring = new Array<string | undefined>(entries)
    for (let i = 0; i < entries; i++) {
      const { sensor, uuid } = next()
      const id = `${sensor}:${uuid}`
      ring[i] = id
      ids.set(id, i)
    }
    has = (sensor, uuid) => ids.has(`${sensor}:${uuid}`)
    keep = [ids, ring]
  } else {
    // Sized as the worker sizes it: the whole fill within one window, the cap above it.
    const window = new RecentIds({ windowMs: 600_000, maxEntries: entries * 2 }, 0)
    for (let i = 0; i < entries; i++) {
      const { sensor, uuid } = next()
      // Spread over the window's first 9 minutes, as a steady rate would.
      window.add(copyKey(sensor, uuid), Math.floor((i / entries) * 540_000))
    }
    has = (sensor, uuid) => window.has(copyKey(sensor, uuid))
    keep = window
  }
  const after = usedBytes()

  const probes = 200_000
  const absent = pairs(99)
  const misses = Array.from({ length: probes }, () => absent())
  const present = pairs(7)
  const hits = Array.from({ length: probes }, () => present())
  // CPU time rather than elapsed: steadier on a machine shared with other work.
  const time = (list: { sensor: string; uuid: string }[], expected: boolean) => {
    const started = process.cpuUsage()
    let found = 0
    for (const { sensor, uuid } of list) if (has(sensor, uuid)) found++
    const spent = process.cpuUsage(started)
    const ns = ((spent.user + spent.system) * 1000) / list.length
    if (found !== (expected ? list.length : 0)) throw new Error(`${kind}: ${found} of ${list.length} found`)
    return ns
  }
  time(misses.slice(0, 10_000), false)
  const missNs = time(misses, false)
  const hitNs = time(hits, true)
  if (keep === undefined) throw new Error('nothing kept')
  return { kind, entries, bytesPerEntry: (after - before) / entries, missNs, hitNs }
}

const [kindArg, sizeArg] = process.argv.slice(2)
if (kindArg !== undefined) {
  process.stdout.write(JSON.stringify(measure(kindArg as Kind, Number(sizeArg))))
} else {
  const self = fileURLToPath(import.meta.url)
  console.log(
    `| representation | entries | bytes per entry | ÷ raw ${RAW_KEY_BYTES} B key | CPU per lookup, absent | present |`,
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const kind of KINDS) {
    for (const size of SIZES) {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', '--max-old-space-size=8192', self, kind, String(size)],
        {
          encoding: 'utf8',
        },
      )
      const m = JSON.parse(out) as Measure
      console.log(
        `| ${m.kind} | ${m.entries.toLocaleString('en')} | ${m.bytesPerEntry.toFixed(1)} | ${(m.bytesPerEntry / RAW_KEY_BYTES).toFixed(2)}× | ${m.missNs.toFixed(0)} ns | ${m.hitNs.toFixed(0)} ns |`,
      )
    }
  }
}

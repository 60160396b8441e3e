import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { PROJECT_ROOT } from '../../services/paths.js'
import { freePort } from '../helpers/free-port.js'
import { readTopic } from '../helpers/kafka.js'
import { kafkaBrokers, TOKENS, TOKENS_FILE } from '../helpers/stack.js'

// One collector as production runs it on a machine of its own: several processes sharing a port.
const MAIN = join(PROJECT_ROOT, 'dist', 'services', 'main.js')

interface Collector {
  readonly child: ChildProcess
  readonly url: string
  readonly ops: string
  readonly topic: string
  log: string
  exited: Promise<number | null>
}

async function startCollector(settings: Record<string, string>, at?: number): Promise<Collector> {
  const [port, opsPort] = [at ?? (await freePort()), await freePort()]
  const topic = `qalqan.test.processes.${randomBytes(4).toString('hex')}`
  const child = spawn(process.execPath, [MAIN, '--role=collector'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      QALQAN_KAFKA_BROKERS: kafkaBrokers(),
      QALQAN_KAFKA_TOPIC_EVENTS: topic,
      QALQAN_KAFKA_TOPIC_REJECTED: `${topic}.rejected`,
      QALQAN_TOKENS_FILE: TOKENS_FILE,
      QALQAN_COLLECTOR_PORT: String(port),
      QALQAN_OPS_PORT: String(opsPort),
      QALQAN_LOG_LEVEL: 'info',
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const collector: Collector = {
    child,
    url: `http://127.0.0.1:${port}`,
    ops: `http://127.0.0.1:${opsPort}`,
    topic,
    log: '',
    // 'close': after the last output too, so the log is whole when the test reads it.
    exited: new Promise((resolve) => child.once('close', (code) => resolve(code))),
  }
  child.stdout?.on('data', (chunk: Buffer) => (collector.log += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (collector.log += chunk.toString('utf8')))
  return collector
}

/** The collector processes under the primary, from the kernel's list of its children. */
function childrenOf(pid: number): number[] {
  let out = ''
  try {
    out = execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' })
  } catch {
    // ps exits 1 when the process has no children (yet).
  }
  return out
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((n) => n > 0)
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}`)
}

const ready = (c: Collector) =>
  until('the collector to be ready', async () => {
    const answer = await fetch(`${c.url}/readyz`).catch(() => undefined)
    return answer?.status === 200 ? true : undefined
  })

function post(c: Collector, signature: string): Promise<Response> {
  return fetch(`${c.url}/v1/events`, {
    method: 'POST',
    // A connection of its own: one kept alive may belong to the process that was killed.
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({
      occurred_at: new Date().toISOString(),
      category: 'scan',
      severity: 2,
      signature,
      src_ip: '203.0.113.9',
    }),
  })
}

async function metric(c: Collector, series: string): Promise<number> {
  const text = await (await fetch(`${c.ops}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

t.test('two processes share the port; /metrics counts both; a dead one is replaced; SIGTERM stops all', async (t) => {
  const c = await startCollector({ QALQAN_COLLECTOR_PROCESSES: '2' })
  t.teardown(() => void c.child.kill('SIGKILL'))
  await ready(c)
  const pid = c.child.pid ?? 0
  const first = childrenOf(pid)
  t.equal(first.length, 2, 'the primary started two collector processes')

  // Fresh connections each time (no keep-alive), so node:cluster hands them to both processes.
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      fetch(`${c.url}/v1/events`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKENS.astana}`,
          'content-type': 'application/json',
          connection: 'close',
        },
        body: JSON.stringify({
          occurred_at: new Date().toISOString(),
          category: 'scan',
          severity: 2,
          signature: `shared-${i}`,
          src_ip: '203.0.113.9',
        }),
      }),
    ),
  )
  t.same(new Set(answers.map((a) => a.status)), new Set([202]), 'every request acknowledged')
  // Each scrape is served by one process, and says what both did.
  for (let i = 0; i < 4; i++) {
    t.equal(await metric(c, 'qalqan_events_sent_total{stage="kafka"}'), 40, `scrape ${i + 1}: all 40 events counted`)
  }
  const stored = await readTopic(c.topic, 40)
  t.equal(stored.length, 40, 'all 40 events are in the topic')
  t.match(
    await (await fetch(`${c.ops}/metrics`)).text(),
    /qalqan_sensor_last_seen_seconds\{sensor="test-ids-astana"\} \d{10}\n/,
    'a gauge of the latest time is not summed',
  )

  // One process dies: its connections are reset (a sensor sends again), the primary starts another,
  // and new connections go to the process still alive meanwhile.
  process.kill(first[0] ?? 0, 'SIGKILL')
  await until('the primary to see the death', () =>
    /a collector process ended; starting another/.test(c.log) ? true : undefined,
  )
  t.equal((await post(c, 'while one was down')).status, 202, 'the other process answered meanwhile')
  const replaced = await until('a new collector process', () => {
    const now = childrenOf(pid)
    return now.length === 2 && !now.includes(first[0] ?? 0) ? now : undefined
  })
  t.notOk(replaced.includes(first[0] ?? 0), 'the dead process was replaced')
  await until('the new process to serve', () =>
    (c.log.match(/"msg":"qalqan started"/g) ?? []).length === 3 ? true : undefined,
  )
  t.equal((await post(c, 'after')).status, 202)

  // Twice, as a supervisor that signals the whole group does: the processes still finish their work.
  c.child.kill('SIGTERM')
  c.child.kill('SIGTERM')
  t.equal(await c.exited, 0, 'SIGTERM: the primary exited 0 once its processes stopped')
  t.same(
    replaced.filter((child) => {
      try {
        process.kill(child, 0)
        return true
      } catch {
        return false
      }
    }),
    [],
    'no collector process is left behind',
  )
  t.equal((c.log.match(/"msg":"stopped"/g) ?? []).length, 2, 'each process finished its work and said so', {
    log: c.log.slice(-3000),
  })
})

t.test('a second SIGTERM while a process still finishes a request: the primary waits for it', async (t) => {
  const c = await startCollector({ QALQAN_COLLECTOR_PROCESSES: '2' })
  t.teardown(() => void c.child.kill('SIGKILL'))
  await ready(c)
  // A request whose body arrives in two parts, the second only after both signals.
  const body = JSON.stringify({
    occurred_at: new Date().toISOString(),
    category: 'scan',
    severity: 2,
    signature: 'finished while stopping',
    src_ip: '203.0.113.9',
  })
  const socket = netConnect(Number(new URL(c.url).port), '127.0.0.1')
  socket.on('error', () => undefined)
  let answer = ''
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')))
  await once(socket, 'connect')
  socket.write(
    `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.astana}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
  )
  await sleep(300)
  c.child.kill('SIGTERM')
  await sleep(500)
  c.child.kill('SIGTERM')
  await sleep(300)
  socket.write(body.slice(10))
  t.equal(await c.exited, 0, 'the primary ended by itself, after its processes, not by the second signal')
  t.match(answer, /^HTTP\/1\.1 202/, 'the request begun before the signals was answered')
  t.equal((c.log.match(/"msg":"stopped"/g) ?? []).length, 2, 'both processes stopped by themselves')
  socket.destroy()
})

t.test('SIGHUP while the processes start: they read the registries anyway, and none dies of it', async (t) => {
  const c = await startCollector({ QALQAN_COLLECTOR_PROCESSES: '2' })
  t.teardown(() => void c.child.kill('SIGKILL'))
  await until('the primary to start its processes', () =>
    childrenOf(c.child.pid ?? 0).length === 2 ? true : undefined,
  )
  c.child.kill('SIGHUP')
  await ready(c)
  await until('both to serve', () => ((c.log.match(/"msg":"qalqan started"/g) ?? []).length === 2 ? true : undefined))
  t.notMatch(c.log, /could not start|ended; starting another/, 'no process died')
  c.child.kill('SIGHUP')
  await until('both to reload', () =>
    (c.log.match(/SIGHUP: reloading the registries/g) ?? []).length === 2 ? true : undefined,
  )
  t.pass('a SIGHUP once they serve reaches both')
  c.child.kill('SIGTERM')
  t.equal(await c.exited, 0)
})

t.test('a collector that cannot start ends with 1, as a single process would', async (t) => {
  // Its port is taken by another program.
  const taken = createServer().listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => void taken.close())
  const address = taken.address()
  const c = await startCollector(
    { QALQAN_COLLECTOR_PROCESSES: '2' },
    typeof address === 'object' && address !== null ? address.port : 0,
  )
  t.teardown(() => void c.child.kill('SIGKILL'))
  t.equal(await c.exited, 1, 'the primary exited 1')
  t.match(c.log, /a collector process could not start; stopping the others/)
})

t.test('several processes need the collector role alone', async (t) => {
  const child = spawn(process.execPath, [MAIN, '--check-config'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      QALQAN_ROLE: 'all',
      QALQAN_COLLECTOR_PROCESSES: '2',
      QALQAN_TOKENS_FILE: TOKENS_FILE,
    },
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const code = await new Promise((resolve) => child.once('exit', resolve))
  t.equal(code, 1)
  t.match(stderr, /QALQAN_COLLECTOR_PROCESSES=2 needs the collector role alone \(--role=collector\)/)
})

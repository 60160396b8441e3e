import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { CanonicalEvent } from '../../schemas/event.js'
import { type Config, loadConfig } from '../../services/config.js'
import { QalqanError } from '../../services/errors.js'
import { connectKafka } from '../../services/kafka/index.js'
import { createLogger } from '../../services/logger.js'
import { Metrics } from '../../services/metrics.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { makeEvents } from '../helpers/events.js'
import { TOKENS_FILE } from '../helpers/stack.js'
import { freePort } from '../helpers/free-port.js'

// One broker whose client port speaks SASL_SSL, started by kafka.sh as a developer would, for every test here.
t.setTimeout(240_000)
const SCRIPT = join(PROJECT_ROOT, 'deploy', 'kafka', 'kafka.sh')
const dir = mkdtempSync(join(tmpdir(), 'qalqan-secure-kafka-'))
const env = {
  ...process.env,
  LOCAL_KAFKA_DIR: dir,
  LOCAL_KAFKA_PORT: String(await freePort()),
  LOCAL_KAFKA_CONTROLLER_PORT: String(await freePort()),
}
const started = spawnSync('bash', [SCRIPT, 'start-secure'], { env, encoding: 'utf8' })
t.teardown(() => {
  spawnSync('bash', [SCRIPT, 'stop'], { env, encoding: 'utf8' })
})
if (started.status !== 0) throw new Error(`kafka.sh start-secure failed: ${started.stderr}`)

const brokers = `127.0.0.1:${env.LOCAL_KAFKA_PORT}`
const CA = join(dir, 'tls', 'ca.pem')
const PASSWORD_FILE = join(dir, 'sasl', 'qalqan.password')
const password = readFileSync(PASSWORD_FILE, 'utf8').trim()

function secureSettings(settings: Record<string, string> = {}): Record<string, string> {
  const id = Math.random().toString(36).slice(2, 10)
  return {
    QALQAN_ROLE: 'collector',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_KAFKA_BROKERS: brokers,
    QALQAN_KAFKA_TOPIC_EVENTS: `secure.${id}.events`,
    QALQAN_KAFKA_TOPIC_REJECTED: `secure.${id}.rejected`,
    QALQAN_KAFKA_TOPIC_PARTITIONS: '2',
    QALQAN_WORKER_GROUP: `secure-${id}`,
    QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    QALQAN_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    QALQAN_KAFKA_SASL_USERNAME: 'qalqan',
    QALQAN_KAFKA_SASL_PASSWORD_FILE: PASSWORD_FILE,
    QALQAN_KAFKA_CA_FILE: CA,
    ...settings,
  }
}

/** A logger whose lines are kept, to count what a failure logs. */
function capturingLogger() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').trim().split('\n'))
      done()
    },
  })
  return { logger: createLogger('info', destination), lines }
}

/** Sends events through the wing's producer and reads them back through its group consumer. */
async function roundTrip(config: Config, events: CanonicalEvent[]): Promise<string[]> {
  const { logger } = capturingLogger()
  const kafka = connectKafka(config, logger)
  await kafka.ensureTopics()
  const producer = kafka.producer(new Metrics())
  await producer.start()
  await producer.send(events, [])
  await producer.close()
  const consumer = kafka.consumer(logger, new Metrics())
  const seen: string[] = []
  await new Promise<void>((resolve, reject) => {
    consumer
      .start(async (batch) => {
        // A message of the events topic holds one or more events, a line each.
        for (const message of batch.messages) {
          for (const line of (message.value?.toString('utf8') ?? '{}').split('\n'))
            seen.push((JSON.parse(line) as CanonicalEvent).event_id)
        }
        if (seen.length >= events.length) resolve()
        return batch.lastOffset
      })
      .catch(reject)
  })
  await consumer.close()
  return seen.sort()
}

t.test('the right password over SASL_SSL: events go in and come back out, with each mechanism', async (t) => {
  for (const mechanism of ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN']) {
    const config = loadConfig(secureSettings({ QALQAN_KAFKA_SASL_MECHANISM: mechanism }))
    t.equal(config.kafka.sasl?.password, password, 'the password is read from its file, without the newline')
    const events = makeEvents(20, 7)
    t.same(await roundTrip(config, events), events.map((e) => e.event_id).sort(), mechanism)
  }
})

t.test('mutual TLS: a client certificate signed by the CA is taken with SASL', async (t) => {
  const config = loadConfig(
    secureSettings({
      QALQAN_KAFKA_CERT_FILE: join(dir, 'tls', 'client.pem'),
      QALQAN_KAFKA_KEY_FILE: join(dir, 'tls', 'client.key'),
    }),
  )
  const events = makeEvents(5, 11)
  t.same(await roundTrip(config, events), events.map((e) => e.event_id).sort())
})

t.test('the topic reader of the replay tool connects the same way', async (t) => {
  const config = loadConfig(secureSettings())
  const kafka = connectKafka(config, createLogger('silent'))
  await kafka.ensureTopics()
  const producer = kafka.producer()
  await producer.start()
  await producer.send(makeEvents(3, 5), [])
  await producer.close()
  let events = 0
  const read = await kafka.reader().read(config.kafka.topics.events, async (messages) => {
    for (const message of messages) events += (message.value?.toString('utf8') ?? '').split('\n').length
  })
  t.equal(events, 3)
  t.ok(read.messages >= 1 && read.messages <= 3, `${read.messages} messages`)
})

t.test('a wrong password is refused at the first attempt, naming the settings', async (t) => {
  const wrong = join(mkdtempSync(join(tmpdir(), 'qalqan-secret-')), 'password')
  writeFileSync(wrong, 'not-the-password\n')
  for (const mechanism of ['SCRAM-SHA-512', 'PLAIN']) {
    const config = loadConfig(
      secureSettings({ QALQAN_KAFKA_SASL_MECHANISM: mechanism, QALQAN_KAFKA_SASL_PASSWORD_FILE: wrong }),
    )
    const { logger, lines } = capturingLogger()
    const err = await connectKafka(config, logger)
      .ensureTopics()
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    t.type(err, QalqanError, mechanism)
    t.equal((err as QalqanError).code, 'QLQ_ERR_KAFKA_AUTH_FAILED')
    t.match((err as Error).message, /QALQAN_KAFKA_SASL_PASSWORD_FILE/)
    t.match((err as Error).message, `user "qalqan"`)
    t.notMatch((err as Error).message, 'not-the-password', 'the password is not in the message')
    t.notMatch(lines.join('\n'), 'not-the-password', 'nor in the log')
    // kafkajs does not retry a refused login: one attempt; a retry loop would log an answer per attempt.
    t.equal(lines.filter((line) => line.includes('Response SaslAuthenticate')).length, 1, 'one attempt')
  }
})

t.test('a CA that did not sign the broker certificate: the handshake fails naming QALQAN_KAFKA_CA_FILE', async (t) => {
  // The client certificate is no CA: nothing the broker sends chains up to it.
  const config = loadConfig(secureSettings({ QALQAN_KAFKA_CA_FILE: join(dir, 'tls', 'client.pem') }))
  const err = await connectKafka(config, createLogger('silent'))
    .ensureTopics()
    .then(
      () => undefined,
      (e: unknown) => e,
    )
  t.equal((err as QalqanError).code, 'QLQ_ERR_KAFKA_TLS_FAILED')
  t.match((err as Error).message, /TLS handshake with Kafka .* failed .*QALQAN_KAFKA_CA_FILE/)
})

t.test('the collector with a wrong password stops at start with the code, not a loop of reconnects', async (t) => {
  const wrong = join(mkdtempSync(join(tmpdir(), 'qalqan-secret-')), 'password')
  writeFileSync(wrong, 'not-the-password\n')
  const clean: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('QALQAN_')) clean[key] = value
  const child = spawn(process.execPath, [...process.execArgv, 'services/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...clean, ...secureSettings({ QALQAN_KAFKA_SASL_PASSWORD_FILE: wrong, QALQAN_COLLECTOR_PORT: '0' }) },
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 1)
  t.match(output, /cannot start: Kafka at .* refused the SCRAM-SHA-512 login of user \\"qalqan\\"/)
  t.match(output, /"code":"QLQ_ERR_KAFKA_AUTH_FAILED"/)
  t.notMatch(output, 'not-the-password')
  // One attempt per collector process (one per core when the collector runs alone), never a loop.
  const attempts = output.split('Response SaslAuthenticate').length - 1
  t.ok(attempts >= 1 && attempts <= availableParallelism(), `${attempts} attempts`)
})

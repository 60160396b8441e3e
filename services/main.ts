#!/usr/bin/env node
import cluster from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { runCollectorProcesses, STARTED } from './collector/processes.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { QalqanError } from './errors.js'
import { createLogger } from './logger.js'
import { hashToken } from './http/tokens.js'
import { replayRejected } from './replay/replay-rejected.js'
import { ROLES, type Running, startRoles } from './roles.js'
import { exitWhenStopped, untilStopped } from './shutdown.js'

/** How long a stopped process may take to end by itself before it is ended. */
const STOPPED_GRACE_MS = 1_000

const USAGE = `usage: qalqan [--role=all|collector,worker,query] [--check-config]
       qalqan token        print a new random token and the SHA-256 to put in the token registry
       qalqan replay-rejected [--dry-run] [--sensor=...] ...
                           replay the rejected topic through the current decoders (--help for its options)

Roles:
${Object.entries(ROLES)
  .map(([name, role]) => `  ${name.padEnd(10)} ${role.description}`)
  .join('\n')}

Settings come from QALQAN_* environment variables and the optional JSON file named by
QALQAN_CONFIG_FILE; README.md lists them all.`

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'replay-rejected') return replayRejected(argv.slice(1), { ...process.env })
  const flags = new Map<string, string>()
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (arg === 'token') flags.set('token', '')
    else if (match?.[1] !== undefined) flags.set(match[1], match[2] ?? '')
    else return usage(`unexpected argument "${arg}"`)
  }
  for (const name of flags.keys()) {
    if (!['role', 'check-config', 'help', 'token'].includes(name)) return usage(`unknown option --${name}`)
  }
  if (flags.has('help')) return usage()
  if (flags.has('token')) {
    const token = randomBytes(24).toString('base64url')
    process.stdout.write(`token:        ${token}\ntoken_sha256: ${hashToken(token)}\n`)
    return 0
  }

  const env = { ...process.env }
  if (flags.has('role')) env['QALQAN_ROLE'] = flags.get('role')
  let config: Config
  try {
    config = loadConfig(env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`qalqan: ${err.message}\n`)
    return 1
  }
  if (flags.has('check-config')) {
    process.stdout.write(`qalqan: configuration is valid (roles: ${config.roles.join(', ')})\n`)
    return 0
  }

  const logger = createLogger(config.logLevel)
  if (config.collector.processes > 1 && cluster.isPrimary) return runCollectorProcesses(config, logger)
  let running: Running
  try {
    running = await startRoles(config, logger)
  } catch (err) {
    logger.fatal({ err }, startupHint(err, config))
    return 1
  }
  logger.info({ roles: config.roles }, 'qalqan started')
  if (cluster.isWorker) process.send?.({ type: STARTED })

  await untilStopped(running, logger)
  logger.info('stopped')
  exitWhenStopped(0, logger, STOPPED_GRACE_MS)
  return 0
}

function startupHint(err: unknown, config: Config): string {
  if (err instanceof QalqanError) return `cannot start: ${err.message}`
  const name = (err as Error | undefined)?.name ?? ''
  if (name.startsWith('KafkaJS')) {
    return `cannot start: Kafka at ${config.kafka.brokers.join(',')} did not answer (${(err as Error).message}); is it running? Locally: npm run kafka start`
  }
  return `cannot start: ${(err as Error | undefined)?.message ?? String(err)}`
}

function usage(problem?: string): number {
  if (problem !== undefined) process.stderr.write(`qalqan: ${problem}\n\n`)
  ;(problem === undefined ? process.stdout : process.stderr).write(`${USAGE}\n`)
  return problem === undefined ? 0 : 2
}

process.exitCode = await main(process.argv.slice(2))
// One of several collector processes: the channel to the primary would hold the ended process open,
// and closing it ends the process with 0, so a failure exits by itself with its code.
if (cluster.isWorker) {
  if (process.exitCode === 0) process.disconnect?.()
  else process.exit(process.exitCode)
}

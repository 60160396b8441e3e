import t from 'tap'
import { spawn } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { PROJECT_ROOT } from '../../services/paths.js'

// The stop as main runs it, in a process of its own: SIGTERM, the roles close, "stopped", and then
// the process must end, whatever a client library left open.

const shutdown = pathToFileURL(`${PROJECT_ROOT}/services/shutdown.ts`).href
const logger = pathToFileURL(`${PROJECT_ROOT}/services/logger.ts`).href

/** A process that runs until a signal with `leak` left open by its roles after they closed. */
function program(leak: string): string {
  return `
    const { exitWhenStopped, untilStopped } = await import(${JSON.stringify(shutdown)})
    const { createLogger } = await import(${JSON.stringify(logger)})
    const log = createLogger('info')
    let closed = false
    // The roles' work, which holds the event loop until they close.
    const work = setInterval(() => {}, 1000)
    const stop = untilStopped({ reload() {}, close: async () => { clearInterval(work); ${leak}; closed = true } }, log)
    process.stdout.write('waiting for a signal\\n')
    await stop
    log.info({ closed }, 'stopped')
    exitWhenStopped(0, log, 1000)
  `
}

async function stopped(leak: string) {
  // process.execArgv holds the TypeScript loader that runs this test.
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', program(leak)], {
    cwd: PROJECT_ROOT,
  })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.resume()
  // The loader compiles the sources first: the signal waits until the process has set its handlers.
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (!stdout.includes('waiting for a signal')) return
      clearInterval(poll)
      resolve()
    }, 20)
  })
  const sentAt = performance.now()
  child.kill('SIGTERM')
  const code = await new Promise<number | null | 'still running'>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve('still running')
    }, 10_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
  return { code, ms: performance.now() - sentAt, stdout }
}

t.test('a stopped process ends even when something still holds its event loop', async (t) => {
  const { code, ms, stdout } = await stopped('setInterval(() => {}, 1000); setTimeout(() => {}, 600_000)')
  t.equal(code, 0, 'it exits with 0 rather than staying alive')
  t.ok(ms < 5_000, `within the grace time after the stop (${Math.round(ms)} ms)`)
  t.match(stdout, /"closed":true,"msg":"stopped"/, 'after the roles closed')
  t.match(
    stdout,
    /"open":\[[^\]]*"Timeout"[^\]]*\],"graceMs":1000,"msg":"stopped, but still held open: exiting anyway"/,
  )
})

t.test('a stopped process with nothing left open ends at once, without waiting for the grace time', async (t) => {
  const { code, ms, stdout } = await stopped('')
  t.equal(code, 0)
  t.ok(ms < 900, `at once (${Math.round(ms)} ms)`)
  t.notMatch(stdout, /still held open/)
})

import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ERRORS, errorBody, QalqanError, type ErrorCode } from '../../services/errors.js'
import { PROJECT_ROOT } from '../../services/paths.js'

const CODES = Object.keys(ERRORS) as ErrorCode[]
const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'errors.md'), 'utf8')

/** The text of each `## CODE` section of docs/errors.md, by code. */
function sections(): Map<string, string> {
  const found = new Map<string, string>()
  const parts = doc.split(/^## /m).slice(1)
  for (const part of parts) {
    const [heading = '', ...body] = part.split('\n')
    if (/^QLQ_ERR_/.test(heading)) found.set(heading.trim(), body.join('\n'))
  }
  return found
}

/** Every TypeScript source file under services/. */
function sources(): { path: string; text: string }[] {
  const dir = join(PROJECT_ROOT, 'services')
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => ({ path: `services/${path}`, text: readFileSync(join(dir, path), 'utf8') }))
}

t.test('the catalogue: codes are QLQ_ERR_*, with an error status and a message', async (t) => {
  t.ok(CODES.length >= 10)
  for (const code of CODES) {
    const { status, retryable, message } = ERRORS[code]
    t.match(code, /^QLQ_ERR_[A-Z][A-Z0-9_]*[A-Z0-9]$/)
    t.ok(status >= 400 && status <= 599, `${code} status ${status}`)
    t.ok(message.length > 0, `${code} has a message`)
    t.type(retryable, 'boolean', `${code}: retryable is stated`)
  }
})

t.test('QalqanError takes status and retryable from the catalogue and keeps the cause', async (t) => {
  for (const code of CODES) {
    const err = new QalqanError(code)
    t.equal(err.status, ERRORS[code].status, code)
    t.equal(err.retryable, ERRORS[code].retryable, code)
    t.equal(err.message, ERRORS[code].message, code)
  }
  const cause = new Error('broker down')
  const err = new QalqanError('QLQ_ERR_KAFKA_UNAVAILABLE', 'detail', { cause })
  t.type(err, Error)
  t.equal(err.name, 'QalqanError')
  t.equal(err.message, 'detail')
  t.equal(err.cause, cause)
  t.same(errorBody(err), { error: 'QLQ_ERR_KAFKA_UNAVAILABLE', message: 'detail', retryable: true })
  t.notOk('cause' in errorBody(err), 'the cause is not sent to the client')
})

t.test('every code has a section in docs/errors.md with its status and retryability', async (t) => {
  const documented = sections()
  for (const code of CODES) {
    const section = documented.get(code)
    t.ok(section, `## ${code} is in docs/errors.md`)
    if (section === undefined) continue
    t.equal(/HTTP status: \*\*(\d{3})\*\*/.exec(section)?.[1], String(ERRORS[code].status), `${code}: status`)
    t.equal(
      /Retryable: \*\*(yes|no)\*\*/.exec(section)?.[1],
      ERRORS[code].retryable ? 'yes' : 'no',
      `${code}: retryable`,
    )
    t.match(section, /\*\*When\.\*\*/, `${code}: when it happens`)
    t.match(section, /\*\*What to do\.\*\*/, `${code}: what to do`)
  }
})

t.test('docs/errors.md names no code that does not exist, and lists each once', async (t) => {
  const named = new Set(doc.match(/QLQ_ERR_[A-Z0-9_]+/g) ?? [])
  t.ok(named.size > 0)
  for (const code of named) t.ok(code in ERRORS, `${code} is in ERRORS`)
  const headings = (doc.match(/^## QLQ_ERR_\S+/gm) ?? []).map((h) => h.slice(3))
  t.equal(new Set(headings).size, headings.length, 'no code has two sections')
  t.equal(headings.length, CODES.length, 'one section per code')
})

t.test('every code the sources use is in the catalogue', async (t) => {
  const files = sources()
  t.ok(
    files.some((file) => file.path === 'services/errors.ts'),
    'the sources are found',
  )
  let thrown = 0
  for (const { path, text } of files) {
    for (const match of text.matchAll(/new QalqanError\(\s*['"`]([A-Z0-9_]+)['"`]/g)) {
      thrown++
      t.ok(match[1] !== undefined && match[1] in ERRORS, `${path}: new QalqanError('${match[1]}')`)
    }
    for (const match of text.matchAll(/['"`](QLQ_ERR_[A-Z0-9_]*)['"`]/g)) {
      t.ok(match[1] !== undefined && match[1] in ERRORS, `${path}: '${match[1]}'`)
    }
  }
  t.ok(thrown >= 10, `found ${thrown} places that throw`)
})

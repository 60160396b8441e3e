import t, { type Test } from 'tap'
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { AssetRegistry } from '../../services/collector/enrich/assets.js'
import { QalqanError } from '../../services/errors.js'
import { createLogger } from '../../services/logger.js'
import { Reloadable } from '../../services/reloadable.js'

interface LogLine {
  level: number
  msg: string
  path?: string
  err?: { message: string; code?: string }
}

const WARN = 40
const INFO = 30

function registry(org: string): string {
  return JSON.stringify({ assets: [{ cidr: '198.51.100.0/24', org, sector: 'energy', region: 'KZ-23' }] })
}

/** A registry file in its own temporary folder, a logger that keeps its lines, and a Reloadable of them. */
function setup(t: Test, debounceMs = 50) {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-reloadable-'))
  const path = join(dir, 'assets.json')
  writeFileSync(path, registry('first'))
  const lines: LogLine[] = []
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) })
  const assets = new Reloadable({ path, load: (file) => AssetRegistry.fromFile(file), logger, debounceMs })
  t.teardown(() => {
    assets.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const org = (): string | undefined => assets.current().lookup('198.51.100.7')?.org
  return { dir, path, lines, assets, org }
}

/** Polls until `check` holds, failing after `timeoutMs`. */
async function until(t: Test, what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting: ${what}`)
      return
    }
    await sleep(20)
  }
  t.pass(what)
}

t.test('loads at start; a file that cannot be loaded at start throws', async (t) => {
  const { path, assets, org } = setup(t)
  t.equal(assets.path, path)
  t.equal(org(), 'first')
  t.equal(assets.lastError(), undefined)
  t.ok(assets.loadedAt().getTime() <= Date.now())

  const dir = mkdtempSync(join(tmpdir(), 'qalqan-reloadable-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const logger = createLogger('silent')
  writeFileSync(join(dir, 'bad.json'), '{"assets": [{"cidr": "198.51.100.1/24"}]}')
  t.throws(
    () => new Reloadable({ path: join(dir, 'bad.json'), load: (file) => AssetRegistry.fromFile(file), logger }),
    { code: 'QLQ_ERR_ASSETS_INVALID' },
  )
  t.throws(
    () => new Reloadable({ path: join(dir, 'absent.json'), load: (file) => AssetRegistry.fromFile(file), logger }),
    QalqanError,
  )
})

t.test('follows the file: changed, broken (previous kept), fixed again', async (t) => {
  const { path, lines, assets, org } = setup(t)
  const firstLoad = assets.loadedAt()

  writeFileSync(path, registry('second'))
  await until(t, 'the change is loaded', () => org() === 'second')
  t.equal(assets.lastError(), undefined)
  t.ok(assets.loadedAt() >= firstLoad)
  t.ok(
    lines.some((line) => line.level === INFO && line.path === path),
    'the reload is logged with the path',
  )

  writeFileSync(
    path,
    '{"assets": [{"cidr": "198.51.100.0/33", "org": "broken", "sector": "energy", "region": "KZ-23"}]}',
  )
  await until(t, 'the broken file is noticed', () => assets.lastError() !== undefined)
  t.equal(org(), 'second', 'the previous registry stays in use')
  t.match(
    assets.lastError(),
    /the asset registry .*assets\.json is invalid: assets\.0\.cidr: the prefix length "33" must be a whole number from 0 to 32/,
  )
  const warning = lines.find((line) => line.level === WARN)
  t.ok(warning, 'a warning is logged')
  t.equal(warning?.path, path)
  t.equal(warning?.err?.message, assets.lastError(), 'the warning says why')
  t.equal(warning?.err?.code, 'QLQ_ERR_ASSETS_INVALID')

  writeFileSync(path, 'not json at all')
  await until(t, 'a file that is not JSON is noticed', () => /as JSON/.test(assets.lastError() ?? ''))
  t.equal(org(), 'second')

  writeFileSync(path, registry('third'))
  await until(t, 'the fixed file is loaded', () => org() === 'third')
  t.equal(assets.lastError(), undefined, 'the error is cleared')
})

t.test('follows a file replaced by rename, as editors and ConfigMap volumes do', async (t) => {
  const { dir, path, assets, org } = setup(t)
  const temporary = join(dir, '.assets.json.swp')
  writeFileSync(temporary, registry('renamed into place'))
  renameSync(temporary, path)
  await until(t, 'the renamed file is loaded', () => org() === 'renamed into place')

  unlinkSync(path)
  await until(t, 'the missing file is noticed', () => /ENOENT/.test(assets.lastError() ?? ''))
  t.equal(org(), 'renamed into place', 'a deleted file keeps the previous registry')
  writeFileSync(path, registry('recreated'))
  await until(t, 'the recreated file is loaded', () => org() === 'recreated')
})

t.test('a burst of writes is read once, after it settles', async (t) => {
  const { path, lines, org } = setup(t, 200)
  for (let i = 0; i < 20; i++) writeFileSync(path, registry(`burst ${i}`))
  await until(t, 'the last write wins', () => org() === 'burst 19')
  await sleep(400)
  t.equal(lines.filter((line) => line.level === INFO).length, 1, 'one reload for the burst')
  t.equal(lines.filter((line) => line.level === WARN).length, 0, 'no half-written file was read')
})

t.test('a touch that does not change the bytes does not reload', async (t) => {
  const { dir, path, lines, assets } = setup(t)
  const before = assets.current()
  writeFileSync(path, registry('first'))
  writeFileSync(join(dir, 'unrelated.txt'), 'x')
  await sleep(300)
  t.equal(assets.current(), before)
  t.equal(lines.length, 0)
})

t.test('reload() loads now and says whether it could', async (t) => {
  const { path, assets, org } = setup(t)
  assets.close()
  writeFileSync(path, registry('by hand'))
  t.equal(org(), 'first', 'not watching after close')
  t.equal(assets.reload(), true)
  t.equal(org(), 'by hand')
  writeFileSync(path, '[]')
  t.equal(assets.reload(), false)
  t.equal(org(), 'by hand')
  t.match(assets.lastError(), /\(top\): .*expected object/)
  t.equal(assets.reload(), false, 'each attempt is made, even with the same bytes')
})

t.test('close() stops following the file and can be called again', async (t) => {
  const { path, lines, assets, org } = setup(t)
  assets.close()
  assets.close()
  writeFileSync(path, registry('after close'))
  await sleep(300)
  t.equal(org(), 'first')
  t.equal(lines.length, 0)
})

t.test('close() during a pending reload cancels it', async (t) => {
  const { path, assets, org } = setup(t, 200)
  writeFileSync(path, registry('pending'))
  await sleep(50)
  assets.close()
  await sleep(400)
  t.equal(org(), 'first')
})

t.test('a loader that throws something other than an Error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-reloadable-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'value.txt')
  writeFileSync(path, '1')
  let calls = 0
  const value = new Reloadable<number>({
    path,
    logger: createLogger('silent'),
    load: () => {
      calls++
      if (calls > 1) throw 'no'
      return calls
    },
  })
  t.teardown(() => value.close())
  t.equal(value.reload(), false)
  t.equal(value.lastError(), 'no')
  t.equal(value.current(), 1)
})

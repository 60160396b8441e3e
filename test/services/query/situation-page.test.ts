import { existsSync, mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import t from 'tap'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { openClickHouse } from '../../../services/clickhouse/index.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { PROJECT_ROOT } from '../../../services/paths.js'
import { buildQueryApi } from '../../../services/query/api.js'
import { REGION_NAMES } from '../../../services/query/page/names.js'
import { fixtureEvent } from '../../helpers/events.js'
import { testConfig, TOKENS } from '../../helpers/stack.js'

// The situation page in a real browser (Debian's Chromium, driven by playwright-core) against the
// query API over a socket and the embedded ClickHouse engine, with events inserted as the worker would.

// The callbacks given to page.evaluate run in the browser. The test program has no DOM library, so the
// browser's globals are declared here loosely; the assertions check what they return.
// biome-ignore lint/suspicious/noExplicitAny: browser objects, see above
type InBrowser = any
declare const document: InBrowser
declare const location: InBrowser
declare const sessionStorage: InBrowser
declare const localStorage: InBrowser
declare const getComputedStyle: InBrowser

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = join(PROJECT_ROOT, '.tap', 'situation-page.png')

if (!existsSync(CHROMIUM)) {
  t.fail(
    `${CHROMIUM} is missing, and the situation page's browser test needs it: install the Debian package with ` +
      '`apt-get install -y --no-install-recommends chromium` (npm test does so itself when run as root where apt-get is)',
  )
} else {
  await browserTests()
}

async function browserTests(): Promise<void> {
  const config = testConfig({
    QALQAN_QUERY_MAX_RANGE_DAYS: '7',
    QALQAN_QUERY_CACHE_SECONDS: '0',
    // Minutes are kept two days here, so that a range three days back is cut by retention.
    QALQAN_RETENTION_1M_DAYS: '2',
  })
  const store = await openClickHouse(config)
  await store.migrate()
  const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
  const app = buildQueryApi(config, { logger: createLogger('silent'), tokens: () => tokens, clickhouse: store.reader })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM })
  t.teardown(async () => {
    await browser.close()
    await app.close()
    await store.close()
  })

  // Events around now: the last hour, the hour before it, and each of the minutes around this one.
  const PLACES = {
    government: ['Test E-Gov Astana', 'KZ-71'],
    finance: ['Test Bank Almaty', 'KZ-75'],
    energy: ['Test Refinery Atyrau', 'KZ-23'],
    mining: ['Test Mine Ulytau', 'KZ-62'],
    telecom: ['Test Telecom Abai', 'KZ-10'],
    agriculture_food: ['Test Farm Jetisu', 'KZ-33'],
  } as const
  const now = Date.now()
  const minute = Math.floor(now / 60_000) * 60_000
  let serial = 0
  const event = (at: number, sector: keyof typeof PLACES, count: number, more: Partial<CanonicalEvent> = {}) => {
    serial++
    const [org, region] = PLACES[sector]
    return fixtureEvent(serial, new Date(at).toISOString(), { sector, org, region }, count, more)
  }
  const events = [
    event(now - 20 * 60_000, 'government', 5),
    event(now - 25 * 60_000, 'government', 3, { category: 'exploit', severity: 4, src_country: 'RU' }),
    event(now - 20 * 60_000, 'finance', 7, { src_country: 'US' }),
    event(now - 21 * 60_000, 'energy', 3, { src_country: 'RU' }),
    event(now - 22 * 60_000, 'mining', 4),
    event(now - 23 * 60_000, 'telecom', 2, { src_country: 'DE' }),
    event(now - 24 * 60_000, 'agriculture_food', 1),
    // A private address: no country.
    event(now - 26 * 60_000, 'finance', 1, { src_ip: '10.1.2.3', src_country: '', src_scope: 'private' }),
    event(now - 90 * 60_000, 'government', 4),
    event(now - 90 * 60_000, 'finance', 7, { src_country: 'US' }),
    event(minute - 2 * 60_000 + 5_000, 'finance', 3),
    event(minute - 60_000 + 5_000, 'energy', 2),
    event(minute + 5_000, 'government', 6),
    event(minute + 60_000 + 5_000, 'mining', 1),
    // Ahead of now, so that the last full minute has events however long the start takes.
    event(minute + 2 * 60_000 + 5_000, 'finance', 2),
    event(minute + 3 * 60_000 + 5_000, 'energy', 1),
    // Kept two days in minutes: this one lies before that.
    event(now - 3 * 86_400_000 + 3_600_000, 'telecom', 9),
  ]
  await store.events.insert(events, {
    topic: 'fixture',
    partition: 0,
    firstOffset: '1',
    lastOffset: String(events.length),
  })

  async function api(path: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`, {
      headers: { authorization: `Bearer ${TOKENS.analyst}` },
    })
    t.equal(res.status, 200, `${path} answers`)
    return (await res.json()) as Record<string, unknown>
  }

  const pageErrors: string[] = []
  const page: Page = await browser.newPage({ viewport: { width: 1440, height: 1100 } })
  page.on('pageerror', (err) => pageErrors.push(err.message))
  const ready = () => page.waitForSelector('body[data-state="ready"]')

  /** What the page shows, read in one go so that no refresh falls in between. */
  const shown = () =>
    page.evaluate(() => {
      const board = document.getElementById('board')
      const numberOf = (id: string) => Number(document.getElementById(id).dataset.events)
      const listed = (id: string) =>
        [...document.getElementById(id).querySelectorAll('li[data-code]')].map((item: InBrowser) => ({
          code: item.dataset.code as string,
          events: Number(item.dataset.events),
          text: item.textContent as string,
        }))
      return {
        from: board.dataset.from as string,
        to: board.dataset.to as string,
        view: board.dataset.view as string,
        tiles: [...document.querySelectorAll('.tile')].map((tile: InBrowser) => ({
          region: tile.dataset.region as string,
          events: Number(tile.dataset.events),
          change: tile.dataset.change as string,
          text: tile.querySelector('.count').textContent as string,
          name: tile.querySelector('.name').textContent as string,
          label: tile.getAttribute('aria-label') as string,
        })),
        total: numberOf('total'),
        sources: numberOf('sources'),
        perMinute: {
          minute: document.getElementById('per-minute').dataset.minute as string,
          events: numberOf('per-minute'),
        },
        thisMinute: {
          minute: document.getElementById('this-minute').dataset.minute as string,
          events: numberOf('this-minute'),
          text: document.getElementById('this-minute').textContent as string,
        },
        sectors: listed('sectors'),
        countries: listed('countries'),
        notes: document.getElementById('notes').textContent as string,
        partial: document.body.dataset.partial as string,
      }
    })

  await t.test('the page and its files are served as static text under a strict policy', async (t) => {
    const res = await fetch(`${url}/`)
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /^text\/html/)
    t.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/)
    t.equal(res.headers.get('x-content-type-options'), 'nosniff')
    const html = await res.text()
    t.match(html, /<script id="qalqan-settings" type="application\/json">/)
    t.notMatch(html, /test-analyst/, 'no token in the page')
    const script = await fetch(`${url}/page/situation.js`)
    t.match(script.headers.get('content-type'), /^text\/javascript/)
    t.match(await script.text(), /sessionStorage/)
    t.equal((await fetch(`${url}/page/situation.css`)).status, 200)
    t.equal((await fetch(`${url}/page/other.js`)).status, 404)
  })

  await t.test('signs in from the address and keeps the token in sessionStorage only', async (t) => {
    await page.goto(`${url}/?range=1h&lang=en#token=${TOKENS.analyst}`)
    await ready()
    const stored = await page.evaluate(() => ({
      hash: location.hash,
      token: sessionStorage.getItem('qalqan.analystToken'),
      cookie: document.cookie,
      local: localStorage.length,
    }))
    t.same(stored, { hash: '', token: TOKENS.analyst, cookie: '', local: 0 }, 'the token left the address')
  })

  await t.test('the map, the bars and the counters show what the API answers', async (t) => {
    const seen = await shown()
    const range = { from: seen.from, to: seen.to }
    const matrix = (await api('/v1/matrix', range)) as { cells: { region: string; sector: string; events: number }[] }
    const regions = new Map<string, number>()
    const sectors = new Map<string, number>()
    for (const cell of matrix.cells) {
      regions.set(cell.region, (regions.get(cell.region) ?? 0) + cell.events)
      sectors.set(cell.sector, (sectors.get(cell.sector) ?? 0) + cell.events)
    }
    t.equal(seen.tiles.length, 20, 'a tile for each of the 20 regions')
    for (const tile of seen.tiles) {
      t.equal(tile.events, regions.get(tile.region) ?? 0, `${tile.region} on the map`)
      t.equal(tile.text, String(tile.events), `${tile.region} shows its count`)
      t.match(tile.label, REGION_NAMES[tile.region as keyof typeof REGION_NAMES].full.en, 'aria-label names it')
    }
    for (const region of ['KZ-10', 'KZ-33', 'KZ-62', 'KZ-71', 'KZ-75'])
      t.ok((regions.get(region) ?? 0) > 0, `${region} was attacked`)
    const previous = (await api('/v1/top', {
      from: new Date(Date.parse(seen.from) - 3_600_000).toISOString(),
      to: seen.from,
      by: 'region',
      n: '100',
    })) as { rows: { region: string; events: number }[] }
    const astana = seen.tiles.find((tile) => tile.region === 'KZ-71')
    const before = previous.rows.find((row) => row.region === 'KZ-71')?.events ?? 0
    t.equal(before, 4)
    t.equal(
      Number(astana?.change),
      Math.round((((astana?.events ?? 0) - before) / before) * 1000) / 10,
      'the change against the hour before',
    )
    t.same(
      seen.sectors.map((bar) => [bar.code, bar.events]),
      [...sectors].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
      'a bar per attacked sector, most attacked first',
    )
    const summary = (await api('/v1/summary', range)) as { events: number; sources: number }
    t.equal(seen.total, summary.events, 'total attacks')
    t.equal(seen.sources, summary.sources, 'distinct sources')
    const top = (await api('/v1/top', { ...range, by: 'src_country', n: '10' })) as {
      rows: { src_country: string; events: number }[]
    }
    t.same(
      seen.countries.map((row) => [row.code, row.events]),
      top.rows.map((row) => [row.src_country, row.events]),
    )
    t.match(seen.countries[0]?.text, /China \(CN\)/, 'countries by name')
    t.match(seen.countries.find((row) => row.code === '')?.text, /Not located/, 'an address with no country says so')
    const series = (await api('/v1/timeseries', {
      from: new Date(Date.parse(seen.perMinute.minute) - 60_000).toISOString(),
      to: new Date(Date.parse(seen.thisMinute.minute) + 60_000).toISOString(),
      step: '1m',
    })) as { points: { time: string; events: number }[] }
    const at = (time: string) => series.points.find((point) => point.time === time)?.events ?? 0
    t.equal(seen.perMinute.events, at(seen.perMinute.minute), 'attacks in the last full minute')
    t.ok(seen.perMinute.events > 0, 'the fixture has events in every minute around now')
    t.equal(seen.thisMinute.events, at(seen.thisMinute.minute), 'this minute so far')
    t.match(seen.thisMinute.text, /partial/, 'the current minute says it is partial')
    t.match(seen.notes, /still arriving/, 'a range up to now says its last minute is partial')
    mkdirSync(join(PROJECT_ROOT, '.tap'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    t.ok(existsSync(SCREENSHOT), `screenshot in ${SCREENSHOT}`)
  })

  await t.test('new attacks appear without reloading the page', async (t) => {
    await page.evaluate(() => {
      document.body.dataset.sameDocument = 'yes'
    })
    t.equal((await shown()).tiles.find((tile) => tile.region === 'KZ-47')?.events, 0, 'Mangystau is quiet')
    const more = [event(now - 10 * 60_000, 'energy', 5, { region: 'KZ-47', org: 'Test Port Aktau' })]
    await store.events.insert(more, { topic: 'fixture-later', partition: 0, firstOffset: '1', lastOffset: '1' })
    await page.waitForFunction(() => document.querySelector('.tile[data-region="KZ-47"]').dataset.events === '5')
    t.equal(await page.evaluate(() => document.body.dataset.sameDocument), 'yes', 'the same document, refreshed')
  })

  await t.test('a region reached with Tab shows its details, and Enter narrows the page to it', async (t) => {
    await page.locator('#clear').focus()
    let region: string | undefined
    for (let presses = 0; presses < 10 && region === undefined; presses++) {
      await page.keyboard.press('Tab')
      region = await page.evaluate(() => document.activeElement?.dataset.region as string | undefined)
    }
    t.equal(region, 'KZ-71', 'the first tile after the controls is Astana')
    const seen = await shown()
    const astana = seen.tiles.find((tile) => tile.region === 'KZ-71')
    const details = await page.locator('#region-details').textContent()
    t.match(details, `Astana: ${astana?.events} attacks`)
    t.match(details, /vs previous period/)
    await page.keyboard.press('Tab')
    t.match(await page.locator('#region-details').textContent(), /^Almaty: /, 'the next tab, the next region')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => document.getElementById('board').dataset.view?.includes('region=KZ-75'))
    await ready()
    t.match(page.url(), /region=KZ-75/)
    const narrowed = await shown()
    t.same(
      narrowed.sectors.map((bar) => bar.code),
      ['finance'],
      "the bars show the region's sectors",
    )
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => !document.getElementById('board').dataset.view?.includes('region='))
  })

  await t.test('region and sector names switch between Kazakh, Russian and English', async (t) => {
    await page.click('button[data-lang="ru"]')
    t.equal(await page.getAttribute('html', 'lang'), 'ru')
    t.match(page.url(), /lang=ru/)
    t.equal(await page.locator('.tile[data-region="KZ-10"] .name').textContent(), 'Абай')
    t.match(await page.locator('#sectors li[data-code="finance"]').textContent(), /Финансы/)
    t.match(await page.locator('h1').textContent(), /Атаки на Казахстан/)
    await page.click('button[data-lang="kk"]')
    t.equal(await page.locator('.tile[data-region="KZ-62"] .name').textContent(), 'Ұлытау')
    t.match(await page.locator('#sectors li[data-code="finance"]').textContent(), /Қаржы/)
    t.match(await page.locator('#f-region option[value="KZ-33"]').textContent(), /Жетісу облысы/)
    await page.click('button[data-lang="en"]')
    t.equal(await page.locator('.tile[data-region="KZ-33"] .name').textContent(), 'Jetisu')
  })

  await t.test('a filter goes into the address, and the address shares the view', async (t) => {
    await page.selectOption('#f-sector', 'finance')
    await page.waitForFunction(() => document.getElementById('board').dataset.view?.includes('sector=finance'))
    await ready()
    const link = page.url()
    t.match(link, /[?&]sector=finance/)
    t.match(link, /[?&]range=1h/)
    t.notMatch(link, /token/)
    const seen = await shown()
    const summary = (await api('/v1/summary', { from: seen.from, to: seen.to, sector: 'finance' })) as {
      events: number
    }
    t.equal(seen.total, summary.events)
    t.equal(seen.tiles.find((tile) => tile.region === 'KZ-71')?.events, 0, 'other sectors leave the map')
    t.ok((seen.tiles.find((tile) => tile.region === 'KZ-75')?.events ?? 0) > 0)

    // Another tab has no token: it asks for one, then opens the shared view.
    const other = await browser.newPage()
    await other.goto(link)
    await other.waitForSelector('body[data-state="signin"]')
    await other.fill('#token', TOKENS.analyst)
    await other.click('#signin-form button[type="submit"]')
    await other.waitForSelector('body[data-state="ready"]')
    t.equal(await other.inputValue('#f-sector'), 'finance')
    await other.close()
    await page.selectOption('#f-sector', '')
    await page.waitForFunction(() => !document.getElementById('board').dataset.view?.includes('sector='))
  })

  await t.test('text contrast is at least 4.5:1 (WCAG AA)', async (t) => {
    const pairs = await page.evaluate(() => {
      const rgb = (css: string): number[] =>
        css.startsWith('#')
          ? [1, 3, 5].map((at) => Number.parseInt(css.slice(at, at + 2), 16))
          : (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number)
      const style = (selector: string) => getComputedStyle(document.querySelector(selector))
      const background = (element: InBrowser): string => {
        for (let at = element; at !== null; at = at.parentElement) {
          const colour = getComputedStyle(at).backgroundColor
          if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') return colour
        }
        return 'rgb(255, 255, 255)'
      }
      const text = (selector: string) => {
        const element = document.querySelector(selector)
        return { name: selector, text: rgb(style(selector).color), background: rgb(background(element)) }
      }
      return [
        text('body'),
        text('h1'),
        text('.card h2'),
        text('.big'),
        text('.hint'),
        text('.sub'),
        text('.controls label'),
        text('.bars .label'),
        ...[...document.querySelectorAll('.tile')].map((tile: InBrowser) => ({
          name: `tile ${tile.dataset.region}`,
          text: rgb(tile.querySelector('text').getAttribute('fill')),
          background: rgb(tile.querySelector('rect').getAttribute('fill')),
        })),
      ]
    })
    for (const pair of pairs) {
      const ratio = contrast(pair.text, pair.background)
      t.ok(ratio >= 4.5, `${pair.name}: ${ratio.toFixed(2)}:1`)
    }
  })

  await t.test('a range longer than the limit gets a message naming the limit', async (t) => {
    const to = new Date(minute).toISOString()
    const from = new Date(minute - 30 * 86_400_000).toISOString()
    await page.goto(`${url}/?from=${from}&to=${to}&lang=en`)
    await page.waitForSelector('body[data-state="error"]')
    t.match(await page.locator('#error').textContent(), /longer than this server allows \(7 days/)
  })

  await t.test('a range that starts before the data kept says its numbers are partial', async (t) => {
    const from = new Date(minute - 3 * 86_400_000).toISOString()
    const to = new Date(minute - 2 * 86_400_000).toISOString()
    await page.goto(`${url}/?from=${from}&to=${to}&lang=en`)
    await ready()
    const seen = await shown()
    t.equal(seen.partial, 'true')
    t.match(seen.notes, /oldest data kept \(2 days for attacks_1m\)/)
    t.equal(await page.inputValue('#f-range'), 'custom')
  })

  await t.test('hostile values in the address are ignored and never reach the page as markup', async (t) => {
    await page.goto(
      `${url}/?range=bogus&sector=${encodeURIComponent('<img src=x>')}&region=KZ-99&severity=9&src_country=${encodeURIComponent('"><b>')}&lang=xx`,
    )
    await ready()
    t.equal(await page.locator('img').count(), 0)
    t.equal(await page.inputValue('#f-sector'), '')
    t.equal(new URL(page.url()).search, '?range=1h&lang=en', 'the address holds only what was understood')
  })

  await t.test('a refused token sends the analyst back to sign in, saying why', async (t) => {
    await page.evaluate(() => sessionStorage.setItem('qalqan.analystToken', 'no-such-token'))
    await page.reload()
    await page.waitForSelector('body[data-state="signin"]')
    t.match(await page.locator('#signin-message').textContent(), /not accepted/)
    t.equal(await page.evaluate(() => sessionStorage.getItem('qalqan.analystToken')), null, 'the bad token is dropped')
    await page.fill('#token', TOKENS.astana)
    await page.click('#signin-form button[type="submit"]')
    await page.waitForSelector('#signin-message:has-text("sensor token")')
    t.match(await page.locator('#signin-message').textContent(), /analyst token, not a sensor token/)
  })

  t.same(pageErrors, [], 'no script error in the page')
}

/** WCAG 2 contrast ratio of two sRGB colours. */
function contrast(a: number[], b: number[]): number {
  const luminance = (rgb: number[]) => {
    const [r = 0, g = 0, bl = 0] = rgb.map((value) => {
      const c = value / 255
      return c <= 0.039_28 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl
  }
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (light + 0.05) / (dark + 0.05)
}

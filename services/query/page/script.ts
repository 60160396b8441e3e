/**
 * The situation page's script, plain browser JavaScript served as it is (no build step). It reads
 * the query API with the analyst's token, which it keeps in sessionStorage only, and keeps the view
 * (range, filters, language) in the address's query string so that a link shares it.
 * It is a string: it holds no template literal and no dollar-brace, so it needs no escaping here.
 */
export const SCRIPT = String.raw`'use strict'
;(() => {
  const settings = JSON.parse(document.getElementById('qalqan-settings').textContent)
  const TOKEN_KEY = 'qalqan.analystToken'
  const PRESETS = { '15m': 15 * 60000, '1h': 3600000, '6h': 6 * 3600000, '24h': 86400000, '7d': 7 * 86400000 }
  const PRESET_LABELS = { '15m': 'range15m', '1h': 'range1h', '6h': 'range6h', '24h': 'range24h', '7d': 'range7d' }
  const FILTERS = ['sector', 'region', 'category', 'severity', 'src_country']
  const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/
  const COLOURS = [
    { fill: '#e3e7ec', text: '#1b1f24' },
    { fill: '#fde0c5', text: '#1b1f24' },
    { fill: '#facb98', text: '#1b1f24' },
    { fill: '#f59e60', text: '#1b1f24' },
    { fill: '#b23b0e', text: '#ffffff' },
    { fill: '#6e1a07', text: '#ffffff' },
  ]
  const regionCodes = settings.regions.map((region) => region.code)
  const regionByCode = Object.fromEntries(settings.regions.map((region) => [region.code, region]))
  const sectorByCode = Object.fromEntries(settings.sectors.map((sector) => [sector.code, sector]))
  const categoryByCode = Object.fromEntries(settings.categories.map((category) => [category.code, category]))
  const severityByCode = Object.fromEntries(settings.severities.map((severity) => [severity.code, severity]))
  const $ = (id) => document.getElementById(id)
  const own = (object, key) => typeof key === 'string' && Object.prototype.hasOwnProperty.call(object, key)

  let view = readView()
  let timer
  let generation = 0
  let latest
  let lastGood
  let detailsRegion

  // What the address says, each value checked against its closed list: anything else is ignored.
  function readView() {
    const query = new URLSearchParams(location.search)
    const next = { lang: 'en', range: '1h', from: '', to: '', sector: '', region: '', category: '', severity: '', src_country: '' }
    const lang = query.get('lang')
    if (settings.languages.includes(lang)) next.lang = lang
    else {
      const preferred = (navigator.language || '').slice(0, 2)
      if (settings.languages.includes(preferred)) next.lang = preferred
    }
    if (own(PRESETS, query.get('range'))) next.range = query.get('range')
    const from = query.get('from') || ''
    const to = query.get('to') || ''
    if (ISO_TIME.test(from) && ISO_TIME.test(to) && !Number.isNaN(Date.parse(from)) && !Number.isNaN(Date.parse(to))) {
      next.range = 'custom'
      next.from = from
      next.to = to
    }
    if (own(sectorByCode, query.get('sector'))) next.sector = query.get('sector')
    if (own(regionByCode, query.get('region'))) next.region = query.get('region')
    if (own(categoryByCode, query.get('category'))) next.category = query.get('category')
    if (own(severityByCode, query.get('severity'))) next.severity = query.get('severity')
    if (/^[A-Z]{2}$/.test(query.get('src_country') || '')) next.src_country = query.get('src_country')
    return next
  }

  function writeView() {
    const query = new URLSearchParams()
    if (view.range === 'custom') {
      query.set('from', view.from)
      query.set('to', view.to)
    } else query.set('range', view.range)
    for (const name of FILTERS) if (view[name] !== '') query.set(name, view[name])
    query.set('lang', view.lang)
    history.replaceState(null, '', location.pathname + '?' + query.toString())
  }

  const t = (key, values) => {
    let text = settings.labels[view.lang][key]
    for (const [name, value] of Object.entries(values || {})) text = text.split('{' + name + '}').join(String(value))
    return text
  }
  const number = (value) => new Intl.NumberFormat(view.lang).format(value)
  const clock = (date) => new Intl.DateTimeFormat(view.lang, { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(date)
  const moment = (date) => new Intl.DateTimeFormat(view.lang, { dateStyle: 'medium', timeStyle: 'short' }).format(date)
  const countryName = (code) => {
    try {
      return new Intl.DisplayNames([view.lang, 'en'], { type: 'region' }).of(code) || code
    } catch {
      return code
    }
  }
  const changeText = (percent, events) => {
    if (percent === null || percent === undefined) return events > 0 ? t('changeNew') : t('changeNone')
    const sign = percent > 0 ? '+' : percent < 0 ? '\u2212' : '\u00b1'
    return sign + number(Math.abs(percent)) + '% ' + t('change')
  }

  // ---- the token: sessionStorage only ----
  function takeTokenFromAddress() {
    const hash = new URLSearchParams(location.hash.slice(1))
    const token = hash.get('token')
    if (token) sessionStorage.setItem(TOKEN_KEY, token)
    if (location.hash) history.replaceState(null, '', location.pathname + location.search)
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY)

  function showSignIn(message) {
    clearTimeout(timer)
    sessionStorage.removeItem(TOKEN_KEY)
    document.body.dataset.state = 'signin'
    $('board').hidden = true
    $('sign-out').hidden = true
    $('signin').hidden = false
    $('signin-message').hidden = !message
    $('signin-message').textContent = message || ''
    $('token').focus()
  }

  function showBoard() {
    $('signin').hidden = true
    $('board').hidden = false
    $('sign-out').hidden = false
    document.body.dataset.state = 'loading'
    refresh()
  }

  // ---- the API ----
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message)
      this.status = status
      this.code = code
    }
  }

  async function api(path, params) {
    const query = new URLSearchParams()
    for (const [name, value] of Object.entries(params)) if (value !== '' && value !== undefined) query.set(name, String(value))
    let response
    try {
      response = await fetch(path + '?' + query.toString(), {
        headers: { authorization: 'Bearer ' + token(), accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        signal: AbortSignal.timeout(15000),
      })
    } catch {
      throw new ApiError(0, '', 'unreachable')
    }
    let body
    try {
      body = await response.json()
    } catch {
      body = {}
    }
    if (!response.ok) throw new ApiError(response.status, body.error || '', body.message || response.statusText)
    return body
  }

  function currentRange() {
    if (view.range === 'custom') return { from: new Date(view.from), to: new Date(view.to), live: false }
    const to = new Date(Math.ceil(Date.now() / 1000) * 1000)
    return { from: new Date(to.getTime() - PRESETS[view.range]), to, live: true }
  }

  const tableFor = (length) => (length <= 2 * 86400000 ? 'attacks_1m' : length <= 90 * 86400000 ? 'attacks_1h' : 'attacks_1d')

  async function load() {
    const range = currentRange()
    const length = range.to.getTime() - range.from.getTime()
    const previous = { from: new Date(range.from.getTime() - length), to: range.from }
    const times = (r) => ({ from: r.from.toISOString(), to: r.to.toISOString() })
    const filters = {}
    for (const name of FILTERS) filters[name] = view[name]
    // The map shows every region; the region filter narrows the rest.
    const mapFilters = Object.assign({}, filters, { region: '' })
    const minute = Math.floor(Date.now() / 60000) * 60000
    const viewQuery = location.search.slice(1)
    const [summary, matrix, previousRegions, countries, minutes] = await Promise.all([
      api('/v1/summary', Object.assign(times(range), filters)),
      api('/v1/matrix', Object.assign(times(range), mapFilters)),
      api('/v1/top', Object.assign(times(previous), mapFilters, { by: 'region', n: 100 })),
      api('/v1/top', Object.assign(times(range), filters, { by: 'src_country', n: 10 })),
      api('/v1/timeseries', Object.assign({}, filters, {
        from: new Date(minute - 60000).toISOString(),
        to: new Date(minute + 60000).toISOString(),
        step: '1m',
      })),
    ])
    return { viewQuery, range, length, previous, minute, summary, matrix, previousRegions, countries, minutes, at: new Date() }
  }

  // Each refresh is a generation: the answers of an older one, asked for another view, are dropped.
  async function refresh() {
    clearTimeout(timer)
    if (!token()) return showSignIn('')
    const mine = ++generation
    try {
      const data = await load()
      if (mine !== generation) return
      latest = data
      lastGood = data.at
      $('error').hidden = true
      render()
      document.body.dataset.state = 'ready'
    } catch (err) {
      if (mine !== generation) return
      if (!(err instanceof ApiError)) throw err
      if (err.status === 401) return showSignIn(t('tokenRefused'))
      if (err.status === 403) return showSignIn(t('tokenForbidden'))
      const range = currentRange()
      let message
      if (err.status === 400 && range.to.getTime() - range.from.getTime() > settings.maxRangeDays * 86400000)
        message = t('rangeTooLong', { days: settings.maxRangeDays })
      else if (err.status === 0) message = t('unreachable', { time: lastGood ? clock(lastGood) : '-' })
      else if (err.status >= 500) message = t('serverError', { message: err.message })
      else message = t('refused', { message: err.message })
      $('error').textContent = message
      $('error').hidden = false
      document.body.dataset.state = 'error'
    } finally {
      if (mine === generation && token()) timer = setTimeout(refresh, settings.refreshSeconds * 1000)
    }
  }

  // ---- drawing ----
  function applyLabels() {
    document.documentElement.lang = view.lang
    document.title = t('title')
    for (const element of document.querySelectorAll('[data-i18n]')) element.textContent = t(element.dataset.i18n)
    const languages = $('languages')
    languages.setAttribute('aria-label', t('language'))
    languages.replaceChildren(
      ...settings.languages.map((lang) => {
        const button = document.createElement('button')
        button.type = 'button'
        button.lang = lang
        button.dataset.lang = lang
        button.textContent = settings.languageNames[lang]
        button.setAttribute('aria-pressed', String(lang === view.lang))
        button.addEventListener('click', () => {
          view.lang = lang
          writeView()
          applyLabels()
          if (latest) render()
        })
        return button
      }),
    )
    fillSelect('f-range', [
      ...Object.keys(PRESETS).map((key) => [key, t(PRESET_LABELS[key])]),
      ...(view.range === 'custom' ? [['custom', t('rangeCustom')]] : []),
    ], view.range, false)
    fillSelect('f-sector', settings.sectors.map((s) => [s.code, s.names[view.lang]]), view.sector, true)
    fillSelect('f-region', settings.regions.map((r) => [r.code, r.full[view.lang]]), view.region, true)
    fillSelect('f-category', settings.categories.map((c) => [c.code, c.names[view.lang]]), view.category, true)
    fillSelect('f-severity', settings.severities.map((s) => [s.code, s.code + ' ' + s.names[view.lang]]), view.severity, true)
    // An address that was not located (private, reserved or unknown to the database) has no country to filter by.
    const countries = latest ? latest.countries.rows.map((row) => row.src_country).filter((code) => code !== '') : []
    if (view.src_country && !countries.includes(view.src_country)) countries.push(view.src_country)
    fillSelect('f-src_country', countries.map((code) => [code, countryName(code) + ' (' + code + ')']), view.src_country, true)
    drawMap()
  }

  function fillSelect(id, options, selected, withAll) {
    const select = $(id)
    const all = withAll ? [['', t('all')]] : []
    select.replaceChildren(
      ...all.concat(options).map(([value, text]) => {
        const option = document.createElement('option')
        option.value = value
        option.textContent = text
        option.selected = value === selected
        return option
      }),
    )
  }

  const SVG = 'http://www.w3.org/2000/svg'
  const TILE_W = 110
  const TILE_H = 74
  const GAP = 6

  function svg(name, attributes, text) {
    const element = document.createElementNS(SVG, name)
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value))
    if (text !== undefined) element.textContent = text
    return element
  }

  function drawMap() {
    const width = settings.grid.columns * (TILE_W + GAP)
    const height = settings.grid.rows * (TILE_H + GAP)
    const map = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'group', 'aria-labelledby': 'map-heading' })
    const title = svg('title', { id: 'map-title' }, t('mapLabel', { range: '' }))
    map.append(title)
    for (const region of settings.regions) {
      const x = region.column * (TILE_W + GAP)
      const y = region.row * (TILE_H + GAP)
      const tile = svg('g', { class: 'tile', tabindex: 0, role: 'button', 'data-region': region.code, 'aria-pressed': String(view.region === region.code), 'aria-label': region.full[view.lang] })
      tile.append(
        svg('rect', { x, y, width: TILE_W, height: TILE_H, rx: region.city ? 24 : 4 }),
        svg('text', { class: 'name', x: x + 8, y: y + 20 }, region.short[view.lang]),
        svg('text', { class: 'count', x: x + 8, y: y + 46 }, ''),
        svg('text', { class: 'delta', x: x + 8, y: y + 65 }, ''),
      )
      tile.addEventListener('mouseenter', () => showDetails(region.code))
      tile.addEventListener('focus', () => showDetails(region.code))
      tile.addEventListener('click', () => toggle('region', region.code))
      tile.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault()
          toggle('region', region.code)
        }
      })
      map.append(tile)
    }
    $('map').replaceChildren(map)
  }

  function toggle(name, value) {
    view[name] = view[name] === value ? '' : value
    changed()
    if (name === 'region') {
      const tile = document.querySelector('.tile[data-region="' + value + '"]')
      if (tile) tile.focus()
    }
  }

  function changed() {
    writeView()
    applyLabels()
    document.body.dataset.state = 'loading'
    if (latest) render()
    refresh()
  }

  function regionTotals() {
    const current = Object.fromEntries(regionCodes.map((code) => [code, 0]))
    for (const cell of latest.matrix.cells) if (own(current, cell.region)) current[cell.region] += cell.events
    const previous = Object.fromEntries(regionCodes.map((code) => [code, 0]))
    for (const row of latest.previousRegions.rows) if (own(previous, row.region)) previous[row.region] = row.events
    return { current, previous }
  }

  const percent = (before, after) => (before === 0 ? null : Math.round(((after - before) / before) * 1000) / 10)

  function render() {
    const data = latest
    const board = $('board')
    board.dataset.from = data.range.from.toISOString()
    board.dataset.to = data.range.to.toISOString()
    board.dataset.view = data.viewQuery

    // Totals and what makes them partial.
    const notes = []
    const now = Date.now()
    if (data.range.to.getTime() > Math.floor(now / 60000) * 60000) notes.push(t('partialNow'))
    const table = data.summary.table || tableFor(data.length)
    const kept = settings.retentionDays[table]
    const since = now - kept * 86400000
    const cut = data.range.from.getTime() < since
    if (cut) notes.push(t('partialRetention', { days: kept, table, since: moment(new Date(since)) }))
    const previousCut = data.previous.from.getTime() < since
    if (previousCut && !cut) notes.push(t('partialPrevious'))
    const partial = notes.length > 0
    setNumber('total', data.summary.events, partial)
    setChange('total-change', data.summary.change.events, data.summary.events, previousCut)
    setNumber('sources', data.summary.sources, partial)
    setChange('sources-change', data.summary.change.sources, data.summary.sources, previousCut)
    $('updated').textContent =
      t('updated', { time: clock(data.at) }) + ' \u00b7 ' + t('rangeShown', { from: moment(data.range.from), to: moment(data.range.to) })
    $('notes').replaceChildren(
      ...notes.map((text) => {
        const item = document.createElement('li')
        item.textContent = text
        return item
      }),
    )
    document.body.dataset.partial = String(partial)

    // Attacks per minute: the last full minute, and the current one so far (partial by nature).
    const perMinute = Object.fromEntries(data.minutes.points.map((point) => [point.time, point.events]))
    const lastMinute = new Date(data.minute - 60000).toISOString()
    const thisMinute = new Date(data.minute).toISOString()
    setNumber('per-minute', perMinute[lastMinute] || 0, false)
    $('per-minute').dataset.minute = lastMinute
    $('per-minute-when').textContent = t('lastMinute', { time: clock(new Date(data.minute - 60000)) })
    const soFar = $('this-minute')
    soFar.dataset.minute = thisMinute
    soFar.dataset.events = String(perMinute[thisMinute] || 0)
    soFar.textContent = t('thisMinute', { count: number(perMinute[thisMinute] || 0) })
    soFar.append(badge())

    // The map.
    const { current, previous } = regionTotals()
    const max = Math.max(0, ...Object.values(current))
    const rangeText = t('rangeShown', { from: moment(data.range.from), to: moment(data.range.to) })
    $('map-title').textContent = t('mapLabel', { range: rangeText })
    for (const tile of document.querySelectorAll('.tile')) {
      const code = tile.dataset.region
      const events = current[code]
      const step = events === 0 ? 0 : Math.max(1, Math.ceil((events / max) * 5))
      const colour = COLOURS[step]
      const change = percent(previous[code], events)
      tile.dataset.events = String(events)
      tile.dataset.previous = String(previous[code])
      tile.dataset.change = change === null ? '' : String(change)
      tile.querySelector('rect').setAttribute('fill', colour.fill)
      for (const text of tile.querySelectorAll('text')) text.setAttribute('fill', colour.text)
      tile.querySelector('.count').textContent = number(events)
      tile.querySelector('.delta').textContent = change === null ? (events > 0 ? t('newShort') : '') : (change > 0 ? '+' : '') + number(change) + '%'
      tile.setAttribute('aria-label', regionSentence(code, events, change))
    }
    drawLegend(max)
    if (detailsRegion) showDetails(detailsRegion)

    // Sectors: from the same matrix, narrowed to the chosen region.
    const sectors = {}
    for (const cell of data.matrix.cells)
      if (view.region === '' || cell.region === view.region) sectors[cell.sector] = (sectors[cell.sector] || 0) + cell.events
    drawBars('sectors', Object.entries(sectors).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
      (code) => (own(sectorByCode, code) ? sectorByCode[code].names[view.lang] : code), 'sector')
    drawBars('countries', data.countries.rows.map((row) => [row.src_country, row.events]),
      (code) => (/^[A-Z]{2}$/.test(code) ? countryName(code) + ' (' + code + ')' : t('countryUnknown')), 'src_country')
  }

  function regionSentence(code, events, change) {
    const region = regionByCode[code]
    return t('regionDetails', { name: region.full[view.lang], count: number(events), change: changeText(change, events) })
  }

  function showDetails(code) {
    detailsRegion = code
    const details = $('region-details')
    details.dataset.region = code
    if (!latest) return
    const { current, previous } = regionTotals()
    const events = current[code]
    details.textContent = regionSentence(code, events, percent(previous[code], events))
    const sectors = latest.matrix.cells.filter((cell) => cell.region === code).sort((a, b) => b.events - a.events).slice(0, 3)
    if (sectors.length > 0) {
      const line = document.createElement('span')
      line.className = 'sub'
      line.textContent = ' ' + t('regionTopSectors', {
        list: sectors.map((cell) => (own(sectorByCode, cell.sector) ? sectorByCode[cell.sector].names[view.lang] : cell.sector) + ' ' + number(cell.events)).join(', '),
      })
      details.append(document.createElement('br'), line)
    }
  }

  function drawLegend(max) {
    const legend = $('legend')
    const items = [[COLOURS[0].fill, t('legendNone')]]
    for (let step = 1; step <= 5; step++) {
      // The tiles of a step: ceil(events / max * 5) === step.
      const low = Math.floor(((step - 1) / 5) * max) + 1
      const high = Math.floor((step / 5) * max)
      if (max > 0 && high >= low) items.push([COLOURS[step].fill, low === high ? number(low) : number(low) + '\u2013' + number(high)])
    }
    legend.replaceChildren(
      ...items.flatMap(([fill, text]) => {
        const swatch = document.createElement('span')
        swatch.className = 'swatch'
        swatch.style.background = fill
        const label = document.createElement('span')
        label.textContent = text
        return [swatch, label]
      }),
    )
  }

  function drawBars(id, rows, name, filter) {
    const list = $(id)
    if (rows.length === 0) {
      const empty = document.createElement('li')
      empty.className = 'empty'
      empty.textContent = t('nothing')
      return list.replaceChildren(empty)
    }
    const max = Math.max(...rows.map(([, events]) => events))
    list.replaceChildren(
      ...rows.map(([code, events]) => {
        const item = document.createElement('li')
        item.dataset.code = code
        item.dataset.events = String(events)
        // What has no code (an address not located) cannot be filtered by: a plain row, not a button.
        const button = document.createElement(code === '' ? 'div' : 'button')
        button.className = 'row'
        if (code !== '') {
          button.type = 'button'
          button.setAttribute('aria-pressed', String(view[filter] === code))
          button.addEventListener('click', () => toggle(filter, code))
        }
        const label = document.createElement('span')
        label.className = 'label'
        label.textContent = name(code)
        const value = document.createElement('span')
        value.className = 'value'
        value.textContent = number(events)
        const bar = document.createElement('span')
        bar.className = 'bar'
        const fill = document.createElement('span')
        fill.className = 'fill'
        fill.style.width = (max > 0 ? (events / max) * 100 : 0) + '%'
        bar.append(fill)
        button.append(label, value, bar)
        item.append(button)
        return item
      }),
    )
  }

  function badge() {
    const element = document.createElement('span')
    element.className = 'badge'
    element.textContent = t('partial')
    return element
  }

  function setNumber(id, value, partial) {
    const element = $(id)
    element.dataset.events = String(value)
    element.textContent = number(value)
    if (partial) element.append(badge())
  }

  function setChange(id, change, events, partial) {
    const element = $(id)
    element.dataset.change = change === null ? '' : String(change)
    element.textContent = changeText(change, events)
    element.className = 'sub' + (change > 0 ? ' up' : change < 0 ? ' down' : '')
    if (partial) element.append(badge())
  }

  // ---- wiring ----
  for (const name of ['range'].concat(FILTERS)) {
    $('f-' + name).addEventListener('change', (event) => {
      const value = event.target.value
      if (name === 'range') {
        if (value === 'custom') return
        view.range = value
        view.from = ''
        view.to = ''
      } else view[name] = value
      changed()
    })
  }
  $('clear').addEventListener('click', () => {
    for (const name of FILTERS) view[name] = ''
    changed()
  })
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const value = $('token').value.trim()
    if (value === '') {
      $('signin-message').textContent = t('tokenMissing')
      $('signin-message').hidden = false
      return
    }
    sessionStorage.setItem(TOKEN_KEY, value)
    $('token').value = ''
    showBoard()
  })
  $('sign-out').addEventListener('click', () => showSignIn(''))
  window.addEventListener('popstate', () => {
    view = readView()
    changed()
  })

  takeTokenFromAddress()
  writeView()
  applyLabels()
  if (token()) showBoard()
  else showSignIn('')
})()
`

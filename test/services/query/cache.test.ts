import t from 'tap'
import { AnswerCache, serializedLength } from '../../../services/query/cache.js'

/** A cache on a clock the test moves, and a counter of the answers it had to compute. */
function cacheFor(ttlMs: number, maxBytes: number) {
  let clock = 1_000_000
  const cache = new AnswerCache(ttlMs, maxBytes, serializedLength, () => clock)
  const computed: string[] = []
  const ask = (key: string, answer: unknown = { key }) =>
    cache.get(key, async () => {
      computed.push(key)
      return answer
    })
  return {
    cache,
    computed,
    ask,
    advance: (ms: number) => {
      clock += ms
    },
  }
}

/** An answer whose JSON is about `chars` long, like a timeseries of many points. */
function bigAnswer(chars: number, tag: string) {
  return { tag, points: 'x'.repeat(chars) }
}

t.test('a fresh answer is served from the cache; a stale one is computed again', async (t) => {
  const { cache, computed, ask, advance } = cacheFor(5_000, 1024 * 1024)
  await ask('a')
  advance(4_999)
  await ask('a')
  t.same(computed, ['a'], 'within the TTL: one computation')
  advance(1)
  await ask('a')
  t.same(computed, ['a', 'a'], 'at the TTL: computed again')
  t.equal(cache.size, 1)
})

t.test('stale answers do not count toward the memory bound', async (t) => {
  const { cache, ask, advance } = cacheFor(5_000, 1024 * 1024)
  for (let i = 0; i < 50; i++) await ask(`old-${i}`, bigAnswer(10_000, `old-${i}`))
  t.ok(cache.bytes > 50 * 10_000, `50 answers kept: ${cache.bytes} bytes`)
  advance(5_000)
  await ask('new', bigAnswer(1_000, 'new'))
  t.equal(cache.size, 1, 'every stale answer dropped')
  const fresh = 'new'.length + serializedLength(bigAnswer(1_000, 'new'))
  t.equal(cache.bytes, fresh, 'only the fresh answer counts')
})

t.test('the byte bound holds however many large answers come, and the newest stay', async (t) => {
  const maxBytes = 1024 * 1024
  const { cache, computed, ask } = cacheFor(60_000, maxBytes)
  let highest = 0
  for (let i = 0; i < 500; i++) {
    await ask(`q-${i}`, bigAnswer(50_000 + (i % 7) * 1_000, `q-${i}`))
    highest = Math.max(highest, cache.bytes)
  }
  t.ok(highest <= maxBytes, `never above the bound: at most ${highest} of ${maxBytes} bytes`)
  t.ok(cache.size >= 15 && cache.size <= 20, `about maxBytes / 55 kB answers kept: ${cache.size}`)
  computed.length = 0
  await ask('q-499')
  t.same(computed, [], 'the newest answer is still kept')
  await ask('q-0')
  t.same(computed, ['q-0'], 'the oldest was evicted')
})

t.test('eviction is least recently used first', async (t) => {
  const answer = bigAnswer(300, '')
  const entry = 'k-0'.length + serializedLength(answer)
  const { computed, ask } = cacheFor(60_000, entry * 3)
  for (const key of ['k-0', 'k-1', 'k-2']) await ask(key, answer)
  await ask('k-0', answer)
  await ask('k-3', answer)
  computed.length = 0
  await ask('k-0', answer)
  t.same(computed, [], 'k-0 was read recently: kept')
  await ask('k-1', answer)
  t.same(computed, ['k-1'], 'k-1 was the least recently used: evicted')
})

t.test('an answer larger than the whole budget is served but not kept', async (t) => {
  const { cache, computed, ask } = cacheFor(60_000, 10_000)
  await ask('small', bigAnswer(100, 'small'))
  const big = bigAnswer(20_000, 'big')
  t.same(await ask('big', big), big, 'the asker gets it')
  t.equal(cache.size, 1, 'not kept')
  t.equal(cache.bytes, 'small'.length + serializedLength(bigAnswer(100, 'small')), 'and not counted')
  t.same(await ask('big', big), big)
  t.same(computed, ['small', 'big', 'big'], 'computed each time')
  await ask('small')
  t.same(computed, ['small', 'big', 'big'], 'the small answer was not evicted for it')
})

t.test('concurrent askers share one computation; a failure is not kept', async (t) => {
  const { cache, ask } = cacheFor(60_000, 1024 * 1024)
  let runs = 0
  let release: (value: unknown) => void = () => {}
  const slow = () =>
    cache.get('slow', () => {
      runs++
      return new Promise((resolve) => {
        release = resolve
      })
    })
  const [first, second] = [slow(), slow()]
  release({ ok: true })
  t.same(await Promise.all([first, second]), [{ ok: true }, { ok: true }])
  t.equal(runs, 1)
  await t.rejects(
    cache.get('fails', async () => {
      throw new Error('engine down')
    }),
  )
  t.same(await ask('fails'), { key: 'fails' }, 'asked again, computed again')
})

t.test('a TTL of 0 keeps nothing', async (t) => {
  const { cache, computed, ask } = cacheFor(0, 1024 * 1024)
  await ask('a')
  await ask('a')
  t.same(computed, ['a', 'a'])
  t.equal(cache.size, 0)
  t.equal(cache.bytes, 0)
})

t.test('a live answer is shared while it is computed and never kept', async (t) => {
  const { cache } = cacheFor(60_000, 1024 * 1024)
  let runs = 0
  let release: (value: unknown) => void = () => {}
  const live = () =>
    cache.get(
      'live',
      () => {
        runs++
        return new Promise((resolve) => {
          release = resolve
        })
      },
      true,
    )
  const [first, second] = [live(), live()]
  release({ n: 1 })
  t.same(await Promise.all([first, second]), [{ n: 1 }, { n: 1 }], 'concurrent askers: one computation')
  t.equal(runs, 1)
  const third = live()
  release({ n: 2 })
  t.same(await third, { n: 2 }, 'asked after it was made: computed again')
  t.equal(runs, 2)
  t.equal(cache.size, 0, 'nothing kept')
})

import t from 'tap'
import { RateLimiter } from '../../../services/collector/rate-limit.js'

/** A clock the test moves by hand, in milliseconds. */
function clock(start = 1_740_816_930_000) {
  let now = start
  return {
    now: () => now,
    advance(ms: number) {
      now += ms
    },
  }
}

/** How many buckets the limiter holds: the memory a flood of sensor ids could take. */
function bucketCount(limiter: RateLimiter): number {
  return (limiter as unknown as { buckets: Map<string, unknown> }).buckets.size
}

t.test('a full bucket allows the burst at once, then refuses with the wait in seconds', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(10, 100, time.now)
  t.equal(limiter.take('astana', 60), 0)
  t.equal(limiter.take('astana', 40), 0, 'the rest of the burst')
  t.equal(limiter.take('astana', 1), 1, 'one event at 10 a second: wait 1 s (never 0, which means go)')
  t.equal(limiter.take('astana', 10), 1)
  t.equal(limiter.take('astana', 25), 3, '25 events at 10 a second: 2.5 s, rounded up')
  t.equal(limiter.take('astana', 100), 10)
})

t.test('a refused request takes nothing from the bucket', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(10, 100, time.now)
  t.equal(limiter.take('astana', 100), 0)
  for (let i = 0; i < 5; i++) t.equal(limiter.take('astana', 50), 5)
  time.advance(5_000)
  t.equal(limiter.take('astana', 50), 0, 'after the wait it gave, the request passes')
})

t.test('tokens refill at the rate, up to the burst', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(10, 100, time.now)
  t.equal(limiter.take('astana', 100), 0)
  time.advance(1_000)
  t.equal(limiter.take('astana', 11), 1, 'one second brings 10 tokens, not 11')
  t.equal(limiter.take('astana', 10), 0)
  time.advance(250)
  t.equal(limiter.take('astana', 2), 0, 'a quarter second brings 2.5 tokens')
  t.equal(limiter.take('astana', 1), 1, 'half a token is not one')
  time.advance(50)
  t.equal(limiter.take('astana', 1), 0, 'fractions add up')
  time.advance(59_000)
  t.equal(limiter.take('astana', 101), 1, 'never more than the burst, however long the wait')
  t.equal(limiter.take('astana', 100), 0)
})

t.test('a request bigger than the tokens left waits for the difference only', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(100, 1_000, time.now)
  t.equal(limiter.take('astana', 700), 0)
  t.equal(limiter.take('astana', 500), 2, '300 left, 500 asked: 200 more at 100 a second')
  time.advance(1_999)
  t.equal(limiter.take('astana', 500), 1, 'a millisecond short is still a wait')
  time.advance(1)
  t.equal(limiter.take('astana', 500), 0)
  t.equal(limiter.take('astana', 0), 0, 'an empty request always passes')
})

t.test('each key has its own bucket', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(10, 100, time.now)
  t.equal(limiter.take('astana', 100), 0)
  t.equal(limiter.take('astana', 1), 1)
  t.equal(limiter.take('almaty', 100), 0, 'another sensor has its full burst')
  t.equal(limiter.take('shymkent', 50), 0)
  t.equal(limiter.take('shymkent', 50), 0)
  t.equal(limiter.take('shymkent', 1), 1)
  time.advance(1_000)
  t.equal(limiter.take('astana', 10), 0)
  t.equal(limiter.take('almaty', 10), 0)
  t.equal(limiter.take('almaty', 1), 1)
  t.equal(limiter.take('__proto__', 100), 0, 'a key named __proto__ is a key like any other')
  t.equal(limiter.take('__proto__', 1), 1)
})

t.test('buckets of keys idle for a minute are swept', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(1_000, 1_000, time.now)
  for (let i = 0; i < 10_000; i++) limiter.take(`sensor-${i}`, 1)
  t.equal(bucketCount(limiter), 10_000)
  time.advance(30_000)
  limiter.take('busy', 1)
  t.equal(bucketCount(limiter), 10_001, 'not before a minute')
  time.advance(31_000)
  limiter.take('busy', 1)
  t.equal(bucketCount(limiter), 1, 'only the key seen within the minute is kept')
  t.equal(limiter.take('sensor-0', 1_000), 0, 'a swept key comes back with a full bucket')
  time.advance(61_000)
  limiter.take('another', 1)
  t.equal(bucketCount(limiter), 1, 'sweeps go on every minute')
})

t.test('sweeping never gives a key more than the rate would have', async (t) => {
  // With 1 event a second and a burst of 100, a drained bucket holds only 61 tokens after 61 s.
  // Dropping it as idle and starting again full would hand out 39 events the rate never allowed.
  const time = clock()
  const limiter = new RateLimiter(1, 100, time.now)
  t.equal(limiter.take('astana', 100), 0)
  time.advance(61_000)
  t.equal(limiter.take('astana', 100), 39)
  t.equal(limiter.take('astana', 61), 0)
})

t.test('Date.now is the default clock', async (t) => {
  const limiter = new RateLimiter(1, 5)
  t.equal(limiter.take('astana', 5), 0)
  t.equal(limiter.take('astana', 5), 5)
})

t.test('waitForOne says whether one event could pass, taking nothing and keeping nothing', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(10, 100, time.now)
  t.equal(limiter.waitForOne('astana'), 0, 'a sensor never seen has a full bucket')
  t.equal(bucketCount(limiter), 0, 'asking keeps no bucket')
  t.equal(limiter.take('astana', 100), 0)
  t.equal(limiter.waitForOne('astana'), 1, 'an empty bucket: one event at 10 a second is 0.1 s, rounded up')
  time.advance(50)
  t.equal(limiter.waitForOne('astana'), 1, 'half an event is not one')
  time.advance(50)
  t.equal(limiter.waitForOne('astana'), 0, 'one event refilled')
  t.equal(limiter.waitForOne('astana'), 0, 'asking again takes nothing')
  t.equal(limiter.take('astana', 1), 0, 'and the event is still there to take')
  t.equal(limiter.waitForOne('almaty'), 0, 'each sensor has its own bucket')
})

import t from 'tap'
import { parseRoles, ROLE_NAMES } from '../../services/config.js'
import { ROLES } from '../../services/roles.js'

t.test('the roles are collector, worker and query, each described', async (t) => {
  t.same(ROLE_NAMES, ['collector', 'worker', 'query'])
  t.same(Object.keys(ROLES), ROLE_NAMES, 'the map names every role')
  for (const name of ROLE_NAMES) t.ok(ROLES[name].description.length > 20, name)
})

t.test('all is every role', async (t) => {
  t.same(parseRoles('all'), ['collector', 'worker', 'query'])
  t.same(parseRoles(' all '), ['collector', 'worker', 'query'])
  const all = parseRoles('all')
  all.pop()
  t.same(parseRoles('all'), ['collector', 'worker', 'query'], 'each call returns its own list')
})

t.test('a comma-separated list, trimmed and without repeats, in the order given', async (t) => {
  t.same(parseRoles('worker'), ['worker'])
  t.same(parseRoles('collector,worker'), ['collector', 'worker'])
  t.same(parseRoles('query,collector'), ['query', 'collector'])
  t.same(parseRoles(' collector , query ,'), ['collector', 'query'])
  t.same(parseRoles('worker,worker,query,worker'), ['worker', 'query'])
})

t.test('an unknown role is named with the allowed ones', async (t) => {
  t.throws(() => parseRoles('bogus'), {
    message: 'unknown role "bogus": allowed are all, collector, worker, query (comma-separated)',
  })
  t.throws(() => parseRoles('collector,ingester,distributor'), {
    message: /^unknown role "ingester,distributor": allowed are all, /,
  })
  t.throws(() => parseRoles('Collector'), { message: /unknown role "Collector"/ }, 'names are case-sensitive')
  t.throws(() => parseRoles('collector worker'), { message: /unknown role "collector worker"/ })
  t.throws(() => parseRoles('all,worker'), { message: /allowed are all, / }, 'all is not combined with others')
})

t.test('no role at all is an error', async (t) => {
  for (const value of ['', ' ', ',', ' , '])
    t.throws(() => parseRoles(value), { message: /allowed are all, collector, worker, query/ }, JSON.stringify(value))
})

t.test('names inherited by every object are not roles', async (t) => {
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
    t.throws(() => parseRoles(name), { message: /unknown role/ }, name)
  }
})

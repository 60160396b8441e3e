import t from 'tap'
import { exceedsDepth } from '../../../../services/collector/decode/json.js'

t.test('exactly at the limit passes; one level over does not', async (t) => {
  for (const max of [1, 2, 3, 32]) {
    const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n)
    const objects = (n: number) => `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`
    t.notOk(exceedsDepth(arrays(max), max), `${max} nested arrays, limit ${max}`)
    t.ok(exceedsDepth(arrays(max + 1), max), `${max + 1} nested arrays, limit ${max}`)
    t.notOk(exceedsDepth(objects(max), max), `${max} nested objects, limit ${max}`)
    t.ok(exceedsDepth(objects(max + 1), max), `${max + 1} nested objects, limit ${max}`)
  }
  t.notOk(exceedsDepth('{"a":[{"b":[1]}]}', 4), 'objects and arrays count alike')
  t.ok(exceedsDepth('{"a":[{"b":[1]}]}', 3))
})

t.test('scalars and empty text have no depth', async (t) => {
  for (const text of ['', '1', '"x"', 'null', 'true', '   ']) t.notOk(exceedsDepth(text, 0), JSON.stringify(text))
  t.ok(exceedsDepth('[]', 0), 'an empty array is one level')
  t.ok(exceedsDepth('{}', 0), 'an empty object is one level')
})

t.test('siblings do not add up: depth is the deepest path, not the count of brackets', async (t) => {
  const wide = `[${Array.from({ length: 10_000 }, () => '{"a":[1]}').join(',')}]`
  t.notOk(exceedsDepth(wide, 3))
  t.ok(exceedsDepth(`[${'{"a":[1]},'.repeat(100)}{"a":[[1]]}]`, 3), 'one deep element among shallow ones')
})

t.test('brackets inside strings are not nesting', async (t) => {
  t.notOk(exceedsDepth(`{"a":"${'['.repeat(1000)}${'{'.repeat(1000)}"}`, 1))
  t.notOk(exceedsDepth(`["${']'.repeat(100)}", "${'['.repeat(100)}"]`, 1))
  t.notOk(exceedsDepth(`{"${'[['.repeat(50)}": 1}`, 1), 'in a key too')
})

t.test('an escaped quote does not end a string', async (t) => {
  // "a\"[[[" is one string: its brackets are text.
  t.notOk(exceedsDepth(String.raw`{"s":"a\"[[[[[[[[["}`, 1))
  t.notOk(exceedsDepth(String.raw`{"s":"\"\"\"[[[[\""}`, 1), 'several escaped quotes in a row')
  // And the brackets after the string are counted again.
  t.ok(exceedsDepth(`${String.raw`{"s":"a\"b"}`}[[[`, 1))
  t.ok(exceedsDepth(String.raw`["\"", [[1]]]`, 2))
})

t.test('an escaped backslash does not escape the closing quote', async (t) => {
  // "a\\" ends at its last quote: the brackets after it are structure.
  t.ok(exceedsDepth(String.raw`["a\\", [[1]]]`, 2))
  t.notOk(exceedsDepth(String.raw`["a\\", [1]]`, 2))
  t.ok(exceedsDepth(String.raw`["\\\\", [[[1]]]]`, 3), 'two escaped backslashes')
  t.ok(exceedsDepth(String.raw`["\\\"", [[[1]]]]`, 3), 'an escaped backslash then an escaped quote')
  t.notOk(exceedsDepth(String.raw`["\\\"[[[[", 1]`, 1), 'the escaped quote keeps the string open over the brackets')
  t.ok(exceedsDepth(String.raw`["\u005c", [[1]]]`, 2), '\\u005c is a backslash only once parsed: it escapes nothing')
  t.ok(exceedsDepth(String.raw`["\u0022", [[1]]]`, 2), '\\u0022 is a quote only once parsed: it ends nothing')
})

t.test('a backslash as the very last character is not read past the end', async (t) => {
  t.notOk(exceedsDepth('["a\\', 1))
  t.notOk(exceedsDepth('"\\', 0))
})

t.test('unbalanced closers cannot hide later depth', async (t) => {
  t.ok(exceedsDepth(`${']'.repeat(1000)}${'['.repeat(4)}`, 3), 'closers before anything was opened')
  t.ok(exceedsDepth(`${'}'.repeat(1000)}${'{"a":'.repeat(4)}1${'}'.repeat(4)}`, 3))
  t.ok(exceedsDepth(`[1]]]]]]]${'['.repeat(4)}`, 3), 'more closers than openers in the middle')
  t.ok(exceedsDepth(`[[]]]]]]]}}}}${'['.repeat(4)}`, 3))
  t.ok(exceedsDepth(`[}]{${'['.repeat(3)}`, 3), 'closers of the wrong kind still close, and still cannot go below zero')
})

t.test('an unterminated string hides what follows, and valid JSON cannot have one', async (t) => {
  // The rest is string text, so the check passes; the parser then refuses the text.
  const text = `["abc${'['.repeat(100)}`
  t.notOk(exceedsDepth(text, 2))
  t.throws(() => JSON.parse(text))
})

t.test('a deep text is answered early and a long flat one in linear time', async (t) => {
  const started = performance.now()
  t.ok(exceedsDepth('['.repeat(10_000_000), 32))
  t.notOk(exceedsDepth(`[${'1,'.repeat(5_000_000)}1]`, 32))
  const elapsed = performance.now() - started
  t.ok(elapsed < 2000, `took ${elapsed.toFixed(1)} ms`)
})

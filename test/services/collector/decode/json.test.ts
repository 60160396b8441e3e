import t from 'tap'
import { exceedsDepth, parseArray, scanArray } from '../../../../services/collector/decode/json.js'

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

// Quadratic work on these texts would run for minutes: the timeout is the check, not a figure.
t.test('a deep text is answered early and a long flat one in linear time', { timeout: 20_000 }, async (t) => {
  t.ok(exceedsDepth('['.repeat(10_000_000), 32))
  t.notOk(exceedsDepth(`[${'1,'.repeat(5_000_000)}1]`, 32))
})

t.test('scanArray: each element as its own text, whatever it holds', async (t) => {
  const elements = (text: string, maxDepth = 32, maxElements = 100) => {
    const scanned = scanArray(text, maxDepth, maxElements)
    return scanned.ok ? scanned.elements : scanned.problem
  }
  t.same(elements('[]'), [])
  t.same(elements(' \r\n\t[ \n ] \n'), [], 'JSON whitespace around and inside')
  t.same(elements('[1,"two",{"three":3},[4],true,null,-5.5e3]'), [
    '1',
    '"two"',
    '{"three":3}',
    '[4]',
    'true',
    'null',
    '-5.5e3',
  ])
  t.same(elements('[ {"a" : [1, 2]} ,\n\t"b" ]'), ['{"a" : [1, 2]}', '"b"'], 'whitespace between is not kept')
  t.same(
    elements('["],[", {"}":"{"}, "\\"]", "\\\\"]'),
    ['"],["', '{"}":"{"}', '"\\"]"', '"\\\\"'],
    'brackets and quotes in strings',
  )
  t.same(elements('[{"a":[{"b":{}}]},[[],[]]]'), ['{"a":[{"b":{}}]}', '[[],[]]'])
})

t.test('scanArray leaves each element to JSON.parse, and checks the array itself', async (t) => {
  const problem = (text: string) => {
    const scanned = scanArray(text, 32, 100)
    return scanned.ok ? scanned.elements : scanned.reason
  }
  t.same(problem('[1,,2]'), ['1', '', '2'], 'an empty element is an element JSON.parse refuses')
  t.same(problem('[1,]'), ['1', ''])
  t.same(problem('[tru e]').toString(), 'not valid JSON: expected , or ] after element 0 at position 5')
  t.same(problem('[1 2]'), 'not valid JSON: expected , or ] after element 0 at position 3')
  t.same(problem('[1] x'), 'not valid JSON: text after the array at position 4')
  t.same(problem('[1]]'), 'not valid JSON: text after the array at position 3')
  t.same(problem('[1, 2'), 'not valid JSON: the array is not closed')
  t.same(problem('[1, {"a": [2]'), 'not valid JSON: element 1 is not closed')
  t.same(problem('[1, "abc'), 'not valid JSON: element 1 is not closed')
  t.same(problem('{"a":1}'), 'not valid JSON: not an array')
})

t.test('scanArray stops at the element past maxElements and the level past maxDepth', async (t) => {
  t.match(scanArray('[1,2,3]', 32, 3), { ok: true, elements: ['1', '2', '3'] })
  t.match(scanArray('[1,2,3,4]', 32, 3), { ok: false, problem: 'too_many' })
  // Nothing past the fourth element is looked at: neither its own text nor the junk after it.
  t.match(scanArray(`[1,2,3,{"a":"${'x'.repeat(50_000_000)}`, 32, 3), { ok: false, problem: 'too_many' })
  t.match(scanArray(`[${'{},'.repeat(1_000_000)}{}]`, 32, 10_000), { ok: false, problem: 'too_many' })
  t.match(scanArray('[[[1]]]', 3, 10), { ok: true, elements: ['[[1]]'] }, 'the array is one of the levels')
  t.match(scanArray('[[[[1]]]]', 3, 10), { ok: false, problem: 'too_deep', reason: /deeper than 3 levels/ })
  t.match(scanArray('[]', 0, 10), { ok: false, problem: 'too_deep' })
  t.match(scanArray('['.repeat(10_000_000), 32, 10), { ok: false, problem: 'too_deep' })
  t.match(scanArray(`[1,[${'['.repeat(40)}`, 32, 1), { ok: false, problem: 'too_many' }, 'the first limit met wins')
})

t.test('parseArray parses element by element, naming the element JSON.parse refuses', async (t) => {
  t.same(parseArray('[{"a":1}, [2], "three"]', 32, 10), { ok: true, values: [{ a: 1 }, [2], 'three'] })
  t.match(parseArray('[{"a":1}, {"b":}]', 32, 10), {
    ok: false,
    problem: 'invalid_json',
    reason: /^not valid JSON: element 1: /,
  })
  t.match(parseArray('[1,,2]', 32, 10), { ok: false, problem: 'invalid_json', reason: /element 1/ })
  t.match(parseArray('[1,2,3,4]', 32, 3), { ok: false, problem: 'too_many', reason: 'holds more than 3 elements' })
  t.match(parseArray('[[[[1]]]]', 3, 3), { ok: false, problem: 'too_deep' })
})

t.test('an array the scan accepts is one JSON.parse accepts, and the values are the same', async (t) => {
  const bodies = [
    '[]',
    '[1]',
    ' [ 1 , 2 ] ',
    '[1,]',
    '[,1]',
    '[1,,2]',
    '[1 2]',
    '[1]]',
    '[[1]',
    '[{]',
    '[}]',
    '[{"a":1]}]',
    '[{"a":1}}]',
    '["a"b]',
    '["a""b"]',
    '[nul]',
    '[null,true,false]',
    '[-0.5e-3, 1E+2]',
    '["\\u0041\\n"]',
    '["\\"]',
    '["\\\\"]',
    '[{"a":"]"}, {"b":"}"}]',
    '[1]\n',
    '[1] ,',
    '[\u00a01]',
    '[\ufeff1]',
    '[01]',
    "['a']",
  ]
  for (const body of bodies) {
    let expected: unknown
    try {
      expected = JSON.parse(body)
    } catch {
      expected = 'refused'
    }
    const parsed = parseArray(body, 32, 100)
    t.same(parsed.ok ? parsed.values : 'refused', expected, JSON.stringify(body))
  }
})

t.test(
  'parseArray parses a well-formed array with one JSON.parse, element by element only to name a fault',
  async (t) => {
    const parse = JSON.parse
    const texts: string[] = []
    JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
      texts.push(text)
      return parse(text, reviver)
    }) as typeof JSON.parse
    t.teardown(() => {
      JSON.parse = parse
    })
    const good = `[${Array.from({ length: 500 }, (_, i) => `{"n":${i},"s":"a \\" b"}`).join(',')}]`
    const parsed = parseArray(good, 32, 1000)
    t.equal(parsed.ok && parsed.values.length, 500)
    t.same(texts, [good], 'the whole array, once')

    texts.length = 0
    t.match(parseArray('[{"a":1}, [2], {"b":}, 4]', 32, 10), { ok: false, reason: /^not valid JSON: element 2: / })
    t.same(texts, ['[{"a":1}, [2], {"b":}, 4]', '{"a":1}', '[2]', '{"b":}'], 'then each element up to the one at fault')
  },
)

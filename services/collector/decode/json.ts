/** The one JSON guard every decoder reads outside text through. */
export type ParsedJson =
  | { ok: true; value: unknown }
  | { ok: false; problem: 'too_deep' | 'invalid_json'; reason: string }

/**
 * Parses JSON text once its nesting is known to be within `maxDepth`: deep nesting is a cheap way
 * to exhaust the stack of whatever walks the value, so the text is measured before it is parsed.
 */
export function parseJson(text: string, maxDepth: number): ParsedJson {
  if (exceedsDepth(text, maxDepth)) return { ok: false, problem: 'too_deep', reason: tooDeep(maxDepth) }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (err) {
    return { ok: false, problem: 'invalid_json', reason: `not valid JSON: ${(err as Error).message}` }
  }
}

/** What a JSON array text holds, element by element, or why it is refused as a whole. */
export type ParsedArray =
  | { ok: true; values: unknown[] }
  | { ok: false; problem: 'too_deep' | 'too_many' | 'invalid_json'; reason: string }

/**
 * Parses a JSON array once one pass over the text found the elements within `maxElements` and the
 * nesting (the array's own level included) within `maxDepth`: a huge array of tiny elements is
 * refused at the element past the limit, before anything of it is parsed. The bounded text is then
 * parsed whole; only when JSON.parse refuses it are the elements parsed one by one, to name the
 * element at fault.
 */
export function parseArray(text: string, maxDepth: number, maxElements: number): ParsedArray {
  const scanned = scan(text, maxDepth, maxElements, undefined)
  if (!scanned.ok) return scanned
  try {
    return { ok: true, values: JSON.parse(text) as unknown[] }
  } catch (err) {
    return {
      ok: false,
      problem: 'invalid_json',
      reason: `not valid JSON: ${faultOf(text, maxDepth, maxElements, err)}`,
    }
  }
}

/** Why JSON.parse refused an array the scan accepted: the first element it refuses, by number. */
function faultOf(text: string, maxDepth: number, maxElements: number, whole: unknown): string {
  const elements: string[] = []
  scan(text, maxDepth, maxElements, elements)
  for (const [index, element] of elements.entries()) {
    try {
      JSON.parse(element)
    } catch (err) {
      return `element ${index}: ${(err as Error).message}`
    }
  }
  // Not reached: the scan checked the array's own brackets and commas, so some element is at fault.
  return (whole as Error).message
}

/** The texts of a JSON array's elements, or why the array is refused; see parseArray. */
export type ScannedArray =
  | { ok: true; elements: string[] }
  | { ok: false; problem: 'too_deep' | 'too_many' | 'invalid_json'; reason: string }

/**
 * Finds the elements of a JSON array (whitespace around it allowed) in one pass that counts them
 * and their nesting as it goes, stopping at the first limit passed. Only the array's own brackets
 * and commas are checked here; each element's text is left for JSON.parse.
 */
export function scanArray(text: string, maxDepth: number, maxElements: number): ScannedArray {
  const elements: string[] = []
  const scanned = scan(text, maxDepth, maxElements, elements)
  return scanned.ok ? { ok: true, elements } : scanned
}

type Scanned = { ok: true } | { ok: false; problem: 'too_deep' | 'too_many' | 'invalid_json'; reason: string }

/** scanArray's pass; the element texts are cut out only when `elements` is given to collect them. */
function scan(text: string, maxDepth: number, maxElements: number, elements: string[] | undefined): Scanned {
  const invalid = (reason: string): Scanned => ({
    ok: false,
    problem: 'invalid_json',
    reason: `not valid JSON: ${reason}`,
  })
  let i = skipWhitespace(text, 0)
  if (text.charCodeAt(i) !== 0x5b) return invalid('not an array')
  if (maxDepth < 1) return { ok: false, problem: 'too_deep', reason: tooDeep(maxDepth) }
  let count = 0
  i = skipWhitespace(text, i + 1)
  if (text.charCodeAt(i) !== 0x5d) {
    for (;;) {
      if (count === maxElements) {
        return { ok: false, problem: 'too_many', reason: `holds more than ${maxElements} elements` }
      }
      const end = valueEnd(text, i, maxDepth - 1)
      if (end === TOO_DEEP) return { ok: false, problem: 'too_deep', reason: tooDeep(maxDepth) }
      if (end === UNCLOSED) return invalid(`element ${count} is not closed`)
      elements?.push(text.slice(i, end))
      count++
      i = skipWhitespace(text, end)
      const c = text.charCodeAt(i)
      if (c === 0x5d) break
      if (i >= text.length) return invalid('the array is not closed')
      if (c !== 0x2c) return invalid(`expected , or ] after element ${count - 1} at position ${i}`)
      i = skipWhitespace(text, i + 1)
    }
  }
  const after = skipWhitespace(text, i + 1)
  return after < text.length ? invalid(`text after the array at position ${after}`) : { ok: true }
}

const TOO_DEEP = -1
const UNCLOSED = -2

/**
 * Where the JSON value starting at `start` ends (exclusive): a string at its closing quote, an
 * object or array at its closing bracket, anything else before the next comma, closer or
 * whitespace. Nesting deeper than `maxDepth` is TOO_DEEP; text ending inside a value is UNCLOSED.
 */
function valueEnd(text: string, start: number, maxDepth: number): number {
  let depth = 0
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      i = stringEnd(text, i)
      if (i === UNCLOSED) return UNCLOSED
      if (depth === 0) return i + 1
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return TOO_DEEP
    } else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) return i
      if (--depth === 0) return i + 1
    } else if (depth === 0 && (c === 0x2c || isWhitespace(c))) return i
  }
  return depth === 0 ? text.length : UNCLOSED
}

/**
 * The index of the quote that closes the string opened at `open`, or UNCLOSED: the next quote not
 * escaped, found with indexOf (most of an event's text is in its strings) and an escape told by the
 * backslashes before it, an odd run escaping it.
 */
function stringEnd(text: string, open: number): number {
  let quote = text.indexOf('"', open + 1)
  while (quote !== -1) {
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++
    if (backslashes % 2 === 0) return quote
    quote = text.indexOf('"', quote + 1)
  }
  return UNCLOSED
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** The index of the first character at or after `from` that is not JSON whitespace. */
export function skipWhitespace(text: string, from: number): number {
  let i = from
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++
  return i
}

export function tooDeep(maxDepth: number): string {
  return `nests objects and arrays deeper than ${maxDepth} levels (QALQAN_COLLECTOR_MAX_DEPTH)`
}

/** Whether a JSON text nests objects and arrays deeper than `max`, found by one pass over the text. */
export function exceedsDepth(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--
    }
  }
  return false
}

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

/**
 * Whether a JSON text nests objects and arrays deeper than `max`, found by one pass over the text
 * before it is parsed: deep nesting is a cheap way to exhaust the stack of whatever walks the value.
 */
export function exceedsDepth(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
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

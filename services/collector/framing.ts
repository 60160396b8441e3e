import { QalqanError } from '../errors.js'

export interface LineLimits {
  maxEvents: number
  maxLineLength: number
}

/** The non-blank lines of a body (LF or CRLF), within the limits on how many and how long. */
export function splitLines(body: string, limits: LineLimits): string[] {
  const lines: string[] = []
  let start = 0
  let lineNumber = 0
  while (start <= body.length) {
    lineNumber++
    let end = body.indexOf('\n', start)
    if (end === -1) end = body.length
    const line = body.charCodeAt(end - 1) === 0x0d ? body.slice(start, end - 1) : body.slice(start, end)
    start = end + 1
    if (line.trim() === '') continue
    if (line.length > limits.maxLineLength) {
      throw new QalqanError(
        'QLQ_ERR_LINE_TOO_LONG',
        `line ${lineNumber} is longer than ${limits.maxLineLength} characters (QALQAN_COLLECTOR_MAX_LINE_LENGTH)`,
      )
    }
    if (lines.length === limits.maxEvents) throw tooManyEvents(limits.maxEvents)
    lines.push(line)
  }
  return lines
}

export function tooManyEvents(limit: number): QalqanError {
  return new QalqanError(
    'QLQ_ERR_TOO_MANY_EVENTS',
    `the request holds more events than the limit of ${limit} per request (QALQAN_COLLECTOR_MAX_EVENTS): split it`,
  )
}

/**
 * The top-level JSON objects of a body, in order; a piece that is not an object (`object: false`)
 * holds the rest of the body, which cannot be split reliably after it. The count is limited as the
 * body is split: the start of a piece past `maxEvents` refuses the body, so a body of millions of
 * tiny objects costs no more than `maxEvents` pieces.
 */
export function splitObjects(body: string, limits: { maxEvents: number }): { text: string; object: boolean }[] {
  const objects: { text: string; object: boolean }[] = []
  let i = 0
  while (i < body.length) {
    const c = body.charCodeAt(i)
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      i++
      continue
    }
    if (objects.length === limits.maxEvents) throw tooManyEvents(limits.maxEvents)
    const end = c === 0x7b ? objectEnd(body, i) : -1
    if (end === -1) {
      objects.push({ text: body.slice(i), object: false })
      return objects
    }
    objects.push({ text: body.slice(i, end + 1), object: true })
    i = end + 1
  }
  return objects
}

function objectEnd(text: string, start: number): number {
  let depth = 0
  let inString = false
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) depth++
    else if (c === 0x7d || c === 0x5d) {
      depth--
      if (depth === 0) return i
    }
  }
  return -1
}

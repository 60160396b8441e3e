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
      throw new QalqanError('QLQ_ERR_LINE_TOO_LONG', `line ${lineNumber} is longer than ${limits.maxLineLength} characters (QALQAN_COLLECTOR_MAX_LINE_LENGTH)`)
    }
    if (lines.length === limits.maxEvents) throw tooManyEvents(limits.maxEvents)
    lines.push(line)
  }
  return lines
}

export function tooManyEvents(limit: number): QalqanError {
  return new QalqanError('QLQ_ERR_TOO_MANY_EVENTS', `the request holds more events than the limit of ${limit} per request (QALQAN_COLLECTOR_MAX_EVENTS): split it`)
}

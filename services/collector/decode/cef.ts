import type { SensorEvent } from '../../../schemas/event.js'
import type { Decoded, DecodeLimits } from './decoded.js'
import { describe, finish, invalid, isoWithOffset, truncate } from './record.js'

type Category = SensorEvent['category']

const HEADER_FIELDS = 7
const MAX_SIGNATURE = 512

/**
 * Decodes one CEF line, bare or after a syslog header (RFC 3164 or 5424):
 * `CEF:Version|Vendor|Product|Version|Event Class ID|Name|Severity|key=value ...`.
 * The mapping is documented in docs/formats.md.
 */
// A CEF line is flat text, so the nesting limit has nothing to guard here.
export function decodeCef(record: string, _limits: DecodeLimits): Decoded {
  const start = record.indexOf('CEF:')
  if (start === -1) return invalid('no "CEF:" in the record')
  const header = splitHeader(record.slice(start + 'CEF:'.length))
  if (header === undefined) return invalid(`the CEF header has fewer than ${HEADER_FIELDS} pipe-separated fields`)
  const [version, , , , classId, name, severityText] = header.fields
  if (!/^\d+$/.test(version.trim())) return invalid(`CEF version: expected a number, got ${describe(version)}`)
  const severity = severityOf(severityText)
  if (severity === undefined)
    return invalid(
      `CEF severity: expected 0 to 10 or Unknown, Low, Medium, High, Very-High, got ${describe(severityText)}`,
    )
  const ext = parseExtension(header.extension)
  const time = eventTime(ext.get('rt'), record.slice(0, start))
  if (!time.ok) return invalid(time.reason)
  const signature = name.trim() || ext.get('msg') || ''
  return finish({
    occurred_at: time.value,
    category: categoryOf(ext.get('cat')) ?? categoryOf(name) ?? 'other',
    severity,
    signature: truncate(signature, MAX_SIGNATURE),
    signature_id: classId.trim() || undefined,
    src_ip: ext.get('src') ?? ext.get('c6a2'),
    src_port: integer(ext.get('spt')),
    dst_ip: ext.get('dst') ?? ext.get('c6a3'),
    dst_port: integer(ext.get('dpt')),
    protocol: ext.get('proto')?.toLowerCase(),
    count: integer(ext.get('cnt')),
  })
}

/** The seven header fields, `\|` and `\\` unescaped, and the extension after the seventh pipe. */
function splitHeader(text: string): { fields: string[]; extension: string } | undefined {
  const fields: string[] = []
  let field = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\' && (text[i + 1] === '|' || text[i + 1] === '\\')) {
      field += text[++i]
    } else if (c === '|') {
      fields.push(field)
      field = ''
      if (fields.length === HEADER_FIELDS) return { fields, extension: text.slice(i + 1) }
    } else {
      field += c
    }
  }
  // Some producers end the header at the severity, without the pipe before an empty extension.
  if (fields.length === HEADER_FIELDS - 1 && field.trim() !== '') return { fields: [...fields, field], extension: '' }
  return undefined
}

/**
 * A key is the word between the last space (or tab) and an unescaped `=`; its value runs to the
 * space before the next key, so values may hold spaces. A Map: keys are the sender's to choose.
 */
const EXTENSION_KEY = /(?:^|[ \t])([A-Za-z0-9_.[\]-]+)=/g

function parseExtension(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  const keys = [...text.matchAll(EXTENSION_KEY)]
  keys.forEach((match, i) => {
    const end = keys[i + 1]?.index ?? text.length
    const value = unescapeValue(text.slice(match.index + match[0].length, end).trim())
    // An empty value says nothing; dropping it lets the fallbacks (c6a2, the syslog time) apply.
    if (value !== '') fields.set(match[1], value)
  })
  return fields
}

function unescapeValue(text: string): string {
  return text.replace(/\\([\\=nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c))
}

const SEVERITY_WORDS = new Map([
  ['unknown', 1],
  ['low', 1],
  ['medium', 2],
  ['high', 3],
  ['very-high', 4],
  ['very high', 4],
])

/** CEF's 0-10 in the bands the standard names: 0-3 low, 4-6 medium, 7-8 high, 9-10 very high. */
function severityOf(text: string): number | undefined {
  const trimmed = text.trim()
  if (!/^\d{1,2}$/.test(trimmed)) return SEVERITY_WORDS.get(trimmed.toLowerCase())
  const value = Number(trimmed)
  if (value > 10) return undefined
  return value <= 3 ? 1 : value <= 6 ? 2 : value <= 8 ? 3 : 4
}

/** Vendors' category texts vary (`/Attack/Scan`, `Brute Force`, `Malware`): the first pattern that matches wins. */
const CATEGORY_PATTERNS: ReadonlyArray<readonly [RegExp, Category]> = [
  [/\b(?:botnet|c2|cnc|c&c)\b|command[\s_-]*and[\s_-]*control/, 'botnet_c2'],
  [/malware|virus|trojan|ransom|worm|spyware|backdoor/, 'malware'],
  [/phish/, 'phishing'],
  [/\bd?dos\b|denial[\s_-]*of[\s_-]*service|flood/, 'ddos'],
  [/\bweb|\bsql|\bxss\b/, 'web_attack'],
  [/brute|password[\s_-]*guess/, 'bruteforce'],
  [/exploit|overflow|privilege|injection/, 'exploit'],
  [/scan|recon|probe|sweep/, 'scan'],
  [/policy/, 'policy_violation'],
]

function categoryOf(text: string | undefined): Category | undefined {
  const lower = text?.toLowerCase()
  if (lower === undefined || lower === '') return undefined
  return CATEGORY_PATTERNS.find(([pattern]) => pattern.test(lower))?.[1]
}

const CEF_TIME = /^([A-Z][a-z]{2}) (\d{1,2}) (\d{4}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?) (UTC|GMT|Z|[+-]\d{2}:?\d{2})$/
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** The time after `<PRI>` and RFC 5424's version `1`; RFC 3164's `Mar  1 08:15:30` never matches ISO_TIME. */
const SYSLOG_TIME = /^(?:<\d{1,3}>)?(?:\d{1,2} )?(\S+)\s/

/**
 * The event time from `rt` (epoch milliseconds, ISO 8601 or `Mar 01 2025 08:15:30 +05:00`, each with
 * an offset), else from the syslog header. A time without an offset is refused rather than guessed.
 */
function eventTime(
  rt: string | undefined,
  syslogHeader: string,
): { ok: true; value: string } | { ok: false; reason: string } {
  const fromRt = rt === undefined ? undefined : receiptTime(rt)
  if (fromRt !== undefined) return { ok: true, value: fromRt }
  const fromHeader = isoWithOffset(SYSLOG_TIME.exec(syslogHeader)?.[1] ?? '')
  if (fromHeader !== undefined) return { ok: true, value: fromHeader }
  const what = rt === undefined ? 'no rt' : `rt ${describe(rt)} is not epoch milliseconds or a time with an offset`
  return { ok: false, reason: `${what}, and no syslog header time with an offset: the event time is unknown` }
}

function receiptTime(rt: string): string | undefined {
  // At most 15 digits: always within Date's range, so toISOString cannot throw.
  if (/^\d{1,15}$/.test(rt)) return new Date(Number(rt)).toISOString()
  const legacy = CEF_TIME.exec(rt)
  if (legacy === null) return isoWithOffset(rt)
  const [, month, day, year, clock, zone] = legacy
  const monthNumber = MONTHS.indexOf(month) + 1
  if (monthNumber === 0) return undefined
  return isoWithOffset(
    `${year}-${String(monthNumber).padStart(2, '0')}-${day.padStart(2, '0')}T${clock}${/^(UTC|GMT)$/.test(zone) ? 'Z' : zone}`,
  )
}

/** Digits become a number for the schema to range-check; anything else is passed on for it to refuse. */
function integer(text: string | undefined): number | string | undefined {
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : text
}

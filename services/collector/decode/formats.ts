import { decodeCef } from './cef.js'
import { decodeCowrie } from './cowrie.js'
import type { Decoder } from './decoded.js'
import { decodeSuricata } from './suricata.js'

/**
 * The sensor formats sent one record per line, by the name used in URLs (`/v1/events/<name>`) and
 * matched in HEC sourcetypes (a sourcetype containing the name). A new format is one decoder file
 * in this folder and one line here.
 */
export const FORMATS = {
  suricata: decodeSuricata,
  cowrie: decodeCowrie,
  cef: decodeCef,
} as const satisfies Record<string, Decoder>

export type LineFormat = keyof typeof FORMATS

export const FORMAT_NAMES = Object.keys(FORMATS) as LineFormat[]

export function isLineFormat(name: string): name is LineFormat {
  return Object.hasOwn(FORMATS, name)
}

/** The format a HEC sourcetype names (`suricata:eve`, `cowrie.json`, `fortigate_cef`...), else canonical events. */
export function formatOfSourcetype(sourcetype: string): LineFormat | 'canonical' {
  const lower = sourcetype.toLowerCase()
  return FORMAT_NAMES.find((name) => lower.includes(name)) ?? 'canonical'
}

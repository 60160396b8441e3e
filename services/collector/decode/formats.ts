import { decodeCef } from './cef.js'
import { decodeCowrie } from './cowrie.js'
import { decodeSuricata } from './suricata.js'
import type { Decoder } from './decoded.js'

/** The sensor formats sent one record per line, by the name used in URLs and HEC sourcetypes. */
export const LINE_DECODERS = {
  suricata: decodeSuricata,
  cowrie: decodeCowrie,
  cef: decodeCef,
} as const satisfies Record<string, Decoder>

export type LineFormat = keyof typeof LINE_DECODERS

export function isLineFormat(name: string): name is LineFormat {
  return Object.hasOwn(LINE_DECODERS, name)
}

import type { SensorEvent } from '../../../schemas/event.js'
import type { Decoded, DecodeContext } from './decoded.js'
import { describe, eventTime, finish, invalid, originName, parseObject, truncate, type JsonObject } from './record.js'

interface Mapping {
  category: SensorEvent['category']
  severity: number
  signature: string
  mitre?: string
}

/**
 * Decodes one line of Cowrie's JSON log. Connections, logins, commands, downloads, uploads and
 * tunnel requests become events; the session's bookkeeping (client version, key exchange,
 * terminal size, closing) is skipped. The mapping is documented in docs/formats.md.
 */
export function decodeCowrie(record: string, context: DecodeContext): Decoded {
  const parsed = parseObject(record, context)
  if (!parsed.ok) return invalid(parsed.reason)
  const log = parsed.value
  const { eventid } = log
  if (typeof eventid !== 'string' || eventid === '') return invalid('eventid: missing or not a string')
  const mapping = mappingOf(eventid, log)
  if (mapping === undefined) return { kind: 'skipped', reason: `eventid ${describe(eventid)} is not an attack step` }
  const time = eventTime(log.timestamp, context)
  if (!time.ok) return invalid(time.reason)
  return finish(
    {
      occurred_at: time.value,
      category: mapping.category,
      severity: mapping.severity,
      signature: mapping.signature,
      signature_id: eventid,
      mitre_technique: mapping.mitre,
      src_ip: log.src_ip,
      src_port: log.src_port,
      // T-Pot renames dst_* to dest_*.
      dst_ip: log.dst_ip ?? log.dest_ip,
      dst_port: log.dst_port ?? log.dest_port,
      protocol: protocolOf(log),
      // The honeypot's own name (cowrie.cfg `sensor_name`, else its host name).
      device: originName(log.sensor),
    },
    'event',
  )
}

function mappingOf(eventid: string, log: JsonObject): Mapping | undefined {
  switch (eventid) {
    case 'cowrie.session.connect':
      return { category: 'scan', severity: 1, signature: 'session connect' }
    case 'cowrie.login.failed':
      return { category: 'bruteforce', severity: 2, signature: 'login failed', mitre: 'T1110.001' }
    // The attacker is in: guessed, stuffed or known, so the parent technique.
    case 'cowrie.login.success':
      return { category: 'bruteforce', severity: 4, signature: 'login succeeded', mitre: 'T1110' }
    // Every command line is logged as input; command.failed repeats the unknown ones and is skipped.
    case 'cowrie.command.input':
      return { category: 'exploit', severity: 3, signature: labelled('command', log.input, 200), mitre: 'T1059' }
    // Output an attacker redirected into a file (`echo ... >> .ssh/authorized_keys`) is logged as a
    // download without a URL, naming the file written.
    case 'cowrie.session.file_download':
      return {
        category: 'malware',
        severity: 4,
        signature: labelled(
          'file download',
          typeof log.url === 'string' && log.url !== '' ? log.url : log.destfile,
          400,
        ),
        mitre: 'T1105',
      }
    case 'cowrie.session.file_upload':
      return { category: 'malware', severity: 4, signature: labelled('file upload', log.filename, 400), mitre: 'T1105' }
    // The honeypot asked to relay a connection elsewhere: abuse as a proxy, not an attack on it.
    case 'cowrie.direct-tcpip.request':
      return { category: 'policy_violation', severity: 2, signature: 'direct-tcpip request', mitre: 'T1090' }
    default:
      return undefined
  }
}

/** `label: text`, the text cut short (attacker-chosen and unbounded); the bare label when there is none. */
function labelled(label: string, text: unknown, max: number): string {
  return typeof text === 'string' && text !== '' ? `${label}: ${truncate(text, max)}` : label
}

/** session.connect names the protocol; older versions only hint at it by the session number (S1, T1). */
function protocolOf(log: JsonObject): string {
  if (typeof log.protocol === 'string' && log.protocol !== '') return log.protocol.toLowerCase()
  if (typeof log.sessionno === 'string') {
    if (log.sessionno.startsWith('S')) return 'ssh'
    if (log.sessionno.startsWith('T')) return 'telnet'
  }
  return 'tcp'
}

import { type RejectedRecord, rawFields } from '../../../schemas/rejected.js'

/**
 * Rejection records as earlier versions wrote them to the rejected topic, with the original text of
 * each record as its sensor sent it.
 */

/** A Forcepoint NGFW record whose rt has no zone: refused before sensor zones, read in the sensor's zone now. */
export const CEF_WITHOUT_ZONE =
  'CEF:0|FORCEPOINT|Firewall|6.10.2|200027|HTTP_CRL-Apache-Log4j-Remote-Code-Execution|8|deviceExternalId=NGFW-ALA node 1 dvc=192.0.2.1 dvchost=192.0.2.1 src=203.0.113.80 dst=192.0.2.44 spt=41822 dpt=80 proto=6 deviceOutboundInterface=2 act=Terminate deviceFacility=Inspection rt=Mar 14 2024 09:44:10 app=HTTP cs1Label=RuleID cs1=2097160.4'

/** Another one, an hour earlier, of a scan. */
export const CEF_SCAN_WITHOUT_ZONE =
  'CEF:0|FORCEPOINT|Firewall|6.10.2|70019|TCP_Port_Scan|5|deviceExternalId=NGFW-ALA node 1 dvc=192.0.2.1 src=198.51.100.9 dst=192.0.2.44 spt=52311 dpt=3389 proto=6 act=Discard deviceFacility=Inspection rt=Mar 14 2024 08:44:10 cs1Label=RuleID cs1=2097157.12'

/** A CEF line no version reads: its header stops after four fields. */
export const CEF_BROKEN = 'CEF:0|FORCEPOINT|Firewall|6.10.2'

/** A record of traffic the firewall let through: not an attack, dropped by the current decoder. */
export const CEF_ALLOWED =
  'CEF:0|FORCEPOINT|Firewall|6.10.2|70018|Connection_Allowed|0|src=203.0.113.7 dst=192.0.2.44 proto=6 act=Allow rt=Mar 14 2024 09:40:00'

/** What the older CEF decoder said of a time without a zone. */
export const OLD_REASON = 'rt: "Mar 14 2024 09:44:10" has no UTC offset, so its instant is unknown'

/** When the records arrived at the collector (09:44:15 in Almaty, UTC+5 since 2024-03-01). */
export const RECEIVED_AT = '2024-03-14T04:44:15.000Z'

export function rejection(raw: string, fields: Partial<RejectedRecord> = {}): RejectedRecord {
  return {
    reason: OLD_REASON,
    stage: 'decode',
    format: 'cef',
    sensor_id: 'test-fw-atyrau',
    index: 0,
    received_at: RECEIVED_AT,
    ...rawFields(raw),
    ...fields,
  }
}

/** A record whose original text was longer than the excerpt kept: only its first bytes are here. */
export function cutRejection(raw: string, fields: Partial<RejectedRecord> = {}): RejectedRecord {
  const whole = `${raw} ${'x'.repeat(70_000)}`
  return { ...rejection(whole, fields), ...rawFields(whole, 64 * 1024), ...fields }
}

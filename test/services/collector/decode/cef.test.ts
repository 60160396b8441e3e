import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { eventOf, reasonOf } from '../../../helpers/decoded.js'
import { checkMutations } from '../../../helpers/mutations.js'
import { SensorEvent } from '../../../../schemas/event.js'
import { decodeCef as decodeCefWith } from '../../../../services/collector/decode/cef.js'
import type { Decoded, DecodeContext, Decoder } from '../../../../services/collector/decode/decoded.js'

/** The arrival every test reads against unless it says otherwise: a sensor in Almaty, 10:00 local on 14 March 2024. */
const RECEIVED = new Date('2024-03-14T05:00:00.000Z')
const AT: DecodeContext = { maxDepth: 32, receivedAt: RECEIVED, timeZone: 'Asia/Almaty' }

const decodeCef = (record: string, context: Partial<DecodeContext> = {}) => decodeCefWith(record, { ...AT, ...context })
/** A HEC envelope's `time`, some minutes before the receive time. */
const ENVELOPE_TIME = new Date('2024-03-14T04:58:30.000Z')

function fixture(name: string): string[] {
  return readFileSync(new URL(`../../../fixtures/sensors/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
}

const EXTENSION = 'rt=1740798930123 src=203.0.113.10 spt=40000 dst=198.51.100.20 dpt=445 proto=TCP'

/** A bare CEF line; the header fields and the extension can be replaced. */
function cefLine({ name = 'Port scan detected', severity = '7', classId = '100', extension = EXTENSION } = {}): string {
  return `CEF:0|ExampleVendor|ExampleFW|1.0|${classId}|${name}|${severity}|${extension}`
}

/** The event's time and where it came from. */
function timeOf(t: Test, decoded: Decoded): [string, string | undefined] {
  const event = eventOf(t, decoded)
  return [event.occurred_at, decoded.kind === 'event' ? decoded.timeSource : undefined]
}

t.test('a CEF line becomes the canonical fields', async (t) => {
  const decoded = decodeCef(cefLine())
  t.same(eventOf(t, decoded), {
    occurred_at: '2025-03-01T03:15:30.123Z',
    category: 'scan',
    severity: 3,
    signature: 'Port scan detected',
    signature_id: '100',
    src_ip: '203.0.113.10',
    src_port: 40000,
    dst_ip: '198.51.100.20',
    dst_port: 445,
    protocol: 'tcp',
    count: 1,
  })
  t.equal(decoded.kind === 'event' ? decoded.timeSource : undefined, 'event')
})

// Lines in the shapes the vendors document (header fields, key order, their own keys, syslog
// framing); addresses, hosts, serial numbers and times are this project's.
const VENDOR_LINES: Array<{ vendor: string; line: string; event: SensorEvent; timeSource: string }> = [
  {
    vendor:
      "FortiGate (FortiOS 7, IPS), RFC 3164 header, no rt: FortiGate's own eventtime (nanoseconds) before the header",
    line: '<185>Mar 14 09:12:44 FGT-AST-01 CEF:0|Fortinet|Fortigate|v7.2.5|16384|utm:ips signature dropped|7|deviceExternalId=FG100FTK21000123 FTNTFGTlogid=0419016384 cat=utm:ips FTNTFGTsubtype=ips FTNTFGTeventtype=signature FTNTFGTlevel=alert FTNTFGTvd=root FTNTFGTeventtime=1710389564123456789 FTNTFGTtz=+0500 FTNTFGTseverity=critical src=203.0.113.45 spt=51234 deviceInboundInterface=wan1 FTNTFGTsrcintfrole=wan dst=198.51.100.10 dpt=443 deviceOutboundInterface=dmz FTNTFGTdstintfrole=dmz externalId=1182733 act=dropped proto=6 app=HTTPS FTNTFGTpolicyid=12 FTNTFGTattack=Apache.Log4j.Error.Log.Remote.Code.Execution FTNTFGTprofile=default FTNTFGTdirection=outgoing FTNTFGTattackid=51006 FTNTFGTref=http://www.fortinet.com/ids/VID51006 FTNTFGTincidentserialno=184549377 msg=applications3: Apache.Log4j.Error.Log.Remote.Code.Execution, FTNTFGTcrscore=50 FTNTFGTcrlevel=critical',
    event: {
      occurred_at: '2024-03-14T04:12:44.123Z',
      category: 'exploit',
      severity: 3,
      signature: 'Apache.Log4j.Error.Log.Remote.Code.Execution',
      signature_id: '51006',
      src_ip: '203.0.113.45',
      src_port: 51234,
      dst_ip: '198.51.100.10',
      dst_port: 443,
      protocol: 'tcp',
      count: 1,
      device: 'FG100FTK21000123',
    },
    timeSource: 'event',
  },
  {
    vendor: 'FortiGate (FortiOS 6.0, anomaly), "CEF: 0", a header without PRI as a syslog server writes it',
    line: 'Mar 14 09:20:01 FGT-AST-01 CEF: 0|Fortinet|Fortigate|v6.0.3|18432|utm:anomaly anomaly dropped|7|deviceExternalId=FGT5HD3915800610 FTNTFGTlogid=0720018432 cat=utm:anomaly FTNTFGTsubtype=anomaly FTNTFGTeventtype=anomaly FTNTFGTlevel=alert FTNTFGTvd=root FTNTFGTseverity=critical src=198.51.100.77 spt=40112 deviceInboundInterface=wan1 dst=192.0.2.10 dpt=22 externalId=0 act=dropped proto=6 app=tcp/22 FTNTFGTattack=tcp_port_scan FTNTFGTattackid=100663402 FTNTFGTcount=1001 msg=anomaly: tcp_port_scan, 1001 > threshold 1000',
    event: {
      occurred_at: '2024-03-14T04:20:01.000Z',
      category: 'scan',
      severity: 3,
      signature: 'tcp_port_scan',
      signature_id: '100663402',
      src_ip: '198.51.100.77',
      src_port: 40112,
      dst_ip: '192.0.2.10',
      dst_port: 22,
      protocol: 'tcp',
      count: 1,
      device: 'FGT5HD3915800610',
    },
    timeSource: 'header',
  },
  {
    vendor: 'PAN-OS threat (on-box CEF format), rt with GMT, the threat in cat',
    line: '<14>Mar 14 09:15:02 PA-3220-ALA CEF:0|Palo Alto Networks|PAN-OS|10.2.4|vulnerability|THREAT|5|rt=Mar 14 2024 04:15:01 GMT deviceExternalId=013201001234 src=203.0.113.99 dst=192.0.2.20 sourceTranslatedAddress=0.0.0.0 destinationTranslatedAddress=10.10.1.20 cs1Label=Rule cs1=inbound-dmz suser= duser= app=web-browsing cs3Label=Virtual System cs3=vsys1 cs4Label=Source Zone cs4=untrust cs5Label=Destination Zone cs5=dmz deviceInboundInterface=ethernet1/1 deviceOutboundInterface=ethernet1/3 cs6Label=LogProfile cs6=to-siem cn1Label=SessionID cn1=412233 cnt=1 spt=48211 dpt=80 sourceTranslatedPort=0 destinationTranslatedPort=80 flexString1Label=Flags flexString1=0x402000 proto=tcp act=reset-both request="/cgi-bin/shell.cgi?cmd\\=id" cs2Label=URL Category cs2=any flexString2Label=Direction flexString2=client-to-server PanOSActionFlags=0x2000000000000000 externalId=7319284712 cat=Apache Log4j Remote Code Execution Vulnerability(91991) fileId=0 PanOSDGl1=0 PanOSDGl2=0 PanOSDGl3=0 PanOSDGl4=0 PanOSVsysName= dvchost=PA-3220-ALA PanOSThreatCategory=code-execution PanOSContentVer=AppThreat-8795-8509',
    event: {
      occurred_at: '2024-03-14T04:15:01.000Z',
      category: 'exploit',
      severity: 2,
      signature: 'Apache Log4j Remote Code Execution Vulnerability(91991)',
      signature_id: '91991',
      src_ip: '203.0.113.99',
      src_port: 48211,
      dst_ip: '192.0.2.20',
      dst_port: 80,
      protocol: 'tcp',
      count: 1,
      device: 'PA-3220-ALA',
    },
    timeSource: 'event',
  },
  {
    vendor: 'PAN-OS spyware (C2) from the same device',
    line: '<14>Mar 14 09:16:40 PA-3220-ALA CEF:0|Palo Alto Networks|PAN-OS|10.2.4|spyware|THREAT|8|rt=Mar 14 2024 04:16:39 GMT deviceExternalId=013201001234 src=192.0.2.61 dst=198.51.100.200 cs1Label=Rule cs1=outbound-web app=ssl cs3Label=Virtual System cs3=vsys1 cs4Label=Source Zone cs4=trust cs5Label=Destination Zone cs5=untrust cnt=1 spt=50512 dpt=443 proto=tcp act=reset-both cs2Label=URL Category cs2=command-and-control flexString2Label=Direction flexString2=client-to-server externalId=7319284790 cat=ZeroAccess.Gen Command and Control Traffic(13235) dvchost=PA-3220-ALA PanOSThreatCategory=botnet',
    event: {
      occurred_at: '2024-03-14T04:16:39.000Z',
      category: 'botnet_c2',
      severity: 3,
      signature: 'ZeroAccess.Gen Command and Control Traffic(13235)',
      signature_id: '13235',
      src_ip: '192.0.2.61',
      src_port: 50512,
      dst_ip: '198.51.100.200',
      dst_port: 443,
      protocol: 'tcp',
      count: 1,
      device: 'PA-3220-ALA',
    },
    timeSource: 'event',
  },
  {
    vendor: 'Palo Alto Networks log forwarding (Strata Logging Service): rt without a zone, dtz=UTC',
    line: '<14>1 2024-03-14T04:48:22.900Z stream-logfwd20-5877181 logforwarder - panwlogs - CEF:0|Palo Alto Networks|LF|2.0|THREAT|spyware|1|ProfileToken=xxxxx dtz=UTC rt=Mar 14 2024 04:48:21 deviceExternalId=013201001234 start=Mar 14 2024 04:48:16 PanOSApplicationCategory=general-internet PanOSApplicationRisk=4 PanOSIsClienttoServer=true src=192.0.2.61 dst=198.51.100.201 spt=50514 dpt=443 proto=TCP act=reset-both',
    event: {
      occurred_at: '2024-03-14T04:48:21.000Z',
      category: 'malware',
      severity: 1,
      signature: 'spyware',
      signature_id: 'THREAT',
      src_ip: '192.0.2.61',
      src_port: 50514,
      dst_ip: '198.51.100.201',
      dst_port: 443,
      protocol: 'tcp',
      count: 1,
      device: '013201001234',
    },
    timeSource: 'event',
  },
  {
    vendor: 'Check Point Log Exporter (IPS), RFC 5424 header with structured data, severity Very-High',
    line: '<134>1 2024-03-14T09:31:40+05:00 cp-mgmt-01 CheckPoint 2901 - [sc@2620 Action="Drop" product="SmartDefense"] CEF:0|Check Point|SmartDefense|Check Point|Log|SMB Protocol Brute Force Attempt|Very-High|act=Drop cs1Label=Threat Prevention Rule Name cs1=Standard Policy cs2Label=Protection ID cs2=asm_dynamic_prop_SMB_BRUTE_FORCE deviceDirection=0 rt=1710390699000 spt=49822 dpt=445 dst=192.0.2.30 proto=6 src=198.51.100.31 origin=192.0.2.254 originsicname=CN\\=gw-ast-01,O\\=cp-mgmt-01..b4q7tn product=SmartDefense ifname=eth1 loguid={0x65f2857c,0x0,0x1500140a,0xc0000001} sequencenum=7 version=5 protection_type=IPS confidence_level=3 performance_impact=2 industry_reference=CVE-2017-0144 cp_severity=Critical',
    event: {
      occurred_at: '2024-03-14T04:31:39.000Z',
      category: 'bruteforce',
      severity: 4,
      signature: 'SMB Protocol Brute Force Attempt',
      signature_id: 'Log',
      src_ip: '198.51.100.31',
      src_port: 49822,
      dst_ip: '192.0.2.30',
      dst_port: 445,
      protocol: 'tcp',
      count: 1,
    },
    timeSource: 'event',
  },
  {
    vendor:
      'Check Point firewall, no time at all: the receive time; IPv6 in c6a2/c6a3; baseEventCount; severity Unknown, cp_severity Very-High',
    line: 'CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Drop cp_app_risk=High cp_severity=Very-High baseEventCount=12 deviceFacility=4 c6a2=2001:db8::555 c6a2Label=Source IPv6 Address c6a3=2001:db8:1::1 c6a3Label=Destination IPv6 Address fileHash=580a783c1cb2b20613323f715d231a69 cn2=5 cn2Label=Duration in Seconds',
    event: {
      occurred_at: '2024-03-14T05:00:00.000Z',
      category: 'other',
      severity: 4,
      signature: 'https',
      signature_id: 'Log',
      src_ip: '2001:db8::555',
      dst_ip: '2001:db8:1::1',
      count: 12,
    },
    timeSource: 'received',
  },
  {
    vendor: 'Forcepoint NGFW: rt=MMM dd yyyy HH:mm:ss without a zone, before 2024-03-01 (Almaty UTC+6)',
    line: 'CEF:0|FORCEPOINT|Firewall|6.10.2|70019|Connection_Discarded|0|deviceExternalId=NGFW-ALA node 1 dvc=192.0.2.1 dvchost=192.0.2.1 src=203.0.113.7 dst=192.0.2.44 spt=52311 dpt=3389 proto=6 deviceOutboundInterface=255 act=Discard deviceFacility=Packet Filtering rt=Jan 17 2024 08:56:21 app=RDP (TCP) cs1Label=RuleID cs1=2097157.12',
    event: {
      occurred_at: '2024-01-17T02:56:21.000Z',
      category: 'other',
      severity: 1,
      signature: 'Connection_Discarded',
      signature_id: '70019',
      src_ip: '203.0.113.7',
      src_port: 52311,
      dst_ip: '192.0.2.44',
      dst_port: 3389,
      protocol: 'tcp',
      count: 1,
      device: '192.0.2.1',
    },
    timeSource: 'event',
  },
  {
    vendor: 'Forcepoint NGFW inspection: after 2024-03-01 (Almaty UTC+5)',
    line: 'CEF:0|FORCEPOINT|Firewall|6.10.2|200027|HTTP_CRL-Apache-Log4j-Remote-Code-Execution|8|deviceExternalId=NGFW-ALA node 1 dvc=192.0.2.1 dvchost=192.0.2.1 src=203.0.113.80 dst=192.0.2.44 spt=41822 dpt=80 proto=6 deviceOutboundInterface=2 act=Terminate deviceFacility=Inspection rt=Mar 14 2024 09:44:10 app=HTTP cs1Label=RuleID cs1=2097160.4',
    event: {
      occurred_at: '2024-03-14T04:44:10.000Z',
      category: 'exploit',
      severity: 3,
      signature: 'HTTP_CRL-Apache-Log4j-Remote-Code-Execution',
      signature_id: '200027',
      src_ip: '203.0.113.80',
      src_port: 41822,
      dst_ip: '192.0.2.44',
      dst_port: 80,
      protocol: 'tcp',
      count: 1,
      device: '192.0.2.1',
    },
    timeSource: 'event',
  },
  {
    vendor: 'Trend Micro Deep Security Agent (intrusion prevention), RFC 3164 header, no rt',
    line: '<134>Mar 14 09:40:11 dsm-ala CEF:0|Trend Micro|Deep Security Agent|20.0.1-3180|1008610|SMB Remote Code Execution Vulnerability (CVE-2017-0144)|8|cn1=1 cn1Label=Host ID dvchost=web-ala-01 dmac=00:50:56:F5:7F:47 smac=00:0C:29:EB:35:DE TrendMicroDsFrameType=IP src=198.51.100.140 dst=192.0.2.80 out=1093 cs3=DF MF cs3Label=Fragmentation Bits proto=TCP spt=49786 dpt=445 cs2=0x00 ACK PSH cs2Label=TCP Flags cnt=1 act=IDS:Reset cn3=10 cn3Label=Intrusion Prevention Packet Position cs5=10 cs5Label=Intrusion Prevention Stream Position cs6=8 cs6Label=Intrusion Prevention Flags TrendMicroDsPacketData=R0VUIC9zP3',
    event: {
      occurred_at: '2024-03-14T04:40:11.000Z',
      category: 'exploit',
      severity: 3,
      signature: 'SMB Remote Code Execution Vulnerability (CVE-2017-0144)',
      signature_id: '1008610',
      src_ip: '198.51.100.140',
      src_port: 49786,
      dst_ip: '192.0.2.80',
      dst_port: 445,
      protocol: 'tcp',
      count: 1,
      device: 'web-ala-01',
    },
    timeSource: 'header',
  },
]

t.test('vendor lines, field by field', async (t) => {
  for (const { vendor, line, event, timeSource } of VENDOR_LINES) {
    t.test(vendor, async (t) => {
      const decoded = decodeCef(line)
      t.same(eventOf(t, decoded), event)
      t.equal(decoded.kind === 'event' ? decoded.timeSource : undefined, timeSource, 'time source')
      const enveloped = decodeCef(line, { envelopeTime: ENVELOPE_TIME })
      if (timeSource === 'received')
        t.same(timeOf(t, enveloped), [ENVELOPE_TIME.toISOString(), 'envelope'], "no time of its own: the envelope's")
      else t.same(enveloped, decoded, 'its own time wins over an envelope time')
    })
  }
})

t.test('a time without a zone from a sensor in Asia/Almaty or Asia/Qyzylorda, around 2024-03-01', async (t) => {
  const forcepoint = (rt: string) =>
    `CEF:0|FORCEPOINT|Firewall|6.10.2|70019|Connection_Discarded|0|deviceExternalId=NGFW node 1 src=203.0.113.7 dst=192.0.2.44 proto=6 rt=${rt} cs1Label=RuleID cs1=1.0`
  const cases: Array<[string, string, string]> = [
    ['Asia/Almaty', 'Feb 28 2024 12:00:00', '2024-02-28T06:00:00.000Z'],
    ['Asia/Almaty', 'Feb 29 2024 23:30:00', '2024-02-29T17:30:00.000Z'],
    ['Asia/Almaty', 'Mar 01 2024 00:30:00', '2024-02-29T19:30:00.000Z'],
    ['Asia/Almaty', 'Mar 02 2024 12:00:00', '2024-03-02T07:00:00.000Z'],
    ['Asia/Qyzylorda', 'Feb 28 2024 12:00:00', '2024-02-28T07:00:00.000Z'],
    ['Asia/Qyzylorda', 'Mar 02 2024 12:00:00', '2024-03-02T07:00:00.000Z'],
    ['UTC', 'Feb 28 2024 12:00:00', '2024-02-28T12:00:00.000Z'],
  ]
  for (const [timeZone, rt, expected] of cases)
    t.same(timeOf(t, decodeCef(forcepoint(rt), { timeZone })), [expected, 'event'], `${rt} in ${timeZone}`)
})

t.test('rt, end and start in every form the CEF standard lists', async (t) => {
  const withTime = (time: string, context: Partial<DecodeContext> = {}) =>
    decodeCef(cefLine({ extension: `${time} src=203.0.113.10` }), context)
  const cases: Array<[string, string]> = [
    ['rt=1710393164517', '2024-03-14T05:12:44.517Z'],
    ['rt=0', '1970-01-01T00:00:00.000Z'],
    ['rt=Mar 14 2024 09:12:44.517 +05:00', '2024-03-14T04:12:44.517Z'],
    ['rt=Mar 14 2024 09:12:44.5 +0500', '2024-03-14T04:12:44.500Z'],
    ['rt=Mar 14 2024 09:12:44 GMT+05:00', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 09:12:44 UTC+5', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 00:42:44 -03:30', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 04:12:44 UTC', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 04:12:44 GMT', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 04:12:44 Z', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 13:12:44 Asia/Tokyo', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 2024 09:12:44.250', '2024-03-14T04:12:44.250Z'],
    ['rt=Mar  4 2024 09:12:44', '2024-03-04T04:12:44.000Z'],
    ['rt=mar 14 2024 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 09:12:44.517', '2024-03-14T04:12:44.517Z'],
    ['rt=Mar 14 04:12:44 GMT', '2024-03-14T04:12:44.000Z'],
    ['rt=Mar 14 04:12:44.517 UTC', '2024-03-14T04:12:44.517Z'],
    ['rt=2024-03-14T09:12:44.123456+05:00', '2024-03-14T04:12:44.123Z'],
    ['rt=2024-03-14T09:12:44+0500', '2024-03-14T04:12:44.000Z'],
    ['rt=2024-03-14T04:12:44Z', '2024-03-14T04:12:44.000Z'],
    ['rt=2024-03-14T09:12:44', '2024-03-14T04:12:44.000Z'],
    ['rt=2024-03-14T09:12', '2024-03-14T04:12:00.000Z'],
    ['end=Mar 14 2024 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['start=Mar 14 2024 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['start=Mar 14 2024 09:00:00 end=Mar 14 2024 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['end=Mar 14 2024 09:00:00 rt=Mar 14 2024 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['deviceReceiptTime=Mar 14 2024 09:12:44', '2024-03-14T04:12:44.000Z'],
    ['dtz=Asia/Tokyo rt=Mar 14 2024 13:12:44', '2024-03-14T04:12:44.000Z'],
    ['dtz=UTC rt=Mar 14 04:12:44', '2024-03-14T04:12:44.000Z'],
    ['dtz=Asia/Tokyo rt=Mar 14 2024 04:12:44 GMT', '2024-03-14T04:12:44.000Z'],
    ['dtz=Asia/Tokyo rt=1710389564000', '2024-03-14T04:12:44.000Z'],
  ]
  for (const [time, expected] of cases) t.same(timeOf(t, withTime(time)), [expected, 'event'], time)

  t.match(reasonOf(t, withTime('rt=Foo 14 2024 09:12:44')), /^rt: "Foo 14 2024 09:12:44" is not a CEF time: epoch/)
  t.match(reasonOf(t, withTime('rt=14.03.2024 09:12:44')), /^rt: .* is not a CEF time/)
  t.match(reasonOf(t, withTime('rt=1740798930123456789')), /is not a CEF time/, 'too many digits for milliseconds')
  t.match(reasonOf(t, withTime('rt=999999999999999')), /^occurred_at:/, 'a year the schema refuses')
  t.match(reasonOf(t, withTime('rt=Feb 30 2024 09:12:44')), /^rt: "Feb 30 2024 09:12:44" is not a calendar date/)
  t.match(reasonOf(t, withTime('rt=Mar 14 2024 24:00:00')), /not a calendar date/)
  t.match(reasonOf(t, withTime('rt=2024-13-01T00:00:00Z')), /not a calendar date/)
  t.match(
    reasonOf(t, withTime('rt=Mar 14 2024 09:12:44 XYZ')),
    /^rt: the zone of "Mar 14 2024 09:12:44 XYZ" is not understood: write an offset within ±14:00/,
  )
  t.match(reasonOf(t, withTime('rt=Mar 14 2024 09:12:44 +15:00')), /zone .* is not understood/, 'beyond ±14:00')
  t.match(reasonOf(t, withTime('rt=Mar 14 2024 09:12:44 +05:75')), /zone .* is not understood/)
  t.match(
    reasonOf(t, withTime('dtz=Mars/Olympus_Mons rt=Mar 14 2024 09:12:44')),
    /^rt: dtz "Mars\/Olympus_Mons" is not understood/,
    'a device zone that cannot be read is not guessed',
  )
  t.same(
    timeOf(t, withTime('rt=Mar 14 2024 09:12:44 rt=')),
    ['2024-03-14T04:12:44.000Z', 'event'],
    'an empty value is no value: the first rt stands',
  )
})

t.test('a time without a year: the year that puts it nearest the receive time', async (t) => {
  const yearless = (rt: string, receivedAt: string) =>
    timeOf(t, decodeCef(cefLine({ extension: `rt=${rt} src=203.0.113.10` }), { receivedAt: new Date(receivedAt) }))
  t.same(yearless('Dec 31 23:59:59', '2024-01-01T00:10:00Z'), ['2023-12-31T17:59:59.000Z', 'event'], 'last year')
  t.same(yearless('Jan 01 00:00:10', '2023-12-31T18:59:00Z'), ['2023-12-31T18:00:10.000Z', 'event'], 'next year')
  t.same(yearless('Jun 15 12:00:00', '2024-03-14T05:00:00Z'), ['2024-06-15T07:00:00.000Z', 'event'], 'months ahead')
  t.same(yearless('Feb 29 12:00:00', '2025-03-01T00:00:00Z'), ['2024-02-29T06:00:00.000Z', 'event'], 'a leap day')
  t.match(
    reasonOf(
      t,
      decodeCef(cefLine({ extension: 'rt=Feb 29 12:00:00 src=203.0.113.10' }), { receivedAt: new Date('2022-06-01') }),
    ),
    /not a calendar date/,
    'no leap year within one of the receive year',
  )
})

t.test('the syslog header when the record has no time of its own', async (t) => {
  const headed = (header: string, extension = 'src=203.0.113.10', context: Partial<DecodeContext> = {}) =>
    timeOf(t, decodeCef(`${header}${cefLine({ extension })}`, context))
  t.same(headed('<134>Mar 14 09:12:44 fw01 '), ['2024-03-14T04:12:44.000Z', 'header'], 'RFC 3164: sensor zone, year')
  t.same(headed('<134>Mar  4 09:12:44 fw01 '), ['2024-03-04T04:12:44.000Z', 'header'], 'a day padded with a space')
  t.same(headed('<134>Feb 29 23:30:00 fw01 '), ['2024-02-29T17:30:00.000Z', 'header'], "Almaty's repeated hour")
  t.same(headed('<134>Mar 14 09:12:44 fw01 ', 'src=203.0.113.10', { timeZone: 'Asia/Qyzylorda' }), [
    '2024-03-14T04:12:44.000Z',
    'header',
  ])
  t.same(headed('<134>Mar 14 09:12:44 fw01 ', 'src=203.0.113.10', { timeZone: 'Europe/Berlin' }), [
    '2024-03-14T08:12:44.000Z',
    'header',
  ])
  t.same(headed('<134>Oct 02 2022 17:06:18 fw01 '), ['2022-10-02T11:06:18.000Z', 'header'], 'with a year')
  t.same(headed('Mar 14 09:12:44.250 fw01 '), ['2024-03-14T04:12:44.250Z', 'header'], 'no PRI, milliseconds')
  t.same(
    headed('<134>1 2024-03-14T09:12:44.120+05:00 fw01 fwd 4412 - - '),
    ['2024-03-14T04:12:44.120Z', 'header'],
    'RFC 5424',
  )
  t.same(
    headed('<134>1 2024-03-14T09:12:44 fw01 fwd - - - '),
    ['2024-03-14T04:12:44.000Z', 'header'],
    'RFC 5424 without an offset: the sensor zone',
  )
  t.same(headed('2024-03-14T09:12:44.5+0500 fw01 fwd: '), ['2024-03-14T04:12:44.500Z', 'header'], 'rsyslog ISO')
  t.same(headed('<13>2024-03-14T04:12:44Z fw01 fwd: '), ['2024-03-14T04:12:44.000Z', 'header'])
  t.same(headed('<134>1 - fw01 fwd - - - '), ['2024-03-14T05:00:00.000Z', 'received'], 'a nil 5424 time')
  t.same(headed('<134>fw01 '), ['2024-03-14T05:00:00.000Z', 'received'], 'a header without a time')
  t.same(headed('<134>Feb 30 09:12:44 fw01 '), ['2024-03-14T05:00:00.000Z', 'received'], 'an impossible header date')
  t.same(
    headed('<134>Mar 14 09:12:44 fw01 ', 'rt=1710389000000 src=203.0.113.10'),
    ['2024-03-14T04:03:20.000Z', 'event'],
    "the record's own time wins",
  )
  t.same(headed('', 'src=203.0.113.10'), ['2024-03-14T05:00:00.000Z', 'received'], 'no time anywhere')
})

t.test('the arrival is read from the context: the zone and the receive time given, never assumed', async (t) => {
  const zoneless =
    'CEF:0|FORCEPOINT|Firewall|6.10.2|70019|Connection_Discarded|0|src=203.0.113.7 rt=Jan 17 2024 08:56:21'
  t.same(timeOf(t, decodeCef(zoneless)), ['2024-01-17T02:56:21.000Z', 'event'], 'a sensor in Asia/Almaty (UTC+6 then)')
  t.same(timeOf(t, decodeCef(zoneless, { timeZone: 'Asia/Qyzylorda' })), ['2024-01-17T03:56:21.000Z', 'event'])
  t.same(
    timeOf(t, decodeCef(zoneless, { timeZone: 'UTC' })),
    ['2024-01-17T08:56:21.000Z', 'event'],
    'the zone the routes give a sensor with none (QALQAN_COLLECTOR_DEFAULT_TIME_ZONE=UTC)',
  )
  t.same(
    timeOf(t, decodeCef(zoneless, { receivedAt: new Date('2031-07-01T00:00:00Z') })),
    ['2024-01-17T02:56:21.000Z', 'event'],
    'a time with its year does not depend on the receive time',
  )

  const yearless = 'CEF:0|V|P|1|100|Port scan|5|src=203.0.113.7 rt=Dec 31 23:30:00'
  t.same(
    timeOf(t, decodeCef(yearless)),
    ['2023-12-31T17:30:00.000Z', 'event'],
    'no year: the one nearest the receive time (2024-03-14)',
  )
  t.same(
    timeOf(t, decodeCef(yearless, { receivedAt: new Date('2026-01-01T00:10:00Z') })),
    ['2025-12-31T18:30:00.000Z', 'event'],
    'received another year: that year',
  )

  const timeless = 'CEF:0|V|P|1|100|Port scan|5|src=203.0.113.7'
  t.same(timeOf(t, decodeCef(timeless)), ['2024-03-14T05:00:00.000Z', 'received'])
  const later = new Date('2024-03-14T06:30:00.123Z')
  t.same(
    timeOf(t, decodeCef(timeless, { receivedAt: later })),
    [later.toISOString(), 'received'],
    'the receive time given',
  )
  t.same(
    timeOf(t, decodeCef(cefLine(), { receivedAt: later, timeZone: 'UTC' })),
    ['2025-03-01T03:15:30.123Z', 'event'],
    'epoch milliseconds need no arrival',
  )
})

t.test('every line of the fixture', async (t) => {
  const expected: Array<Partial<SensorEvent>> = [
    {
      occurred_at: '2025-03-01T03:15:30.000Z',
      category: 'scan',
      severity: 3,
      signature_id: '100',
      src_port: 40000,
      dst_port: 445,
      protocol: 'tcp',
    },
    {
      occurred_at: '2025-03-01T03:15:30.123Z',
      category: 'bruteforce',
      severity: 3,
      count: 25,
      signature_id: 'ips-31337',
    },
    {
      occurred_at: '2025-03-01T03:16:02.517Z',
      category: 'web_attack',
      severity: 4,
      src_ip: '198.51.100.77',
      dst_port: 443,
    },
    {
      occurred_at: '2025-03-01T03:17:10.250Z',
      category: 'malware',
      severity: 4,
      signature: 'Trojan.Linux.Mirai.B',
    },
    {
      occurred_at: '2025-03-01T03:18:00.000Z',
      category: 'ddos',
      severity: 3,
      signature: 'SYN flood on | edge \\ router',
      count: 120000,
      dst_port: 80,
    },
    { occurred_at: '2025-03-01T03:19:44.000Z', category: 'phishing', severity: 2, dst_port: 25 },
    { occurred_at: '2025-03-01T03:21:00.000Z', category: 'policy_violation', severity: 1, protocol: 'tcp' },
    { category: 'other', severity: 2, src_ip: '2001:db8::bad', dst_ip: '2001:db8:1::80', dst_port: 8443 },
    {
      category: 'exploit',
      severity: 2,
      signature: 'Remote thread created in lsass.exe by C:\\Users\\Public\\svc.exe\nparent=explorer.exe',
    },
    { category: 'botnet_c2', severity: 4, src_ip: '198.51.100.66', src_port: 443 },
  ]
  const lines = fixture('cef.log')
  t.equal(lines.length, expected.length, 'one expectation per line')
  for (const [i, line] of lines.entries()) t.has(eventOf(t, decodeCef(line)), expected[i] ?? {}, `line ${i + 1}`)
})

t.test('the bad fixture: each line is invalid with its reason, or, once readable, an event', async (t) => {
  const outcomes: Array<RegExp | Partial<SensorEvent>> = [
    /no "CEF:"/,
    /fewer than 7/,
    { occurred_at: '2025-03-01T03:21:00.000Z', src_ip: '203.0.113.10' },
    /^CEF severity/,
    /^src_ip:/,
    /^src_port:/,
    /^src_ip:/,
  ]
  const lines = fixture('cef-bad.log')
  t.equal(lines.length, outcomes.length, 'one expectation per line')
  for (const [i, line] of lines.entries()) {
    const outcome = outcomes[i] ?? /./
    if (outcome instanceof RegExp) t.match(reasonOf(t, decodeCef(line)), outcome, `line ${i + 1}`)
    else t.has(eventOf(t, decodeCef(line)), outcome, `line ${i + 1}: a time without a zone, in the sensor's`)
  }
})

t.test('the header: seven fields, \\| and \\\\ unescaped', async (t) => {
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: 'a \\| b \\\\ c \\n d' }))).signature,
    'a | b \\ c \\n d',
    'other escapes stay as written',
  )
  t.equal(eventOf(t, decodeCef(cefLine({ classId: 'id\\|7' }))).signature_id, 'id|7')
  t.equal(eventOf(t, decodeCef(cefLine({ name: 'ends with a backslash \\\\' }))).signature, 'ends with a backslash \\')
  t.match(reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name|5|rt=1740798930123')), /^src_ip:/, 'an empty extension')
  t.match(
    reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name|5')),
    /^src_ip:/,
    'no pipe after the severity: accepted, then no source address',
  )
  t.match(reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name|')), /fewer than 7/)
  t.match(reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name')), /fewer than 7/)
  t.match(
    reasonOf(t, decodeCef('CEF:0|V|P|1|100|Name\\|7|src=203.0.113.10')),
    /^CEF severity: .* got "src=203\.0\.113\.10"/,
    'an escaped pipe separates nothing',
  )
  t.match(reasonOf(t, decodeCef('CEF:')), /fewer than 7/)
  t.match(reasonOf(t, decodeCef('CEF:x|V|P|1|100|Name|7|src=203.0.113.10')), /^CEF version: expected a number, got "x"/)
  t.match(
    reasonOf(t, decodeCef('CEF: this line merely mentions CEF: in prose | a | b | c | d | e | f |')),
    /^CEF version/,
  )
  t.match(reasonOf(t, decodeCef('LEEF:1.0|V|P|1|100|src=203.0.113.10')), /no "CEF:"/)
  t.match(
    reasonOf(t, decodeCef('cef:0|V|P|1|100|Name|7|src=203.0.113.10')),
    /no "CEF:"/,
    'the prefix is case-sensitive',
  )
  t.equal(eventOf(t, decodeCef(cefLine().replace('CEF:0', 'CEF:1'))).signature, 'Port scan detected', 'CEF 1')
  t.equal(eventOf(t, decodeCef(cefLine().replace('CEF:0', 'CEF: 0'))).signature, 'Port scan detected', 'CEF: 0')
  t.notOk('signature_id' in eventOf(t, decodeCef(cefLine({ classId: '' }))), 'an empty class id')
  t.match(
    reasonOf(t, decodeCef(cefLine({ classId: 'c'.repeat(200) }))),
    /^signature_id:/,
    'an id is not cut: it would collide',
  )
})

t.test('severity: 0-10 in bands, the standard words, or the syslog and vendor levels', async (t) => {
  const cases: Array<[string, number]> = [
    ['0', 1],
    ['1', 1],
    ['2', 1],
    ['3', 1],
    ['4', 2],
    ['5', 2],
    ['6', 2],
    ['7', 3],
    ['8', 3],
    ['9', 4],
    ['10', 4],
    [' 9 ', 4],
    ['05', 2],
    ['Unknown', 1],
    ['Low', 1],
    ['low', 1],
    ['Medium', 2],
    ['High', 3],
    ['Very-High', 4],
    ['very-high', 4],
    ['HIGH', 3],
    ['Very High', 4],
    ['Debug', 1],
    ['Info', 1],
    ['Informational', 1],
    ['information', 1],
    ['Notice', 1],
    ['Warning', 2],
    ['Error', 3],
    ['Critical', 4],
    ['critical', 4],
    ['Alert', 4],
    ['Emergency', 4],
  ]
  for (const [severity, ours] of cases)
    t.equal(eventOf(t, decodeCef(cefLine({ severity }))).severity, ours, `${severity} -> ${ours}`)
  for (const severity of ['11', '42', '-1', '3.5', '', 'Severe', 'VeryHigh', 'crit', '100', 'x'.repeat(10_000)]) {
    t.match(
      reasonOf(t, decodeCef(cefLine({ severity }))),
      /^CEF severity: expected 0 to 10/,
      `${severity.slice(0, 20)} is refused`,
    )
  }
})

t.test("severity Unknown: a vendor's own severity key says more; any other header wins", async (t) => {
  const checkPoint = (severity: string, extension: string) =>
    eventOf(t, decodeCef(cefLine({ severity, extension: `rt=1740798930123 src=203.0.113.10 ${extension}` }))).severity
  t.equal(checkPoint('Unknown', 'cp_severity=Very-High'), 4, 'Check Point cp_severity')
  t.equal(checkPoint('unknown', 'cp_severity=Medium'), 2)
  t.equal(checkPoint('Unknown', 'FTNTFGTseverity=critical'), 4, "FortiGate's own severity")
  t.equal(checkPoint('Unknown', 'cp_severity=Bogus FTNTFGTseverity=high'), 3, 'a word that is not one is passed over')
  t.equal(checkPoint('Unknown', 'cp_severity=Bogus'), 1, 'no vendor severity: Unknown is low')
  t.equal(checkPoint('Unknown', ''), 1)
  t.equal(checkPoint('High', 'cp_severity=Low'), 3, 'a header that says something wins')
  t.equal(checkPoint('2', 'cp_severity=Critical'), 1)
})

t.test('the extension: values with spaces, tabs, escapes', async (t) => {
  const withExtension = (extension: string) =>
    decodeCef(cefLine({ name: '', extension: `rt=1740798930123 src=203.0.113.10 ${extension}` }))
  t.equal(
    eventOf(t, withExtension('msg=scan from 203.0.113.10 to many hosts act=blocked')).signature,
    'scan from 203.0.113.10 to many hosts',
    'a value holds spaces',
  )
  t.equal(eventOf(t, withExtension('msg=a\\=b c\\\\d e\\nf g\\rh')).signature, 'a=b c\\d e\nf g\rh')
  t.equal(
    eventOf(t, withExtension('msg=C:\\\\Temp\\\\new.exe')).signature,
    'C:\\Temp\\new.exe',
    '\\\\ before n is a backslash, not a newline',
  )
  t.equal(eventOf(t, withExtension('msg=keep \\t and \\| as written')).signature, 'keep \\t and \\| as written')
  t.equal(
    eventOf(t, withExtension('msg=http://x/?a=b&c=d act=blocked')).signature,
    'http://x/?a=b&c=d',
    'an = inside a word does not start a key',
  )
  t.equal(eventOf(t, withExtension('msg=   padded   ')).signature, 'padded')
  t.equal(eventOf(t, withExtension('msg=first msg=second')).signature, 'second', 'the last of a repeated key')
  t.equal(eventOf(t, withExtension('message=the full key name')).signature, 'the full key name')
  t.equal(
    eventOf(
      t,
      decodeCef(cefLine({ name: '', extension: 'rt=1740798930123\tsrc=203.0.113.10\tmsg=tab separated\tact=x' })),
    ).signature,
    'tab separated',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ extension: 'garbage before the first key src=203.0.113.10 rt=1740798930123' })))
      .src_ip,
    '203.0.113.10',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ extension: ' rt=1740798930123  src=203.0.113.10  ' }))).src_ip,
    '203.0.113.10',
    'extra spaces',
  )
  t.equal(
    eventOf(t, withExtension('msg=x __proto__=1 constructor=2 toString=3 hasOwnProperty=4')).signature,
    'x',
    'any key name is just a key',
  )
  t.equal(
    eventOf(t, withExtension('cs1Label=policy cs1=edge\\=strict ad.vendor[0]=y flexString1=z msg=m')).signature,
    'm',
  )
  t.notOk(
    'dst_port' in eventOf(t, decodeCef(cefLine({ extension: 'rt=1740798930123 src=203.0.113.10 dpt= proto=TCP' }))),
    'an empty value is no value',
  )
})

t.test('the category: cat, else the attack, the name, the class id; intrusion words last', async (t) => {
  const cases: Array<[string, string]> = [
    ['/Attack/Scan', 'scan'],
    ['Reconnaissance', 'scan'],
    ['/Probe/Port Sweep', 'scan'],
    ['Brute Force', 'bruteforce'],
    ['/Attack/Password Guessing', 'bruteforce'],
    ['Exploit', 'exploit'],
    ['Buffer Overflow', 'exploit'],
    ['Privilege Escalation', 'exploit'],
    ['Process Injection', 'exploit'],
    ['Remote Code Execution', 'exploit'],
    ['CVE-2021-44228', 'exploit'],
    ['Malware', 'malware'],
    ['Virus', 'malware'],
    ['utm:virus', 'malware'],
    ['Ransomware', 'malware'],
    ['/Threat/Botnet', 'botnet_c2'],
    ['C2', 'botnet_c2'],
    ['Command and Control', 'botnet_c2'],
    ['command_and_control', 'botnet_c2'],
    ['DoS', 'ddos'],
    ['DDoS', 'ddos'],
    ['Denial of Service', 'ddos'],
    ['SYN Flood', 'ddos'],
    ['Web Attack', 'web_attack'],
    ['SQL Injection', 'web_attack'],
    ['XSS', 'web_attack'],
    ['utm:webfilter', 'policy_violation'],
    ['URL Filtering', 'policy_violation'],
    ['utm:app-ctrl', 'policy_violation'],
    ['Phishing', 'phishing'],
    ['Policy Violation', 'policy_violation'],
    ['utm:ips', 'exploit'],
    ['Intrusion', 'exploit'],
    ['IP in black list was blocked', 'scan'],
    ['Blocklist', 'scan'],
    ['IP Reputation', 'scan'],
    ['IP not in allow only list was blocked', 'policy_violation'],
    ['Allowlist', 'policy_violation'],
    ['APPFW', 'web_attack'],
    ['APPFW_SQL', 'web_attack'],
    ['Windows Update', 'other'],
    ['Authentication', 'other'],
    ['Traffic', 'other'],
  ]
  for (const [cat, category] of cases) {
    t.equal(
      eventOf(t, decodeCef(cefLine({ name: 'Vendor event', extension: `${EXTENSION} cat=${cat}` }))).category,
      category,
      cat,
    )
  }
  const categoryOf = (name: string, extension: string, classId = '100') =>
    eventOf(t, decodeCef(cefLine({ name, extension: `${EXTENSION} ${extension}`, classId }))).category
  t.equal(categoryOf('SSH brute force attempt', ''), 'bruteforce', 'no cat: the name')
  t.equal(categoryOf('SSH brute force attempt', 'cat=Traffic'), 'bruteforce', 'an unmatched cat: the name')
  t.equal(categoryOf('Port scan', 'cat=Malware'), 'malware', 'cat wins over the name')
  t.equal(categoryOf('Port scan', 'cat=utm:ips'), 'scan', 'a generic intrusion cat yields to a name that says more')
  t.equal(categoryOf('THREAT', '', 'flood'), 'ddos', 'the class id (PAN-OS puts the threat type there)')
  t.equal(categoryOf('Connection closed', ''), 'other')
  t.equal(categoryOf('APPFW_STARTURL', '', 'APPFW'), 'web_attack', "NetScaler's application firewall")
})

t.test('a class id of N/A (FortiWeb) is no class id', async (t) => {
  for (const classId of ['N/A', 'n/a', '-']) {
    t.notOk('signature_id' in eventOf(t, decodeCef(cefLine({ classId }))), classId)
  }
  t.equal(eventOf(t, decodeCef(cefLine({ classId: 'N/A1' }))).signature_id, 'N/A1')
})

t.test("FortiGate's FTNTFGTeventtime: its unit told by its size, before the header, after rt", async (t) => {
  const fortigate = (extension: string, header = '<185>Mar 14 09:12:44 FGT-AST-01 ') =>
    timeOf(
      t,
      decodeCef(
        `${header}CEF:0|Fortinet|Fortigate|v7.2.5|16384|utm:ips signature dropped|7|cat=utm:ips src=203.0.113.45 ${extension}`,
      ),
    )
  t.same(fortigate('FTNTFGTeventtime=1545939604'), ['2018-12-27T19:40:04.000Z', 'event'], 'seconds (FortiOS 6)')
  t.same(fortigate('FTNTFGTeventtime=1545939604123'), ['2018-12-27T19:40:04.123Z', 'event'], 'milliseconds')
  t.same(fortigate('FTNTFGTeventtime=1545939604123456'), ['2018-12-27T19:40:04.123Z', 'event'], 'microseconds')
  t.same(
    fortigate('FTNTFGTeventtime=1545939604123456789'),
    ['2018-12-27T19:40:04.123Z', 'event'],
    'nanoseconds (FortiOS 7)',
  )
  t.same(fortigate('FTNTFGTeventtime=99999999999'), ['5138-11-16T09:46:39.000Z', 'event'], 'the largest in seconds')
  t.same(
    fortigate('FTNTFGTeventtime=1545939604 rt=1710389564000'),
    ['2024-03-14T04:12:44.000Z', 'event'],
    'the standard rt wins',
  )
  for (const bad of ['15459396.04', 'soon', '12345678901234567890', '-1545939604']) {
    t.same(
      fortigate(`FTNTFGTeventtime=${bad}`),
      ['2024-03-14T04:12:44.000Z', 'header'],
      `${bad}: not such a number, the header`,
    )
  }
  t.same(fortigate('FTNTFGTeventtime=1545939604', ''), ['2018-12-27T19:40:04.000Z', 'event'], 'no header')
})

t.test('records that are not attacks are skipped with the rule that says so', async (t) => {
  const line = (vendor: string, product: string, name: string, extension: string) =>
    `CEF:0|${vendor}|${product}|1.0|100|${name}|3|rt=1710389564000 src=203.0.113.7 ${extension}`
  const skipped: Array<[string, string, RegExp]> = [
    [line('Check Point', 'VPN-1 & FireWall-1', 'https', 'act=Accept'), 'act Accept', /^act="Accept": traffic/],
    [line('FORCEPOINT', 'Firewall', 'Connection_Allowed', 'act=Allow'), 'act Allow', /^act="Allow"/],
    [line('V', 'P', 'Session', 'act=allowed'), 'act allowed', /^act="allowed"/],
    [line('V', 'P', 'Session', 'act=PERMIT'), 'act permit, any case', /^act="PERMIT"/],
    [line('V', 'P', 'Session', 'act=pass'), 'act pass', /^act="pass"/],
    [line('V', 'P', 'Session', 'act=close'), 'act close', /^act="close"/],
    [line('Check Point', 'VPN-1 & FireWall-1', 'smtp', 'act=Bypass'), 'act Bypass', /^act="Bypass"/],
    [line('V', 'P', 'Session', 'outcome=accepted'), 'outcome accepted', /^outcome="accepted"/],
    [
      line('Fortinet', 'Fortigate', 'traffic:forward deny', 'cat=traffic:forward act=deny'),
      'a FortiGate traffic log, even denied',
      /^a FortiGate traffic or system log \("traffic:forward"\)/,
    ],
    [
      line('Fortinet', 'FortiGate', 'event:vpn negotiate success', ''),
      'a FortiGate VPN event, by its Name',
      /event:vpn/,
    ],
    [line('Fortinet', 'FortiGate', 'x', 'cat=event:system'), 'a FortiGate system event', /event:system/],
    [line('Fortinet', 'FortiGate', 'x', 'cat=event:user'), 'a FortiGate user event', /event:user/],
    [line('BarracudaNetworks', 'WAAS', 'WAF', 'cat=TR dst=-'), 'a Barracuda access log', /Barracuda .*"TR"/],
    [line('Barracuda', 'WAF', 'WAF', 'cat=SYS'), 'a Barracuda system log', /"SYS"/],
    [line('Check Point', 'SmartConsole', 'Log In', ''), 'Check Point administration', /Check Point administration/],
    [
      line('FORCEPOINT', 'Firewall', 'Generic', 'deviceFacility=Logging System'),
      "a Forcepoint engine's own event",
      /"Logging System"/,
    ],
    [
      line('Trend Micro', 'Deep Security Manager', 'User Signed In', ''),
      'Deep Security Manager',
      /Deep Security Manager/,
    ],
    [
      line('CISCO', 'ASA', 'Teardown dynamic UDP translation', 'categorySignificance=/Informational'),
      'ArcSight /Informational',
      /not significant \("\/Informational"\)/,
    ],
    [line('V', 'P', 'x', 'categorySignificance=/Normal'), 'ArcSight /Normal', /"\/Normal"/],
  ]
  for (const [record, what, reason] of skipped) {
    const decoded = decodeCef(record)
    t.match(decoded, { kind: 'skipped', reason }, what)
  }

  const attacks: Array<[string, string]> = [
    [line('V', 'P', 'Port scan detected', 'act=allowed'), 'a scan let through is still a scan'],
    [line('Citrix', 'NetScaler', 'APPFW_STARTURL', 'act=not blocked'), 'an application firewall alert'],
    [line('V', 'P', 'Session', 'act=blocked'), 'blocked'],
    [line('FORCEPOINT', 'Firewall', 'Connection_Refused', 'act=Refuse deviceFacility=Packet Filtering'), 'refused'],
    [line('Fortinet', 'FortiGate', 'utm:ips signature dropped', 'cat=utm:ips'), 'a FortiGate IPS log'],
    [
      line('Fortinet', 'FortiGate', 'utm:anomaly', 'cat=utm:anomaly act=pass FTNTFGTattack=icmp_flood'),
      'an attack let pass',
    ],
    [line('Fortinet', 'FortiGate', 'x', 'cat=event:ha'), 'an event type not in the table'],
    [line('Palo Alto Networks', 'PAN-OS', 'THREAT', 'cat=Odd Thing(123) act=allow'), 'a PAN-OS threat, allowed'],
    [line('BarracudaNetworks', 'WAAS', 'WAF', 'cat=WF'), 'a Barracuda web firewall log'],
    [
      line('Trend Micro', 'Deep Security Agent', 'Test Intrusion Prevention Rule', 'act=IDS:Reset'),
      'an agent detection',
    ],
    [line('V', 'P', 'x', 'categorySignificance=/Hostile'), 'ArcSight /Hostile'],
    [line('V', 'P', 'x', 'outcome=302'), 'an HTTP status as outcome (Barracuda)'],
  ]
  for (const [record, what] of attacks) t.equal(decodeCef(record).kind, 'event', what)
})

t.test('vendor rules: PAN-OS threats and FortiGate attacks are named by their own keys', async (t) => {
  const pan = (name: string, extension: string) =>
    eventOf(
      t,
      decodeCef(
        `CEF:0|Palo Alto Networks|PAN-OS|10.2.4|vulnerability|${name}|5|rt=1710389564000 src=203.0.113.99 ${extension}`,
      ),
    )
  t.has(pan('THREAT', 'cat=Microsoft Windows SMB Remote Code Execution Vulnerability(33274)'), {
    signature: 'Microsoft Windows SMB Remote Code Execution Vulnerability(33274)',
    signature_id: '33274',
  })
  t.has(pan('THREAT', 'cat=Some Threat Without An Id'), {
    signature: 'Some Threat Without An Id',
    signature_id: 'vulnerability',
  })
  t.has(pan('THREAT', ''), { signature: 'THREAT', signature_id: 'vulnerability' }, 'no cat: the generic mapping')
  t.has(
    pan('TRAFFIC', 'cat=any'),
    { signature: 'TRAFFIC', signature_id: 'vulnerability' },
    'traffic logs are not threats',
  )
  const forti = (extension: string) =>
    eventOf(
      t,
      decodeCef(
        `CEF:0|Fortinet|FortiGate|v7.2.5|16384|utm:virus infected blocked|7|rt=1710389564000 src=203.0.113.45 ${extension}`,
      ),
    )
  t.has(forti('FTNTFGTvirus=EICAR_TEST_FILE FTNTFGTvirusid=2172'), {
    signature: 'EICAR_TEST_FILE',
    signature_id: '2172',
    category: 'malware',
  })
  t.has(forti(''), { signature: 'utm:virus infected blocked', signature_id: '16384' }, 'no attack key: the name')
  t.has(
    eventOf(t, decodeCef('CEF:0|Other|FortiGate|1|7|Name|7|rt=1 src=203.0.113.45 FTNTFGTattack=x')),
    { signature: 'Name' },
    'only for the vendor that writes the keys',
  )
})

t.test('custom strings: a MITRE technique when its label says so; the rest has no place', async (t) => {
  const mitre = (extension: string) =>
    eventOf(t, decodeCef(cefLine({ extension: `${EXTENSION} ${extension}` }))).mitre_technique
  t.equal(mitre('cs3Label=MITRE Technique cs3=T1190'), 'T1190')
  t.equal(mitre('cs5=T1110.001 - Password Guessing cs5Label=ATT&CK technique'), 'T1110.001')
  t.equal(mitre('deviceCustomString2Label=Mitre deviceCustomString2=T1046'), 'T1046', 'the full key names')
  t.equal(mitre('cs3Label=Rule cs3=T1190'), undefined, 'another label')
  t.equal(mitre('cs3Label=MITRE Technique cs3=Exploit Public-Facing Application'), undefined, 'not an id')
  t.equal(mitre('cs3Label=MITRE Technique'), undefined, 'a label alone')
})

t.test('addresses, ports, protocol and count', async (t) => {
  const ext = (extension: string) => decodeCef(cefLine({ extension: `rt=1740798930123 ${extension}` }))
  t.has(
    eventOf(t, ext('c6a2=2001:db8::bad c6a3=2001:db8:1::80')),
    { src_ip: '2001:db8::bad', dst_ip: '2001:db8:1::80' },
    'the IPv6 address fields',
  )
  t.has(eventOf(t, ext('src=203.0.113.10 c6a2=2001:db8::bad')), { src_ip: '203.0.113.10' }, 'src wins')
  t.has(
    eventOf(t, ext('sourceAddress=203.0.113.10 sourcePort=4000 destinationAddress=192.0.2.1 destinationPort=22')),
    { src_ip: '203.0.113.10', src_port: 4000, dst_ip: '192.0.2.1', dst_port: 22 },
    'the full key names',
  )
  t.equal(eventOf(t, ext('src=203.0.113.10 proto=UDP')).protocol, 'udp')
  const numbers: Array<[string, string]> = [
    ['1', 'icmp'],
    ['6', 'tcp'],
    ['17', 'udp'],
    ['47', 'gre'],
    ['50', 'esp'],
    ['58', 'ipv6-icmp'],
    ['132', 'sctp'],
    ['89', '89'],
  ]
  for (const [number, name] of numbers) t.equal(eventOf(t, ext(`src=203.0.113.10 proto=${number}`)).protocol, name)
  t.equal(eventOf(t, ext('src=203.0.113.10 cnt=1000000')).count, 1000000)
  t.notOk('protocol' in eventOf(t, ext('src=203.0.113.10')))
  t.match(reasonOf(t, ext('src=203.0.113.10 cnt=0')), /^count:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 cnt=1000001')), /^count:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 cnt=many')), /^count:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 spt=65536')), /^src_port:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 dpt=-1')), /^dst_port:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 dpt=99999999999999999999')), /^dst_port:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 dst=fw01.example.kz')), /^dst_ip:/)
  t.match(reasonOf(t, ext('src=203.0.113.10 proto=T C P')), /^protocol:/)
  t.match(reasonOf(t, ext('shost=scanner.example.net')), /^src_ip:/)
})

t.test('the signature: the name, else msg, cut to the schema limit', async (t) => {
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: '', extension: `${EXTENSION} msg=from the message` }))).signature,
    'from the message',
  )
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: '  ', extension: `${EXTENSION} msg=from the message` }))).signature,
    'from the message',
  )
  t.match(reasonOf(t, decodeCef(cefLine({ name: '' }))), /^signature:/)
  t.equal(eventOf(t, decodeCef(cefLine({ name: 'n'.repeat(5000) }))).signature.length, 512)
  t.equal(
    eventOf(t, decodeCef(cefLine({ name: `${'n'.repeat(511)}😀` }))).signature,
    'n'.repeat(511),
    'a surrogate pair is not split',
  )
})

// How fast these decode is measured in bench/, not here: a pattern that backtracks without bound
// on one of them would still stall this test until tap's timeout.
t.test('hostile lines are decoded or refused with a short reason, never a throw', async (t) => {
  const invalid = (reason: RegExp) => ({ kind: 'invalid', reason })
  const event = { kind: 'event' }
  const lines: Array<[string, { kind: string; reason?: RegExp }]> = [
    ['', invalid(/^no "CEF:" in the record$/)],
    ['CEF:', invalid(/fewer than 7 pipe-separated fields/)],
    ['|||||||', invalid(/^no "CEF:"/)],
    ['CEF:0|||||||', invalid(/^CEF severity: .* got ""$/)],
    [`CEF:0${'|'.repeat(100_000)}`, invalid(/^CEF severity: .* got ""$/)],
    [`CEF:0|V|P|1|100|Name|7|${'a='.repeat(200_000)}`, invalid(/^src_ip: /)],
    [`CEF:0|V|P|1|100|Name|7|${'a= '.repeat(200_000)}`, invalid(/^src_ip: /)],
    [`CEF:0|V|P|1|100|Name|7|rt=1 src=203.0.113.10 msg=${'x '.repeat(300_000)}`, event],
    [`CEF:0|V|P|1|100|Name|7|rt=1 src=203.0.113.10 msg=${'\\'.repeat(300_001)}`, event],
    [`CEF:0|V|P|1|100|${'command '.repeat(100_000)}|7|rt=1 src=203.0.113.10`, event],
    [`<134>${' '.repeat(100_000)}CEF:0|V|P|1|100|Name|7|src=203.0.113.10`, event],
    [`<134>1 ${'9'.repeat(200_000)} CEF:0|V|P|1|100|Name|7|src=203.0.113.10`, event],
    [`<134>Mar${' '.repeat(100_000)}14 CEF:0|V|P|1|100|Name|7|src=203.0.113.10`, event],
    [`CEF:0|V|P|1|100|Name|7|src=203.0.113.10 rt=Mar${' '.repeat(100_000)}14`, invalid(/^rt: .* is not a CEF time/)],
    [
      `CEF:0|V|P|1|100|Name|7|src=203.0.113.10 rt=Mar 14 2024 09:12:44 ${'A/'.repeat(50_000)}`,
      invalid(/^rt: the zone of .* is not understood/),
    ],
    [
      `CEF:0|V|P|1|100|Name|7|src=203.0.113.10 dtz=${'Asia/'.repeat(50_000)} rt=Mar 14 2024 09:12:44`,
      invalid(/^rt: dtz .* is not understood/),
    ],
    ['CEF:0|V|P|1|100|Name|7|rt=1 src=203.0.113.10 \u0000=\u0000 msg=\uD800', invalid(/^src_ip: /)],
  ]
  for (const [line, expected] of lines) {
    let decoded: Decoded | undefined
    t.doesNotThrow(
      () => {
        decoded = decodeCef(line)
      },
      line.slice(0, 60),
    )
    t.match(decoded, expected, line.slice(0, 40))
    if (decoded?.kind === 'event') t.ok(SensorEvent.safeParse(decoded.event).success)
    else t.ok(decoded !== undefined && decoded.reason.length < 600, 'a short reason')
  }
})

t.test('no mutation of a real line makes the decoder throw or emit a bad event', async (t) => {
  // As a HEC envelope with a time hands it over, from a sensor in another zone.
  const enveloped: Decoder = (line, context) =>
    decodeCefWith(line, { ...context, timeZone: 'Asia/Qyzylorda', envelopeTime: ENVELOPE_TIME })
  checkMutations(
    t,
    enveloped,
    [...fixture('cef.log'), ...fixture('cef-bad.log'), ...VENDOR_LINES.map(({ line }) => line)],
    ['|', '\\', '=', ' ', '\t', 'CEF:', '0', '-', '<134>', '\u0000', '😀', 'rt=', 'src=', 'Mar 14 ', 'dtz=', '+05:00'],
    11,
  )
})

t.test("a lone surrogate (possible in a HEC envelope's JSON string) is refused naming the field", async (t) => {
  t.same(decodeCef(cefLine({ name: 'Port scan \ud800' })), {
    kind: 'invalid',
    reason: 'signature: not well-formed Unicode (a lone surrogate)',
  })
  t.same(decodeCef(cefLine({ classId: '10\udc00' })), {
    kind: 'invalid',
    reason: 'signature_id: not well-formed Unicode (a lone surrogate)',
  })
  t.equal(decodeCef(cefLine({ name: 'Port scan \ud83d\ude00' })).kind, 'event')
})

t.test('the device: dvchost, else deviceExternalId (a serial number); not the syslog header host', async (t) => {
  const deviceOf = (extra: string, header = '') =>
    eventOf(t, decodeCef(`${header}${cefLine({ extension: `${EXTENSION} ${extra}` })}`)).device
  t.equal(deviceOf('dvchost=fw-ala-01'), 'fw-ala-01')
  t.equal(deviceOf('deviceHostName=fw-ala-02'), 'fw-ala-02', 'the full key name')
  t.equal(deviceOf('deviceExternalId=FG100FTK21000123'), 'FG100FTK21000123')
  t.equal(deviceOf('deviceExternalId=FG100FTK21000123 dvchost=fw-ala-01'), 'fw-ala-01', 'dvchost wins')
  t.equal(deviceOf('dvchost= deviceExternalId=NGFW-ALA node 1'), 'NGFW-ALA node 1', 'an empty dvchost is none')
  t.equal(deviceOf('dvchost=fw\\=01'), 'fw=01', 'unescaped')
  t.equal(deviceOf('dvc=192.0.2.1'), undefined, 'an address alone names no device')
  t.equal(deviceOf('', '<134>Mar 14 09:12:44 fw01 '), undefined, "the syslog header's host is not read")
  t.equal(deviceOf(`dvchost=${'d'.repeat(5_000)}`), 'd'.repeat(255), 'cut to the schema limit')
  t.same(decodeCef(cefLine({ extension: `${EXTENSION} dvchost=fw-\ud800` })), {
    kind: 'invalid',
    reason: 'device: not well-formed Unicode (a lone surrogate)',
  })
  t.equal(eventOf(t, decodeCef(cefLine())).device, undefined, 'none given, none made up')
})

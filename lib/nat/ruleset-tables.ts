// netns-kit's own nftables tables' fixed skeleton (see the diagram in lib/nat/ruleset.ts): the maps and
// sets, the base chains and rules of the inet and bridge tables, and the messages that create them.
import type { NftExpr, NftMsg } from '../kernel/binding'
import {
  comment,
  ctStateEstablished,
  ctStatusDnat,
  dnatByMap,
  fibDaddrLocal,
  hairpinLookup,
  ifInSet,
  ifMatch,
  ifPairInSet,
  ifPayloadInSet,
  l4proto,
  nfproto,
  addrMatch,
  payloadCmp,
  payloadInSet,
  verdict,
} from './expr'

export const TABLE = 'netns-kit'
export const TAG = 'netns-kit'
export type TableFamily = 'inet' | 'bridge'

// Datatype ids of nft (src/datatype.h) and how concatenations combine them (TYPE_BITS = 6).
const T = { ipv4_addr: 7, ipv6_addr: 8, ether_addr: 9, ether_type: 10, inet_proto: 12, inet_service: 13, icmpv6_type: 29, ifname: 41 } as const
const concat = (...ids: number[]): number => ids.reduce((acc, id) => (acc << 6) | id, 0)
const NFT_SET_CONSTANT = 0x2
const NFT_SET_MAP = 0x8

export interface MapDef {
  name: string
  family: 4 | 6
  /** The key starts with the destination address (hostIp given). */
  byAddress: boolean
  /** Only for 127.0.0.0/8 destinations (localhost: true). */
  loopback: boolean
}

export const MAPS: MapDef[] = [
  { name: 'pub4', family: 4, byAddress: true, loopback: false },
  { name: 'pub4any', family: 4, byAddress: false, loopback: false },
  { name: 'pub4lo', family: 4, byAddress: false, loopback: true },
  { name: 'pub6', family: 6, byAddress: true, loopback: false },
  { name: 'pub6any', family: 6, byAddress: false, loopback: false },
]
export const HAIRPIN_SETS = { 4: 'hairpin4', 6: 'hairpin6' } as const
/** The isolation sets (inet table). */
export const ISO = { bridges: 'bridges', same: 'same', internal: 'internal', noicc: 'noicc' } as const
/** Interfaces whose route_localnet netns-kit turned on (inet table). */
export const LOCALNET_SET = 'localnet'
/** The anti-spoofing sets (bridge table). */
export const SPOOF = { ports: 'ports', macs: 'macs', addr4: 'addr4', addr6: 'addr6' } as const
const NFT_SET_INTERVAL = 0x4
const NFT_SET_CONCAT = 0x80

function mapMsg(m: MapDef): NftMsg {
  const addr = m.family === 4 ? T.ipv4_addr : T.ipv6_addr
  const alen = m.family === 4 ? 4 : 16
  const keyTypes = m.byAddress ? [addr, T.inet_proto, T.inet_service] : [T.inet_proto, T.inet_service]
  const fieldLens = m.byAddress ? [alen, 1, 2] : [1, 2]
  return {
    op: 'newset',
    family: 'inet',
    table: TABLE,
    name: m.name,
    keyType: concat(...keyTypes),
    keyLen: fieldLens.reduce((a, l) => a + Math.ceil(l / 4) * 4, 0),
    dataType: concat(addr, T.inet_service),
    dataLen: alen + 4,
    flags: NFT_SET_MAP,
  }
}

/**
 * nft's set userdata NFTNL_UDATA_SET_KEYBYTEORDER (type 0, a u32): how `nft list` prints the keys
 * of a single-field set (1: host order, as names are; 2: network order, as ether types are).
 */
const keyByteOrder = (order: 1 | 2): Buffer => Buffer.from([0, 4, order, 0, 0, 0])

function setMsg(family: TableFamily, name: string, types: number[], lens: number[], flags = 0): NftMsg {
  // A single field is its own length; each field of a concatenation takes whole 32-bit registers.
  const keyLen = lens.length === 1 ? lens[0]! : lens.reduce((a, l) => a + Math.ceil(l / 4) * 4, 0)
  const userdata = lens.length === 1 ? keyByteOrder(types[0] === T.ifname ? 1 : 2) : undefined
  return { op: 'newset', family, table: TABLE, name, keyType: concat(...types), keyLen, ...(flags ? { flags } : {}), ...(userdata ? { userdata } : {}) }
}

/** A rule of a table's skeleton, found again by its name (comment "netns-kit base NAME"). */
export interface BaseRule {
  name: string
  chain: string
  exprs: NftExpr[]
}

/** What makes one of our tables: its sets and maps, constant elements, chains, and base rules in chain order. */
export interface TableDef {
  family: TableFamily
  sets: Extract<NftMsg, { op: 'newset' }>[]
  elements: (NftMsg & { op: 'newsetelem' })[]
  chains: Extract<NftMsg, { op: 'newchain' }>[]
  rules: BaseRule[]
  /** Chains that hold base rules only (anything else found in them is not ours to keep). */
  baseOnly: string[]
}

const ETHER = { ip: 0x0800, arp: 0x0806, ip6: 0x86dd } as const
const be16 = (v: number): Buffer => {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(v)
  return b
}
/** ICMPv6 types that may come from the unspecified address :: (RFC 4862 DAD, RFC 3590 MLD): MLD reports and neighbour solicitations. */
const UNSPEC6_TYPES = [131, 135, 143]
const ICMPV6 = 58

/** The inet table: NAT, published ports, the isolation stage, the loopback guard. */
function inetDef(): TableDef {
  const t = { family: 'inet' as const, table: TABLE }
  const rules: BaseRule[] = []
  const rule = (name: string, chain: string, exprs: NftExpr[]) => rules.push({ name, chain, exprs })
  rule('guard', 'guard', [...ifMatch('iifname', 'lo', 'neq'), ...nfproto(4), ...addrMatch(4, 'daddr', '127.0.0.0', 8), verdict('drop')])
  rule('prerouting', 'prerouting', [...fibDaddrLocal(), verdict('jump', 'publish')])
  rule('output', 'output', [...fibDaddrLocal(), verdict('jump', 'publish')])
  for (const m of MAPS.filter((x) => x.loopback)) {
    rule(`dnat-${m.name}`, 'publish', [...nfproto(4), ...addrMatch(4, 'daddr', '127.0.0.0', 8), ...dnatByMap(4, m.name, false)])
  }
  // Loopback destinations never reach the other maps: 127.0.0.1 is published only when asked.
  rule('lo4', 'publish', [...nfproto(4), ...addrMatch(4, 'daddr', '127.0.0.0', 8), verdict('return')])
  rule('lo6', 'publish', [...nfproto(6), ...addrMatch(6, 'daddr', '::1', 128), verdict('return')])
  for (const m of MAPS.filter((x) => !x.loopback)) rule(`dnat-${m.name}`, 'publish', [...nfproto(m.family), ...dnatByMap(m.family, m.name, m.byAddress)])
  // The isolation stage: drops (and jumps to chains that return or drop), never an accept.
  rule('internal-out', 'forward', [...ifInSet('iifname', ISO.internal), ...ifPairInSet(ISO.same, true), verdict('drop')])
  rule('internal-in', 'forward', [...ifInSet('oifname', ISO.internal), ...ifPairInSet(ISO.same, true), verdict('drop')])
  rule('noicc', 'forward', [...ifPairInSet(ISO.noicc), verdict('jump', 'published')])
  rule('inbound', 'forward', [...ifInSet('oifname', ISO.bridges), ...ifPairInSet(ISO.same, true), verdict('jump', 'inbound')])
  rule('published-dnat', 'published', [...ctStatusDnat(), verdict('return')])
  rule('published-drop', 'published', [verdict('drop')])
  rule('inbound-answers', 'inbound', [...ctStateEstablished(), verdict('return')])
  rule('inbound-dnat', 'inbound', [...ctStatusDnat(), verdict('return')])
  rule('inbound-drop', 'inbound', [verdict('drop')])
  rule('hairpin4', 'postrouting', [...ctStatusDnat(), ...nfproto(4), ...hairpinLookup(4, HAIRPIN_SETS[4]), { type: 'masq' }])
  rule('hairpin6', 'postrouting', [...ctStatusDnat(), ...nfproto(6), ...hairpinLookup(6, HAIRPIN_SETS[6]), { type: 'masq' }])
  rule('localhost', 'postrouting', [...nfproto(4), ...addrMatch(4, 'saddr', '127.0.0.0', 8), ...ctStatusDnat(), { type: 'masq' }])
  return {
    family: 'inet',
    sets: [
      ...(MAPS.map(mapMsg) as Extract<NftMsg, { op: 'newset' }>[]),
      {
        op: 'newset',
        ...t,
        name: HAIRPIN_SETS[4],
        keyType: concat(T.ifname, T.ipv4_addr),
        keyLen: 20,
        fieldLens: [16, 4],
        flags: NFT_SET_INTERVAL | NFT_SET_CONCAT,
      },
      {
        op: 'newset',
        ...t,
        name: HAIRPIN_SETS[6],
        keyType: concat(T.ifname, T.ipv6_addr),
        keyLen: 32,
        fieldLens: [16, 16],
        flags: NFT_SET_INTERVAL | NFT_SET_CONCAT,
      },
      setMsg('inet', ISO.bridges, [T.ifname], [16]),
      setMsg('inet', ISO.same, [T.ifname, T.ifname], [16, 16]),
      setMsg('inet', ISO.internal, [T.ifname], [16]),
      setMsg('inet', ISO.noicc, [T.ifname, T.ifname], [16, 16]),
      setMsg('inet', LOCALNET_SET, [T.ifname], [16]),
    ] as Extract<NftMsg, { op: 'newset' }>[],
    elements: [],
    chains: [
      { op: 'newchain', ...t, name: 'guard', hook: 'prerouting', priority: -300, type: 'filter', policy: 'accept' },
      { op: 'newchain', ...t, name: 'prerouting', hook: 'prerouting', priority: -100, type: 'nat', policy: 'accept' },
      { op: 'newchain', ...t, name: 'output', hook: 'output', priority: -100, type: 'nat', policy: 'accept' },
      { op: 'newchain', ...t, name: 'publish' },
      { op: 'newchain', ...t, name: 'forward', hook: 'forward', priority: 0, type: 'filter', policy: 'accept' },
      { op: 'newchain', ...t, name: 'published' },
      { op: 'newchain', ...t, name: 'inbound' },
      { op: 'newchain', ...t, name: 'postrouting', hook: 'postrouting', priority: 100, type: 'nat', policy: 'accept' },
    ],
    rules,
    baseOnly: ['guard', 'prerouting', 'output', 'publish', 'forward', 'published', 'inbound'],
  }
}

/**
 * The bridge table: anti-spoofing for the ports of endpoints (frames entering the bridge from a
 * container). Every rule of the spoof chain drops; a frame that none drops goes on.
 */
function bridgeDef(): TableDef {
  const t = { family: 'bridge' as const, table: TABLE }
  const rules: BaseRule[] = []
  const rule = (name: string, exprs: NftExpr[], chain = 'spoof') => rules.push({ name, chain, exprs })
  const etype = (e: keyof typeof ETHER) => payloadCmp('ll', 12, be16(ETHER[e]))
  const zero6 = Buffer.alloc(16)
  rule('ports', [...ifInSet('iifname', SPOOF.ports), verdict('jump', 'spoof')], 'prerouting')
  // iifname . ether saddr != @macs: the endpoint's MAC, and nothing else, from its port.
  rule('mac', [...ifPayloadInSet('ll', 6, 6, SPOOF.macs, true), verdict('drop')])
  // Only IPv4, ARP and IPv6 (a VLAN tag or another ethertype would carry what the rules below never look at).
  rule('etype', [...payloadInSet('ll', 12, 2, 'etypes', true), verdict('drop')])
  // ARP for Ethernet and IPv4 only (ar_hln 6, ar_pln 4): the offsets below hold.
  rule('arp-format', [...etype('arp'), ...payloadCmp('network', 4, Buffer.from([6, 4]), 'neq'), verdict('drop')])
  rule('arp-mac', [...etype('arp'), ...ifPayloadInSet('network', 8, 6, SPOOF.macs, true), verdict('drop')])
  // The ARP sender address: one of the endpoint's, or 0.0.0.0 (an RFC 5227 probe, which teaches no cache).
  rule('arp-ip', [
    ...etype('arp'),
    ...payloadCmp('network', 14, Buffer.alloc(4), 'neq'),
    ...ifPayloadInSet('network', 14, 4, SPOOF.addr4, true),
    verdict('drop'),
  ])
  rule('ip', [...etype('ip'), ...ifPayloadInSet('network', 12, 4, SPOOF.addr4, true), verdict('drop')])
  // From :: only ICMPv6 for duplicate address detection and MLD reports.
  rule('ip6-unspec', [...etype('ip6'), ...payloadCmp('network', 8, zero6), ...l4proto(ICMPV6, 'neq'), verdict('drop')])
  rule('ip6-unspec-type', [
    ...etype('ip6'),
    ...payloadCmp('network', 8, zero6),
    ...l4proto(ICMPV6),
    ...payloadInSet('transport', 0, 1, 'unspec6', true),
    verdict('drop'),
  ])
  rule('ip6', [...etype('ip6'), ...payloadCmp('network', 8, zero6, 'neq'), ...ifPayloadInSet('network', 8, 16, SPOOF.addr6, true), verdict('drop')])
  // A neighbour advertisement claims its target address: only the endpoint's own.
  rule('nd-target', [
    ...etype('ip6'),
    ...l4proto(ICMPV6),
    ...payloadCmp('transport', 0, Buffer.from([136])),
    ...ifPayloadInSet('transport', 8, 16, SPOOF.addr6, true),
    verdict('drop'),
  ])
  // Containers are hosts: no router advertisements or redirects (a rogue default route for the others).
  rule('nd-router-advert', [...etype('ip6'), ...l4proto(ICMPV6), ...payloadCmp('transport', 0, Buffer.from([134])), verdict('drop')])
  rule('nd-redirect', [...etype('ip6'), ...l4proto(ICMPV6), ...payloadCmp('transport', 0, Buffer.from([137])), verdict('drop')])
  return {
    family: 'bridge',
    sets: [
      setMsg('bridge', SPOOF.ports, [T.ifname], [16]),
      setMsg('bridge', SPOOF.macs, [T.ifname, T.ether_addr], [16, 6]),
      setMsg('bridge', SPOOF.addr4, [T.ifname, T.ipv4_addr], [16, 4]),
      setMsg('bridge', SPOOF.addr6, [T.ifname, T.ipv6_addr], [16, 16]),
      { ...setMsg('bridge', 'etypes', [T.ether_type], [2], NFT_SET_CONSTANT), size: Object.keys(ETHER).length },
      { ...setMsg('bridge', 'unspec6', [T.icmpv6_type], [1], NFT_SET_CONSTANT), size: UNSPEC6_TYPES.length },
    ] as Extract<NftMsg, { op: 'newset' }>[],
    elements: [
      { op: 'newsetelem', ...t, set: 'etypes', elements: Object.values(ETHER).map((v) => ({ key: be16(v) })) },
      { op: 'newsetelem', ...t, set: 'unspec6', elements: UNSPEC6_TYPES.map((v) => ({ key: Buffer.from([v]) })) },
    ],
    chains: [
      { op: 'newchain', ...t, name: 'prerouting', hook: 'prerouting', priority: -200, type: 'filter', policy: 'accept' },
      { op: 'newchain', ...t, name: 'spoof' },
    ],
    rules,
    baseOnly: ['prerouting', 'spoof'],
  }
}

export function tableDef(family: TableFamily): TableDef {
  return family === 'inet' ? inetDef() : bridgeDef()
}

export const baseComment = (name: string): Buffer => comment(`${TAG} base ${name}`)

/** The message adding base rule `r`. */
export function baseRuleMsg(family: TableFamily, r: BaseRule): NftMsg {
  return { op: 'newrule', family, table: TABLE, chain: r.chain, exprs: r.exprs, userdata: baseComment(r.name) }
}

/**
 * Every message that creates a table's skeleton, in one batch. The table is created exclusively:
 * a process that loses the race to create it gets EEXIST and goes again without the skeleton.
 */
export function skeletonOf(family: TableFamily): NftMsg[] {
  const d = tableDef(family)
  return [
    { op: 'newtable', family, name: TABLE, userdata: comment(`${TAG} v1`), exclusive: true },
    ...d.sets,
    ...d.elements,
    ...d.chains,
    ...d.rules.map((r) => baseRuleMsg(family, r)),
  ]
}

/** The inet table's skeleton (NAT, published ports, isolation, the loopback guard). */
export function skeleton(): NftMsg[] {
  return skeletonOf('inet')
}

// netns-kit's own nftables tables: their fixed skeleton, how netns-kit recognises what it owns
// (the comments), and the batch plumbing NatRule uses (the skeleton created with the first change,
// rules deleted by handle, the tables removed with the last thing of ours in them).
//
//   table inet netns-kit                                   (everything below is ours alone)
//     map pub4    ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service   -p HOSTIP:PORT
//     map pub4any inet_proto . inet_service : ipv4_addr . inet_service               -p PORT (any local address)
//     map pub4lo  inet_proto . inet_service : ipv4_addr . inet_service               -p 127.0.0.1:PORT (localhost: true)
//     map pub6 / pub6any                        the same for IPv6
//     set hairpin4 / hairpin6  ifname . ipv4_addr (interval): an interface and the subnet behind it;
//                                                DNAT'd traffic going back into the subnet it came from
//     set bridges   ifname          every isolated bridge (a network's; NatRule.isolate)
//     set same      ifname . ifname "BR" . "BR" for each of them: traffic that stays on its bridge
//     set internal  ifname          the bridges of --internal networks
//     set noicc     ifname . ifname "BR" . "BR" of the icc=false bridges
//     set localnet  ifname          interfaces whose route_localnet netns-kit turned on (the record is
//                                   committed before the sysctl is written, removed after it is off)
//     chain guard       filter hook prerouting  priority raw: iifname != "lo" ip daddr 127.0.0.0/8 drop
//                                                (CVE-2020-8558: route_localnet never opens 127/8 to the wire)
//     chain prerouting  nat    hook prerouting  priority dstnat: fib daddr type local jump publish
//     chain output      nat    hook output      priority dstnat: fib daddr type local jump publish
//     chain publish     (regular): one lookup per family and map; 127/8 only through pub4lo
//     chain forward     filter hook forward     priority filter: THE ISOLATION STAGE. Drops only, no
//                                                accept anywhere in the table, so no network's accept
//                                                can run before another network's drop, whatever
//                                                order the networks were made in (Docker's
//                                                DOCKER-ISOLATION stages in front of its accepts):
//         iifname @internal iifname . oifname != @same drop     nothing out of an internal network
//         oifname @internal iifname . oifname != @same drop     nothing into it
//         iifname . oifname @noicc jump published              icc=false at layer 3 (routed back
//                                                               through the gateway): published ports only
//         oifname @bridges iifname . oifname != @same jump inbound   into a bridge from elsewhere
//     chain published   ct status dnat return; drop
//     chain inbound     ct state established,related return; ct status dnat return; drop
//                       (answers and published ports; no direct routing to container addresses)
//     chain postrouting nat    hook postrouting priority srcnat: hairpin (ct status dnat oifname . ip saddr
//                                                @hairpin4 masquerade) and localhost masquerade, then
//                                                the masquerade rules of NatRule.masquerade()
//   (icc: false at layer 2 is the kernel's bridge port isolation on the bridge's ports.)
//
//   table bridge netns-kit                                 (anti-spoofing, lib/nat/antispoof.ts)
//     set ports ifname; macs ifname . ether_addr; addr4 ifname . ipv4_addr; addr6 ifname . ipv6_addr
//     set etypes ether_type { ip, arp, ip6 }; set unspec6 icmpv6_type { 130..143: what may come from :: }
//     chain prerouting  filter hook prerouting priority filter: iifname @ports jump spoof
//     chain spoof       drops every frame from an endpoint's port whose MAC, IPv4/IPv6 source, ARP
//                       sender or neighbour advertisement target is not that endpoint's
//
// The sets are keyed by interface name: a network or an endpoint is a few elements, so the 1,000th
// costs what the first did, per change and per packet. Every base rule carries the comment
// "netns-kit base NAME" and every rule and element of a feature "netns-kit <kind> <id> ..." (nft's
// own userdata format, so `nft list ruleset` shows it): that is how netns-kit recognises what it
// owns, whom it belongs to, and what is missing after someone else's `nft flush ruleset`.
// Nothing outside these tables is ever changed.
import type { NetlinkError } from '../errors'
import type { NftElementInfo, NftExpr, NftMsg } from '../kernel/binding'
import { nftApply, nftList } from '../kernel/nft'
import type { Namespace } from '../namespace'
import {
  comment,
  commentOf,
  ctStateEstablished,
  ctStatusDnat,
  dnatByMap,
  fibDaddrLocal,
  hairpinLookup,
  ifInSet,
  ifMatch,
  ifPairInSet,
  ifPayloadInSet,
  ifnameString,
  l4proto,
  nfproto,
  addrMatch,
  payloadCmp,
  payloadInSet,
  verdict,
} from './expr'
import type { RuleRef } from './types'

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

export async function tableExists(ns: Namespace, family: 'inet' | 'bridge'): Promise<boolean> {
  const tables = await nftList(ns, { what: 'tables', family })
  return tables.some((t) => t.name === TABLE)
}

/**
 * Applies a change to our tables of `families` in one atomic batch, creating the skeleton of any
 * that is missing in the same batch (after a first change, or after someone's `nft flush
 * ruleset`). `exists` false: the tables are known to be missing, so no first try without them.
 * Returns, per message of `msgs`, the handle the kernel gave a new rule (null for the others).
 */
export async function change(ns: Namespace, msgs: NftMsg[], what: string, exists?: boolean, families: TableFamily[] = ['inet']): Promise<(bigint | null)[]> {
  if (exists !== false) {
    try {
      return await nftApply(ns, msgs, what)
    } catch (e) {
      if ((e as NetlinkError).code !== 'ENOENT') throw e
    }
  }
  for (let attempt = 0; ; attempt++) {
    const present = await Promise.all(families.map((f) => tableExists(ns, f)))
    const missing = families.filter((_, i) => !present[i])
    const pre = missing.flatMap((f) => skeletonOf(f))
    try {
      return (await nftApply(ns, [...pre, ...msgs], what)).slice(pre.length)
    } catch (e) {
      const code = (e as NetlinkError).code
      // Another process made a table between our look and our batch (EEXIST: the table is
      // created exclusively), or removed one (ENOENT): look again.
      if (attempt < 3 && ((code === 'EEXIST' && missing.length > 0) || (code === 'ENOENT' && missing.length === 0 && attempt === 0))) continue
      throw e
    }
  }
}

/** The parts of an owner comment "netns-kit KIND ID REST...". */
export interface OwnerComment {
  kind: string
  id: string
  rest: string[]
}

export function parseComment(c: string | undefined): OwnerComment | undefined {
  if (!c) return undefined
  const parts = c.split(' ')
  if (parts[0] !== TAG || parts.length < 3) return undefined
  return { kind: parts[1]!, id: parts[2]!, rest: parts.slice(3) }
}

/** The owner comment in a rule's or an element's userdata. */
export function ownerOf(userdata: Buffer | undefined): OwnerComment | undefined {
  return parseComment(commentOf(userdata))
}

export async function listElements(ns: Namespace, set: string, family: TableFamily = 'inet'): Promise<NftElementInfo[]> {
  return nftList(ns, { what: 'elements', family, table: TABLE, set })
}

/** The elements of `set`, or none when the table or the set is missing. */
export async function listElementsIfAny(ns: Namespace, set: string, family: TableFamily = 'inet'): Promise<NftElementInfo[]> {
  return listElements(ns, set, family).catch((e: unknown) => {
    if ((e as NetlinkError).code === 'ENOENT') return []
    throw e
  })
}

/** The elements of `set` with these keys (null where none): one lookup each, whatever the set's size. */
export async function findElements(ns: Namespace, set: string, keys: Buffer[], family: TableFamily = 'inet'): Promise<(NftElementInfo | null)[]> {
  if (!keys.length) return []
  return nftList(ns, { what: 'elements', family, table: TABLE, set, keys })
}

/** Deletes the rules still there (idempotent: a vanished handle is not an error). */
export async function deleteRules(ns: Namespace, rules: RuleRef[]): Promise<void> {
  if (!rules.length) return
  const present = new Set<string>()
  for (const family of new Set(rules.map((r) => r.family))) {
    if (!(await tableExists(ns, family))) continue
    for (const r of await nftList(ns, { what: 'rules', family, table: TABLE, brief: true })) present.add(`${family}/${r.chain}/${r.handle}`)
  }
  const msgs: NftMsg[] = rules
    .filter((r) => present.has(`${r.family}/${r.chain}/${r.handle}`))
    .map((r) => ({ op: 'delrule', family: r.family, table: TABLE, chain: r.chain, handle: r.handle }))
  if (msgs.length) await nftApply(ns, msgs, 'delete rules')
}

/**
 * True while something of a network's lifetime is in the table (so the table stays): a
 * masquerade rule, an isolated bridge, a route_localnet record. A few rules' comments and two
 * small sets (one element per network), one round of trips. False also when there is no table.
 */
export async function tableHeld(ns: Namespace): Promise<boolean> {
  const [rules, bridges, localnet] = await Promise.all([
    nftList(ns, { what: 'rules', family: 'inet', table: TABLE, brief: true }).catch(() => []),
    listElementsIfAny(ns, ISO.bridges),
    listElementsIfAny(ns, LOCALNET_SET),
  ])
  return bridges.length > 0 || localnet.length > 0 || rules.some((r) => ownerOf(r.userdata)?.kind === 'masquerade')
}

/**
 * Removes netns-kit's tables once nothing of ours is left in them, or else the hairpin elements
 * that published ports added for interfaces no published port uses any more (a network's own
 * hairpin elements go with the network). `interfacesInUse` lists, per family, the interfaces of
 * the published ports that remain (lib/nat/decode.ts reads them).
 */
export async function tidy(
  ns: Namespace,
  interfacesInUse: () => Promise<{ empty: boolean; used: Record<4 | 6, Set<string>> }>,
  held?: Promise<boolean>,
): Promise<void> {
  // While a network lives, nothing can go: a look at a few comments is enough, and deleting a
  // mapping stays cheap however many there are. Otherwise the maps are read, to drop the tables
  // with their last element (and stale hairpin entries).
  if (await (held ?? tableHeld(ns))) return
  if (!(await tableExists(ns, 'inet'))) return
  const { empty, used } = await interfacesInUse()
  const msgs: NftMsg[] = []
  if (empty) {
    msgs.push({ op: 'deltable', family: 'inet', name: TABLE })
    // The anti-spoofing table goes with it once no endpoint's port is in it.
    if ((await tableExists(ns, 'bridge')) && !(await listElementsIfAny(ns, SPOOF.ports, 'bridge')).length)
      msgs.push({ op: 'deltable', family: 'bridge', name: TABLE })
  } else {
    for (const family of [4, 6] as const) {
      const set = HAIRPIN_SETS[family]
      const stale = (await listElements(ns, set)).filter(
        (e) => ownerOf(e.userdata)?.kind !== 'isolate' && !used[family].has(ifnameString(e.key!.subarray(0, 16))),
      )
      if (stale.length) msgs.push({ op: 'delsetelem', family: 'inet', table: TABLE, set, elements: stale.map((e) => ({ key: e.key!, keyEnd: e.keyEnd })) })
    }
  }
  if (msgs.length) await nftApply(ns, msgs, 'tidy netns-kit tables').catch(() => {})
}

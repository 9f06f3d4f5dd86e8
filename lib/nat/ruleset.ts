// netns-kit's own nftables tables: their fixed skeleton, how netns-kit recognises what it owns
// (the comments), and the batch plumbing NatRule uses (the skeleton created with the first change,
// rules deleted by handle, the table removed with its last rule).
//
//   table inet netns-kit                                   (everything below is ours alone)
//     map pub4    ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service   -p HOSTIP:PORT
//     map pub4any inet_proto . inet_service : ipv4_addr . inet_service               -p PORT (any local address)
//     map pub4lo  inet_proto . inet_service : ipv4_addr . inet_service               -p 127.0.0.1:PORT (localhost: true)
//     map pub6 / pub6any                        the same for IPv6
//     set hairpin4 / hairpin6  ifname . ipv4_addr (interval): an interface and the subnet behind it;
//                                                DNAT'd traffic going back into the subnet it came from
//     chain prerouting  nat    hook prerouting  priority dstnat: fib daddr type local jump publish
//     chain output      nat    hook output      priority dstnat: fib daddr type local jump publish
//     chain publish     (regular): one lookup per family and map; 127/8 only through pub4lo
//     chain postrouting nat    hook postrouting priority srcnat: hairpin (ct status dnat oifname . ip saddr
//                                                @hairpin4 masquerade) and localhost masquerade, then
//                                                the masquerade rules of NatRule.masquerade()
//     chain guard       filter hook prerouting  priority raw: iifname != "lo" ip daddr 127.0.0.0/8 drop
//                                                (CVE-2020-8558: route_localnet never opens 127/8 to the wire)
//     chain forward     filter hook forward     priority filter: ct state established,related accept, then
//                                                the isolation rules of NatRule.isolate()
//   (icc: false is not a rule: it is the kernel's bridge port isolation on the bridge's ports.)
//
// Every rule and element carries a comment "netns-kit <kind> <id> ..." (nft's own userdata format,
// so `nft list ruleset` shows it): that is how netns-kit recognises what it owns and whom it
// belongs to. Nothing outside these tables is ever changed.
import type { NetlinkError } from '../errors'
import type { NftElementInfo, NftExpr, NftMsg } from '../kernel/binding'
import { nftApply, nftList } from '../kernel/nft'
import type { Namespace } from '../namespace'
import {
  comment, commentOf, ctStateEstablished, ctStatusDnat, dnatByMap, fibDaddrLocal, hairpinLookup, ifMatch, ifnameString, nfproto, addrMatch, verdict,
} from './expr'
import type { RuleRef } from './types'

export const TABLE = 'netns-kit'
export const TAG = 'netns-kit'

// Datatype ids of nft (src/datatype.h) and how concatenations combine them (TYPE_BITS = 6).
const T = { ipv4_addr: 7, ipv6_addr: 8, inet_proto: 12, inet_service: 13, ifname: 41 } as const
const concat = (...ids: number[]): number => ids.reduce((acc, id) => (acc << 6) | id, 0)
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
const NFT_SET_INTERVAL = 0x4
const NFT_SET_CONCAT = 0x80

function mapMsg(m: MapDef): NftMsg {
  const addr = m.family === 4 ? T.ipv4_addr : T.ipv6_addr
  const alen = m.family === 4 ? 4 : 16
  const keyTypes = m.byAddress ? [addr, T.inet_proto, T.inet_service] : [T.inet_proto, T.inet_service]
  const fieldLens = m.byAddress ? [alen, 1, 2] : [1, 2]
  return {
    op: 'newset', family: 'inet', table: TABLE, name: m.name,
    keyType: concat(...keyTypes), keyLen: fieldLens.reduce((a, l) => a + Math.ceil(l / 4) * 4, 0),
    dataType: concat(addr, T.inet_service), dataLen: alen + 4, flags: NFT_SET_MAP,
  }
}

/** Every message that creates the inet table's skeleton, in one batch. */
export function skeleton(): NftMsg[] {
  const t = { family: 'inet' as const, table: TABLE }
  const base = comment(`${TAG} base`)
  const rule = (chain: string, exprs: NftExpr[]): NftMsg => ({ op: 'newrule', ...t, chain, exprs, userdata: base })
  const msgs: NftMsg[] = [
    { op: 'newtable', family: 'inet', name: TABLE, userdata: comment(`${TAG} v1`) },
    ...MAPS.map(mapMsg),
    { op: 'newset', ...t, name: HAIRPIN_SETS[4], keyType: concat(T.ifname, T.ipv4_addr), keyLen: 20, fieldLens: [16, 4], flags: NFT_SET_INTERVAL | NFT_SET_CONCAT },
    { op: 'newset', ...t, name: HAIRPIN_SETS[6], keyType: concat(T.ifname, T.ipv6_addr), keyLen: 32, fieldLens: [16, 16], flags: NFT_SET_INTERVAL | NFT_SET_CONCAT },
    { op: 'newchain', ...t, name: 'prerouting', hook: 'prerouting', priority: -100, type: 'nat', policy: 'accept' },
    { op: 'newchain', ...t, name: 'output', hook: 'output', priority: -100, type: 'nat', policy: 'accept' },
    { op: 'newchain', ...t, name: 'publish' },
    { op: 'newchain', ...t, name: 'postrouting', hook: 'postrouting', priority: 100, type: 'nat', policy: 'accept' },
    { op: 'newchain', ...t, name: 'guard', hook: 'prerouting', priority: -300, type: 'filter', policy: 'accept' },
    { op: 'newchain', ...t, name: 'forward', hook: 'forward', priority: 0, type: 'filter', policy: 'accept' },
    rule('prerouting', [...fibDaddrLocal(), verdict('jump', 'publish')]),
    rule('output', [...fibDaddrLocal(), verdict('jump', 'publish')]),
  ]
  for (const m of MAPS.filter((x) => x.loopback)) {
    msgs.push(rule('publish', [...nfproto(4), ...addrMatch(4, 'daddr', '127.0.0.0', 8), ...dnatByMap(4, m.name, false)]))
  }
  // Loopback destinations never reach the other maps: 127.0.0.1 is published only when asked.
  msgs.push(rule('publish', [...nfproto(4), ...addrMatch(4, 'daddr', '127.0.0.0', 8), verdict('return')]))
  msgs.push(rule('publish', [...nfproto(6), ...addrMatch(6, 'daddr', '::1', 128), verdict('return')]))
  for (const m of MAPS.filter((x) => !x.loopback)) {
    msgs.push(rule('publish', [...nfproto(m.family), ...dnatByMap(m.family, m.name, m.byAddress)]))
  }
  msgs.push(
    rule('postrouting', [...ctStatusDnat(), ...nfproto(4), ...hairpinLookup(4, HAIRPIN_SETS[4]), { type: 'masq' }]),
    rule('postrouting', [...ctStatusDnat(), ...nfproto(6), ...hairpinLookup(6, HAIRPIN_SETS[6]), { type: 'masq' }]),
    rule('postrouting', [...nfproto(4), ...addrMatch(4, 'saddr', '127.0.0.0', 8), ...ctStatusDnat(), { type: 'masq' }]),
    rule('guard', [...ifMatch('iifname', 'lo', 'neq'), ...nfproto(4), ...addrMatch(4, 'daddr', '127.0.0.0', 8), verdict('drop')]),
    rule('forward', [...ctStateEstablished(), verdict('accept')]),
  )
  return msgs
}

export async function tableExists(ns: Namespace, family: 'inet' | 'bridge'): Promise<boolean> {
  const tables = await nftList(ns, { what: 'tables', family })
  return tables.some((t) => t.name === TABLE)
}

/** Applies a change, creating the skeleton in the same atomic batch when the table is missing. */
export async function change(ns: Namespace, msgs: NftMsg[], what: string, exists?: boolean): Promise<(bigint | null)[]> {
  if (exists ?? (await tableExists(ns, 'inet'))) {
    try {
      return await nftApply(ns, msgs, what)
    } catch (e) {
      // Known from an earlier look, but gone since (another process tidied it): with the skeleton.
      if (exists === undefined || (e as NetlinkError).code !== 'ENOENT' || (await tableExists(ns, 'inet'))) throw e
    }
  }
  try {
    return await nftApply(ns, [...skeleton(), ...msgs], what)
  } catch (e) {
    // Another process created the table between our look and our batch: go again without it.
    if ((e as NetlinkError).code === 'EEXIST' && (await tableExists(ns, 'inet'))) return nftApply(ns, msgs, what)
    throw e
  }
}

/** The parts of an owner comment "netns-kit KIND ID REST...". */
export interface OwnerComment { kind: string; id: string; rest: string[] }

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

export async function listElements(ns: Namespace, set: string): Promise<NftElementInfo[]> {
  return nftList(ns, { what: 'elements', family: 'inet', table: TABLE, set })
}

/** The elements of `set` with these keys (null where none): one lookup each, whatever the set's size. */
export async function findElements(ns: Namespace, set: string, keys: Buffer[]): Promise<(NftElementInfo | null)[]> {
  if (!keys.length) return []
  return nftList(ns, { what: 'elements', family: 'inet', table: TABLE, set, keys })
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
 * True while a masquerade or isolation rule of ours is in the table (so the table stays): the
 * rules listed without their expressions, one trip. False also when there is no table.
 */
export async function tableHeld(ns: Namespace): Promise<boolean> {
  const rules = await nftList(ns, { what: 'rules', family: 'inet', table: TABLE, brief: true })
  return rules.some((r) => { const k = ownerOf(r.userdata)?.kind; return k === 'masquerade' || k === 'isolate' })
}

/**
 * Removes netns-kit's table once nothing of ours is left in it, or else the hairpin elements of
 * interfaces no published port uses any more. `interfacesInUse` lists, per family, the
 * interfaces of the published ports that remain (lib/nat/decode.ts reads them).
 */
export async function tidy(ns: Namespace, interfacesInUse: () => Promise<{ empty: boolean; used: Record<4 | 6, Set<string>> }>,
  held?: Promise<boolean>): Promise<void> {
  // While a masquerade or isolation rule remains (a network's lifetime), nothing can go: a
  // look at the few rules' comments is enough, and deleting a mapping stays cheap however many
  // there are. Otherwise the maps are read, to drop the table with its last element (and stale
  // hairpin entries).
  if (await (held ?? tableHeld(ns))) return
  if (!(await tableExists(ns, 'inet'))) return
  const { empty, used } = await interfacesInUse()
  const msgs: NftMsg[] = []
  if (empty) {
    msgs.push({ op: 'deltable', family: 'inet', name: TABLE })
  } else {
    for (const family of [4, 6] as const) {
      const set = HAIRPIN_SETS[family]
      const stale = (await listElements(ns, set)).filter((e) => !used[family].has(ifnameString(e.key!.subarray(0, 16))))
      if (stale.length) msgs.push({ op: 'delsetelem', family: 'inet', table: TABLE, set, elements: stale.map((e) => ({ key: e.key!, keyEnd: e.keyEnd })) })
    }
  }
  if (msgs.length) await nftApply(ns, msgs, 'tidy netns-kit tables').catch(() => {})
}

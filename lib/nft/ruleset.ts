// netns-kit's own nftables tables: their fixed skeleton, and the batch plumbing NatRule uses.
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
import { native, type NftExpr, type NftMsg } from '../native/binding'
import { handleOf } from '../internal'
import { NetlinkError } from '../errors'
import type { Namespace } from '../namespace'
import {
  comment, ctStateEstablished, ctStatusDnat, dnatByMap, fibDaddrLocal, hairpinLookup, ifMatch, nfproto, addrMatch, verdict,
} from './expr'

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

export interface BatchFailure { errno: number; syscall: string; index: number; extack?: string }

/** Sends one atomic batch; throws NetlinkError naming the message that failed. */
export async function applyBatch(ns: Namespace, msgs: NftMsg[], what: string): Promise<(bigint | null)[]> {
  let r: Awaited<ReturnType<ReturnType<typeof native>['nft']>>
  try {
    r = await native().nft(handleOf(ns), msgs)
  } catch (e) {
    const err = e as { errno?: number; syscall?: string; extack?: string; message?: string }
    if (typeof err.errno === 'number') throw new NetlinkError({ errno: err.errno, syscall: err.syscall ?? 'nfnetlink', object: what, extack: err.extack })
    throw e
  }
  if (!r.ok) {
    const m = msgs[r.index]
    const obj = m ? `${what} (message ${r.index}: ${describe(m)})` : what
    const e = new NetlinkError({ errno: r.errno, syscall: r.syscall, object: obj, extack: r.extack }) as NetlinkError & { index?: number }
    e.index = r.index
    throw e
  }
  return r.handles
}

function describe(m: NftMsg): string {
  const o = m as { op: string; name?: string; chain?: string; set?: string }
  return `${o.op} ${o.name ?? o.chain ?? o.set ?? ''}`.trim()
}

export async function tableExists(ns: Namespace, family: 'inet' | 'bridge'): Promise<boolean> {
  const tables = (await native().nftList(handleOf(ns), { what: 'tables', family })) as { name: string }[]
  return tables.some((t) => t.name === TABLE)
}

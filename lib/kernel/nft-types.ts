// nf_tables messages and expressions as the addon takes and returns them (native/nft).
// Numbers are the kernel's: registers (NFT_REG_VERDICT 0, NFT_REG_1..4 = 1..4, NFT_REG32_00..15
// = 8..23), flags (NFT_SET_*, NF_NAT_RANGE_*, NFTA_FIB_F_*), data types. Byte values (keys,
// cmp data, element data) are Buffers in packet order: network byte order for addresses and
// ports, each field of a concatenation padded to 4 bytes.
//
// Registers the way nft uses them (test/fixtures/nft/*.netlink show whole rules): a single
// value in NFT_REG_1 (1); a concatenation from NFT_REG_1 on, its first field in 1 (which is
// NFT_REG32_00) and each further field in the next 32-bit register (9, 10, ...), so
// `meta l4proto . th dport` is meta => 1, payload => 9, then `lookup sreg 1 dreg 1` on a map
// whose data is `ipv4_addr . inet_service`, and `nat dnat ip regAddrMin 1 regProtoMin 9`.
// Such a key for tcp . 8080 is 06 00 00 00 1f 90 00 00; its data for 10.0.0.2 . 80 is
// 0a 00 00 02 00 50 00 00.

export type NftFamily = 'inet' | 'ip' | 'ip6' | 'bridge' | 'netdev' | 'arp'

export type NftVerdictCode = 'accept' | 'drop' | 'continue' | 'break' | 'return' | 'jump' | 'goto'
/** A verdict; `chain` for jump and goto. */
export interface NftVerdict {
  code: NftVerdictCode
  chain?: string
}

export type NftMetaKey =
  | 'len'
  | 'protocol'
  | 'priority'
  | 'mark'
  | 'iif'
  | 'oif'
  | 'iifname'
  | 'oifname'
  | 'iiftype'
  | 'oiftype'
  | 'skuid'
  | 'skgid'
  | 'nftrace'
  | 'rtclassid'
  | 'secmark'
  | 'nfproto'
  | 'l4proto'
  | 'ibrname'
  | 'obrname'
  | 'pkttype'
  | 'cpu'
  | 'iifgroup'
  | 'oifgroup'
  | 'cgroup'
  | 'random'
  | 'secpath'
  | 'iifkind'
  | 'oifkind'
  | 'ibrpvid'
  | 'ibrvproto'
  | 'time'
  | 'day'
  | 'hour'
  | 'sdif'
  | 'sdifname'

export type NftCtKey =
  | 'state'
  | 'direction'
  | 'status'
  | 'mark'
  | 'secmark'
  | 'expiration'
  | 'helper'
  | 'l3protocol'
  | 'src'
  | 'dst'
  | 'protocol'
  | 'proto-src'
  | 'proto-dst'
  | 'labels'
  | 'packets'
  | 'bytes'
  | 'avgpkt'
  | 'zone'
  | 'event'
  | 'src-ip'
  | 'dst-ip'
  | 'src-ip6'
  | 'dst-ip6'
  | 'id'

/**
 * One expression of a rule, as `nft --debug=netlink` shows them. Read back from the kernel, an
 * expression comes in the same shape, with these differences (same meaning either way):
 * registers NFT_REG32_00/04/08/12 come back as NFT_REG_1..4 (the same storage); `nat`,
 * `masq` and `redir` leave out max registers equal to the min, and `nat` the flags
 * NF_NAT_RANGE_MAP_IPS / NF_NAT_RANGE_PROTO_SPECIFIED that the kernel sets itself whenever
 * address / port registers are given; `counter` holds the live counts; `lookup` has no
 * `setId`. An expression the addon does not know (or whose attributes say more than its
 * shape can) comes back as `{ type, raw }` and is sent back as it was.
 */
export type NftExpr =
  /** `meta load KEY => reg DREG`, or `meta set KEY with reg SREG` */
  | { type: 'meta'; key: NftMetaKey; dreg: number; sreg?: never }
  | { type: 'meta'; key: NftMetaKey; sreg: number; dreg?: never }
  /** `payload load LENb @ BASE header + OFFSET => reg DREG` */
  | { type: 'payload'; base: 'll' | 'network' | 'transport' | 'inner'; offset: number; len: number; dreg: number }
  /** `cmp OP reg SREG DATA` */
  | { type: 'cmp'; sreg: number; op: 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte'; data: Buffer }
  /** `bitwise reg DREG = ( reg SREG & MASK ) ^ XOR` */
  | { type: 'bitwise'; sreg: number; dreg: number; len: number; mask: Buffer; xor: Buffer }
  /** `immediate reg DREG DATA`, or `immediate reg 0 VERDICT` (dreg 0, the verdict register) */
  | { type: 'immediate'; dreg: number; data: Buffer; verdict?: never }
  | { type: 'immediate'; dreg?: 0; verdict: NftVerdict; data?: never }
  /** `lookup reg SREG set SET [dreg DREG]`; dreg 0 for a verdict map; setId for a set made in the same batch */
  | { type: 'lookup'; sreg: number; set: string; setId?: number; dreg?: number; invert?: boolean }
  /** `ct load KEY => reg DREG [, dir original|reply]`, or `ct set KEY with reg SREG` */
  | { type: 'ct'; key: NftCtKey; dreg: number; direction?: 0 | 1; sreg?: never }
  | { type: 'ct'; key: NftCtKey; sreg: number; direction?: 0 | 1; dreg?: never }
  /** `fib FLAGS RESULT => reg DREG`; flags NFTA_FIB_F_SADDR 1, DADDR 2, MARK 4, IIF 8, OIF 16, PRESENT 32 */
  | { type: 'fib'; result: 'oif' | 'oifname' | 'addrtype'; flags: number; dreg: number }
  /** `nat snat|dnat ip|ip6 addr_min reg ... flags ...`; flags NF_NAT_RANGE_* */
  | {
      type: 'nat'
      natType: 'snat' | 'dnat'
      family: 'ip' | 'ip6'
      regAddrMin?: number
      regAddrMax?: number
      regProtoMin?: number
      regProtoMax?: number
      flags?: number
    }
  /** `masq [proto_min reg ...] [flags ...]` */
  | { type: 'masq'; flags?: number; regProtoMin?: number; regProtoMax?: number }
  /** `redir [proto_min reg ...] [flags ...]` */
  | { type: 'redir'; flags?: number; regProtoMin?: number; regProtoMax?: number }
  /** `counter pkts P bytes B` */
  | { type: 'counter'; bytes?: bigint; packets?: bigint }
  /** `range eq|neq reg SREG FROM TO` */
  | { type: 'range'; sreg: number; op: 'eq' | 'neq'; from: Buffer; to: Buffer }
  /** Any expression, as its NFTA_EXPR_DATA attributes (decoded but unknown, or sent as is). */
  | { type: string; raw: Buffer }

/** One element of a set or map. */
export interface NftElement {
  /** The key (for a catch-all element, flags NFT_SET_ELEM_CATCHALL, none). */
  key?: Buffer
  /** End of a range (intervals of concatenations, flags NFT_SET_INTERVAL | NFT_SET_CONCAT). */
  keyEnd?: Buffer
  /** A map's data, or a verdict map's verdict. */
  data?: Buffer
  verdict?: NftVerdict
  /** NFT_SET_ELEM_INTERVAL_END 1, NFT_SET_ELEM_CATCHALL 2 */
  flags?: number
  /** Opaque bytes kept with the element (an owner tag; nft keeps comments here). */
  userdata?: Buffer
}

interface NftTableRef {
  family: NftFamily
  table: string
}

/** Table messages: `nft add table` (create with exclusive), `nft delete table`, `nft destroy table` (no error when absent; kernel 6.3). */
export type NftTableMsg =
  | { op: 'newtable'; family: NftFamily; name: string; flags?: number; userdata?: Buffer; exclusive?: boolean }
  | {
      op: 'deltable' | 'destroytable'
      family: NftFamily
      name: string
      /** deltable: NLM_F_NONREC, refused (EBUSY) while the table holds a chain, set, flowtable or object. */
      nonrec?: boolean
    }

/** Chain messages: a base chain has a hook; a regular chain is reached by jump/goto. flushchain removes its rules. */
export type NftChainMsg =
  | ({
      op: 'newchain'
      name: string
      hook?: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress'
      priority?: number
      type?: 'filter' | 'nat' | 'route'
      policy?: 'accept' | 'drop'
      device?: string
      userdata?: Buffer
      exclusive?: boolean
    } & NftTableRef)
  | ({
      op: 'delchain' | 'destroychain' | 'flushchain'
      name: string
      /** delchain: NLM_F_NONREC, refused (EBUSY) while the chain holds a rule or a jump to it. */
      nonrec?: boolean
    } & NftTableRef)

/** Rule messages: appended after `position` (a handle) or at the end; with insert: true, before `position` or at the start. */
export type NftRuleMsg =
  | ({ op: 'newrule'; chain: string; exprs: NftExpr[]; userdata?: Buffer; position?: bigint; insert?: boolean } & NftTableRef)
  | ({ op: 'delrule' | 'destroyrule'; chain: string; handle: bigint } & NftTableRef)

/** Set and map messages (`nft add set`, `nft add map`). */
export type NftSetMsg =
  | ({
      op: 'newset'
      name: string
      id?: number
      keyType?: number
      keyLen: number
      dataType?: number
      dataLen?: number
      flags?: number
      fieldLens?: number[]
      size?: number
      policy?: number
      userdata?: Buffer
      exclusive?: boolean
    } & NftTableRef)
  | ({
      op: 'delset' | 'destroyset'
      name: string
      /** delset: NLM_F_NONREC, refused (EBUSY) while the set holds an element. */
      nonrec?: boolean
    } & NftTableRef)
  | ({ op: 'newsetelem' | 'delsetelem' | 'destroysetelem'; set: string; setId?: number; elements: NftElement[]; exclusive?: boolean } & NftTableRef)

export type NftMsg = NftTableMsg | NftChainMsg | NftRuleMsg | NftSetMsg

/** The outcome of one batch: it was applied whole, or not at all. */
export type NftBatchResult =
  { ok: true; handles: (bigint | null)[] } | { ok: false; errno: number; syscall: string; strerror: string; index: number; extack?: string; attribute?: string }

export interface NftListQuery {
  what: 'tables' | 'chains' | 'rules' | 'sets' | 'elements'
  family?: NftFamily
  table?: string
  chain?: string
  set?: string
  /** Elements only: look up these keys (one request each, pipelined) instead of dumping the set. */
  keys?: Buffer[]
  /** Rules only: without their expressions (family, table, chain, handle, userdata), a fraction of the cost. */
  brief?: boolean
}

/** Objects read back by nftList: the shapes they are written in (without op), with handle. */
export interface NftTableInfo {
  family: NftFamily
  name: string
  flags?: number
  userdata?: Buffer
  handle: bigint
}
export interface NftChainInfo {
  family: NftFamily
  table: string
  name: string
  hook?: string
  priority?: number
  type?: string
  policy?: 'accept' | 'drop'
  device?: string
  userdata?: Buffer
  handle: bigint
}
export interface NftRuleInfo {
  family: NftFamily
  table: string
  chain: string
  exprs: NftExpr[]
  userdata?: Buffer
  handle: bigint
}
/** A rule listed with `brief: true`: no expressions. */
export type NftRuleBrief = Omit<NftRuleInfo, 'exprs'>
export interface NftSetInfo {
  family: NftFamily
  table: string
  name: string
  flags?: number
  keyType?: number
  keyLen: number
  dataType?: number
  dataLen?: number
  fieldLens?: number[]
  size?: number
  policy?: number
  userdata?: Buffer
  handle: bigint
}
export type NftElementInfo = NftElement

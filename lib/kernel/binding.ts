// The only file that loads the addon, and the only place with `any`. Only lib/kernel/ imports
// it (eslint enforces that): every call into the addon goes through one function of
// lib/kernel/ per entry point, which maps its failures to the library's errors and traces it.
import * as path from 'node:path'
import * as fs from 'node:fs'
import type { NftBatchResult, NftChainInfo, NftElementInfo, NftListQuery, NftMsg, NftRuleBrief, NftRuleInfo, NftSetInfo, NftTableInfo } from './nft-types'
import type { RtnlOp } from './ops'
import { NetnsKitError } from '../errors'

export type * from './nft-types'

/** A network namespace held open by the addon (an O_CLOEXEC fd and its rtnetlink socket). */
export interface NsHandle {
  readonly fd: number
  readonly ino: bigint
  readonly dev: bigint
  close(): Promise<void>
}

export interface NativeLink {
  index: number
  name: string
  kind: string
  slaveKind: string
  mtu: number
  mac: string
  flags: number
  operState: number
  master: number
  link: number
  linkNetnsId?: number
  alias: string
  type: number
  stp?: boolean
  vlanFiltering?: boolean
  hairpin?: boolean
  isolated?: boolean
  macvlanMode?: number
  vxlan?: NativeVxlan
  /** net.ipv4.conf.NAME.route_localnet, from IFLA_AF_SPEC (absent without IPv4 on the link). */
  routeLocalnet?: number
  /** IFLA_INET6_ADDR_GEN_MODE (0 eui64, 1 none, 2 stable privacy, 3 random); absent without IPv6. */
  addrGenMode?: number
}
/** RTM_NEWNETCONF: a device's (or all's) settings of one family. */
export interface NativeNetconf {
  /** NETCONFA_FORWARDING: 1 when forwarding is on. */
  forwarding?: number
}
export interface NativeVxlan {
  vni: number
  local?: string
  remote?: string
  port: number
  link: number
  learning: boolean
  proxy: boolean
  l2miss: boolean
  l3miss: boolean
  udpCsum: boolean
  ttl: number
  tos: number
  ageing: number
}
/** An FDB entry (family 'bridge') or a neighbour (4, 6), as RTM_NEWNEIGH carries it. */
export interface NativeNeigh {
  family: 4 | 6 | 'bridge' | number
  index: number
  state: number
  flags: number
  type: number
  mac?: string
  dst?: string
  vlan?: number
  port?: number
  vni?: number
  via?: number
  srcVni?: number
  master?: number
}
export interface NativeAddr {
  index: number
  family: 4 | 6
  address: string
  prefixLength: number
  scope: number
  flags: number
  peer?: string
  broadcast?: string
  label?: string
}
export interface NativeRoute {
  family: 4 | 6
  dst: string
  dstLength: number
  gateway?: string
  oif: number
  metric?: number
  table: number
  prefsrc?: string
  protocol: number
  scope: number
  type: number
  flags: number
}
/** A kernel refusal of one operation in a pipelined call. */
export interface NativeOpError {
  errno: number
  syscall: string
  strerror: string
  extack?: string
}
export interface NativeNotRun {
  notRun: true
}
export type NativeResult = null | NativeNetconf | NativeLink | NativeLink[] | NativeAddr[] | NativeRoute[] | NativeNeigh[] | NativeOpError | NativeNotRun

/**
 * One rtnetlink operation as the addon takes it (lib/kernel/ops.ts): namespaces named inside it
 * (`target`, `peer.target`) are handles; `ns` is the namespace whose socket carries it (absent
 * for encode()).
 */
export type NativeOp = RtnlOp<NsHandle> & { ns?: NsHandle }

/** One direction of a conntrack entry; ports and ids in host order. */
export interface NativeCtTuple {
  src: string
  dst: string
  protocol: number
  srcPort?: number
  dstPort?: number
  icmpId?: number
  icmpType?: number
  icmpCode?: number
  zone?: number
}
/** A conntrack entry as ctnetlink reports it (IPCTNL_MSG_CT_NEW). */
export interface NativeCtEntry {
  family: 4 | 6
  orig: NativeCtTuple
  reply?: NativeCtTuple
  status?: number
  timeout?: number
  mark?: number
  id?: number
  use?: number
  zone?: number
  tcpState?: number
}
/** What ctList/ctDelete select; `protocol` is the IP protocol number. */
export interface NativeCtFilter {
  family?: 4 | 6
  protocol?: number
  origSrc?: string
  origDst?: string
  replySrc?: string
  origDstPort?: number
  replySrcPort?: number
}

export interface NativeBinding {
  createNamespace(dir: string, name: string, loopbackUp: boolean): Promise<NsHandle>
  openNamespace(path: string): Promise<NsHandle>
  deleteNamespace(dir: string, name: string): Promise<boolean>
  sysctlGet(ns: NsHandle, rel: string): Promise<string>
  sysctlSet(ns: NsHandle, rel: string, value: string): Promise<void>
  rtnl(ops: NativeOp[]): Promise<NativeResult[]>
  /** One RTM_DELLINK on a socket of its own, resolved at the RTM_DELLINK notifications of `indexes` (native/rtnl/unregister.h). */
  linkUnregister(ns: NsHandle, spec: { index?: number; name?: string; group?: number; indexes: number[] }): Promise<{ notified: boolean; missing: boolean }>
  encode(op: NativeOp): Buffer[]
  decode(kind: 'link' | 'addr' | 'route' | 'neigh' | 'ack', msg: Buffer): Record<string, unknown> | null
  threads(): { threads: number; jobs: number; discarded: number; homeIno: bigint; callerIno: bigint }
  ctList(ns: NsHandle, filter?: NativeCtFilter): Promise<NativeCtEntry[]>
  ctDelete(ns: NsHandle, filter: NativeCtFilter): Promise<number>
  ctEncode(op: { op: 'dump'; family?: 4 | 6 } | { op: 'delete'; entry: Buffer; id?: boolean }): Buffer
  ctDecode(msg: Buffer): NativeCtEntry | null
  /** A socket created inside `ns` (non-blocking, close-on-exec), bound when `address` is given; the caller owns the fd. */
  openSocket(ns: NsHandle, spec: NativeSocketSpec): Promise<{ fd: number; port: number }>
  /** flock(fd, LOCK_EX | LOCK_NB): true when locked, false when another open file holds the lock. */
  tryLock(fd: number): boolean
  /** flock(fd, LOCK_UN) */
  unlock(fd: number): void
  /**
   * Applies the messages as ONE atomic nf_tables batch on the namespace's netfilter socket:
   * all of them or none. Resolves with the rule handles the kernel gave (for newrule
   * messages, null for the others), or with the first refusal: its errno, the message type
   * ('NFT_MSG_NEWRULE'), the index of the message and the kernel's extended ACK (or the name
   * of the attribute it pointed at). Throws TypeError/RangeError for bad input, before
   * anything is sent. Like `nft -f FILE` inside the namespace.
   */
  nft(ns: NsHandle, msgs: NftMsg[], genid?: number): Promise<NftBatchResult>
  /**
   * The ruleset's generation (NFT_MSG_GETGEN; `nft list ruleset` reads it for its cache). A batch
   * given it (`nft(ns, msgs, genid)`, NFNL_BATCH_GENID) is refused whole, ERESTART, once anything
   * was committed since.
   */
  nftGen(ns: NsHandle): Promise<number>
  /**
   * Reads tables, chains, rules, sets or a set's elements (`nft list ...`), decoded into the
   * shapes they are written in, with their handles. Elements need family, table and set.
   */
  nftList(ns: NsHandle, q: NftListQuery & { what: 'tables' }): Promise<NftTableInfo[]>
  nftList(ns: NsHandle, q: NftListQuery & { what: 'chains' }): Promise<NftChainInfo[]>
  nftList(ns: NsHandle, q: NftListQuery & { what: 'rules'; brief: true }): Promise<NftRuleBrief[]>
  nftList(ns: NsHandle, q: NftListQuery & { what: 'rules' }): Promise<NftRuleInfo[]>
  nftList(ns: NsHandle, q: NftListQuery & { what: 'sets' }): Promise<NftSetInfo[]>
  /**
   * With `keys`: the element of each key (one pipelined request each), or null where there is none
   * (the kernel answers ENOENT alike for a missing element, set or table: check those first).
   */
  nftList(ns: NsHandle, q: NftListQuery & { what: 'elements'; keys: Buffer[] }): Promise<(NftElementInfo | null)[]>
  nftList(ns: NsHandle, q: NftListQuery & { what: 'elements' }): Promise<NftElementInfo[]>
  nftList(ns: NsHandle, q: NftListQuery): Promise<object[]>
  /**
   * Whether any of the sets holds an element (a missing set or table holds none): asked in order
   * on a socket of their own, at most one datagram of a non-empty set's dump, whatever its size.
   */
  nftAnyElement(ns: NsHandle, queries: (NftListQuery & { what: 'elements' })[]): Promise<boolean>
  /** The exact bytes nft() sends for `msgs` (batch begin and end included; sequence numbers and port ids 0). */
  nftEncode(msgs: NftMsg[], genid?: number): Buffer
  /** Decodes one nf_tables message (a dump reply, or a request nftEncode made); null when malformed. */
  nftDecode(what: 'table', msg: Buffer): NftTableInfo | null
  nftDecode(what: 'chain', msg: Buffer): NftChainInfo | null
  nftDecode(what: 'rule', msg: Buffer): NftRuleInfo | null
  nftDecode(what: 'set', msg: Buffer): NftSetInfo | null
  nftDecode(what: 'elements', msg: Buffer): NftElementInfo[] | null
}

export interface NativeSocketSpec {
  family: 4 | 6
  type: 'udp' | 'tcp'
  address?: string
  port?: number
  reuseAddr?: boolean
  freebind?: boolean
}

// eslint-disable-next-line @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any
const bindings: (opts: { bindings: string; module_root: string }) => any = require('bindings')

/** The package's root folder (holds binding.gyp), from lib/kernel or dist/kernel. */
export const packageRoot: string = path.resolve(__dirname, '..', '..')

let loaded: NativeBinding | undefined
let replaced: NativeBinding | undefined
let generation = 0

/** The addon (loaded on first use), or the binding useBinding() put in its place. */
export function native(): NativeBinding {
  if (replaced) return replaced
  if (!loaded) {
    try {
      loaded = bindings({ bindings: 'netns_kit', module_root: packageRoot }) as NativeBinding
    } catch (e) {
      // Installed with --ignore-scripts (or the build failed): say so, rather than an internal error.
      if (/Could not locate the bindings file/.test(String((e as Error)?.message))) {
        throw new NetnsKitError(
          'ERR_NETNS_KIT_NOT_BUILT',
          `netns-kit: the addon was not built (no build/Release/netns_kit.node in ${packageRoot}); run npm rebuild netns-kit`,
          { cause: e },
        )
      }
      throw e
    }
  }
  return loaded
}

/**
 * @internal Puts `fake` in the addon's place (undefined: the addon again), for unit tests of
 * the object API without root (test/fake-binding.ts).
 */
export function useBinding(fake: NativeBinding | undefined): void {
  replaced = fake
  generation++
}

/** Changes whenever useBinding() does: handles made before belong to another binding. */
export function bindingGeneration(): number {
  return generation
}

/** Path of the nk-exec helper built next to the addon by binding.gyp. */
export function execHelperPath(): string {
  for (const dir of ['build/Release', 'build/Debug']) {
    const p = path.join(packageRoot, dir, 'nk-exec')
    if (fs.existsSync(p)) return p
  }
  throw new NetnsKitError('ERR_NETNS_KIT_NOT_BUILT', `netns-kit: the nk-exec helper was not built (looked in ${packageRoot}/build); run npm install`)
}

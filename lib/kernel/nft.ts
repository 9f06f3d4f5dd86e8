// nf_tables through the addon: atomic batches and listings in a namespace (`nft -f FILE`,
// `nft list ...` inside it), refusals mapped to the library's errors. The only nft batch wrapper.
import {
  native,
  type NftChainInfo,
  type NftElementInfo,
  type NftListQuery,
  type NftMsg,
  type NftRuleBrief,
  type NftRuleInfo,
  type NftSetInfo,
  type NftTableInfo,
} from './binding'
import { toError } from './errors'
import type { NftFamily } from './nft-types'
import { handleOf, type NsRef } from './handles'
import { trip } from './trace'

/** What a message concerns, for error messages: "rule in ip nat postrouting". */
export function describeNftMsg(m: NftMsg): string {
  const where = 'table' in m ? `${m.family} ${m.table}` : `${m.family}`
  switch (m.op) {
    case 'newtable':
    case 'deltable':
    case 'destroytable':
      return `table ${m.family} ${m.name}`
    case 'newchain':
    case 'delchain':
    case 'destroychain':
    case 'flushchain':
      return `chain ${where} ${m.name}`
    case 'newrule':
      return `rule in ${where} ${m.chain}`
    case 'delrule':
    case 'destroyrule':
      return `rule ${m.handle} in ${where} ${m.chain}`
    case 'newset':
    case 'delset':
    case 'destroyset':
      return `set ${where} ${m.name}`
    default:
      return `elements of set ${where} ${m.set}`
  }
}

function summary(msgs: NftMsg[]): string[] {
  return msgs.map((m) => ('elements' in m ? `${m.op} ${m.set} (${m.elements.length})` : `${m.op} ${describeNftMsg(m)}`))
}

/**
 * Applies the messages in `ns` as ONE atomic nf_tables batch: all of them take effect, or none.
 * Returns, per message, the handle the kernel gave a new rule (null for other messages). A
 * refusal throws NetlinkError (syscall 'NFT_MSG_NEWRULE' and so on, `what` and the message it
 * concerned, the kernel's extended ACK) with `opIndex`, the index of the refused message; bad
 * input throws TypeError / RangeError before anything is sent. With `genid` (nftGen()), the batch
 * is refused whole (code 'ERESTART', opIndex -1) if anything was committed since that generation.
 */
export async function nftApply(ns: NsRef, msgs: NftMsg[], what?: string, opts: { genid?: number } = {}): Promise<(bigint | null)[]> {
  const h = handleOf(ns)
  return trip({ channel: 'nft', entry: 'nft', ns, ops: () => summary(msgs) }, async () => {
    let r
    try {
      r = await native().nft(h, msgs, opts.genid)
    } catch (e) {
      throw toError(e, { object: what, action: 'change nftables' })
    }
    if (r.ok) return r.handles
    const m = msgs[r.index]
    const object = m ? (what ? `${what} (message ${r.index}: ${describeNftMsg(m)})` : describeNftMsg(m)) : (what ?? 'nftables batch')
    const err = toError(r, { object, action: 'change nftables' }) as Error & { opIndex?: number }
    err.opIndex = r.index
    throw err
  })
}

/**
 * The ruleset's generation in `ns`: give it to nftApply ({ genid }) to have a batch refused
 * (ERESTART) if anything was committed since, such as between reading sets and acting on them.
 */
export async function nftGen(ns: NsRef): Promise<number> {
  const h = handleOf(ns)
  return trip({ channel: 'nft', entry: 'nftGen', ns, ops: () => ['getgen'] }, async () => {
    try {
      return await native().nftGen(h)
    } catch (e) {
      throw toError(e, { object: 'generation', action: 'read the nftables generation' })
    }
  })
}

/** Lists tables, chains, rules, sets or a set's elements in `ns` (`nft list ...`), decoded. */
export async function nftList(ns: NsRef, q: NftListQuery & { what: 'tables' }): Promise<NftTableInfo[]>
export async function nftList(ns: NsRef, q: NftListQuery & { what: 'chains' }): Promise<NftChainInfo[]>
export async function nftList(ns: NsRef, q: NftListQuery & { what: 'rules'; brief: true }): Promise<NftRuleBrief[]>
export async function nftList(ns: NsRef, q: NftListQuery & { what: 'rules' }): Promise<NftRuleInfo[]>
export async function nftList(ns: NsRef, q: NftListQuery & { what: 'sets' }): Promise<NftSetInfo[]>
/** With `keys`: the element of each key (one pipelined request each), or null where there is none. */
export async function nftList(ns: NsRef, q: NftListQuery & { what: 'elements'; keys: Buffer[] }): Promise<(NftElementInfo | null)[]>
export async function nftList(ns: NsRef, q: NftListQuery & { what: 'elements' }): Promise<NftElementInfo[]>
export async function nftList(ns: NsRef, q: NftListQuery): Promise<unknown[]> {
  const h = handleOf(ns)
  const describe = () => [
    `list ${q.what}${q.family ? ` ${q.family}` : ''}${q.table ? ` ${q.table}` : ''}${q.set ? ` ${q.set}` : ''}${q.keys ? ` (${q.keys.length} keys)` : ''}`,
  ]
  return trip({ channel: 'nft', entry: 'nftList', ns, ops: describe }, async () => {
    try {
      return await native().nftList(h, q)
    } catch (e) {
      throw toError(e, { object: `nft list ${q.what}`, action: 'read nftables' })
    }
  })
}

/**
 * Whether any of `sets` (of `table`) holds an element; a missing set or table holds none. The
 * sets are asked in order, and a non-empty one is read for one datagram only (a socket of its
 * own, closed after): O(1) in the sets' sizes. Put the likeliest first.
 */
export async function nftAnyElement(ns: NsRef, family: NftFamily, table: string, sets: string[]): Promise<boolean> {
  if (!sets.length) return false
  const h = handleOf(ns)
  return trip({ channel: 'nft', entry: 'nftAnyElement', ns, ops: () => [`any element in ${family} ${table} ${sets.join(', ')}`] }, async () => {
    try {
      return await native().nftAnyElement(
        h,
        sets.map((set) => ({ what: 'elements' as const, family, table, set })),
      )
    } catch (e) {
      throw toError(e, { object: `nft list elements ${sets.join(', ')}`, action: 'read nftables' })
    }
  })
}

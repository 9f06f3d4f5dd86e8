// nf_tables batches and listings for the object API (NatRule and friends): the addon's nft()
// and nftList() with Namespace objects, and kernel refusals as NetlinkError.
import { native, type NftListQuery, type NftMsg, type NftChainInfo, type NftElementInfo, type NftRuleBrief, type NftRuleInfo, type NftSetInfo, type NftTableInfo } from './native/binding'
import { handleOf } from './internal'
import { toError } from './rtnl'
import type { Namespace } from './namespace'

/** What a message concerns, for error messages: "rule in ip nat postrouting". */
export function describeNftMsg(m: NftMsg): string {
  const where = 'table' in m ? `${m.family} ${m.table}` : `${m.family}`
  switch (m.op) {
    case 'newtable': case 'deltable': case 'destroytable': return `table ${m.family} ${m.name}`
    case 'newchain': case 'delchain': case 'destroychain': case 'flushchain': return `chain ${where} ${m.name}`
    case 'newrule': return `rule in ${where} ${m.chain}`
    case 'delrule': case 'destroyrule': return `rule ${m.handle} in ${where} ${m.chain}`
    case 'newset': case 'delset': case 'destroyset': return `set ${where} ${m.name}`
    default: return `elements of set ${where} ${m.set}`
  }
}

/**
 * Applies the messages in `ns` as one atomic nf_tables batch (like `nft -f FILE` inside the
 * namespace): all of them take effect, or none. Returns, per message, the handle the kernel
 * gave a new rule (null for other messages). A refusal throws NetlinkError (syscall
 * 'NFT_MSG_NEWRULE' and so on, the message it concerned, the kernel's extended ACK) with
 * `opIndex`, the index of the refused message (-1 when the batch as a whole failed).
 * Bad input throws TypeError / RangeError before anything is sent.
 */
export async function nftApply(ns: Namespace, msgs: NftMsg[]): Promise<(bigint | null)[]> {
  let r
  try {
    r = await native().nft(handleOf(ns), msgs)
  } catch (e) {
    throw toError(e as Record<string, never>, undefined, 'change nftables')
  }
  if (r.ok) return r.handles
  const msg = msgs[r.index]
  const err = toError(r, msg ? describeNftMsg(msg) : 'nftables batch', 'change nftables') as Error & { opIndex?: number }
  err.opIndex = r.index
  throw err
}

/** Lists tables, chains, rules, sets or a set's elements in `ns` (`nft list ...`), decoded. */
export async function nftList(ns: Namespace, q: NftListQuery & { what: 'tables' }): Promise<NftTableInfo[]>
export async function nftList(ns: Namespace, q: NftListQuery & { what: 'chains' }): Promise<NftChainInfo[]>
export async function nftList(ns: Namespace, q: NftListQuery & { what: 'rules'; brief: true }): Promise<NftRuleBrief[]>
export async function nftList(ns: Namespace, q: NftListQuery & { what: 'rules' }): Promise<NftRuleInfo[]>
export async function nftList(ns: Namespace, q: NftListQuery & { what: 'sets' }): Promise<NftSetInfo[]>
export async function nftList(ns: Namespace, q: NftListQuery & { what: 'elements' }): Promise<NftElementInfo[]>
export async function nftList(ns: Namespace, q: NftListQuery): Promise<object[]> {
  try {
    return await native().nftList(handleOf(ns), q)
  } catch (e) {
    throw toError(e as Record<string, never>, undefined, 'read nftables')
  }
}

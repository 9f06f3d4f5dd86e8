// Kernel objects a network owns, recognisable as its own: links carry the alias
// `netns-kit:<network>[:<endpoint>]`, NAT rules are recorded by id in the store. Teardown
// (lib/network/teardown.ts) and gc remove only those.
import { NetlinkError } from '../errors'
import type { NativeLink } from '../kernel/binding'
import { runOne } from '../kernel/rtnl'
import type { Namespace } from '../namespace'
import { deleteLinkShared } from './reaper'

export const ALIAS = 'netns-kit:'
/** The alias of an endpoint's host link. */
export const linkAlias = (network: string, id: string): string => `${ALIAS}${network}:${id}`
/** The alias of a network's bridge. */
export const bridgeAlias = (network: string): string => `${ALIAS}${network}`

/**
 * Deletes the host end of an endpoint's veth (and so its peer), only if it still carries our
 * alias; or, for a connect that died between creating the veth and naming it, a veth of that
 * name without an alias on the bridge named `bridge`. Resolves whether it deleted one.
 */
export async function deleteVeth(ns: Namespace, hostIf: string, alias: string, bridge?: string): Promise<boolean> {
  const l = await linkIfThere(ns, hostIf)
  if (!l) return false
  let ours = l.alias === alias
  if (!ours && bridge !== undefined && l.alias === '' && l.kind === 'veth' && l.master !== 0) ours = l.master === (await linkIfThere(ns, bridge))?.index
  if (!ours) return false
  // Shared with the deletes of concurrent teardowns: one RCU grace period for a batch (reaper.ts).
  await deleteLinkShared(ns, l.index, hostIf)
  return true
}

/** The link named `name`, or null when there is none (any other failure is thrown). */
export async function linkIfThere(ns: Namespace, name: string): Promise<NativeLink | null> {
  return runOne({ ns, op: 'link.get', name, object: name }).catch((e: unknown) => {
    if (e instanceof NetlinkError && (e.code === 'ENODEV' || e.code === 'ENOENT')) return null
    throw e
  })
}

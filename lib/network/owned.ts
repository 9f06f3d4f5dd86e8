// Kernel objects a network owns, recognisable as its own: links carry the alias
// `netns-kit:<network>[:<endpoint>]`, NAT rules are recorded by id. Teardown and gc remove only those.
import { NetlinkError } from '../errors'
import type { NativeLink } from '../kernel/binding'
import { runOne } from '../kernel/rtnl'
import { NatRule } from '../nat'
import type { Namespace } from '../namespace'

export const ALIAS = 'netns-kit:'
/** The alias of an endpoint's host link. */
export const linkAlias = (network: string, id: string): string => `${ALIAS}${network}:${id}`
/** The alias of a network's bridge. */
export const bridgeAlias = (network: string): string => `${ALIAS}${network}`

/** Deletes the NatRules of `ids` in `ns` (those still there); returns what went. */
export async function deleteRules(ns: Namespace, ids: readonly string[]): Promise<string[]> {
  if (!ids.length) return []
  const gone: string[] = []
  for (const r of await NatRule.list({ namespace: ns })) {
    if (ids.includes(r.id)) {
      await r.delete()
      gone.push(String(r))
    }
  }
  return gone
}

/**
 * Deletes the host end of an endpoint's veth (and so its peer), only if it still carries our
 * alias; or, for a connect that died between creating the veth and naming it (`bridge`), a veth
 * of that name without an alias on that bridge.
 */
export async function deleteVeth(ns: Namespace, hostIf: string, alias: string, bridge?: number): Promise<boolean> {
  const l = await linkIfThere(ns, hostIf)
  if (!l) return false
  const unnamed = bridge !== undefined && l.alias === '' && l.kind === 'veth' && l.master === bridge
  if (l.alias !== alias && !unnamed) return false
  await runOne({ ns, op: 'link.delete', index: l.index, ignoreMissing: true, object: hostIf })
  return true
}

/** Deletes a link by name only if it carries `alias` (a network's bridge). */
export async function deleteLinkWithAlias(ns: Namespace, name: string, alias: string): Promise<void> {
  const l = await linkIfThere(ns, name)
  if (l && l.alias === alias) await runOne({ ns, op: 'link.delete', index: l.index, ignoreMissing: true, object: name })
}

/** The link named `name`, or null when there is none (any other failure is thrown). */
export async function linkIfThere(ns: Namespace, name: string): Promise<NativeLink | null> {
  return runOne({ ns, op: 'link.get', name, object: name }).catch((e: unknown) => {
    if (e instanceof NetlinkError && (e.code === 'ENODEV' || e.code === 'ENOENT')) return null
    throw e
  })
}

// NAT: masquerade, published ports and isolation (NatRule) in netns-kit's own nftables tables,
// and the network-level view lib/network uses: a network's rules and elements from its records
// (create, remove, check, restore), anti-spoofing of endpoints' ports, route_localnet repair.
// The rest of the library (lib/network) uses only what this file exports.
export { NatRule } from './rule'
export type { MasqueradeOptions, PublishOptions, IsolateOptions, NatProtocol, NatKind } from './types'
export { checkPublish } from './ports'
export { guardPort, unguardPort, pruneGuards, linkLocalOf, type GuardedPort } from './antispoof'
export { repairLocalnet } from './localnet'
export { enableForwarding } from './host'
export type { PublishHints } from './publish'
export {
  createNetworkNat,
  newNetworkIds,
  networkIdsFromList,
  networkIdsToList,
  removeNetworkNat,
  type EndpointNat,
  type NetworkNat,
  type NetworkNatIds,
  type PortNat,
  type Problem,
} from './network'
export { checkNetworkNat, restoreNetworkNat } from './network-check'
export { readHostPorts, parsePortList } from './host-ports'
export type { HostClaim, HostPorts } from './host-ports'

import type { Namespace } from '../namespace'
import { publishedAt, type PortKey } from './by-key'
import { unpublishVerified } from './publish'
import { NatRule as Rule } from './rule'
import type { OwnedRule } from './types'
export type { PortKey } from './by-key'

/** What publishedOn found, by the NatRule made of it: elements read by key, each carrying its id. */
const foundBy = new WeakMap<Rule, OwnedRule>()

/**
 * @internal The published mappings holding these host ports (an endpoint's recorded ports), found
 * by key in each map they can be in: O(1) in the number of other mappings, never a listing. For
 * an endpoint's teardown (unpublishFound next): which mappings netns-kit's route_localnet records
 * belong to is not read (`ownsRouteLocalnet` is false on them).
 */
export async function publishedOn(ns: Namespace, ports: PortKey[]): Promise<Rule[]> {
  return (await publishedAt(ns, ports, { localnet: false })).map((r) => {
    const rule = Rule.build(r)
    foundBy.set(rule, r)
    return rule
  })
}

/**
 * @internal Of `rules`, those publishedOn has just found (`found`: for unpublishFound) and the others.
 */
export function splitFound(rules: Rule[]): { found: Rule[]; rest: Rule[] } {
  const found: Rule[] = []
  const rest: Rule[] = []
  for (const r of rules) (foundBy.get(r)?.fields.kind === 'publish' ? found : rest).push(r)
  return { found, rest }
}

/**
 * @internal Deletes mappings publishedOn has just found (splitFound), right after (an endpoint's
 * teardown), all in one batch: their elements were read by key and carry their ids, so they are
 * not looked up again before the delete (NatRule.delete() looks, as the rule it holds may be old).
 * @throws {NetlinkError} as NatRule.delete() (`'ENOENT'` when their table is gone).
 */
export async function unpublishFound(rules: Rule[]): Promise<void> {
  const owned = rules.map((r) => foundBy.get(r)).filter((o): o is OwnedRule => o?.fields.kind === 'publish')
  for (const r of rules) foundBy.delete(r)
  if (owned.length) await unpublishVerified(owned[0]!.fields.namespace, owned)
}

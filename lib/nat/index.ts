// NAT: masquerade, published ports and isolation (NatRule) in netns-kit's own nftables table.
// The rest of the library (lib/network) uses only what this file exports.
export { NatRule } from './rule'
export type { MasqueradeOptions, PublishOptions, IsolateOptions, NatProtocol, NatKind } from './types'

import type { Namespace } from '../namespace'
import { publishedAt, type PortKey } from './by-key'
import { NatRule as Rule } from './rule'
export type { PortKey } from './by-key'

/**
 * @internal The published mappings holding these host ports (an endpoint's recorded ports), found
 * by key in each map they can be in: O(1) in the number of other mappings, never a listing.
 */
export async function publishedOn(ns: Namespace, ports: PortKey[]): Promise<Rule[]> {
  return (await publishedAt(ns, ports)).map((r) => Rule.build(r))
}

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
export {
  checkNetworkNat, createNetworkNat, newNetworkIds, networkIdsFromList, networkIdsToList, removeNetworkNat, restoreNetworkNat,
  type EndpointNat, type NetworkNat, type NetworkNatIds, type PortNat, type Problem,
} from './network'
export { readHostPorts, parsePortList } from './host-ports'
export type { HostClaim, HostPorts } from './host-ports'

// NAT: masquerade, published ports and isolation (NatRule) in netns-kit's own nftables table.
// The rest of the library (lib/network) uses only what this file exports.
export { NatRule } from './rule'
export type { MasqueradeOptions, PublishOptions, IsolateOptions, NatProtocol, NatKind } from './types'
export { readHostPorts, parsePortList } from './host-ports'
export type { HostClaim, HostPorts } from './host-ports'

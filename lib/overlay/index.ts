export { OverlayAgent } from './agent'
export type { OverlayAgentOptions, OverlayEndpointRecord, ReconcileReport } from './agent'
export { OverlayNetwork, OverlayEndpoint, VXLAN_OVERHEAD_IPV4, macForIp } from './network'
export type { OverlayNetworkOptions, OverlayConnectOptions, OverlayNetworkDefinition } from './network'

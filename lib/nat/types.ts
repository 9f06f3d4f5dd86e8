// The shapes NatRule is made of: what callers pass, and what a rule knows of its kernel objects.
import type { Namespace } from '../namespace'

export type NatProtocol = 'tcp' | 'udp' | 'sctp'
export type NatKind = 'masquerade' | 'publish' | 'isolate'

export interface MasqueradeOptions {
  /** The namespace playing the host (where the NAT happens); the current one when absent. */
  namespace?: Namespace
  /** Source prefix to masquerade, IPv4 or IPv6 ('172.18.0.0/16'). */
  source: string
  /** Only traffic leaving through this interface (`oifname "eth0"`). */
  outInterface?: string
  /** Only traffic not leaving through this interface (`oifname != "br0"`, Docker's form). */
  notOutInterface?: string
}

export interface PublishOptions {
  namespace?: Namespace
  protocol: NatProtocol
  /** The host address to publish on; every local address of the namespace when absent (never wider). */
  hostIp?: string
  /** A port or an inclusive range; a free port from net.ipv4.ip_local_port_range when absent (docker -P). */
  hostPort?: number | [number, number]
  containerIp: string
  /** A port, or a range of the same size as hostPort's. */
  containerPort: number | [number, number]
  /** Also publish on 127.0.0.1 (IPv4 only; sets route_localnet on the one interface that leads to the container). */
  localhost?: boolean
  /**
   * Refuse a given port a host process holds (its listening or bound socket, read through
   * sock_diag: ERR_NETNS_KIT_PORT_ALLOCATED naming it) and skip such ports and
   * ip_local_reserved_ports for -P. Default true; false for a caller that checked before it
   * reserved the ports itself (Network, whose reservations are such sockets).
   */
  hostSockets?: boolean
}

export interface IsolateOptions {
  namespace?: Namespace
  /** The network's bridge. */
  interface: string
  /** Inter-container communication on this bridge (Docker's icc); false drops traffic between its ports. */
  icc?: boolean
  /** No path in or out of the bridge other than between its own ports (Docker's --internal). */
  internal?: boolean
}

/** What a NatRule says about itself (its public fields). */
export interface NatFields {
  kind: NatKind
  id: string
  namespace: Namespace
  family: 4 | 6
  source?: string
  outInterface?: string
  notOutInterface?: string
  protocol?: NatProtocol
  hostIp?: string
  hostPort?: number
  hostPortEnd?: number
  containerIp?: string
  containerPort?: number
  containerPortEnd?: number
  localhost?: boolean
  interface?: string
  icc?: boolean
  internal?: boolean
  ownsRouteLocalnet?: boolean
}

/** A rule of ours in the kernel, by handle. */
export interface RuleRef {
  family: 'inet' | 'bridge'
  chain: string
  handle: bigint
}
/** A map element of ours in the kernel, by key. */
export interface ElemRef {
  map: string
  key: Buffer
  keyEnd?: Buffer
}

/** A NatRule as read from, or written to, the kernel: its fields and exactly its kernel objects. */
export interface OwnedRule {
  fields: NatFields
  rules: RuleRef[]
  elems: ElemRef[]
}

// Public data shapes.

/** A link as the kernel reports it, read fresh by Link.info(). */
export interface LinkInfo {
  name: string
  index: number
  /** IFLA_INFO_KIND: 'veth', 'bridge', ...; 'loopback' for lo and 'device' for other links without a kind. */
  kind: string
  mtu: number
  mac: string
  /** IFF_UP: administratively up. */
  up: boolean
  /** RFC 2863 operational state: 'up', 'down', 'lowerlayerdown', 'unknown', ... */
  operState: string
  /** ifindex of the master (a bridge), when the link is a port. */
  master?: number
  alias?: string
  /** ifindex of the other end of a veth pair (in its own namespace). */
  peerIndex?: number
  /** Bridge settings (kind 'bridge'). */
  stp?: boolean
  vlanFiltering?: boolean
  /** Bridge-port settings (links attached to a bridge). */
  hairpin?: boolean
  isolated?: boolean
  /** Raw ifi_flags. */
  flags: number
}

export interface AddressInfo {
  family: 4 | 6
  address: string
  prefixLength: number
  /** 'ADDRESS/PREFIX' */
  cidr: string
  /** ifindex and name of the link holding it. */
  index: number
  ifname: string
  scope: 'global' | 'site' | 'link' | 'host' | 'nowhere' | number
  broadcast?: string
  /** IFA_F_NODAD: added without duplicate address detection. */
  nodad: boolean
  /** IFA_F_TENTATIVE: IPv6 duplicate address detection still running. */
  tentative: boolean
  /** IFA_F_PERMANENT: configured (not from autoconfiguration). */
  permanent: boolean
  flags: number
}

export interface RouteSpec {
  /** 'default' or a prefix 'ADDR/LEN'. */
  to: string
  /** The gateway. */
  via?: string
  /** The output device: its name or the Link itself. */
  dev?: string | { readonly index: number; readonly name: string }
  metric?: number
  /** Routing table id (main: 254, the default). */
  table?: number
  /** Preferred source address. */
  src?: string
  /** With to: 'default' and no via/src: which family's default route (4 unless given). */
  family?: 4 | 6
}

export interface RouteInfo {
  family: 4 | 6
  /** 'default' or 'ADDR/LEN'. */
  to: string
  via?: string
  dev?: string
  devIndex?: number
  metric?: number
  table: number
  src?: string
  protocol: string | number
  scope: 'global' | 'site' | 'link' | 'host' | 'nowhere' | number
  type: string | number
}

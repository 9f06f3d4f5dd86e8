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
  /** Macvlan settings (kind 'macvlan'). */
  macvlan?: MacvlanInfo
  /** Vxlan settings (kind 'vxlan'). */
  vxlan?: VxlanInfo
  /** Raw ifi_flags. */
  flags: number
  /** The link group (IFLA_GROUP), when not the default group 0. */
  group?: number
}

/** How a macvlan talks to its siblings on the same parent (`ip link add ... type macvlan mode MODE`). */
export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source'

export interface MacvlanInfo {
  /** IFLA_MACVLAN_MODE (a number if the kernel reports a mode this library does not know). */
  mode: MacvlanMode | number
  /** ifindex of the parent (IFLA_LINK), in the parent's namespace. */
  parentIndex: number
}

/** A vxlan device as the kernel reports it (`ip -d link show`: linkinfo.info_data). */
export interface VxlanInfo {
  /** IFLA_VXLAN_ID */
  vni: number
  /** UDP destination port (IFLA_VXLAN_PORT). */
  port: number
  /** Source address of the tunnel, when set. */
  local?: string
  /** The unicast peer (IFLA_VXLAN_GROUP carrying a unicast address), when set. */
  remote?: string
  /** The multicast group, when set. */
  group?: string
  /** ifindex of the underlay device (IFLA_VXLAN_LINK), when set. */
  deviceIndex?: number
  /** Source-MAC learning into the vxlan FDB. */
  learning: boolean
  /** ARP/ND answered from the vxlan device's neighbour table. */
  proxy: boolean
  l2miss: boolean
  l3miss: boolean
  udpCsum: boolean
  /** 0: the kernel's default. */
  ttl: number
  /** 1: inherit. */
  tos: number
  /** FDB ageing in seconds (0: entries never age). */
  ageing: number
}

/** `bridge fdb` entry states: permanent (never aged; on a bridge, a local address), static (never aged), dynamic (learned, ages). */
export type FdbState = 'permanent' | 'static' | 'dynamic'

/** One entry to add to, or delete from, a forwarding database (`bridge fdb add MAC dev DEV ...`). */
export interface FdbEntrySpec {
  /** The MAC address; '00:00:00:00:00:00' on a vxlan device is the default destination (BUM flooding). */
  mac: string
  /** vxlan: the remote VTEP's IP address. */
  dst?: string
  /** vxlan: the VNI to send with (default: the device's). */
  vni?: number
  /** vxlan: the UDP destination port (default: the device's). */
  port?: number
  /** bridge with VLAN filtering: the VLAN. */
  vlan?: number
  /** The device's own FDB (NTF_SELF): a vxlan device, or a port's address list. The default when `master` is absent, as `bridge fdb`. */
  self?: boolean
  /** The FDB of the bridge the link is a port of (NTF_MASTER). */
  master?: boolean
  /**
   * 'permanent' (the default, as `bridge fdb add`), 'static' or 'dynamic'. On a bridge (master)
   * 'permanent' makes the MAC local to the bridge (frames to it are not forwarded): use 'static'
   * for a forwarding entry.
   */
  state?: FdbState
}

/** An entry of a forwarding database, as `bridge -j fdb show` lists it. */
export interface FdbEntry {
  mac: string
  /** ifindex and name of the device the entry is on. */
  index: number
  dev?: string
  /** vxlan: the remote VTEP. */
  dst?: string
  /** vxlan: VNI and UDP port, reported only where they differ from the device's own. */
  vni?: number
  port?: number
  vlan?: number
  /** ifindex of the bridge holding the entry (NDA_MASTER), for bridge FDB entries. */
  masterIndex?: number
  self: boolean
  master: boolean
  /** Learned from outside the kernel (NTF_EXT_LEARNED). */
  extLearned: boolean
  state: FdbState | 'stale'
  /** Raw ndm_state and ndm_flags. */
  nudState: number
  flags: number
}

/** `ip neigh` states. */
export type NeighbourState = 'permanent' | 'noarp' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'incomplete' | 'none'

/** A neighbour (ARP / NDP) entry to set: `ip neigh replace IP lladdr MAC dev DEV nud permanent`. */
export interface NeighbourSpec {
  /** The neighbour's IPv4 or IPv6 address. */
  ip: string
  /** Its MAC address (required to add or replace). */
  mac?: string
  /** The device it is reached through: its name or the Link itself. */
  dev: string | { readonly index: number; readonly name: string }
  /** 'permanent' (the default), 'noarp', 'reachable' or 'stale'. */
  state?: 'permanent' | 'noarp' | 'reachable' | 'stale'
  /** NTF_ROUTER (IPv6: the neighbour is a router). */
  router?: boolean
}

export interface NeighbourEntry {
  family: 4 | 6
  ip: string
  /** Absent while the neighbour is unresolved. */
  mac?: string
  index: number
  dev?: string
  state: NeighbourState
  router: boolean
  /** Raw ndm_state and ndm_flags. */
  nudState: number
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

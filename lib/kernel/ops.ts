// The rtnetlink operations the addon runs (native/rtnl/trip.h), as a discriminated union on `op`:
// each carries exactly the fields its message takes, so a misspelt field or a field of another
// operation does not compile. `N` is how a namespace named inside an operation is given:
// a Namespace object above lib/kernel, the addon's handle below it (lib/kernel/rtnl.ts converts).
import type { NativeAddr, NativeLink, NativeNeigh, NativeNetconf, NativeRoute } from './binding'

/** Which link an operation addresses: its ifindex, or its name (looked up by the kernel). */
type ByIndexOrName = { index: number; name?: string } | { index?: undefined; name: string }

/** Attributes of an RTM_NEWLINK, for a new link or a change of one; only what is given is sent. */
export interface LinkAttrs<N> {
  mtu?: number
  mac?: string
  up?: boolean
  /** IFLA_MASTER: the bridge's ifindex; 0 detaches. */
  master?: number
  /** IFLA_IFALIAS ('' clears it). */
  alias?: string
  /** IFLA_NET_NS_FD: create the link in, or move it to, this namespace. */
  target?: N
  /** Bridge attributes (IFLA_BR_*). */
  stp?: boolean
  vlanFiltering?: boolean
  /** Bridge-port flags (IFLA_BRPORT_*), sent as a second message in the same trip. */
  hairpin?: boolean
  isolated?: boolean
  /** IFLA_GROUP: the link's group (`ip link set NAME group N`); 0 is the default group. */
  group?: number
}

/** IFLA_INFO_DATA of a new vxlan (lib/vxlan.ts vxlanData, with the underlay's ifindex). */
export interface VxlanData {
  vni: number
  local?: string
  /** A unicast peer or a multicast group. */
  remote?: string
  port: number
  /** The underlay device's ifindex. */
  link?: number
  learning: boolean
  ttl?: number
  tos?: number
  ageing?: number
  proxy?: boolean
  l2miss?: boolean
  l3miss?: boolean
  udpCsum?: boolean
}

/** `ip link add NAME type KIND ...`: one RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL. */
export type LinkCreate<N> = LinkAttrs<N> & { op: 'link.create'; name: string } & (
    | { kind: 'veth'; peer: { name: string; mtu?: number; mac?: string; target?: N } }
    | { kind: 'bridge' }
    | { kind: 'macvlan'; link: number; macvlanMode: number }
    | { kind: 'vxlan'; vxlan: VxlanData }
  )

/** `ip link set ...` (a `name` with an `index` renames the link). */
export type LinkSet<N> = LinkAttrs<N> & { op: 'link.set' } & ByIndexOrName

/** An interface address: `ip addr add|del ADDRESS/LEN dev (index | linkName)`. */
export type AddrChange =
  | ({ op: 'addr.add'; address: string; prefixLength: number; nodad?: boolean } & (
      | { index: number; linkName?: undefined }
      /** The link is looked up by name when the operation's turn comes (it may be this trip's). */
      | { index?: undefined; linkName: string }
    ))
  | { op: 'addr.delete'; index: number; address: string; prefixLength: number; ignoreMissing?: boolean }

/** A route of the main table unless `table` is given; `dst` absent with dstLength 0 is the default route. */
export interface RouteChange {
  op: 'route.add' | 'route.replace' | 'route.delete'
  family: 4 | 6
  dst?: string
  dstLength: number
  gateway?: string
  oif?: number
  metric?: number
  table?: number
  prefsrc?: string
  ignoreMissing?: boolean
}

/** An FDB entry (`bridge fdb`); flags NTF_*, state NUD_*. */
export interface FdbChange {
  op: 'fdb.add' | 'fdb.append' | 'fdb.replace' | 'fdb.delete'
  index: number
  mac: string
  dst?: string
  vni?: number
  port?: number
  vlan?: number
  flags: number
  state: number
  ignoreMissing?: boolean
}

/** A neighbour (`ip neigh`); flags NTF_*, state NUD_*. */
export interface NeighChange {
  op: 'neigh.add' | 'neigh.replace' | 'neigh.delete'
  index: number
  dst: string
  mac?: string
  flags: number
  state: number
  ignoreMissing?: boolean
}

/**
 * A write under /proc/sys/net in the operation's namespace, in its place in the trip (`key` is
 * the path below /proc/sys/net: 'ipv6/conf/veth0/disable_ipv6'); `ignoreMissing`: no such key is done.
 */
export interface SysctlSet {
  op: 'sysctl.set'
  key: string
  value: string
  ignoreMissing?: boolean
}

export type RtnlOp<N> =
  | LinkCreate<N>
  | LinkSet<N>
  | ({ op: 'link.delete'; ignoreMissing?: boolean } & ByIndexOrName)
  /** `ip link delete group N`: every link of the group, in one RTM_DELLINK. */
  | { op: 'link.delete'; group: number; ignoreMissing?: boolean; index?: undefined; name?: undefined }
  | ({ op: 'link.get' } & ByIndexOrName)
  | { op: 'link.list' }
  | AddrChange
  | { op: 'addr.list'; index?: number; family?: 4 | 6 }
  | RouteChange
  | { op: 'route.list'; family?: 4 | 6 }
  | FdbChange
  | NeighChange
  | { op: 'fdb.list' | 'neigh.list'; index?: number; family?: 4 | 6 }
  | SysctlSet
  /**
   * `ip netconf show [dev DEV]`: RTM_GETNETCONF of a device's settings of one family, or of `all`
   * (index -1, NETCONFA_IFINDEX_ALL: net.ipv4.ip_forward / net.ipv6.conf.all.forwarding) —
   * read over netlink, not /proc/sys (whose lookups grow with the number of namespaces).
   */
  | { op: 'netconf.get'; family: 4 | 6; index: number }

export type RtnlOpName = RtnlOp<unknown>['op']

/** What an operation resolves to: the link, the records of a dump, or null for a change. */
export type RtnlResult<O extends { op: RtnlOpName }> = O extends { op: 'link.get' }
  ? NativeLink
  : O extends { op: 'link.list' }
    ? NativeLink[]
    : O extends { op: 'addr.list' }
      ? NativeAddr[]
      : O extends { op: 'route.list' }
        ? NativeRoute[]
        : O extends { op: 'fdb.list' | 'neigh.list' }
          ? NativeNeigh[]
          : O extends { op: 'netconf.get' }
            ? NativeNetconf
            : null

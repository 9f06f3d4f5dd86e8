// Kernel records (from the addon) to the public shapes.
import type { NativeAddr, NativeLink, NativeNeigh, NativeRoute } from './kernel/binding'
import { isMulticastIp } from './validate'
import type { AddressInfo, FdbEntry, LinkInfo, MacvlanMode, NeighbourEntry, NeighbourState, RouteInfo, VxlanInfo } from './types'

const OPER = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up']
const IFF_UP = 0x1
const ARPHRD_LOOPBACK = 772

export function scopeName(s: number): AddressInfo['scope'] {
  return ({ 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' } as Record<number, AddressInfo['scope']>)[s] ?? s
}

const PROTO: Record<number, string> = { 0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp', 186: 'bgp', 188: 'ospf', 42: 'babel' }
const RTN: Record<number, string> = {
  1: 'unicast',
  2: 'local',
  3: 'broadcast',
  4: 'anycast',
  5: 'multicast',
  6: 'blackhole',
  7: 'unreachable',
  8: 'prohibit',
  9: 'throw',
  10: 'nat',
}

export function linkInfo(l: NativeLink): LinkInfo {
  const info: LinkInfo = {
    name: l.name,
    index: l.index,
    kind: l.kind || (l.type === ARPHRD_LOOPBACK ? 'loopback' : 'device'),
    mtu: l.mtu,
    mac: l.mac,
    up: (l.flags & IFF_UP) !== 0,
    operState: OPER[l.operState] ?? String(l.operState),
    flags: l.flags,
  }
  if (l.master) info.master = l.master
  if (l.alias) info.alias = l.alias
  if (l.kind === 'veth' && l.link) info.peerIndex = l.link
  if (l.stp !== undefined) info.stp = l.stp
  if (l.vlanFiltering !== undefined) info.vlanFiltering = l.vlanFiltering
  if (l.hairpin !== undefined) info.hairpin = l.hairpin
  if (l.isolated !== undefined) info.isolated = l.isolated
  if (l.kind === 'macvlan') info.macvlan = { mode: macvlanModeName(l.macvlanMode ?? 0), parentIndex: l.link }
  if (l.kind === 'vxlan' && l.vxlan) info.vxlan = vxlanInfo(l.vxlan)
  if (l.group) info.group = l.group
  return info
}

/** MACVLAN_MODE_* (<linux/if_link.h>) by name. */
export const MACVLAN_MODES: Record<MacvlanMode, number> = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 }

function macvlanModeName(m: number): MacvlanMode | number {
  return (Object.keys(MACVLAN_MODES) as MacvlanMode[]).find((k) => MACVLAN_MODES[k] === m) ?? m
}

function vxlanInfo(v: NonNullable<NativeLink['vxlan']>): VxlanInfo {
  const info: VxlanInfo = {
    vni: v.vni,
    port: v.port,
    learning: v.learning,
    proxy: v.proxy,
    l2miss: v.l2miss,
    l3miss: v.l3miss,
    udpCsum: v.udpCsum,
    ttl: v.ttl,
    tos: v.tos,
    ageing: v.ageing,
  }
  if (v.local) info.local = v.local
  if (v.remote) {
    if (isMulticastIp(v.remote)) info.group = v.remote
    else info.remote = v.remote
  }
  if (v.link) info.deviceIndex = v.link
  return info
}

// <linux/neighbour.h>
export const NUD = { INCOMPLETE: 0x01, REACHABLE: 0x02, STALE: 0x04, DELAY: 0x08, PROBE: 0x10, FAILED: 0x20, NOARP: 0x40, PERMANENT: 0x80 } as const
export const NTF = { SELF: 0x02, MASTER: 0x04, PROXY: 0x08, EXT_LEARNED: 0x10, ROUTER: 0x80 } as const

/** An FDB state as `bridge fdb show` names it. */
function fdbStateName(s: number): FdbEntry['state'] {
  if (s & NUD.PERMANENT) return 'permanent'
  if (s & NUD.NOARP) return 'static'
  if (s & NUD.STALE) return 'stale'
  return 'dynamic'
}

export function fdbEntry(n: NativeNeigh, names: Map<number, string>): FdbEntry {
  const e: FdbEntry = {
    mac: n.mac ?? '',
    index: n.index,
    self: (n.flags & NTF.SELF) !== 0,
    master: (n.flags & NTF.MASTER) !== 0 || n.master !== undefined,
    extLearned: (n.flags & NTF.EXT_LEARNED) !== 0,
    state: fdbStateName(n.state),
    nudState: n.state,
    flags: n.flags,
  }
  const dev = names.get(n.index)
  if (dev) e.dev = dev
  if (n.dst) e.dst = n.dst
  if (n.vni !== undefined) e.vni = n.vni
  if (n.port !== undefined) e.port = n.port
  if (n.vlan !== undefined) e.vlan = n.vlan
  if (n.master !== undefined) e.masterIndex = n.master
  return e
}

/** A neighbour state as `ip neigh` names it (the most significant bit set). */
function neighStateName(s: number): NeighbourState {
  const order: [number, NeighbourState][] = [
    [NUD.PERMANENT, 'permanent'],
    [NUD.NOARP, 'noarp'],
    [NUD.FAILED, 'failed'],
    [NUD.PROBE, 'probe'],
    [NUD.DELAY, 'delay'],
    [NUD.STALE, 'stale'],
    [NUD.REACHABLE, 'reachable'],
    [NUD.INCOMPLETE, 'incomplete'],
  ]
  return order.find(([bit]) => (s & bit) !== 0)?.[1] ?? 'none'
}

export function neighbourEntry(n: NativeNeigh, names: Map<number, string>): NeighbourEntry {
  const e: NeighbourEntry = {
    family: n.family === 6 ? 6 : 4,
    ip: n.dst ?? '',
    index: n.index,
    state: neighStateName(n.state),
    router: (n.flags & NTF.ROUTER) !== 0,
    nudState: n.state,
    flags: n.flags,
  }
  if (n.mac) e.mac = n.mac
  const dev = names.get(n.index)
  if (dev) e.dev = dev
  return e
}

const IFA_F_NODAD = 0x02
const IFA_F_TENTATIVE = 0x40
const IFA_F_PERMANENT = 0x80

export function addressInfo(a: NativeAddr, names: Map<number, string>): AddressInfo {
  const info: AddressInfo = {
    family: a.family,
    address: a.address,
    prefixLength: a.prefixLength,
    cidr: `${a.address}/${a.prefixLength}`,
    index: a.index,
    ifname: names.get(a.index) ?? a.label ?? '',
    scope: scopeName(a.scope),
    nodad: (a.flags & IFA_F_NODAD) !== 0,
    tentative: (a.flags & IFA_F_TENTATIVE) !== 0,
    permanent: (a.flags & IFA_F_PERMANENT) !== 0,
    flags: a.flags,
  }
  if (a.broadcast) info.broadcast = a.broadcast
  return info
}

export function routeInfo(r: NativeRoute, names: Map<number, string>): RouteInfo {
  const info: RouteInfo = {
    family: r.family,
    to: r.dstLength === 0 ? 'default' : `${r.dst}/${r.dstLength}`,
    table: r.table,
    protocol: PROTO[r.protocol] ?? r.protocol,
    scope: scopeName(r.scope),
    type: RTN[r.type] ?? r.type,
  }
  if (r.gateway) info.via = r.gateway
  if (r.oif) {
    info.devIndex = r.oif
    const n = names.get(r.oif)
    if (n) info.dev = n
  }
  if (r.metric !== undefined) info.metric = r.metric
  if (r.prefsrc) info.src = r.prefsrc
  return info
}

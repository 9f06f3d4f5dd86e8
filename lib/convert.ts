// Kernel records (from the addon) to the public shapes.
import type { NativeAddr, NativeLink, NativeRoute } from './native/binding'
import type { AddressInfo, LinkInfo, RouteInfo } from './types'

const OPER = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up']
const IFF_UP = 0x1
const ARPHRD_LOOPBACK = 772

export function scopeName(s: number): AddressInfo['scope'] {
  return ({ 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' } as Record<number, AddressInfo['scope']>)[s] ?? s
}

const PROTO: Record<number, string> = { 0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp', 186: 'bgp', 188: 'ospf', 42: 'babel' }
const RTN: Record<number, string> = { 1: 'unicast', 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw', 10: 'nat' }

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
  return info
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

// ADD results in the shape of the configuration's spec version (SPEC.md section 5, "ADD
// Success"): 1.x without `version` in ips, 0.3.x/0.4.0 with it; `mtu` on interfaces from 1.1.0.
// A prevResult (netns-kit-cni chained after another plugin) is kept, with ours appended.
import { compareVersions, isV1 } from './version'
import type { DnsConf, JsonObject, RouteConf } from './config'

export interface CniInterface {
  name: string
  mac?: string
  mtu?: number
  sandbox?: string
}
export interface CniIp {
  address: string
  gateway?: string
  interface?: number
  version?: '4' | '6'
}
export interface CniResult {
  cniVersion: string
  interfaces?: CniInterface[]
  ips?: CniIp[]
  routes?: RouteConf[]
  dns?: DnsConf
}

/** What an attachment produced, independent of the spec version. */
export interface Attached {
  bridge: { name: string; mac: string; mtu?: number }
  host: { name: string; mac: string; mtu?: number }
  container: { name: string; mac: string; mtu?: number; sandbox: string }
  /** Addresses with prefix length ('10.88.0.2/16') and their gateways. */
  ips: { address: string; gateway?: string }[]
  routes: RouteConf[]
  dns?: DnsConf
}

function iface(f: { name: string; mac: string; mtu?: number; sandbox?: string }, withMtu: boolean): CniInterface {
  return { name: f.name, mac: f.mac, ...(withMtu && f.mtu !== undefined ? { mtu: f.mtu } : {}), ...(f.sandbox ? { sandbox: f.sandbox } : {}) }
}

/** The result of ADD for `cniVersion`, appended to `prev` when chained. */
export function formatResult(cniVersion: string, a: Attached, prev?: JsonObject): CniResult {
  const withMtu = compareVersions(cniVersion, '1.1.0') >= 0
  const v1 = isV1(cniVersion)
  const interfaces: CniInterface[] = Array.isArray(prev?.interfaces) ? [...prev.interfaces] : []
  const base = interfaces.length
  interfaces.push(iface(a.bridge, withMtu), iface(a.host, withMtu), iface(a.container, withMtu))
  const ips: CniIp[] = Array.isArray(prev?.ips) ? [...prev.ips] : []
  for (const ip of a.ips) {
    ips.push({
      ...(v1 ? {} : { version: ip.address.includes(':') ? ('6' as const) : ('4' as const) }),
      address: ip.address,
      ...(ip.gateway ? { gateway: ip.gateway } : {}),
      interface: base + 2,
    })
  }
  const routes: RouteConf[] = [...(Array.isArray(prev?.routes) ? prev.routes : []), ...a.routes]
  const out: CniResult = { cniVersion, interfaces, ips }
  if (routes.length) out.routes = routes
  // Always a dns dictionary, empty when nothing is known (as the reference plugins answer).
  out.dns = a.dns ?? (prev?.dns && typeof prev.dns === 'object' ? prev.dns : {})
  return out
}

/** The interfaces, addresses and routes a prevResult says the attachment has (for CHECK). */
export function expectedFrom(prev: JsonObject, ifname: string, netns: string | undefined): { mac?: string; addresses: string[]; routes: RouteConf[] } {
  const ifs: CniInterface[] = Array.isArray(prev.interfaces) ? prev.interfaces : []
  const idx = ifs.findIndex((f) => f?.name === ifname && !!f.sandbox && (!netns || f.sandbox === netns))
  const addresses = (Array.isArray(prev.ips) ? prev.ips : []).filter((ip: CniIp) => idx >= 0 && ip.interface === idx).map((ip: CniIp) => ip.address)
  return { ...(idx >= 0 && ifs[idx]!.mac ? { mac: ifs[idx]!.mac } : {}), addresses, routes: Array.isArray(prev.routes) ? prev.routes : [] }
}

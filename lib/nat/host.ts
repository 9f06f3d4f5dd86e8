// What NatRule looks up in, and changes on, the host namespace besides nftables: which interface
// leads to a container, the local addresses, forwarding, route_localnet, stale conntrack entries.
import { NetnsKitError } from '../errors'
import type { NativeRoute } from '../kernel/binding'
import { getLink, listAddrs, listRoutes, runOne } from '../kernel/rtnl'
import { conntrack } from '../conntrack'
import { isLoopbackIp, prefixBounds } from '../ipam/ip'
import type { Namespace } from '../namespace'

const RTN_UNICAST = 1
const RTN_LOCAL = 2
const RT_TABLE_MAIN = 254
const RT_TABLE_LOCAL = 255
const RT_SCOPE_LINK = 253

/** The interface that leads to a container, and the subnet behind it. */
export interface Egress {
  dev: string
  subnet: { first: string; last: string }
}

/**
 * The interface the namespace routes `ip` through (longest prefix of the main table), and that prefix.
 * Reads the routes and then only the one link they name: dumping every link cost a time that grew
 * with the number of containers on the host (bench/results.md).
 */
export async function egressInterface(ns: Namespace, ip: string, family: 4 | 6, routesOf?: Promise<NativeRoute[]>): Promise<Egress> {
  const routes = await (routesOf ?? listRoutes(ns, family))
  let best: { len: number; oif: number; addr: string } | undefined
  for (const r of routes) {
    if (!r.oif || r.dstLength === 0 || r.type !== RTN_UNICAST || r.table !== RT_TABLE_MAIN) continue
    if (prefixBounds(ip, r.dstLength).first !== prefixBounds(r.dst, r.dstLength).first) continue
    if (!best || r.dstLength > best.len) best = { len: r.dstLength, oif: r.oif, addr: r.dst }
  }
  const dev = best && (await getLink(ns, best.oif).catch(() => undefined))?.name
  if (!best || !dev) {
    throw new NetnsKitError(
      'ERR_NETNS_KIT_NO_ROUTE',
      `no interface in ${ns.name ?? ns.path} leads to ${ip}: add the container's network (bridge address) first`,
    )
  }
  return { dev, subnet: prefixBounds(best.addr, best.len) }
}

/**
 * The local addresses of `family` a specific-address map can hold keys for. IPv4: the routes of
 * table local, one per address (also on a link that is down): a route dump walks the routing
 * tables only, where an address dump walks every interface (a cost per publish that grew with the
 * number of containers). IPv6: an address dump of that family (a tentative address has no local
 * route yet).
 */
export async function localAddresses(ns: Namespace, family: 4 | 6, routesOf?: Promise<NativeRoute[]>): Promise<string[]> {
  if (family === 4) {
    return (await (routesOf ?? listRoutes(ns, 4)))
      .filter((r) => r.table === RT_TABLE_LOCAL && r.type === RTN_LOCAL && r.dstLength === 32 && !isLoopbackIp(r.dst))
      .map((r) => r.dst)
  }
  return (await listAddrs(ns, 0, family)).filter((a) => a.family === family && !isLoopbackIp(a.address) && a.scope !== RT_SCOPE_LINK).map((a) => a.address)
}

export function forwardingKey(family: 4 | 6): string {
  return family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'
}

/** Turns forwarding of `family` on in that namespace only (when it is not on already). */
export async function enableForwarding(ns: Namespace, family: 4 | 6): Promise<void> {
  if (!(await forwardingOn(ns, family))) await ns.sysctl.set(forwardingKey(family), 1)
}

/**
 * Whether `ns` forwards `family` (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding is 1), read
 * with RTM_GETNETCONF (`ip netconf show`): a /proc/sys lookup costs more the more namespaces the
 * host has (0.1 ms with 50, 0.6 ms with 1,000), a netlink request does not.
 */
export async function forwardingOn(ns: Namespace, family: 4 | 6): Promise<boolean> {
  const r = await runOne({ ns, op: 'netconf.get', family, index: -1, object: forwardingKey(family) })
  return r.forwarding === 1
}

/** Whether net.ipv4.conf.DEV.route_localnet is on, read from the link (IFLA_AF_SPEC), not /proc/sys. */
export async function routeLocalnetOn(ns: Namespace, dev: string): Promise<boolean> {
  return (await getLink(ns, dev)).routeLocalnet === 1
}

export function routeLocalnetKey(ifname: string): string {
  return `net.ipv4.conf.${ifname.replace(/\./g, '/')}.route_localnet`
}

export async function setRouteLocalnet(ns: Namespace, ifname: string, on: boolean): Promise<void> {
  await ns.sysctl.set(routeLocalnetKey(ifname), on ? 1 : 0)
}

/**
 * Removes the conntrack entries of UDP flows to the host ports (by the HOST address and port,
 * never the container's), so a flow that started before a change does not keep its old path.
 */
export async function clearUdpConntrack(ns: Namespace, family: 4 | 6, hostIp: string | undefined, r: [number, number]): Promise<void> {
  for (let port = r[0]; port <= r[1]; port++) {
    await conntrack.delete(ns, { family, protocol: 'udp', origDstPort: port, ...(hostIp ? { origDst: hostIp } : {}) })
  }
}

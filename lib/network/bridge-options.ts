// The options of the bridge driver (docker network create / connect), checked before anything is
// sent to the kernel or the store.
import { checkHostName } from '../container-files'
import { normaliseName } from '../dns/records'
import { invalidArg } from '../errors'
import { checkNetworkName, type NetworkStore } from '../ipam'
import { canonicalIp } from '../ipam/ip'
import type { NatProtocol } from '../nat'
import type { Namespace } from '../namespace'
import { checkBool, checkIfName, checkIp, checkMac, checkMtu, checkPort, checkUnicastSubnet, isMulticastIp } from '../validate'

/** What `docker network create` takes. */
export interface NetworkCreateOptions {
  /** 'bridge' (the default): a bridge on this host. 'macvlan' and 'overlay' take their own options. */
  driver?: 'bridge'
  name: string
  /** The namespace playing the host (where the bridge and the rules go); the current one when absent. */
  namespace?: Namespace
  /** Without one, a free one is chosen (172.17-31.0.0/16, then 192.168.x.0/24) that overlaps no route. */
  subnet?: string
  gateway?: string
  ipRange?: string
  /** Default `br-` and 12 hex digits, as Docker. */
  bridgeName?: string
  mtu?: number
  /** Masquerade traffic from the subnet leaving through another interface (default true; never for internal). */
  masquerade?: boolean
  /** Inter-container communication (default true); false isolates the bridge's ports from each other. */
  icc?: boolean
  /** No traffic in or out of the network, only between its containers (default false). */
  internal?: boolean
  ipv6?: { subnet: string; gateway?: string }
  /**
   * Anti-spoofing (default true): frames from a container's port must carry its MAC, and IPv4,
   * IPv6, ARP and neighbour discovery its addresses (lib/nat/antispoof.ts). `false` for
   * containers that route or bridge other addresses.
   */
  antiSpoofing?: boolean
  /**
   * Where the network, its endpoints, addresses and ports are recorded (default: the SqliteStore
   * on /run/netns-kit/state.db, shared by every process of the host).
   */
  store?: NetworkStore
  /**
   * The embedded resolver (127.0.0.11 in each container): on by default for user-defined networks,
   * `false` for none (as Docker's default bridge), `true` (the default, said out loud) or
   * `{ upstream }`: where other names go (default the nameservers of the host's /etc/resolv.conf),
   * queried from the host namespace.
   */
  dns?: boolean | { upstream?: string[] }
}

export interface PublishSpec {
  protocol?: NatProtocol
  /**
   * The host address. Absent: every address of the host, both families on a dual-stack network
   * (one port, `ep.ports` lists '0.0.0.0' and '::'); '0.0.0.0' IPv4 only, '::' IPv6 only (a
   * dual-stack network), an address that one only; '127.0.0.1': the loopback only.
   */
  hostIp?: string
  /**
   * Absent: a free port (docker -P) from the host's ip_local_port_range, skipping ports host
   * sockets hold and ip_local_reserved_ports. A port a host socket holds is refused
   * (ERR_NETNS_KIT_PORT_ALLOCATED, naming the socket and its process).
   */
  hostPort?: number
  containerPort: number
  /**
   * A mapping without hostIp (or on 0.0.0.0) also answers on the host's 127.0.0.1 (as Docker: `curl
   * localhost:8080`), through route_localnet on the bridge only; `false` opts out. IPv4 only:
   * the kernel never routes ::1 off the host.
   */
  localhost?: boolean
}

export interface ConnectOptions {
  /** The container's name on the network (resolvable by the other containers); default `ep-<id>`. */
  name?: string
  ip?: string
  ip6?: string
  mac?: string
  /**
   * The interface's name inside the container. Default: the first ethN free in the container
   * (eth0, then eth1 for a second network, as `docker network connect`). A name the container
   * has already is ERR_NETNS_KIT_IFNAME_IN_USE, before anything is made.
   */
  ifname?: string
  aliases?: string[]
  hostname?: string
  publish?: PublishSpec[]
  /**
   * The runtime's container id (CNI_CONTAINERID): with `ifname`, the attachment's key, unique in
   * the network (a second connect of the same pair is ERR_NETNS_KIT_ENDPOINT_EXISTS), found
   * again by `network.endpoint({ containerId, ifname })`.
   */
  containerId?: string
  /**
   * Docker's --gw-priority: of a container's endpoints, the one with the highest priority gives
   * it its default route (the first one on a tie). Default 0; internal networks never do.
   */
  gatewayPriority?: number
  /**
   * `false`: this endpoint never gives the container its default route, whatever its priority
   * (the container reaches the network's subnet only). Default true (as Docker; internal
   * networks never give one).
   */
  defaultRoute?: boolean
  /**
   * `docker run --add-host NAME:IP`: lines of the container's /etc/hosts (`ep.hostsFile()`),
   * 'NAME:IP' or 'NAME=IP' (an IPv6 address may be in brackets); IP 'host-gateway' is the
   * network's gateway (the host's address on the bridge). Recorded with the endpoint.
   */
  extraHosts?: string[]
  /**
   * `docker run --dns S --dns-search D --dns-opt O`: this container's upstream servers (its
   * embedded resolver forwards other names there instead of the network's), search domains and
   * resolv.conf options (in its resolv.conf: `endpoint.resolvConf()` and /etc/netns/NAME).
   */
  dns?: { servers?: string[]; search?: string[]; options?: string[] }
}

/** The create options, checked, with the defaults filled in (the bridge name is drawn by the caller). */
export interface CheckedCreate {
  name: string
  bridgeName?: string
  mtu?: number
  masquerade: boolean
  icc: boolean
  internal: boolean
  antiSpoofing: boolean
  dns: boolean
  upstream?: string[]
}

export function checkCreateOptions(opts: NetworkCreateOptions): CheckedCreate {
  const name = checkNetworkName(opts.name, 'opts.name')
  const bridgeName = opts.bridgeName === undefined ? undefined : checkIfName(opts.bridgeName, 'opts.bridgeName')
  const mtu = opts.mtu === undefined ? undefined : checkMtu(opts.mtu, 'opts.mtu')
  const masquerade = checkBool(opts.masquerade, 'opts.masquerade') ?? true
  const icc = checkBool(opts.icc, 'opts.icc') ?? true
  const internal = checkBool(opts.internal, 'opts.internal') ?? false
  const antiSpoofing = checkBool(opts.antiSpoofing, 'opts.antiSpoofing') ?? true
  // Never a loopback or multicast range (the kernel drops 127/8 from the wire; a multicast source is invalid).
  if (opts.subnet !== undefined) checkUnicastSubnet(opts.subnet, 'opts.subnet')
  if (opts.ipv6 && typeof opts.ipv6 === 'object' && opts.ipv6.subnet !== undefined) checkUnicastSubnet(opts.ipv6.subnet, 'opts.ipv6.subnet')
  let dns = true
  let upstream: string[] | undefined
  if (opts.dns === false) dns = false
  else if (opts.dns !== undefined && opts.dns !== true) {
    if (!opts.dns || typeof opts.dns !== 'object')
      throw invalidArg('opts.dns', opts.dns, 'must be true, false or { upstream?: string[] }', 'ERR_INVALID_ARG_TYPE')
    if (opts.dns.upstream !== undefined) {
      if (!Array.isArray(opts.dns.upstream)) throw invalidArg('opts.dns.upstream', opts.dns.upstream, 'must be an array of addresses', 'ERR_INVALID_ARG_TYPE')
      upstream = opts.dns.upstream.map((s, i) => {
        if (typeof s !== 'string' || !/^(\[[0-9a-fA-F:.]+\](:\d+)?|[0-9.]+(:\d+)?|[0-9a-fA-F:]+)$/.test(s))
          throw invalidArg(`opts.dns.upstream[${i}]`, s, "must be 'IP', 'IP:PORT' or '[IPv6]:PORT'")
        return s
      })
    }
  }
  return { name, bridgeName, mtu, masquerade, icc, internal, antiSpoofing, dns, upstream }
}

/** The connect options, checked. */
export interface CheckedConnect {
  name?: string
  /** Undefined: the first free ethN of the container. */
  ifname?: string
  ip?: string
  ip6?: string
  mac?: string
  aliases: string[]
  hostname?: string
  publish: (PublishSpec & { protocol: NatProtocol })[]
  containerId?: string
  gatewayPriority?: number
  defaultRoute: boolean
  /** 'host-gateway' still to be replaced by the gateway. */
  extraHosts: { name: string; ip: string }[]
  dns?: { servers?: string[]; search?: string[]; options?: string[] }
}

function checkList<T>(v: unknown, arg: string, each: (x: unknown, a: string) => T): T[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw invalidArg(arg, v, 'must be an array of strings', 'ERR_INVALID_ARG_TYPE')
  return v.map((x, i) => {
    if (typeof x !== 'string') throw invalidArg(`${arg}[${i}]`, x, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    return each(x, `${arg}[${i}]`)
  })
}

/** --dns, --dns-search, --dns-opt, checked. */
function checkDnsSettings(v: unknown): CheckedConnect['dns'] {
  if (v === undefined) return undefined
  if (!v || typeof v !== 'object') throw invalidArg('opts.dns', v, 'must be an object { servers?, search?, options? }', 'ERR_INVALID_ARG_TYPE')
  const d = v as { servers?: unknown; search?: unknown; options?: unknown }
  const servers = checkList(d.servers, 'opts.dns.servers', (x, a) => {
    checkIp(x, a)
    return x as string
  })
  const search = checkList(d.search, 'opts.dns.search', (x, a) => normaliseName(x, a))
  const options = checkList(d.options, 'opts.dns.options', (x, a) => {
    if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(x as string)) throw invalidArg(a, x, "must be a resolv.conf option such as 'ndots:2' or 'edns0'")
    return x as string
  })
  return { ...(servers ? { servers } : {}), ...(search ? { search } : {}), ...(options ? { options } : {}) }
}

/** `hasV6`: the network has an IPv6 subnet (else `ip6` is refused); `network`: its name, for messages. */
export function checkConnectOptions(opts: ConnectOptions, network: string, hasV6: boolean): CheckedConnect {
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const name = opts.name === undefined ? undefined : normaliseName(checkHostName(opts.name, 'opts.name', 63), 'opts.name')
  const ifname = opts.ifname === undefined ? undefined : checkIfName(opts.ifname, 'opts.ifname')
  if (opts.ip !== undefined && checkIp(opts.ip, 'opts.ip') !== 4) throw invalidArg('opts.ip', opts.ip, 'must be an IPv4 address (IPv6 goes in opts.ip6)')
  if (opts.ip6 !== undefined && checkIp(opts.ip6, 'opts.ip6') !== 6) throw invalidArg('opts.ip6', opts.ip6, 'must be an IPv6 address')
  if (opts.ip6 !== undefined && !hasV6) throw invalidArg('opts.ip6', opts.ip6, `cannot be given: the network '${network}' has no IPv6 subnet`)
  const mac = opts.mac === undefined ? undefined : checkMac(opts.mac, 'opts.mac')
  if (opts.aliases !== undefined && !Array.isArray(opts.aliases))
    throw invalidArg('opts.aliases', opts.aliases, 'must be an array of names', 'ERR_INVALID_ARG_TYPE')
  const aliases = (opts.aliases ?? []).map((a, i) => normaliseName(a, `opts.aliases[${i}]`))
  const hostname = opts.hostname === undefined ? undefined : checkHostName(opts.hostname, 'opts.hostname', 64)
  let containerId: string | undefined
  if (opts.containerId !== undefined) {
    if (typeof opts.containerId !== 'string' || opts.containerId.length === 0 || opts.containerId.length > 256 || /[\0-\x1f/]/.test(opts.containerId)) {
      throw invalidArg('opts.containerId', opts.containerId, 'must be 1 to 256 printable characters without /')
    }
    containerId = opts.containerId
  }
  let gatewayPriority: number | undefined
  if (opts.gatewayPriority !== undefined) {
    if (typeof opts.gatewayPriority !== 'number' || !Number.isSafeInteger(opts.gatewayPriority))
      throw invalidArg('opts.gatewayPriority', opts.gatewayPriority, 'must be an integer')
    gatewayPriority = opts.gatewayPriority
  }
  const defaultRoute = checkBool(opts.defaultRoute, 'opts.defaultRoute') ?? true
  const dns = checkDnsSettings(opts.dns)
  return {
    name,
    ifname,
    ip: opts.ip,
    ip6: opts.ip6,
    mac,
    aliases,
    hostname,
    publish: checkPublishList(opts.publish, network, hasV6),
    containerId,
    gatewayPriority,
    defaultRoute,
    extraHosts: checkExtraHosts(opts.extraHosts),
    dns,
  }
}

/** Docker's --add-host values: 'NAME:IP', 'NAME=IP', 'NAME:[V6]', IP 'host-gateway'. */
function checkExtraHosts(v: unknown): { name: string; ip: string }[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > 256) throw invalidArg('opts.extraHosts', v, "must be an array of 'NAME:IP' (at most 256)", 'ERR_INVALID_ARG_TYPE')
  return v.map((e: unknown, i) => {
    const arg = `opts.extraHosts[${i}]`
    if (typeof e !== 'string') throw invalidArg(arg, e, "must be a string 'NAME:IP'", 'ERR_INVALID_ARG_TYPE')
    const m = /^([^:=\s]+)[:=](.+)$/.exec(e)
    if (!m) throw invalidArg(arg, e, "must be 'NAME:IP' or 'NAME=IP'")
    const name = checkHostName(m[1], arg, 253)
    const raw = m[2]!.replace(/^\[(.+)\]$/, '$1')
    if (raw === 'host-gateway') return { name, ip: raw }
    checkIp(raw, arg)
    return { name, ip: canonicalIp(raw) }
  })
}

function checkPublishList(v: unknown, network: string, hasV6: boolean): (PublishSpec & { protocol: NatProtocol })[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) throw invalidArg('opts.publish', v, 'must be an array of { protocol?, hostIp?, hostPort?, containerPort }', 'ERR_INVALID_ARG_TYPE')
  return v.map((p: PublishSpec, i) => {
    const arg = `opts.publish[${i}]`
    if (!p || typeof p !== 'object') throw invalidArg(arg, p, 'must be an object { protocol?, hostIp?, hostPort?, containerPort }', 'ERR_INVALID_ARG_TYPE')
    const protocol: NatProtocol = p.protocol ?? 'tcp'
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw invalidArg(`${arg}.protocol`, p.protocol, "must be 'tcp', 'udp' or 'sctp'")
    const containerPort = checkPort(p.containerPort, `${arg}.containerPort`)
    const hostPort = p.hostPort === undefined ? undefined : checkPort(p.hostPort, `${arg}.hostPort`)
    if (p.hostIp !== undefined) {
      // A unicast host address of the network's families: an IPv6 one needs an IPv6 subnet (the
      // mapping leads to the container's address of that family).
      if (checkIp(p.hostIp, `${arg}.hostIp`) === 6 && !hasV6) {
        throw invalidArg(
          `${arg}.hostIp`,
          p.hostIp,
          `must be an IPv4 address: the network '${network}' has no IPv6 subnet (its published ports lead to the container's IPv4 address)`,
        )
      }
      if (isMulticastIp(p.hostIp)) throw invalidArg(`${arg}.hostIp`, p.hostIp, 'must be a unicast address of the host, not multicast')
      if (canonicalIp(p.hostIp) === '::1')
        throw invalidArg(`${arg}.hostIp`, p.hostIp, 'must not be ::1: the kernel never routes IPv6 loopback traffic to another interface (use 127.0.0.1)')
    }
    const localhost = checkBool(p.localhost, `${arg}.localhost`)
    if (localhost === true && p.hostIp !== undefined && canonicalIp(p.hostIp) !== '0.0.0.0')
      throw invalidArg(`${arg}.localhost`, true, 'is for a mapping without hostIp (give hostIp 127.0.0.1 for the loopback only)')
    return {
      protocol,
      containerPort,
      hostPort,
      hostIp: p.hostIp === undefined ? undefined : canonicalIp(p.hostIp),
      ...(localhost !== undefined ? { localhost } : {}),
    }
  })
}

/** The family of a (checked) publish entry's host address: no hostIp is both families on a dual-stack network. */
export function publishFamily(hostIp: string | undefined, hasV6: boolean): { family: 4 | 6; dualStack: boolean } {
  if (hostIp === undefined) return { family: 4, dualStack: hasV6 }
  return { family: hostIp.includes(':') ? 6 : 4, dualStack: false }
}

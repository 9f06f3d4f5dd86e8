// The contract every network driver (bridge, macvlan, overlay) keeps, so that Network.create,
// open and list treat them as peers; and the connect options they share, checked before
// anything is sent to the kernel or the store.
import { NetnsKitError, invalidArg } from '../errors'
import { contains, parseIp, parsePrefix } from '../ipam/ip'
import { listLinks } from '../kernel/rtnl'
import type { Namespace } from '../namespace'
import { checkIfName, checkMac } from '../validate'

export type NetworkDriverName = 'bridge' | 'macvlan' | 'overlay'

/** What every driver's endpoint is made with. */
export interface EndpointFields {
  namespace: Namespace
  id: string
  ip: string
  prefixLength: number
  mac: string
  gateway: string
  ifname: string
  hostInterface: string | undefined
}

/** One container's attachment to a network, the same shape whatever the driver. */
export abstract class NetworkEndpoint {
  abstract readonly network: { readonly name: string }
  /** The container's namespace. */
  readonly namespace: Namespace
  readonly id: string
  readonly ip: string
  readonly prefixLength: number
  readonly mac: string
  readonly gateway: string
  /** The interface inside the container. */
  readonly ifname: string
  /** The host end of its veth (bridge, overlay); undefined where there is none (macvlan). */
  readonly hostInterface: string | undefined

  /** @internal */
  constructor(f: EndpointFields) {
    this.namespace = f.namespace
    this.id = f.id
    this.ip = f.ip
    this.prefixLength = f.prefixLength
    this.mac = f.mac
    this.gateway = f.gateway
    this.ifname = f.ifname
    this.hostInterface = f.hostInterface
  }
}

/** A network of any driver: Network.create, open and list hand them out as peers. */
export abstract class DriverNetwork<E extends NetworkEndpoint = NetworkEndpoint> {
  abstract readonly driver: NetworkDriverName
  readonly name: string
  readonly subnet: string
  readonly gateway: string
  /** The namespace playing the host. */
  abstract readonly namespace: Namespace

  /** @internal */
  constructor(f: { name: string; subnet: string; gateway: string }) {
    this.name = f.name
    this.subnet = f.subnet
    this.gateway = f.gateway
  }

  /**
   * `docker network connect`: the container's interface, address and default route.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (`ns` not a Namespace; a bad ifname, MAC or address).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_UNSUPPORTED` for an option the driver does not have; `ERR_NETNS_KIT_IFNAME_IN_USE`, `ERR_NETNS_KIT_ENDPOINT_EXISTS`, `ERR_NETNS_KIT_IP_IN_USE`, `ERR_NETNS_KIT_IP_OUTSIDE_SUBNET`, `ERR_NETNS_KIT_IP_RESERVED`, `ERR_NETNS_KIT_POOL_EXHAUSTED`, `ERR_NETNS_KIT_NO_NETWORK`, `ERR_NETNS_KIT_NETWORK_NOT_READY`; `ERR_NETNS_KIT_CLOSED` or `ERR_NETNS_KIT_NO_NAMESPACE`; store errors (`ERR_NETNS_KIT_STORE*`). Everything claimed or made so far is given back.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). Everything made so far is removed.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  abstract connect(ns: Namespace, opts?: ConnectOptionsBase): Promise<E>
  /**
   * `docker network disconnect`; idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `endpoint` is not an endpoint of this network, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_BUSY` when another live process holds the endpoint; store errors (`ERR_NETNS_KIT_STORE*`).
   * @throws {NetlinkError} when the kernel refuses a message (`code`, `errno`, `syscall`, `extack`); what is already gone is not an error.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  abstract disconnect(endpoint: E): Promise<void>
}

/** The connect options every driver takes. */
export interface ConnectOptionsBase {
  /** A fixed address (default: the next free one from IPAM). */
  ip?: string
  /** Default: 02:42 followed by the four bytes of the address, as Docker does. */
  mac?: string
  /**
   * The interface name inside the container. Default: the first ethN free in the container (eth0,
   * eth1 on a second network); a name it has already is ERR_NETNS_KIT_IFNAME_IN_USE.
   */
  ifname?: string
}

/** A driver refuses what it cannot do with ERR_NETNS_KIT_UNSUPPORTED, naming itself and the feature. */
export function unsupported(driver: NetworkDriverName, what: string): NetnsKitError {
  return new NetnsKitError('ERR_NETNS_KIT_UNSUPPORTED', `the ${driver} driver does not support ${what}`)
}

export interface CheckedConnectOptions {
  /** The interface name inside the container; undefined: the first free ethN (containerIfname()). */
  ifname: string | undefined
  mac?: string
  ip?: string
}

/** Options of the bridge driver's connect that the others do not have, and what they are. */
const BRIDGE_ONLY: Record<string, string> = {
  name: "endpoint names ('name')",
  ip6: "IPv6 addresses ('ip6')",
  aliases: "DNS aliases ('aliases')",
  hostname: "host names ('hostname')",
  publish: "published ports ('publish')",
}

/**
 * Checks `ns` is a Namespace and `opts` ({ ip?, mac?, ifname? }) fit `subnet`; an option only the
 * bridge driver has is refused with ERR_NETNS_KIT_UNSUPPORTED.
 */
export function checkConnectOptions(driver: NetworkDriverName, ns: unknown, opts: unknown, subnet: string): CheckedConnectOptions {
  if (!ns || typeof (ns as { equals?: unknown }).equals !== 'function') throw invalidArg('ns', ns, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const o = opts as { ip?: string; mac?: string; ifname?: string } & Record<string, unknown>
  const ifname = o.ifname === undefined ? undefined : checkIfName(o.ifname, 'opts.ifname')
  const mac = o.mac === undefined ? undefined : checkMac(o.mac, 'opts.mac')
  if (o.ip !== undefined && !contains(parsePrefix(subnet), parseIp(o.ip, 'opts.ip'))) {
    throw invalidArg('opts.ip', o.ip, `must be inside the subnet ${subnet}`)
  }
  for (const [k, what] of Object.entries(BRIDGE_ONLY)) if (o[k] !== undefined) throw unsupported(driver, what)
  return { ifname, mac, ip: o.ip }
}

/**
 * What the store needs to name a container's interface (docker network connect): the kernel's
 * interface names in `ns`, read before the intent. A given name the container has is
 * ERR_NETNS_KIT_IFNAME_IN_USE (naming it and the namespace) before anything is made; without one
 * the store picks the first ethN that neither the kernel nor another endpoint of the container has.
 */
export async function containerIfname(ns: Namespace, given: string | undefined): Promise<{ ifname: string } | { ifnamesInUse: string[] }> {
  const names = (await listLinks(ns)).map((l) => l.name)
  if (given === undefined) return { ifnamesInUse: names }
  if (names.includes(given)) {
    throw new NetnsKitError(
      'ERR_NETNS_KIT_IFNAME_IN_USE',
      `the interface ${given} is taken in the namespace ${ns.name ?? ns.path}: leave ifname out for the next free ethN`,
    )
  }
  return { ifname: given }
}

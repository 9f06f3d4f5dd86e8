import { NetnsKitError, invalidArg } from './errors'
import type { VxlanData } from './kernel/ops'
import { createdBefore, getLink, run, runOne } from './kernel/rtnl'
import { Link, linkClasses } from './link'
import { defaultNamespace, type Namespace } from './namespace'
import { checkBool, checkIfName, checkInt, checkIp, checkMac, checkMtu, checkPort, checkUnicastIp, checkVni, isMulticastIp } from './validate'

export interface VxlanOptions {
  name: string
  /** Where the request is sent and where the tunnel's UDP socket lives (default: the current namespace). */
  namespace?: Namespace
  /** VXLAN network identifier, 0 to 2^24 - 1. */
  vni: number
  /** Source address of the encapsulated packets (an address of `namespace`). */
  local?: string
  /** A multicast group for BUM traffic (needs `device`). */
  group?: string
  /** A single unicast peer VTEP (default destination); with neither group nor remote, destinations come from FDB entries. */
  remote?: string
  /** UDP destination port (default 4789, the IANA port; the kernel's own default is 8472). */
  port?: number
  /** The underlay device: a Link, or a name looked up in `namespace`. */
  device?: Link | string
  /** Learn remote MACs from received packets (default false: overlays program the FDB themselves). */
  learning?: boolean
  /** Answer ARP / neighbour solicitations from the vxlan device's neighbour table (`proxy`). */
  proxy?: boolean
  /** Notify user space of FDB misses (`l2miss`) and neighbour misses (`l3miss`). */
  l2miss?: boolean
  l3miss?: boolean
  /** 0 to 255 (0: the kernel's default). */
  ttl?: number
  /** 0 to 255 (1: inherit from the inner packet). */
  tos?: number
  /** FDB ageing in seconds (0: never). */
  ageing?: number
  /** UDP checksums on IPv4 (`[no]udpcsum`). */
  udpCsum?: boolean
  mtu?: number
  mac?: string
  /** Bring it up in the same message. */
  up?: boolean
  /**
   * Create it directly inside this namespace (IFLA_NET_NS_FD). Its UDP socket stays in
   * `namespace`, on the underlay, as when a vxlan is created on the host and moved into an
   * overlay's namespace.
   */
  target?: Namespace
}

/** A VXLAN tunnel endpoint: an Ethernet link whose frames travel in UDP between hosts. */
export class Vxlan extends Link {
  /**
   * `ip -n NS link add NAME [netns TARGET] [mtu M] [address MAC] [up] type vxlan [dev DEV] [ttl T] [tos T] [ageing S]
   * [[no]proxy] [[no]l2miss] [[no]l3miss] [[no]udpcsum] id VNI [local IP] [remote IP | group IP] [no]learning dstport PORT`:
   * one RTM_NEWLINK. `vni` 0 to 2^24 - 1, `port` a UDP port (default 4789), `ageing` in seconds, `mtu` in bytes
   * (68 to 65535). A failure after the link was made removes it.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad name, VNI, address, port, TTL, TOS, ageing, MTU or MAC; both `remote` and `group`; a unicast `group` or one without `device`; IPv4 mixed with IPv6).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when a link by that name exists, or another vxlan has the same VNI and port; `'ENODEV'` when there is no `device` by that name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close() of a namespace it names, `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async create(opts: VxlanOptions): Promise<Vxlan> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const name = checkIfName(opts.name, 'opts.name')
    const data = vxlanData(opts)
    const mtu = opts.mtu === undefined ? undefined : checkMtu(opts.mtu, 'opts.mtu')
    const mac = opts.mac === undefined ? undefined : checkMac(opts.mac, 'opts.mac')
    const up = checkBool(opts.up, 'opts.up')
    const device = opts.device
    if (device !== undefined && !(device instanceof Link)) checkIfName(device, 'opts.device')
    if (device instanceof Link && opts.namespace !== undefined && !device.namespace.equals(opts.namespace)) {
      throw invalidArg('opts.device', device.name, "must be in opts.namespace (the namespace of the tunnel's socket)")
    }
    const ns = device instanceof Link ? device.namespace : await defaultNamespace(opts.namespace)
    const target = opts.target === undefined ? ns : await defaultNamespace(opts.target)
    const sameNs = target.equals(ns)
    let link: number | undefined
    if (device instanceof Link) link = device.index
    else if (device !== undefined) link = (await getLink(ns, device)).index

    const vxlan: VxlanData = { ...data, link }
    const [, l] = await run([
      { ns, op: 'link.create', kind: 'vxlan', name, mtu, mac, up, vxlan, target: sameNs ? undefined : target, object: name },
      { ns: target, op: 'link.get', name, object: name },
    ] as const).catch(async (e: unknown) => {
      if (createdBefore(e)) await runOne({ ns: target, op: 'link.delete', name, ignoreMissing: true }).catch(() => {})
      throw e
    })
    return new Vxlan(target, l.name, l.index)
  }

  /**
   * An existing vxlan by name (`ip link show NAME type vxlan`).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a bad name or a `namespace` that is not a Namespace, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no link by that name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_WRONG_KIND` when the link is of another kind; `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
   */
  static async open(name: string, opts: { namespace?: Namespace } = {}): Promise<Vxlan> {
    checkIfName(name)
    const ns = await defaultNamespace(opts.namespace)
    const l = await getLink(ns, name)
    if (l.kind !== 'vxlan') throw new NetnsKitError('ERR_NETNS_KIT_WRONG_KIND', `${name} is a ${l.kind || 'device'} link, not a vxlan`)
    return new Vxlan(ns, l.name, l.index)
  }

  /**
   * A short label for logs and messages: `Vxlan(NAME in NS)`.
   * @throws Nothing: it only reads this object's fields.
   */
  override toString(): string {
    return `Vxlan(${this.where})`
  }
}

/**
 * @internal The vxlan part of a create operation (IFLA_INFO_DATA, without the underlay's
 * ifindex), validated, with this library's defaults (port 4789, learning off). Exported for the
 * golden tests.
 */
export function vxlanData(opts: VxlanOptions): Omit<VxlanData, 'link'> {
  const vni = checkVni(opts.vni, 'opts.vni')
  const families = new Set<number>()
  if (opts.local !== undefined) families.add(checkUnicastIp(opts.local, 'opts.local'))
  if (opts.remote !== undefined && opts.group !== undefined) throw invalidArg('opts', opts, "must not have both 'remote' and 'group'")
  if (opts.remote !== undefined) families.add(checkUnicastIp(opts.remote, 'opts.remote'))
  if (opts.group !== undefined) {
    families.add(checkIp(opts.group, 'opts.group'))
    if (!isMulticastIp(opts.group)) throw invalidArg('opts.group', opts.group, 'must be a multicast address (a unicast peer is opts.remote)')
    if (opts.device === undefined) throw invalidArg('opts.device', opts.device, "is required with a multicast 'group' (the device to join it on)")
  }
  if (families.size > 1) throw invalidArg('opts', opts, "mixes IPv4 and IPv6 in 'local' and 'remote'/'group'")
  const port = opts.port === undefined ? 4789 : checkPort(opts.port, 'opts.port')
  const ttl = opts.ttl === undefined ? undefined : checkInt(opts.ttl, 'opts.ttl', 0, 255)
  const tos = opts.tos === undefined ? undefined : checkInt(opts.tos, 'opts.tos', 0, 255)
  const ageing = opts.ageing === undefined ? undefined : checkInt(opts.ageing, 'opts.ageing', 0, 2 ** 32 - 1)
  const learning = checkBool(opts.learning, 'opts.learning') ?? false
  const proxy = checkBool(opts.proxy, 'opts.proxy')
  const l2miss = checkBool(opts.l2miss, 'opts.l2miss')
  const l3miss = checkBool(opts.l3miss, 'opts.l3miss')
  const udpCsum = checkBool(opts.udpCsum, 'opts.udpCsum')
  return { vni, local: opts.local, remote: opts.remote ?? opts.group, port, learning, ttl, tos, ageing, proxy, l2miss, l3miss, udpCsum }
}

linkClasses.set('vxlan', Vxlan)

import { invalidArg } from './errors'
import type { NativeLink } from './kernel/binding'
import { createdBefore, run, runOne, type Op } from './kernel/rtnl'
import { Link, linkFromNative } from './link'
import { defaultNamespace, type Namespace } from './namespace'
import { checkBool, checkIfName, checkMac, checkMtu } from './validate'

export interface VethPairOptions {
  /** Name of the end in `namespace` (the "host" end). */
  name: string
  namespace?: Namespace
  mtu?: number
  mac?: string
  /** Bring the host end up in the same message. */
  up?: boolean
  /** Attach the host end to this bridge (or master ifindex) in the same message. */
  master?: Link | number
  /**
   * false: no IPv6 on the host end (net.ipv6.conf.NAME.disable_ipv6=1, set before it comes up, in
   * the same trip). A bridge port needs none (the bridge holds the addresses; IPv6 is still
   * bridged): the kernel then keeps no link-local address, route and multicast state per port.
   */
  ipv6?: boolean
  peer: {
    name: string
    /** The peer is created directly inside this namespace (no create-then-move). */
    namespace?: Namespace
    mac?: string
    /** Defaults to the host end's MTU. */
    mtu?: number
    /** Bring the peer up (a second message, pipelined in the same trip). */
    up?: boolean
    /**
     * false: no IPv6 on the peer (disable_ipv6=1 before it comes up, in the same trip), as Docker
     * does for a container on an IPv4-only network: no link-local address, DAD or MLD traffic.
     */
    ipv6?: boolean
  }
}

/** A veth pair: two links joined back to back, usually one in the host and one in a container. */
export class VethPair {
  /** The end named `name`, in `namespace`. */
  readonly host: Link
  /** The end created directly inside `peer.namespace`. */
  readonly peer: Link

  private constructor(host: Link, peer: Link) {
    this.host = host
    this.peer = peer
  }

  /**
   * `ip -n NS link add NAME [mtu M] [address MAC] type veth peer name PEER netns PEERNS [address MAC]`:
   * one RTM_NEWLINK, with the peer created directly inside its namespace. `mtu` in bytes (68 to 65535;
   * the peer's defaults to the host end's). A failure after the pair was made removes it.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad or duplicate name, MTU or MAC; a flag that is not a boolean; `master` in another namespace).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when a link by either name exists in its namespace; a refusal for a `master` ifindex that is no bridge.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close() of a namespace it names, `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async create(opts: VethPairOptions): Promise<VethPair> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    if (!opts.peer || typeof opts.peer !== 'object') throw invalidArg('opts.peer', opts.peer, 'must be an object with a name', 'ERR_INVALID_ARG_TYPE')
    const name = checkIfName(opts.name, 'opts.name')
    const peerName = checkIfName(opts.peer.name, 'opts.peer.name')
    const mtu = opts.mtu === undefined ? undefined : checkMtu(opts.mtu, 'opts.mtu')
    const peerMtu = opts.peer.mtu === undefined ? mtu : checkMtu(opts.peer.mtu, 'opts.peer.mtu')
    const mac = opts.mac === undefined ? undefined : checkMac(opts.mac, 'opts.mac')
    const peerMac = opts.peer.mac === undefined ? undefined : checkMac(opts.peer.mac, 'opts.peer.mac')
    const up = checkBool(opts.up, 'opts.up')
    const peerUp = checkBool(opts.peer.up, 'opts.peer.up')
    const v6Off = checkBool(opts.ipv6, 'opts.ipv6') === false
    const peerV6Off = checkBool(opts.peer.ipv6, 'opts.peer.ipv6') === false
    let master: number | undefined
    if (opts.master !== undefined) master = typeof opts.master === 'number' ? opts.master : opts.master.index
    const ns = await defaultNamespace(opts.namespace)
    const peerNs = opts.peer.namespace === undefined ? ns : await defaultNamespace(opts.peer.namespace)
    const sameNs = peerNs.equals(ns)
    if (sameNs && name === peerName) throw invalidArg('opts.peer.name', peerName, 'must differ from opts.name in the same namespace')
    if (master !== undefined && opts.master instanceof Link && !opts.master.namespace.equals(ns)) {
      throw invalidArg('opts.master', opts.master.name, `must be in the namespace of the host end`)
    }

    const ops: Op[] = [
      {
        ns,
        op: 'link.create',
        kind: 'veth',
        name,
        mtu,
        mac,
        up: up && !v6Off,
        master,
        object: name,
        peer: { name: peerName, mtu: peerMtu, mac: peerMac, target: sameNs ? undefined : peerNs },
      },
      ...(v6Off ? [noIpv6(ns, name), ...(up ? [{ ns, op: 'link.set' as const, name, up: true, object: name }] : [])] : []),
      { ns, op: 'link.get', name, object: name },
      ...(peerV6Off ? [noIpv6(peerNs, peerName)] : []),
      ...(peerUp ? [{ ns: peerNs, op: 'link.set' as const, name: peerName, up: true, object: peerName }] : []),
      { ns: peerNs, op: 'link.get', name: peerName, object: peerName },
    ]
    const hostAt = ops.findIndex((o) => o.op === 'link.get')
    const results = await run(ops).catch(async (e: unknown) => {
      // Created but a later step failed: remove the pair so nothing is left behind.
      if (createdBefore(e)) await runOne({ ns, op: 'link.delete', name, ignoreMissing: true }).catch(() => {})
      throw e
    })
    const host = results[hostAt] as NativeLink
    const peer = results[results.length - 1] as NativeLink
    return new VethPair(linkFromNative(ns, host), linkFromNative(peerNs, peer))
  }

  /**
   * `ip link del NAME`: removes both ends; idempotent (a pair already gone is not an error).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async delete(): Promise<void> {
    await this.host.delete()
  }

  /**
   * Deletes the pair (`await using pair = await VethPair.create(...)`); safe to call twice.
   * @throws As delete().
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.delete()
  }
}

/** `sysctl -w net.ipv6.conf.IF.disable_ipv6=1` in `ns`, as one operation of a trip (a kernel without IPv6: nothing to do). */
export function noIpv6(ns: Namespace, ifname: string): Op {
  return {
    ns,
    op: 'sysctl.set',
    key: `ipv6/conf/${ifname}/disable_ipv6`,
    value: '1',
    ignoreMissing: true,
    object: `net.ipv6.conf.${ifname.replace(/\./g, '/')}.disable_ipv6`,
  }
}

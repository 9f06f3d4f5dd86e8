import { Link, linkClasses, linkFromNative } from './link'
import { defaultNamespace, type Namespace } from './namespace'
import { createdBefore, getLink, listLinks, run, runOne } from './kernel/rtnl'
import { checkBool, checkIfName, checkMac, checkMtu } from './validate'
import { NetnsKitError, invalidArg } from './errors'

export interface BridgeOptions {
  name: string
  namespace?: Namespace
  mtu?: number
  mac?: string
  /** Spanning tree (off by default, as Docker). */
  stp?: boolean
  /** 802.1Q VLAN filtering (needs a kernel built with CONFIG_BRIDGE_VLAN_FILTERING). */
  vlanFiltering?: boolean
  /** Bring it up in the same message. */
  up?: boolean
}

/** A Linux bridge: a virtual switch whose ports are other links in its namespace. */
export class Bridge extends Link {
  /**
   * `ip link add NAME type bridge [mtu M] [address MAC] [stp_state 0|1] [vlan_filtering 0|1] [up]`: one RTM_NEWLINK;
   * `mtu` in bytes (68 to 65535). A failure after the bridge was made removes it.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad name, MTU or MAC; a flag that is not a boolean).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when a link by that name exists, `'EOPNOTSUPP'` for vlanFiltering on a kernel without CONFIG_BRIDGE_VLAN_FILTERING.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close() of a namespace it names, `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async create(opts: BridgeOptions): Promise<Bridge> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const name = checkIfName(opts.name, 'opts.name')
    const mtu = opts.mtu === undefined ? undefined : checkMtu(opts.mtu, 'opts.mtu')
    const mac = opts.mac === undefined ? undefined : checkMac(opts.mac, 'opts.mac')
    const stp = checkBool(opts.stp, 'opts.stp')
    const vlanFiltering = checkBool(opts.vlanFiltering, 'opts.vlanFiltering')
    const up = checkBool(opts.up, 'opts.up')
    const ns = await defaultNamespace(opts.namespace)
    const [, l] = await run([
      { ns, op: 'link.create', kind: 'bridge', name, mtu, mac, stp, vlanFiltering, up, object: name },
      { ns, op: 'link.get', name, object: name },
    ] as const).catch(async (e: unknown) => {
      if (createdBefore(e)) await runOne({ ns, op: 'link.delete', name, ignoreMissing: true }).catch(() => {})
      throw e
    })
    return new Bridge(ns, l.name, l.index)
  }

  /**
   * An existing bridge by name (`ip link show NAME type bridge`).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a bad name or a `namespace` that is not a Namespace, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no link by that name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NOT_A_BRIDGE` when the link is of another kind; `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
   */
  static async open(name: string, opts: { namespace?: Namespace } = {}): Promise<Bridge> {
    checkIfName(name)
    const ns = await defaultNamespace(opts.namespace)
    const l = await getLink(ns, name)
    if (l.kind !== 'bridge') throw new NetnsKitError('ERR_NETNS_KIT_NOT_A_BRIDGE', `${name} is a ${l.kind || 'device'} link, not a bridge`)
    return new Bridge(ns, l.name, l.index)
  }

  /**
   * `ip link set LINK master NAME` and, when given, `bridge link set dev LINK hairpin on|off isolated on|off`
   * (pipelined in one trip). The link must be in the bridge's namespace.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `link` is not a Link or a flag is not a boolean, `ERR_INVALID_ARG_VALUE` when `link` is in another namespace than the bridge, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ELOOP'` or `'EBUSY'` for a link the bridge cannot take (itself, a port of another master), `'ENODEV'` when either link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async attach(link: Link, opts: { hairpin?: boolean; isolated?: boolean } = {}): Promise<void> {
    this.#checkPort(link)
    const hairpin = checkBool(opts.hairpin, 'opts.hairpin')
    const isolated = checkBool(opts.isolated, 'opts.isolated')
    await runOne({ ns: this.namespace, op: 'link.set', index: link.index, master: this.index, hairpin, isolated, object: `${link.name} (master ${this.name})` })
  }

  /**
   * Changes the port flags of a link already attached: `bridge link set dev LINK hairpin on|off isolated on|off`.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `link` is not a Link or a flag is not a boolean, `ERR_INVALID_ARG_VALUE` when `link` is in another namespace than the bridge, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). A refusal when the link is not a port of a bridge, `'ENODEV'` when it is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async setPort(link: Link, opts: { hairpin?: boolean; isolated?: boolean }): Promise<void> {
    this.#checkPort(link)
    const hairpin = checkBool(opts.hairpin, 'opts.hairpin')
    const isolated = checkBool(opts.isolated, 'opts.isolated')
    await runOne({ ns: this.namespace, op: 'link.set', index: link.index, hairpin, isolated, object: `${link.name} (port of ${this.name})` })
  }

  /**
   * `ip link set LINK nomaster`
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `link` is not a Link, `ERR_INVALID_ARG_VALUE` when it is in another namespace than the bridge, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async detach(link: Link): Promise<void> {
    this.#checkPort(link)
    await runOne({ ns: this.namespace, op: 'link.set', index: link.index, master: 0, object: `${link.name} (nomaster)` })
  }

  /**
   * `bridge link show master NAME`: the links attached to this bridge (Link, Bridge, Macvlan, Vxlan objects by kind).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   */
  async ports(): Promise<Link[]> {
    return (await listLinks(this.namespace)).filter((l) => l.master === this.index).map((l) => linkFromNative(this.namespace, l))
  }

  #checkPort(link: Link): void {
    if (!(link instanceof Link)) throw invalidArg('link', link, 'must be a Link', 'ERR_INVALID_ARG_TYPE')
    if (!link.namespace.equals(this.namespace)) {
      throw invalidArg('link', link.name, `must be in the bridge's namespace (${this.namespace.name ?? this.namespace.path})`)
    }
  }

  /**
   * A short label for logs and messages: `Bridge(NAME in NS)`.
   * @throws Nothing: it only reads this object's fields.
   */
  override toString(): string {
    return `Bridge(${this.where})`
  }
}

linkClasses.set('bridge', Bridge)

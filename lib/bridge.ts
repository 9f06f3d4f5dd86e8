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
  /** `ip link add NAME type bridge [stp_state 0|1] [vlan_filtering 0|1]` */
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

  /** An existing bridge by name (`ip link show NAME type bridge`). */
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
   */
  async attach(link: Link, opts: { hairpin?: boolean; isolated?: boolean } = {}): Promise<void> {
    this.#checkPort(link)
    const hairpin = checkBool(opts.hairpin, 'opts.hairpin')
    const isolated = checkBool(opts.isolated, 'opts.isolated')
    await runOne({ ns: this.namespace, op: 'link.set', index: link.index, master: this.index, hairpin, isolated, object: `${link.name} (master ${this.name})` })
  }

  /** Changes the port flags of a link already attached. */
  async setPort(link: Link, opts: { hairpin?: boolean; isolated?: boolean }): Promise<void> {
    this.#checkPort(link)
    const hairpin = checkBool(opts.hairpin, 'opts.hairpin')
    const isolated = checkBool(opts.isolated, 'opts.isolated')
    await runOne({ ns: this.namespace, op: 'link.set', index: link.index, hairpin, isolated, object: `${link.name} (port of ${this.name})` })
  }

  /** `ip link set LINK nomaster` */
  async detach(link: Link): Promise<void> {
    this.#checkPort(link)
    await runOne({ ns: this.namespace, op: 'link.set', index: link.index, master: 0, object: `${link.name} (nomaster)` })
  }

  /** `bridge link show master NAME`: the links attached to this bridge. */
  async ports(): Promise<Link[]> {
    return (await listLinks(this.namespace)).filter((l) => l.master === this.index).map((l) => linkFromNative(this.namespace, l))
  }

  #checkPort(link: Link): void {
    if (!(link instanceof Link)) throw invalidArg('link', link, 'must be a Link', 'ERR_INVALID_ARG_TYPE')
    if (!link.namespace.equals(this.namespace)) {
      throw invalidArg('link', link.name, `must be in the bridge's namespace (${this.namespace.name ?? this.namespace.path})`)
    }
  }

  override toString(): string {
    return `Bridge(${this.where})`
  }
}

linkClasses.set('bridge', Bridge)

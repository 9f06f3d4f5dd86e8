import { MACVLAN_MODES } from './convert'
import { NetnsKitError, invalidArg } from './errors'
import { createdBefore, getLink, run, runOne } from './kernel/rtnl'
import { Link, linkClasses } from './link'
import { defaultNamespace, type Namespace } from './namespace'
import { checkBool, checkIfName, checkMac, checkMtu } from './validate'
import type { MacvlanMode } from './types'

export interface MacvlanOptions {
  /** Name of the new link (in `target`, or in the parent's namespace). */
  name: string
  /** The parent's namespace, where the request is sent (default: the parent Link's, else the current one). */
  namespace?: Namespace
  /** The lower device: a Link, or a name looked up in `namespace`. */
  parent: Link | string
  /**
   * bridge: siblings talk to each other directly; private: they cannot; vepa: through the
   * external switch (hairpin); passthru: one macvlan takes over the parent; source: frames
   * are assigned by source MAC.
   */
  mode: MacvlanMode
  mac?: string
  mtu?: number
  /** Bring it up in the same message. */
  up?: boolean
  /** Create it directly inside this namespace (IFLA_NET_NS_FD), leaving the parent where it is. */
  target?: Namespace
}

/**
 * A macvlan: a link with its own MAC address on top of a parent Ethernet device, usually
 * placed in a container so that it sits directly on the parent's network.
 */
export class Macvlan extends Link {
  /**
   * `ip -n NS link add link PARENT name NAME [netns TARGET] [address MAC] [mtu M] [up] type macvlan mode MODE`:
   * one RTM_NEWLINK sent on the parent's namespace socket, the macvlan created directly inside `target`.
   * `mtu` in bytes (68 to 65535, at most the parent's). A failure after the link was made removes it.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad name, mode, MTU or MAC; a parent Link outside `namespace`).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no parent by that name, `'EEXIST'` when a link by that name exists in `target`, `'EINVAL'` for a parent that cannot carry macvlans (loopback, not Ethernet) or an MTU above the parent's.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close() of a namespace it names, `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async create(opts: MacvlanOptions): Promise<Macvlan> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const name = checkIfName(opts.name, 'opts.name')
    if (typeof opts.mode !== 'string' || !Object.hasOwn(MACVLAN_MODES, opts.mode)) {
      throw invalidArg(
        'opts.mode',
        opts.mode,
        `must be one of ${Object.keys(MACVLAN_MODES)
          .map((m) => `'${m}'`)
          .join(', ')}`,
      )
    }
    const mtu = opts.mtu === undefined ? undefined : checkMtu(opts.mtu, 'opts.mtu')
    const mac = opts.mac === undefined ? undefined : checkMac(opts.mac, 'opts.mac')
    const up = checkBool(opts.up, 'opts.up')
    const parent = opts.parent
    if (!(parent instanceof Link)) checkIfName(parent, 'opts.parent')
    if (parent instanceof Link && opts.namespace !== undefined && !parent.namespace.equals(opts.namespace)) {
      throw invalidArg('opts.parent', parent.name, "must be in opts.namespace (the macvlan is created from its parent's namespace)")
    }
    const ns = parent instanceof Link ? parent.namespace : await defaultNamespace(opts.namespace)
    const target = opts.target === undefined ? ns : await defaultNamespace(opts.target)
    const sameNs = target.equals(ns)
    const parentIndex = parent instanceof Link ? parent.index : (await getLink(ns, parent)).index

    const [, l] = await run([
      {
        ns,
        op: 'link.create',
        kind: 'macvlan',
        name,
        link: parentIndex,
        macvlanMode: MACVLAN_MODES[opts.mode],
        mtu,
        mac,
        up,
        target: sameNs ? undefined : target,
        object: name,
      },
      { ns: target, op: 'link.get', name, object: name },
    ] as const).catch(async (e: unknown) => {
      // Created but not found afterwards: remove it so nothing is left behind.
      if (createdBefore(e)) await runOne({ ns: target, op: 'link.delete', name, ignoreMissing: true }).catch(() => {})
      throw e
    })
    return new Macvlan(target, l.name, l.index)
  }

  /**
   * An existing macvlan by name (`ip link show NAME type macvlan`).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a bad name or a `namespace` that is not a Namespace, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no link by that name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_WRONG_KIND` when the link is of another kind; `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
   */
  static async open(name: string, opts: { namespace?: Namespace } = {}): Promise<Macvlan> {
    checkIfName(name)
    const ns = await defaultNamespace(opts.namespace)
    const l = await getLink(ns, name)
    if (l.kind !== 'macvlan') throw new NetnsKitError('ERR_NETNS_KIT_WRONG_KIND', `${name} is a ${l.kind || 'device'} link, not a macvlan`)
    return new Macvlan(ns, l.name, l.index)
  }

  /**
   * A short label for logs and messages: `Macvlan(NAME in NS)`.
   * @throws Nothing: it only reads this object's fields.
   */
  override toString(): string {
    return `Macvlan(${this.where})`
  }
}

linkClasses.set('macvlan', Macvlan)

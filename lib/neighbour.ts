// Neighbour (ARP / NDP) entries of a namespace: `ip neigh add/replace/del/show`.
import { neighbourEntry, NTF, NUD } from './convert'
import { invalidArg } from './errors'
import { getLink, run, runOne } from './kernel/rtnl'
import { checkBool, checkIfName, checkIp, checkLladdr } from './validate'
import type { Namespace } from './namespace'
import type { NeighbourEntry, NeighbourSpec } from './types'

export interface NamespaceNeighbours {
  /**
   * `ip neigh add IP lladdr MAC dev DEV nud permanent` (EEXIST if there is one).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad IP, lladdr, state or flag; a `dev` that is neither an interface name nor a Link of this namespace).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when there is an entry for IP on DEV, `'ENODEV'` when there is no `dev` by that name, `'EINVAL'` for an lladdr of the wrong length for the device.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  add(n: NeighbourSpec): Promise<void>
  /**
   * `ip neigh replace IP lladdr MAC dev DEV nud permanent`: creates or overwrites.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad IP, lladdr, state or flag; a `dev` that is neither an interface name nor a Link of this namespace).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no `dev` by that name, `'EINVAL'` for an lladdr of the wrong length for the device.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  replace(n: NeighbourSpec): Promise<void>
  /**
   * `ip neigh del IP dev DEV`; idempotent (an entry already gone is not an error).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad IP or `dev`).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no `dev` by that name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  delete(n: Pick<NeighbourSpec, 'ip' | 'dev'>): Promise<void>
  /**
   * `ip neigh show nud all [dev DEV]` (`-4` / `-6` with `family`): every entry, including the
   * 'noarp' ones (multicast mappings) that plain `ip neigh show` hides.
   * @throws {TypeError} `ERR_INVALID_ARG_VALUE` for a `family` other than 4 or 6 or a bad `dev`, `ERR_INVALID_ARG_TYPE` for a `dev` that is neither a name nor a Link, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no `dev` by that name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   */
  list(filter?: { dev?: NeighbourSpec['dev']; family?: 4 | 6 }): Promise<NeighbourEntry[]>
}

const STATES: Record<NonNullable<NeighbourSpec['state']>, number> = {
  permanent: NUD.PERMANENT,
  noarp: NUD.NOARP,
  reachable: NUD.REACHABLE,
  stale: NUD.STALE,
}

type Verb = 'add' | 'replace' | 'delete'

/** The `neighbours` member of a Namespace. */
export function namespaceNeighbours(ns: Namespace): NamespaceNeighbours {
  const devIndex = async (dev: unknown, arg: string): Promise<number> => {
    if (typeof dev === 'string') return (await getLink(ns, checkIfName(dev, arg))).index
    if (dev && typeof dev === 'object' && typeof (dev as { index?: unknown }).index === 'number') {
      const other = (dev as { namespace?: Namespace }).namespace
      if (other && typeof other.equals === 'function' && !other.equals(ns)) {
        throw invalidArg(arg, (dev as { name?: string }).name, `must be a link of ${ns}`)
      }
      return (dev as { index: number }).index
    }
    throw invalidArg(arg, dev, 'must be an interface name or a Link', 'ERR_INVALID_ARG_TYPE')
  }
  const devName = (dev: NeighbourSpec['dev']) => (typeof dev === 'string' ? dev : dev.name)

  const modify = async (verb: Verb, n: NeighbourSpec): Promise<void> => {
    const op = neighbourOp(verb, n)
    const index = await devIndex(n.dev, 'neighbour.dev')
    await runOne({ ns, ...op, index, object: `${op.dst}${op.mac ? ` lladdr ${op.mac}` : ''} dev ${devName(n.dev)}` })
  }

  return {
    add: (n) => modify('add', n),
    replace: (n) => modify('replace', n),
    delete: (n) => modify('delete', n as NeighbourSpec),
    list: async (filter = {}) => {
      if (filter.family !== undefined && filter.family !== 4 && filter.family !== 6) throw invalidArg('filter.family', filter.family, 'must be 4 or 6')
      const index = filter.dev === undefined ? 0 : await devIndex(filter.dev, 'filter.dev')
      const [entries, links] = await run([
        { ns, op: 'neigh.list', index, family: filter.family },
        { ns, op: 'link.list' },
      ])
      const names = new Map(links.map((l) => [l.index, l.name]))
      return entries.filter((e) => (e.family === 4 || e.family === 6) && (index === 0 || e.index === index)).map((e) => neighbourEntry(e, names))
    },
  }
}

/**
 * @internal The addon operation for one neighbour change (validated; the device's ifindex is
 * added by the caller): what `ip neigh VERB` would send. Exported for the golden tests.
 */
export function neighbourOp(verb: Verb, n: NeighbourSpec) {
  if (!n || typeof n !== 'object') throw invalidArg('neighbour', n, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  checkIp(n.ip, 'neighbour.ip')
  let mac: string | undefined
  let state: number = NUD.PERMANENT // `ip neigh del` sends it too; the kernel matches on the address
  let flags = 0
  if (verb !== 'delete') {
    if (n.mac === undefined) throw invalidArg('neighbour.mac', n.mac, 'is required to add or replace a neighbour')
    mac = checkLladdr(n.mac, 'neighbour.mac')
    const s = n.state ?? 'permanent'
    if (typeof s !== 'string' || !Object.hasOwn(STATES, s)) throw invalidArg('neighbour.state', s, "must be 'permanent', 'noarp', 'reachable' or 'stale'")
    state = STATES[s]
    if (checkBool(n.router, 'neighbour.router')) flags |= NTF.ROUTER
  }
  return { op: `neigh.${verb}` as const, dst: n.ip, mac, state, flags, ignoreMissing: verb === 'delete' }
}

// Forwarding database entries of one link: `bridge fdb add/append/replace/del/show dev LINK`.
import { fdbEntry, NTF, NUD } from './convert'
import { invalidArg } from './errors'
import { run, runOne } from './kernel/rtnl'
import { checkBool, checkInt, checkIp, checkLladdr, checkPort, checkVni } from './validate'
import type { Link } from './link'
import type { FdbEntry, FdbEntrySpec, FdbState } from './types'

const STATES: Record<FdbState, number> = {
  permanent: NUD.NOARP | NUD.PERMANENT, // `bridge fdb ... permanent` (its default)
  static: NUD.NOARP | NUD.REACHABLE, // `bridge fdb ... static`
  dynamic: NUD.REACHABLE, // `bridge fdb ... dynamic`
}
const ZERO_MAC = '00:00:00:00:00:00'

type Verb = 'add' | 'append' | 'replace' | 'delete'

/**
 * The forwarding-database entries of one link (`link.fdb`): on a vxlan device its own table
 * (MAC -> remote VTEP), on a bridge port the bridge's table (`master`).
 */
export class LinkFdb {
  readonly #link: Link

  constructor(link: Link) {
    this.#link = link
  }

  /**
   * `bridge fdb add MAC dev LINK [dst IP] [vni VNI] [port PORT] [vlan VID] [self] [master] [permanent|static|dynamic]`
   * (NLM_F_CREATE|NLM_F_EXCL: EEXIST if the entry is there).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad MAC, `dst`, VNI, port, VLAN (1 to 4094) or state; an all-zeros MAC with `master`).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when the entry is there, `'EINVAL'` or `'EOPNOTSUPP'` for attributes the link does not take (`master` on a link without a bridge).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async add(entry: FdbEntrySpec): Promise<void> {
    await this.#modify('add', entry)
  }

  /**
   * `bridge fdb append MAC dev LINK dst IP ...` (NLM_F_APPEND): one more destination for the
   * entry, as the all-zeros MAC's flood list of a vxlan device (one copy of BUM traffic per VTEP).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad MAC, `dst`, VNI, port, VLAN (1 to 4094) or state; an all-zeros MAC with `master`).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when that destination is there, `'EINVAL'` or `'EOPNOTSUPP'` on a link that is not a vxlan device.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async append(entry: FdbEntrySpec): Promise<void> {
    await this.#modify('append', entry)
  }

  /**
   * `bridge fdb replace MAC dev LINK ...` (NLM_F_REPLACE): creates or overwrites.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad MAC, `dst`, VNI, port, VLAN (1 to 4094) or state; an all-zeros MAC with `master`).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EINVAL'` or `'EOPNOTSUPP'` for attributes the link does not take.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async replace(entry: FdbEntrySpec): Promise<void> {
    await this.#modify('replace', entry)
  }

  /**
   * `bridge fdb del MAC dev LINK [dst IP] [vni VNI] [port PORT] [self] [master]`; with `dst`, only
   * that destination of a vxlan entry goes. Idempotent: an entry already gone is not an error.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad MAC, `dst`, VNI, port or VLAN).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async delete(entry: Pick<FdbEntrySpec, 'mac' | 'dst' | 'vni' | 'port' | 'vlan' | 'self' | 'master'>): Promise<void> {
    await this.#modify('delete', entry)
  }

  /**
   * `bridge fdb show dev LINK`: the entries on this link, its own (self) and its bridge's (master).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   */
  async list(): Promise<FdbEntry[]> {
    const link = this.#link
    const [entries, links] = await run([
      { ns: link.namespace, op: 'fdb.list', index: link.index, object: `fdb of ${link.name}` },
      { ns: link.namespace, op: 'link.list' },
    ])
    const names = new Map(links.map((l) => [l.index, l.name]))
    return entries.filter((n) => n.index === link.index).map((n) => fdbEntry(n, names))
  }

  async #modify(verb: Verb, entry: FdbEntrySpec): Promise<void> {
    const link = this.#link
    const op = fdbOp(verb, link.index, entry)
    await runOne({ ns: link.namespace, ...op, object: `${op.mac}${op.dst ? ` dst ${op.dst}` : ''} dev ${link.name}` })
  }
}

/**
 * @internal The addon operation for one FDB change on the link `index`, validated: what
 * `bridge fdb VERB` would send. Exported for the golden tests.
 */
export function fdbOp(verb: Verb, index: number, entry: FdbEntrySpec) {
  if (!entry || typeof entry !== 'object') throw invalidArg('entry', entry, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const mac = checkLladdr(entry.mac, 'entry.mac')
  if (entry.dst !== undefined) checkIp(entry.dst, 'entry.dst')
  const vni = entry.vni === undefined ? undefined : checkVni(entry.vni, 'entry.vni')
  const port = entry.port === undefined ? undefined : checkPort(entry.port, 'entry.port')
  const vlan = entry.vlan === undefined ? undefined : checkInt(entry.vlan, 'entry.vlan', 1, 4094)
  const self = checkBool(entry.self, 'entry.self')
  const master = checkBool(entry.master, 'entry.master')
  let flags = (self ? NTF.SELF : 0) | (master ? NTF.MASTER : 0)
  if (flags === 0) flags = NTF.SELF // as `bridge fdb`: self unless master is asked for
  if (master && mac === ZERO_MAC) {
    throw invalidArg('entry.mac', entry.mac, "must not be all zeros in a bridge's FDB (master): only a vxlan device (self) has a default entry")
  }
  let state: number = STATES.permanent // what `bridge fdb del` sends too; the kernel matches on the MAC (and dst)
  if (verb !== 'delete' && entry.state !== undefined) {
    if (typeof entry.state !== 'string' || !Object.hasOwn(STATES, entry.state)) {
      throw invalidArg('entry.state', entry.state, "must be 'permanent', 'static' or 'dynamic'")
    }
    state = STATES[entry.state]
  }
  return { op: `fdb.${verb}` as const, index, mac, dst: entry.dst, vni, port, vlan, flags, state, ignoreMissing: verb === 'delete' }
}

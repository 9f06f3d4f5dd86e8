import type { ChildProcess, SpawnOptions } from 'node:child_process'
import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import { addressInfo, routeInfo } from './convert'
import { NetnsKitError, invalidArg } from './errors'
import type { NsHandle } from './kernel/binding'
import { registerHandle, releaseHandle } from './kernel/handles'
import { bindingGeneration, createNamespace, deleteNamespace, openNamespace } from './kernel/namespaces'
import { requireCapabilities } from './kernel/privileges'
import { getLink, listLinks, run, runOne } from './kernel/rtnl'
import type { RouteChange } from './kernel/ops'
import { sysctlGet, sysctlSet } from './kernel/sysctl'
import { spawnIn } from './kernel/spawn'
import { removeEtcNetns } from './etc-netns'
import { Link, linkFromNative } from './link'
import { namespaceNeighbours, type NamespaceNeighbours } from './neighbour'
import { checkIfName, checkInt, checkIp, checkNsName, checkSysctlValue, parseCidr, sysctlPath } from './validate'
import type { AddressInfo, RouteInfo, RouteSpec } from './types'
import { listSockets, type SocketFilter, type SocketRecord } from './sock-diag'
import { watch, type NamespaceWatch, type WatchOptions } from './watch'

/** Where named namespaces live, as for iproute2. */
export const NETNS_RUN_DIR = '/run/netns'

export interface NamespaceRoutes {
  /**
   * `ip route add ...`
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when the route exists, `'ENETUNREACH'` when no interface leads to `via`.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  add(r: RouteSpec): Promise<void>
  /**
   * `ip route replace ...`
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  replace(r: RouteSpec): Promise<void>
  /**
   * `ip route del ...`
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ESRCH'` when there is no such route.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  delete(r: RouteSpec): Promise<void>
  /**
   * `ip route show [table T]`: table main unless `table` is given (0: every table).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   */
  list(filter?: { family?: 4 | 6; table?: number }): Promise<RouteInfo[]>
}

export interface NamespaceSysctl {
  /**
   * `ip netns exec NS sysctl -n KEY`
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NO_SYSCTL` when the namespace has no such key (no such interface, no IPv6); `ERR_NETNS_KIT_CLOSED`, `ERR_NETNS_KIT_NO_NAMESPACE` as above.
   */
  get(key: string): Promise<string>
  /**
   * `ip netns exec NS sysctl -w KEY=VALUE`
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NO_SYSCTL` when the namespace has no such key; `ERR_NETNS_KIT_CLOSED`, `ERR_NETNS_KIT_NO_NAMESPACE` as above.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  set(key: string, value: string | number): Promise<void>
}

/**
 * A network namespace, held open by an O_CLOEXEC fd with an rtnetlink socket opened inside
 * it. Named namespaces are exactly iproute2's: `ip netns list/exec/del` work on ours and
 * Namespace.open() works on theirs.
 */
export class Namespace {
  readonly name: string | undefined
  readonly path: string
  readonly id: bigint
  readonly #dev: bigint
  readonly #owned: boolean
  #closed = false
  #deleted = false

  private constructor(handle: NsHandle, name: string | undefined, nsPath: string, owned: boolean) {
    registerHandle(this, handle)
    this.name = name
    this.path = nsPath
    this.id = handle.ino
    this.#dev = handle.dev
    this.#owned = owned
  }

  /**
   * `ip netns add NAME` (and `ip -n NAME link set lo up` unless `loopback: false`).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel. A name is 1 to 255 bytes without `/`, NUL or white space.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NAMESPACE_EXISTS` when /run/netns/NAME exists.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   */
  static async create(name: string, opts: { loopback?: boolean } = {}): Promise<Namespace> {
    checkNsName(name)
    if (opts.loopback !== undefined && typeof opts.loopback !== 'boolean')
      throw invalidArg('opts.loopback', opts.loopback, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    requireCapabilities(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'], `create the namespace '${name}'`)
    const h = await createNamespace(NETNS_RUN_DIR, name, opts.loopback !== false)
    return new Namespace(h, name, path.join(NETNS_RUN_DIR, name), true)
  }

  /**
   * A name under /run/netns (`ip netns add` made it), or any namespace file path such as
   * /proc/PID/ns/net. A path of a name under /run/netns ('/run/netns/x') is that name: the
   * namespace knows it, and delete() works.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NO_NAMESPACE` when there is no namespace by that name or at that path.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async open(nameOrPath: string): Promise<Namespace> {
    if (typeof nameOrPath !== 'string' || nameOrPath.length === 0) throw invalidArg('nameOrPath', nameOrPath, 'must be a namespace name or path')
    const isPath = nameOrPath.includes('/')
    if (!isPath) checkNsName(nameOrPath, 'nameOrPath')
    const p = isPath ? path.resolve(nameOrPath) : path.join(NETNS_RUN_DIR, nameOrPath)
    const name = isPath ? namedIn(p) : nameOrPath
    const h = await openNamespace(p, isPath ? `at ${p}` : `named '${nameOrPath}' (${p})`)
    return new Namespace(h, name, p, false)
  }

  /**
   * The network namespace of process `pid` (/proc/PID/ns/net).
   * @throws {RangeError} `ERR_OUT_OF_RANGE` for a pid that is not an integer from 1 to 2^22.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NO_NAMESPACE` when the process is gone.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async fromPid(pid: number): Promise<Namespace> {
    checkInt(pid, 'pid', 1, 2 ** 22)
    return Namespace.open(`/proc/${pid}/ns/net`)
  }

  /**
   * The namespace this process runs in.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN). (only where /proc/self/ns/net cannot be opened).
   */
  static async current(): Promise<Namespace> {
    return Namespace.open('/proc/self/ns/net')
  }

  /**
   * @internal A namespace known only by what a record says of it (its path, device and inode)
   * and gone from the kernel: every call on it is refused with ERR_NETNS_KIT_NO_NAMESPACE
   * ("the namespace is gone"); equals() still compares it by identity.
   */
  static gone(nsPath: string, dev: bigint, ino: bigint): Namespace {
    const ns = new Namespace({ fd: -1, dev, ino, close: async () => {} }, namedIn(nsPath), nsPath, false)
    ns.#closed = true
    ns.#deleted = true
    void releaseHandle(ns, 'deleted')
    return ns
  }

  /**
   * `ip netns list`: the names under /run/netns.
   * @throws Node's `fs` error (`EACCES`, ...) when /run/netns exists but cannot be read; none when it is missing (the list is empty).
   */
  static async list(): Promise<string[]> {
    try {
      return (await fs.readdir(NETNS_RUN_DIR)).sort()
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
  }

  /**
   * `ip netns del NAME` by name, without opening it; idempotent. Returns whether it existed. The
   * files netns-kit wrote to /etc/netns/NAME/ (a connected container's hosts, hostname and
   * resolv.conf) go with it.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   */
  static async deleteNamed(name: string): Promise<boolean> {
    checkNsName(name)
    const existed = await deleteNamespace(NETNS_RUN_DIR, name)
    await removeEtcNetns(name).catch(() => {})
    return existed
  }

  /**
   * Same kernel namespace (device and inode of the namespace file).
   * @throws Nothing: it only reads this object's fields.
   */
  equals(other: Namespace): boolean {
    return other instanceof Namespace && this.id === other.id && this.#dev === other.#dev
  }

  /**
   * `ip netns del NAME`; idempotent. The kernel frees the namespace once nothing uses it.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_UNNAMED` for a namespace with no name under /run/netns (close() it instead).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async delete(): Promise<void> {
    if (!this.name || !this.path.startsWith(NETNS_RUN_DIR + '/')) {
      throw new NetnsKitError('ERR_NETNS_KIT_UNNAMED', `the namespace at ${this.path} has no name under ${NETNS_RUN_DIR}: close() it instead`)
    }
    if (!this.#deleted) {
      await Namespace.deleteNamed(this.name)
      this.#deleted = true
    }
    this.#closed = true
    await releaseHandle(this, 'deleted')
  }

  /**
   * Releases our handles (fd, sockets); the namespace itself stays. Idempotent.
   * @throws Nothing: closing twice is allowed.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await releaseHandle(this, 'closed')
  }

  /**
   * Deletes the namespace if this object created it, else closes it. Safe to call twice.
   * @throws As delete() for a namespace this object created; nothing otherwise.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#owned) await this.delete()
    else await this.close()
  }

  /**
   * `ip netns exec NAME COMMAND ARGS...`: an ordinary ChildProcess running inside this
   * namespace, started through the nk-exec helper (setns, a private mount namespace with
   * /sys remounted, then execvp). No namespace fd leaks into the command. A command that
   * cannot be started emits 'error' (ENOENT, EACCES, ...) as child_process.spawn does.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (`options.shell` is refused). A command that cannot start emits `'error'` (ENOENT, EACCES) on the child instead, as child_process.spawn does.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted (thrown synchronously)
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NOT_BUILT` when the nk-exec helper was not built.
   */
  spawn(command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    if (typeof command !== 'string' || command.length === 0) throw invalidArg('command', command, 'must be a non-empty string')
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw invalidArg('args', args, 'must be an array of strings', 'ERR_INVALID_ARG_TYPE')
    if (options.shell) throw invalidArg('options.shell', options.shell, 'is not supported: pass the shell as the command')
    return spawnIn(this, command, args, options)
  }

  /**
   * `ip -n NAME link`
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   */
  async links(): Promise<Link[]> {
    return (await listLinks(this)).map((l) => linkFromNative(this, l))
  }

  /**
   * `ip -n NAME link show DEV`, by name or ifindex.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} `'ENODEV'` when there is no such link.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   */
  async link(nameOrIndex: string | number): Promise<Link> {
    if (typeof nameOrIndex === 'number') checkInt(nameOrIndex, 'nameOrIndex', 1, 2 ** 31 - 1)
    else checkIfName(nameOrIndex, 'nameOrIndex')
    return linkFromNative(this, await getLink(this, nameOrIndex))
  }

  /**
   * `ip -n NAME addr`
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   */
  async addresses(): Promise<AddressInfo[]> {
    const [addrs, links] = await run([
      { ns: this, op: 'addr.list' },
      { ns: this, op: 'link.list' },
    ])
    const names = new Map(links.map((l) => [l.index, l.name]))
    return addrs.map((a) => addressInfo(a, names))
  }

  readonly routes: NamespaceRoutes = {
    add: (r) => this.#route('route.add', r),
    replace: (r) => this.#route('route.replace', r),
    delete: (r) => this.#route('route.delete', r),
    list: async (filter = {}) => {
      if (filter.family !== undefined && filter.family !== 4 && filter.family !== 6) throw invalidArg('filter.family', filter.family, 'must be 4 or 6')
      const table = filter.table === undefined ? 254 : checkInt(filter.table, 'filter.table', 0, 2 ** 32 - 1)
      const [routes, links] = await run([
        { ns: this, op: 'route.list', family: filter.family },
        { ns: this, op: 'link.list' },
      ])
      const names = new Map(links.map((l) => [l.index, l.name]))
      return routes.filter((r) => table === 0 || r.table === table).map((r) => routeInfo(r, names))
    },
  }

  async #route(op: RouteChange['op'], r: RouteSpec): Promise<void> {
    const spec = await this.#routeSpec(r)
    const desc = `${r.to}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${typeof r.dev === 'string' ? r.dev : r.dev.name}` : ''}`
    await runOne({ ns: this, ...spec, op, object: desc })
  }

  async #routeSpec(r: RouteSpec): Promise<Omit<RouteChange, 'op'>> {
    if (!r || typeof r !== 'object') throw invalidArg('route', r, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const spec: Omit<RouteChange, 'op'> = { family: 4, dstLength: 0 }
    const families = new Set<4 | 6>()
    if (r.to === 'default') {
      spec.dstLength = 0
    } else {
      const c = parseCidr(r.to, 'route.to')
      spec.dst = c.address
      spec.dstLength = c.prefixLength
      families.add(c.family)
    }
    if (r.via !== undefined) {
      families.add(checkIp(r.via, 'route.via'))
      spec.gateway = r.via
    }
    if (r.src !== undefined) {
      families.add(checkIp(r.src, 'route.src'))
      spec.prefsrc = r.src
    }
    if (r.family !== undefined) {
      if (r.family !== 4 && r.family !== 6) throw invalidArg('route.family', r.family, 'must be 4 or 6')
      families.add(r.family)
    }
    if (families.size > 1) throw invalidArg('route', r, 'mixes IPv4 and IPv6 addresses')
    spec.family = [...families][0] ?? 4
    if (r.metric !== undefined) spec.metric = checkInt(r.metric, 'route.metric', 0, 2 ** 32 - 1)
    if (r.table !== undefined) spec.table = checkInt(r.table, 'route.table', 1, 2 ** 32 - 1)
    if (r.dev !== undefined) {
      if (typeof r.dev === 'string') spec.oif = (await getLink(this, checkIfName(r.dev, 'route.dev'))).index
      else if (r.dev && typeof r.dev.index === 'number') spec.oif = r.dev.index
      else throw invalidArg('route.dev', r.dev, 'must be an interface name or a Link')
    }
    if (r.to === 'default' && r.via === undefined && r.dev === undefined && r.src === undefined) {
      throw invalidArg('route', r, "needs 'via' or 'dev'")
    }
    return spec
  }

  /** Static neighbour (ARP / NDP) entries: `ip -n NAME neigh add/replace/del/show`. */
  readonly neighbours: NamespaceNeighbours = namespaceNeighbours(this)

  /** A sysctl the namespace does not have (no such interface, no IPv6) is ERR_NETNS_KIT_NO_SYSCTL. */
  readonly sysctl: NamespaceSysctl = {
    get: async (key) => sysctlGet(this, key, sysctlPath(key)),
    set: async (key, value) => {
      const rel = sysctlPath(key)
      await sysctlSet(this, key, rel, checkSysctlValue(value))
    },
  }

  /**
   * `ip netns exec NAME ss -ltnu -e` (and `-S`): the sockets holding ports in this namespace,
   * optionally one port, port range, family or protocol (filtered in the kernel). See listSockets().
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_UNSUPPORTED` when the kernel has no sock_diag for a protocol asked for.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   */
  sockets(filter?: SocketFilter): Promise<SocketRecord[]> {
    return listSockets(this, filter)
  }

  /**
   * `ip -n NAME monitor link address route neigh`: an async iterator of rtnetlink notifications,
   * with overruns reported and followed by a resync. See watch().
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (thrown synchronously); the iterator rejects with `AbortError` when `opts.signal` aborts.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted (from the iterator)
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`) (from the iterator)
   */
  watch(opts?: WatchOptions): NamespaceWatch {
    return watch(this, opts)
  }

  /**
   * A short label for logs and messages.
   * @throws Nothing: it only reads this object's fields.
   */
  toString(): string {
    return `Namespace(${this.name ?? this.path})`
  }
}

let currentNs: { generation: number; ns: Promise<Namespace> } | undefined
/** The shared handle of this process's own namespace, used where a `namespace` option is absent. */
export function defaultNamespace(ns?: Namespace): Promise<Namespace> {
  if (ns !== undefined) {
    if (!(ns instanceof Namespace)) return Promise.reject(invalidArg('namespace', ns, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE'))
    return Promise.resolve(ns)
  }
  if (currentNs?.generation !== bindingGeneration()) currentNs = { generation: bindingGeneration(), ns: Namespace.current() }
  return currentNs.ns
}

/** The name of a namespace file directly under /run/netns ('/run/netns/x' is 'x'), else undefined. */
function namedIn(p: string): string | undefined {
  if (path.dirname(p) !== NETNS_RUN_DIR) return undefined
  const base = path.basename(p)
  try {
    return checkNsName(base)
  } catch {
    return undefined
  }
}

export { Link }

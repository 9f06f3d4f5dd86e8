import { addressInfo, linkInfo } from './convert'
import { LinkFdb } from './fdb'
import { invalidArg } from './errors'
import type { NativeLink } from './kernel/binding'
import { handleOf } from './kernel/handles'
import type { LinkAttrs } from './kernel/ops'
import { getLink, listAddrs, run, runOne, unregisterLinks } from './kernel/rtnl'
import { checkAlias, checkIfName, checkMac, checkMtu, parseCidr } from './validate'
import type { Namespace } from './namespace'
import type { AddressInfo, LinkInfo } from './types'

type LinkCtor = new (namespace: Namespace, name: string, index: number) => Link
/** Classes for link kinds ('bridge' -> Bridge), registered by their modules. */
export const linkClasses = new Map<string, LinkCtor>()

/** Makes the right object (Link, Bridge, ...) for a kernel link record. */
export function linkFromNative(ns: Namespace, l: NativeLink): Link {
  const Ctor = linkClasses.get(l.kind) ?? Link
  return new Ctor(ns, l.name, l.index)
}

/**
 * A network interface in a namespace. Operations address it by ifindex; `name`, `index`
 * and `namespace` follow rename() and moveTo().
 */
export class Link {
  #namespace: Namespace
  #name: string
  #index: number
  #fdb: LinkFdb | undefined

  constructor(namespace: Namespace, name: string, index: number) {
    this.#namespace = namespace
    this.#name = name
    this.#index = index
  }

  get name(): string {
    return this.#name
  }
  get index(): number {
    return this.#index
  }
  get namespace(): Namespace {
    return this.#namespace
  }

  /**
   * This link's forwarding-database entries (`bridge fdb ... dev NAME`): a vxlan device's own
   * table (MAC -> remote VTEP) or, with `master: true`, its bridge's table.
   */
  get fdb(): LinkFdb {
    this.#fdb ??= new LinkFdb(this)
    return this.#fdb
  }

  /** @internal */
  protected get where(): string {
    return `${this.#name}${this.#namespace.name ? ` in ${this.#namespace.name}` : ''}`
  }

  /**
   * Fresh from the kernel (`ip -d link show NAME`).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when the link is gone (deleted, or moved out of the namespace by someone else).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   */
  async info(): Promise<LinkInfo> {
    return linkInfo(await getLink(this.#namespace, this.#index))
  }

  /**
   * `ip link set NAME up`
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async up(): Promise<void> {
    await this.set({ up: true })
  }
  /**
   * `ip link set NAME down`
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async down(): Promise<void> {
    await this.set({ up: false })
  }
  /**
   * `ip link set NAME mtu MTU`; `mtu` in bytes (the L3 payload, 68 to 65535).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE` for an MTU that is not an integer, `ERR_OUT_OF_RANGE` outside 68..65535, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EINVAL'` for an MTU the device does not take (above a bridge port's or a macvlan parent's), `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async setMtu(mtu: number): Promise<void> {
    await this.set({ mtu: checkMtu(mtu) })
  }
  /**
   * `ip link set NAME address MAC`; `mac` as 'aa:bb:cc:dd:ee:ff', unicast and not all zeros.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string, `ERR_INVALID_ARG_VALUE` for a malformed, multicast or all-zero MAC, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EADDRNOTAVAIL'` or `'EOPNOTSUPP'` when the device refuses the address, `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async setMac(mac: string): Promise<void> {
    await this.set({ mac: checkMac(mac) })
  }
  /**
   * `ip link set NAME alias ALIAS` ('' clears it); at most 255 bytes.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string, `ERR_INVALID_ARG_VALUE` for more than 255 bytes or a NUL, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async setAlias(alias: string): Promise<void> {
    await this.set({ alias: checkAlias(alias) })
  }

  /**
   * `ip link set NAME name NEW` (the kernel refuses while the link is up: take it down first).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string, `ERR_INVALID_ARG_VALUE` for a name that is not 1 to 15 bytes or holds '/', ':', '%', NUL or white space, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EBUSY'` while the link is up, `'EEXIST'` when the name is taken, `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async rename(name: string): Promise<void> {
    checkIfName(name)
    await this.set({ name })
    this.#name = name
  }

  /**
   * `ip link set NAME netns NS`; afterwards this object refers to the link in `ns`. Moving to its own namespace does nothing.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `ns` is not a netns-kit Namespace, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when `ns` has a link by the same name, `'EINVAL'` for a link that cannot leave its namespace (a bridge, loopback), `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after close() of this link's namespace or of `ns`, `ERR_NETNS_KIT_NO_NAMESPACE` once either is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async moveTo(ns: Namespace): Promise<void> {
    handleOf(ns) // a Namespace, open
    if (ns.equals(this.#namespace)) return
    const [, moved] = await run([
      { ns: this.#namespace, op: 'link.set', index: this.#index, target: ns, object: this.where },
      { ns, op: 'link.get', name: this.#name, object: this.#name },
    ])
    this.#namespace = ns
    this.#index = moved.index
  }

  /**
   * `ip link del NAME`; idempotent (a link already gone is not an error). Deleting one end of a veth pair removes both.
   * Resolves once the kernel has unregistered the link (its RTM_DELLINK notification: name, index,
   * addresses, routes and bridge port gone), without waiting for the RCU barrier (~20 ms) after
   * which the kernel frees it and acknowledges.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EOPNOTSUPP'` for a link the kernel does not let go (loopback).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async delete(): Promise<void> {
    await unregisterLinks(this.#namespace, { index: this.#index }, [this.#index], this.where)
  }

  /**
   * `ip addr add CIDR dev NAME [nodad]`; `cidr` as '10.0.0.2/24' or 'fd00::2/64' (no zone index).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string `cidr` or a non-boolean `opts.nodad`, `ERR_INVALID_ARG_VALUE` for a malformed address or prefix length, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when the link has the address already, `'EACCES'` for IPv6 on a link with IPv6 disabled, `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async addAddress(cidr: string, opts: { nodad?: boolean } = {}): Promise<void> {
    const c = parseCidr(cidr)
    if (opts.nodad !== undefined && typeof opts.nodad !== 'boolean') throw invalidArg('opts.nodad', opts.nodad, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    await runOne({
      ns: this.#namespace,
      op: 'addr.add',
      index: this.#index,
      address: c.address,
      prefixLength: c.prefixLength,
      nodad: opts.nodad === true,
      object: `${cidr} on ${this.where}`,
    })
  }

  /**
   * `ip addr del CIDR dev NAME`; `cidr` as '10.0.0.2/24' or 'fd00::2/64'.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string, `ERR_INVALID_ARG_VALUE` for a malformed address or prefix length, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EADDRNOTAVAIL'` when the link has no such address, `'ENODEV'` when the link is gone.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async deleteAddress(cidr: string): Promise<void> {
    const c = parseCidr(cidr)
    await runOne({
      ns: this.#namespace,
      op: 'addr.delete',
      index: this.#index,
      address: c.address,
      prefixLength: c.prefixLength,
      object: `${cidr} on ${this.where}`,
    })
  }

  /**
   * `ip addr show dev NAME`: IPv4 and IPv6, with prefix lengths.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   */
  async addresses(): Promise<AddressInfo[]> {
    const addrs = await listAddrs(this.#namespace, this.#index)
    const names = new Map([[this.#index, this.#name]])
    return addrs.filter((a) => a.index === this.#index).map((a) => addressInfo(a, names))
  }

  /** @internal One RTM_NEWLINK changing this link. */
  protected async set(fields: Omit<LinkAttrs<Namespace>, 'target'> & { name?: string }): Promise<void> {
    await runOne({ ns: this.#namespace, op: 'link.set', index: this.#index, ...fields, object: this.where })
  }

  /**
   * A short label for logs and messages: `Link(NAME in NS)`.
   * @throws Nothing: it only reads this object's fields.
   */
  toString(): string {
    return `Link(${this.where})`
  }
}

import { addressInfo, linkInfo } from './convert'
import { LinkFdb } from './fdb'
import { invalidArg } from './errors'
import type { NativeLink } from './kernel/binding'
import { handleOf } from './kernel/handles'
import type { LinkAttrs } from './kernel/ops'
import { getLink, listAddrs, run, runOne } from './kernel/rtnl'
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

  /** Fresh from the kernel (`ip -d link show NAME`). */
  async info(): Promise<LinkInfo> {
    return linkInfo(await getLink(this.#namespace, this.#index))
  }

  /** `ip link set NAME up` */
  async up(): Promise<void> {
    await this.set({ up: true })
  }
  /** `ip link set NAME down` */
  async down(): Promise<void> {
    await this.set({ up: false })
  }
  /** `ip link set NAME mtu MTU` */
  async setMtu(mtu: number): Promise<void> {
    await this.set({ mtu: checkMtu(mtu) })
  }
  /** `ip link set NAME address MAC` */
  async setMac(mac: string): Promise<void> {
    await this.set({ mac: checkMac(mac) })
  }
  /** `ip link set NAME alias ALIAS` ('' clears it) */
  async setAlias(alias: string): Promise<void> {
    await this.set({ alias: checkAlias(alias) })
  }

  /** `ip link set NAME name NEW` (the kernel refuses while the link is up: take it down first). */
  async rename(name: string): Promise<void> {
    checkIfName(name)
    await this.set({ name })
    this.#name = name
  }

  /** `ip link set NAME netns NS`; afterwards this object refers to the link in `ns`. */
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

  /** `ip link del NAME`; idempotent. Deleting one end of a veth pair removes both. */
  async delete(): Promise<void> {
    await runOne({ ns: this.#namespace, op: 'link.delete', index: this.#index, ignoreMissing: true, object: this.where })
  }

  /** `ip addr add CIDR dev NAME [nodad]` */
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

  /** `ip addr del CIDR dev NAME` */
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

  /** `ip addr show dev NAME` */
  async addresses(): Promise<AddressInfo[]> {
    const addrs = await listAddrs(this.#namespace, this.#index)
    const names = new Map([[this.#index, this.#name]])
    return addrs.filter((a) => a.index === this.#index).map((a) => addressInfo(a, names))
  }

  /** @internal One RTM_NEWLINK changing this link. */
  protected async set(fields: Omit<LinkAttrs<Namespace>, 'target'> & { name?: string }): Promise<void> {
    await runOne({ ns: this.#namespace, op: 'link.set', index: this.#index, ...fields, object: this.where })
  }

  toString(): string {
    return `Link(${this.where})`
  }
}

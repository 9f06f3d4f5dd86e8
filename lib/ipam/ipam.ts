// IP address management: networks (subnets) and the addresses handed out from them.
import { randomUUID } from 'node:crypto'
import { NetnsKitError, invalidArg, type NetnsKitErrorCode } from '../errors'
import type { Namespace } from '../namespace'
import { contains, formatIp, formatPrefix, lastOf, overlaps, parseIp, parsePrefix, sizeOf, within, type Family, type Prefix } from './ip'
import { FileStore } from './file-store'
import { updateRecord, type IpamStore, type StoreEntry } from './store'
import { DEFAULT_ADDRESS_POOLS, chooseSubnet, findFreeSubnet, prefixesInUse, type AddressPool } from './subnet-pool'

/** One address pool of a network: the subnet, its gateway and the range addresses are handed out from. */
export interface IpamPool {
  family: Family
  /** The network prefix, '172.18.0.0/16'. */
  subnet: string
  /** Reserved for the bridge: never handed out. */
  gateway: string
  /** Automatic allocations come from here (a prefix inside the subnet); the whole subnet when absent. */
  ipRange?: string
}

export interface IpamPoolOptions {
  subnet: string
  /** Default: the first address after the network address ('172.18.0.1'). */
  gateway?: string
  /** A prefix inside the subnet to allocate from (Docker's --ip-range). */
  ipRange?: string
}

export interface IpamNetworkOptions {
  /** The IPv4 (or IPv6) subnet. Without one, a free one is chosen from `addressPools`. */
  subnet?: string
  gateway?: string
  ipRange?: string
  /** A second, IPv6 pool (dual stack). */
  ipv6?: IpamPoolOptions
  /** Free-form labels kept with the network. */
  labels?: Record<string, string>
  /** Where to look for routes and addresses a chosen subnet must not overlap (default: this process's namespace). */
  namespace?: Namespace
  /** The pools a subnet is chosen from (default: Docker's, DEFAULT_ADDRESS_POOLS). */
  addressPools?: readonly AddressPool[]
}

/** A network as IPAM knows it. */
export interface IpamNetwork {
  name: string
  /** Random, new for every network created (a new network with an old name starts empty). */
  id: string
  pools: IpamPool[]
  labels: Record<string, string>
  /** ISO 8601 time of creation. */
  created: string
}

/** An address handed out to an owner. */
export interface Allocation {
  address: string
  family: Family
  /** The subnet it came from; `${address}/${prefixLength}` is what goes on the interface. */
  subnet: string
  prefixLength: number
  gateway: string
  /** Who holds it (an endpoint id), so a garbage collector can find addresses whose owner is gone. */
  owner: string
  /** ISO 8601 time of allocation. */
  allocatedAt: string
}

// --- records ------------------------------------------------------------------------------

/** Key 'networks': the definitions of every network (small; names and subnets must be unique across them). */
interface NetworksRecord { networks: Record<string, IpamNetwork> }
/** Key 'alloc.NAME': the addresses of one network. */
interface AllocRecord {
  networkId: string
  pools: Record<string, { cursor?: string; addresses: Record<string, { owner: string; at: string }> }>
}

const NETWORKS_KEY = 'networks'
const allocKey = (name: string) => `alloc.${name}`

/** Network names as Docker takes them (and safe in a store key): letters, digits, '_', '.', '-'. */
export function checkNetworkName(name: unknown, arg = 'name'): string {
  if (typeof name !== 'string') throw invalidArg(arg, name, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name)) throw invalidArg(arg, name, "must be 1 to 128 characters of letters, digits, '_', '.', '-', starting with a letter or digit")
  return name
}

function checkOwner(owner: unknown): string {
  if (typeof owner !== 'string') throw invalidArg('owner', owner, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (owner.length === 0 || Buffer.byteLength(owner) > 256 || /[\0-\x1f\x7f]/.test(owner)) throw invalidArg('owner', owner, 'must be 1 to 256 bytes without control characters')
  return owner
}

function checkLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {}
  if (!labels || typeof labels !== 'object' || Array.isArray(labels)) throw invalidArg('opts.labels', labels, 'must be an object of strings', 'ERR_INVALID_ARG_TYPE')
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') throw invalidArg(`opts.labels.${k}`, v, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    out[k] = v
  }
  return out
}

interface Pool { def: IpamPool; subnet: Prefix; range: Prefix; gateway: bigint }

function poolOf(def: IpamPool): Pool {
  const subnet = parsePrefix(def.subnet)
  return { def, subnet, range: def.ipRange ? parsePrefix(def.ipRange) : subnet, gateway: parseIp(def.gateway).value }
}

/** The network address, the IPv4 broadcast address and the gateway are never handed out. */
function reserved(p: Pool, v: bigint): boolean {
  if (v === p.subnet.network || v === p.gateway) return true
  return p.subnet.family === 4 && v === lastOf(p.subnet)
}

/** Validates one pool's options into a pool definition. */
export function makePool(o: IpamPoolOptions, arg: string, family?: Family): IpamPool {
  const subnet = parsePrefix(o.subnet, `${arg}.subnet`)
  if (family && subnet.family !== family) throw invalidArg(`${arg}.subnet`, o.subnet, `must be an IPv${family} prefix`)
  // Room for the network address, the gateway and one more (and the IPv4 broadcast address).
  const maxLen = subnet.family === 4 ? 30 : 126
  if (subnet.prefixLength > maxLen) throw invalidArg(`${arg}.subnet`, o.subnet, `must have a prefix length of at most ${maxLen} (no room for addresses)`)
  let gateway: bigint
  if (o.gateway !== undefined) {
    const g = parseIp(o.gateway, `${arg}.gateway`)
    if (!contains(subnet, g)) throw invalidArg(`${arg}.gateway`, o.gateway, `must be inside the subnet ${formatPrefix(subnet)}`)
    if (g.value === subnet.network || (subnet.family === 4 && g.value === lastOf(subnet))) {
      throw invalidArg(`${arg}.gateway`, o.gateway, 'must not be the network or broadcast address')
    }
    gateway = g.value
  } else {
    gateway = subnet.network + 1n
  }
  const def: IpamPool = { family: subnet.family, subnet: formatPrefix(subnet), gateway: formatIp({ family: subnet.family, value: gateway }) }
  if (o.ipRange !== undefined) {
    const r = parsePrefix(o.ipRange, `${arg}.ipRange`)
    if (!within(r, subnet)) throw invalidArg(`${arg}.ipRange`, o.ipRange, `must be inside the subnet ${formatPrefix(subnet)}`)
    let usable = sizeOf(r)
    for (const v of [subnet.network, gateway, ...(subnet.family === 4 ? [lastOf(subnet)] : [])]) if (contains(r, { family: r.family, value: v })) usable--
    if (usable < 1n) throw invalidArg(`${arg}.ipRange`, o.ipRange, 'leaves no address to hand out')
    def.ipRange = formatPrefix(r)
  }
  return def
}

function noNetwork(name: string): NetnsKitError {
  return new NetnsKitError('ERR_NETNS_KIT_NO_NETWORK', `no IPAM network named '${name}'`)
}

/** A typed IPAM refusal; `address` and `network` say which. */
export class IpamError extends NetnsKitError {
  readonly network: string
  readonly address: string | undefined
  constructor(code: NetnsKitErrorCode, message: string, network: string, address?: string) {
    super(code, message)
    this.name = 'IpamError'
    this.network = network
    this.address = address
  }
}

/**
 * IP address management as Docker's: each network has a subnet (IPv4, and optionally an
 * IPv6 one), a reserved gateway, and hands out addresses to owners (endpoint ids). State
 * lives in an IpamStore (by default a FileStore under /run/netns-kit), so concurrent
 * processes never hand out one address twice.
 *
 * Addresses are handed out in order after the last one given (a cursor, as netavark and the
 * CNI host-local plugin do), wrapping at the end: a released address is reused only after
 * the others, so a stale ARP or conntrack entry for it has time to expire. An IPv6 /64 is
 * never iterated: finding a free address costs at most (addresses in use + 4) steps.
 */
export class Ipam {
  readonly store: IpamStore

  constructor(opts: { store?: IpamStore } = {}) {
    if (opts === null || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const store = opts.store ?? new FileStore()
    for (const m of ['get', 'list', 'compareAndSwap'] as const) {
      if (typeof (store as unknown as Record<string, unknown>)[m] !== 'function') throw invalidArg('opts.store', store, `must implement IpamStore (no ${m}())`, 'ERR_INVALID_ARG_TYPE')
    }
    this.store = store
  }

  async #networks(): Promise<Record<string, IpamNetwork>> {
    const e = await this.store.get(NETWORKS_KEY)
    return (e?.value as NetworksRecord | undefined)?.networks ?? {}
  }

  /**
   * Registers a network (`docker network create --subnet S --gateway G --ip-range R [--ipv6 --subnet S6]`).
   * Refuses a name already taken (ERR_NETNS_KIT_NETWORK_EXISTS) and a subnet overlapping
   * another network's (ERR_NETNS_KIT_SUBNET_OVERLAP). Without a subnet, the first free one
   * of `addressPools` is chosen: free means it overlaps no route or address in `namespace`
   * and no other network (ERR_NETNS_KIT_POOL_EXHAUSTED when none is).
   */
  async createNetwork(name: string, opts: IpamNetworkOptions = {}): Promise<IpamNetwork> {
    checkNetworkName(name)
    if (opts === null || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const labels = checkLabels(opts.labels)
    const pools: IpamPool[] = []
    let kernelPrefixes: string[] | undefined
    if (opts.subnet !== undefined) {
      pools.push(makePool({ subnet: opts.subnet, gateway: opts.gateway, ipRange: opts.ipRange }, 'opts'))
    } else {
      if (opts.gateway !== undefined || opts.ipRange !== undefined) throw invalidArg('opts', opts, 'gives a gateway or ipRange without a subnet')
      // The kernel is read before taking the store's lock; the store is checked under it.
      chooseSubnet([], opts.addressPools ?? DEFAULT_ADDRESS_POOLS) // validates the pools early
      kernelPrefixes = await prefixesInUse(opts.namespace, 4)
    }
    if (opts.ipv6 !== undefined) {
      if (!opts.ipv6 || typeof opts.ipv6 !== 'object') throw invalidArg('opts.ipv6', opts.ipv6, 'must be an object { subnet, gateway?, ipRange? }', 'ERR_INVALID_ARG_TYPE')
      pools.push(makePool(opts.ipv6, 'opts.ipv6', 6))
    }
    if (pools.filter((p) => p.family === 4).length > 1 || pools.filter((p) => p.family === 6).length > 1) {
      throw invalidArg('opts', opts, 'gives two subnets of one family')
    }
    return updateRecord(this.store, NETWORKS_KEY, (cur) => {
      const networks = { ...((cur?.value as NetworksRecord | undefined)?.networks ?? {}) }
      if (networks[name]) throw new IpamError('ERR_NETNS_KIT_NETWORK_EXISTS', `an IPAM network named '${name}' exists`, name)
      const others = Object.values(networks).flatMap((n) => n.pools.map((p) => ({ net: n.name, prefix: parsePrefix(p.subnet) })))
      const chosen = [...pools]
      if (kernelPrefixes) {
        const subnet = chooseSubnet([...kernelPrefixes, ...others.map((o) => formatPrefix(o.prefix))], opts.addressPools ?? DEFAULT_ADDRESS_POOLS)
        if (!subnet) throw new IpamError('ERR_NETNS_KIT_POOL_EXHAUSTED', 'no free subnet left in the address pools', name)
        chosen.unshift(makePool({ subnet }, 'opts'))
      }
      for (const p of chosen) {
        const hit = others.find((o) => overlaps(o.prefix, parsePrefix(p.subnet)))
        if (hit) throw new IpamError('ERR_NETNS_KIT_SUBNET_OVERLAP', `the subnet ${p.subnet} overlaps ${formatPrefix(hit.prefix)} of the network '${hit.net}'`, name)
      }
      const net: IpamNetwork = { name, id: randomUUID(), pools: chosen, labels, created: new Date().toISOString() }
      networks[name] = net
      return { result: structuredClone(net), set: { networks } satisfies NetworksRecord }
    })
  }

  /**
   * The subnet createNetwork() would choose now without one: the first of `pools` that
   * overlaps no route or address in `namespace` and no network of this store.
   */
  async freeSubnet(opts: { namespace?: Namespace; pools?: readonly AddressPool[] } = {}): Promise<string | undefined> {
    const exclude = Object.values(await this.#networks()).flatMap((n) => n.pools.filter((p) => p.family === 4).map((p) => p.subnet))
    return findFreeSubnet({ ...opts, exclude })
  }

  /** One network (`docker network inspect NAME`, the IPAM part); ERR_NETNS_KIT_NO_NETWORK when unknown. */
  async network(name: string): Promise<IpamNetwork> {
    checkNetworkName(name)
    const n = (await this.#networks())[name]
    if (!n) throw noNetwork(name)
    return n
  }

  /** Every network, by name. */
  async networks(): Promise<IpamNetwork[]> {
    return Object.values(await this.#networks()).sort((a, b) => a.name.localeCompare(b.name))
  }

  /**
   * Forgets a network and its allocations (`docker network rm`). Refused with
   * ERR_NETNS_KIT_NETWORK_IN_USE while addresses are allocated, unless `force`. Returns
   * whether it existed.
   */
  async deleteNetwork(name: string, opts: { force?: boolean } = {}): Promise<boolean> {
    checkNetworkName(name)
    const net = (await this.#networks())[name]
    if (!net) return false
    if (!opts.force) {
      const used = await this.allocations(name)
      if (used.length) throw new IpamError('ERR_NETNS_KIT_NETWORK_IN_USE', `the IPAM network '${name}' still has ${used.length} address(es) allocated (${used.slice(0, 3).map((a) => `${a.address} to ${a.owner}`).join(', ')}${used.length > 3 ? ', ...' : ''})`, name)
    }
    const existed = await updateRecord(this.store, NETWORKS_KEY, (cur) => {
      const networks = { ...((cur?.value as NetworksRecord | undefined)?.networks ?? {}) }
      if (!networks[name] || networks[name]!.id !== net.id) return { result: false }
      delete networks[name]
      return { result: true, set: { networks } }
    })
    // The allocations record belongs to that network id only: a new network with this name
    // ignores a leftover one, so a crash between these two steps loses nothing.
    await updateRecord(this.store, allocKey(name), (cur) => {
      const rec = cur?.value as AllocRecord | undefined
      return rec && rec.networkId === net.id ? { result: undefined, delete: true } : { result: undefined }
    })
    return existed
  }

  /**
   * Hands out an address of `network` to `owner` (an endpoint id): the requested `ip`, or
   * the next free one of the family asked for (4 unless the network is IPv6 only).
   * Idempotent per owner and family: an owner that already holds an address gets it again.
   * Refusals (IpamError): ERR_NETNS_KIT_IP_OUTSIDE_SUBNET, ERR_NETNS_KIT_IP_RESERVED
   * (network, broadcast or gateway address), ERR_NETNS_KIT_IP_IN_USE,
   * ERR_NETNS_KIT_POOL_EXHAUSTED; ERR_NETNS_KIT_NO_NETWORK for an unknown network.
   */
  async allocate(network: string, opts: { owner: string; ip?: string; family?: Family }): Promise<Allocation> {
    checkNetworkName(network, 'network')
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object { owner, ip?, family? }', 'ERR_INVALID_ARG_TYPE')
    const owner = checkOwner(opts.owner)
    const want = opts.ip === undefined ? undefined : parseIp(opts.ip, 'opts.ip')
    if (opts.family !== undefined && opts.family !== 4 && opts.family !== 6) throw invalidArg('opts.family', opts.family, 'must be 4 or 6')
    if (want && opts.family && want.family !== opts.family) throw invalidArg('opts.ip', opts.ip, `is not an IPv${opts.family} address`)
    const net = await this.network(network)
    const family = want?.family ?? opts.family ?? (net.pools.some((p) => p.family === 4) ? 4 : 6)
    const def = net.pools.find((p) => p.family === family)
    if (!def) throw new IpamError('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET', `the network '${network}' has no IPv${family} subnet`, network, opts.ip)
    const pool = poolOf(def)
    if (want && !contains(pool.subnet, want)) {
      throw new IpamError('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET', `${opts.ip} is outside the subnet ${def.subnet} of the network '${network}'`, network, formatIp(want))
    }
    if (want && reserved(pool, want.value)) {
      const what = want.value === pool.gateway ? 'the gateway' : want.value === pool.subnet.network ? 'the network address' : 'the broadcast address'
      throw new IpamError('ERR_NETNS_KIT_IP_RESERVED', `${formatIp(want)} is ${what} of the network '${network}'`, network, formatIp(want))
    }
    const result = await updateRecord(this.store, allocKey(network), (cur) => {
      const rec = freshAlloc(cur, net)
      const slot = (rec.pools[def.subnet] ??= { addresses: {} })
      const mine = Object.entries(slot.addresses).find(([, a]) => a.owner === owner)
      let address: string
      if (want) {
        address = formatIp(want)
        const holder = slot.addresses[address]
        if (holder && holder.owner !== owner) throw new IpamError('ERR_NETNS_KIT_IP_IN_USE', `${address} is already allocated to '${holder.owner}' in the network '${network}'`, network, address)
        if (mine && mine[0] !== address) throw new IpamError('ERR_NETNS_KIT_IP_IN_USE', `'${owner}' already holds ${mine[0]} in the network '${network}'`, network, address)
        if (holder) return { result: allocation(def, address, holder) }
      } else if (mine) {
        return { result: allocation(def, mine[0], mine[1]) }
      } else {
        const v = nextFree(pool, slot)
        if (v === undefined) throw new IpamError('ERR_NETNS_KIT_POOL_EXHAUSTED', `no free address left in ${def.ipRange ?? def.subnet} of the network '${network}'`, network)
        address = formatIp({ family, value: v })
        slot.cursor = address
      }
      const entry = { owner, at: new Date().toISOString() }
      slot.addresses[address] = entry
      return { result: allocation(def, address, entry), set: rec }
    })
    // The network was read before the allocation record was written: if it was deleted (and
    // perhaps created again) in between, the address went to a record nobody reads.
    if ((await this.#networks())[network]?.id !== net.id) throw noNetwork(network)
    return result
  }

  /** Gives an address back (idempotent); returns whether it was allocated. */
  async release(network: string, address: string): Promise<boolean> {
    checkNetworkName(network, 'network')
    const ip = formatIp(parseIp(address))
    const net = await this.#networks().then((n) => n[network])
    if (!net) return false
    return updateRecord(this.store, allocKey(network), (cur) => {
      const rec = freshAlloc(cur, net)
      for (const slot of Object.values(rec.pools)) {
        if (slot.addresses[ip]) {
          delete slot.addresses[ip]
          return { result: true, set: rec }
        }
      }
      return { result: false }
    })
  }

  /** Gives back every address `owner` holds in `network` (idempotent); returns them. */
  async releaseOwner(network: string, owner: string): Promise<string[]> {
    checkNetworkName(network, 'network')
    checkOwner(owner)
    const net = await this.#networks().then((n) => n[network])
    if (!net) return []
    return updateRecord(this.store, allocKey(network), (cur) => {
      const rec = freshAlloc(cur, net)
      const gone: string[] = []
      for (const slot of Object.values(rec.pools)) {
        for (const [ip, a] of Object.entries(slot.addresses)) {
          if (a.owner === owner) {
            delete slot.addresses[ip]
            gone.push(ip)
          }
        }
      }
      return gone.length ? { result: gone, set: rec } : { result: gone }
    })
  }

  /** The addresses allocated in `network`, in address order. */
  async allocations(network: string): Promise<Allocation[]> {
    const net = await this.network(network)
    const rec = freshAlloc(await this.store.get(allocKey(network)), net)
    const out: Allocation[] = []
    for (const def of net.pools) {
      const slot = rec.pools[def.subnet]
      if (!slot) continue
      for (const [ip, a] of Object.entries(slot.addresses)) out.push(allocation(def, ip, a))
    }
    return out.sort((a, b) => a.family - b.family || Number(parseIp(a.address).value - parseIp(b.address).value))
  }
}

/** The network's allocation record; a leftover of an older network with the same name counts as empty. */
function freshAlloc(cur: StoreEntry | undefined, net: IpamNetwork): AllocRecord {
  const rec = cur?.value as AllocRecord | undefined
  if (rec && rec.networkId === net.id && rec.pools && typeof rec.pools === 'object') return structuredClone(rec)
  return { networkId: net.id, pools: {} }
}

function allocation(def: IpamPool, address: string, a: { owner: string; at: string }): Allocation {
  return {
    address, family: def.family, subnet: def.subnet, prefixLength: Number(def.subnet.split('/')[1]),
    gateway: def.gateway, owner: a.owner, allocatedAt: a.at,
  }
}

/**
 * The first free address after the cursor, wrapping at the end of the range. Among any
 * (allocated + 4) consecutive candidates at least one is free (at most 3 are reserved), so
 * the scan is bounded by that, never by the size of the range.
 */
function nextFree(pool: Pool, slot: { cursor?: string; addresses: Record<string, unknown> }): bigint | undefined {
  const { range } = pool
  const first = range.network
  const last = lastOf(range)
  const size = sizeOf(range)
  let v = first
  if (slot.cursor) {
    const c = parseIp(slot.cursor)
    if (contains(range, c)) v = c.value === last ? first : c.value + 1n
  }
  const used = BigInt(Object.keys(slot.addresses).length)
  const steps = size < used + 4n ? size : used + 4n
  for (let i = 0n; i < steps; i++) {
    if (!reserved(pool, v) && !slot.addresses[formatIp({ family: range.family, value: v })]) return v
    v = v === last ? first : v + 1n
  }
  return undefined
}

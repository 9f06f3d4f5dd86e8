// The companion's index of the names it serves, kept from the store's change feed: per network,
// each name (container name, aliases, hostname, and each of them as NAME.NETWORK) to the
// endpoints answering to it; each address to its endpoints. One endpoint's change costs the
// number of its names, never a pass over every record.
import * as net from 'node:net'
import type { NameSource } from '../dns'
import { canonicalIp } from '../ipam/ip'
import type { EndpointRecord } from '../ipam/network-store'

/** What the index needs of a network. */
export interface IndexedNetwork {
  id: string
  name: string
}

interface Entry {
  rec: EndpointRecord
  keys: string[]
  addresses: string[]
  /** Served: connected (a connecting endpoint's name is not answered yet, as store.resolve()). */
  served: boolean
}

/** Lower case without a trailing dot. */
export function nameKeyOf(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase()
}

function namesOf(rec: EndpointRecord, network: string): string[] {
  const base = [...new Set([rec.name, ...rec.aliases, ...(rec.hostname ? [rec.hostname] : [])].map(nameKeyOf))]
  const netKey = nameKeyOf(network)
  return [...new Set([...base, ...base.map((n) => `${n}.${netKey}`)])]
}

export class NameIndex {
  readonly #entries = new Map<string, Entry>()
  /** networkId -> name -> endpoint ids (insertion order: the first connected first). */
  readonly #byName = new Map<string, Map<string, Set<string>>>()
  /** networkId -> address -> endpoint ids. */
  readonly #byAddress = new Map<string, Map<string, Set<string>>>()
  /** networkId -> its name (lower case), for NAME.NETWORK of a name no container has. */
  readonly #networkNames = new Map<string, string>()

  get size(): number {
    return this.#entries.size
  }

  has(endpointId: string): boolean {
    return this.#entries.has(endpointId)
  }

  /** Adds or replaces an endpoint of `network` (a connected one is answered for). */
  set(rec: EndpointRecord, network: IndexedNetwork): void {
    this.delete(rec.id)
    this.#networkNames.set(rec.networkId, nameKeyOf(network.name))
    const e: Entry = {
      rec,
      keys: namesOf(rec, network.name),
      served: rec.state === 'connected',
      addresses: rec.addresses.map((a) => canonicalIp(a.address)),
    }
    this.#entries.set(rec.id, e)
    const names = this.#byName.get(rec.networkId) ?? new Map<string, Set<string>>()
    this.#byName.set(rec.networkId, names)
    for (const k of e.keys) {
      const s = names.get(k) ?? new Set<string>()
      s.add(rec.id)
      names.set(k, s)
    }
    const addrs = this.#byAddress.get(rec.networkId) ?? new Map<string, Set<string>>()
    this.#byAddress.set(rec.networkId, addrs)
    for (const a of e.addresses) {
      const s = addrs.get(a) ?? new Set<string>()
      s.add(rec.id)
      addrs.set(a, s)
    }
  }

  /** Forgets an endpoint; returns whether it was known. */
  delete(endpointId: string): boolean {
    const e = this.#entries.get(endpointId)
    if (!e) return false
    this.#entries.delete(endpointId)
    const names = this.#byName.get(e.rec.networkId)
    for (const k of e.keys) {
      const s = names?.get(k)
      s?.delete(endpointId)
      if (s && !s.size) names!.delete(k)
    }
    if (names && !names.size) this.#byName.delete(e.rec.networkId)
    const addrs = this.#byAddress.get(e.rec.networkId)
    for (const a of e.addresses) {
      const s = addrs?.get(a)
      s?.delete(endpointId)
      if (s && !s.size) addrs!.delete(a)
    }
    if (addrs && !addrs.size) this.#byAddress.delete(e.rec.networkId)
    return true
  }

  /** Forgets every endpoint of a network. */
  deleteNetwork(networkId: string): void {
    for (const [id, e] of [...this.#entries]) if (e.rec.networkId === networkId) this.delete(id)
    this.#networkNames.delete(networkId)
  }

  /** Addresses of `family` for `name` in one network: undefined when no served endpoint answers to it. */
  lookup(networkId: string, name: string, family: 4 | 6): string[] | undefined {
    const ids = this.#byName.get(networkId)?.get(nameKeyOf(name))
    if (!ids) return undefined
    let found = false
    const out: string[] = []
    for (const id of ids) {
      const e = this.#entries.get(id)
      if (!e?.served) continue
      found = true
      for (const a of e.addresses) if ((net.isIPv4(a) ? 4 : 6) === family && !out.includes(a)) out.push(a)
    }
    return found ? out : undefined
  }

  /** The names of an address in one network (each endpoint's own name first). */
  reverse(networkId: string, address: string): string[] {
    if (net.isIP(address) === 0) return []
    const ids = this.#byAddress.get(networkId)?.get(canonicalIp(address))
    const out: string[] = []
    for (const id of ids ?? []) {
      const e = this.#entries.get(id)
      if (!e?.served) continue
      const own = nameKeyOf(e.rec.name)
      for (const n of [own, ...e.keys.filter((k) => k !== own)]) if (!out.includes(n)) out.push(n)
    }
    return out
  }

  /**
   * What a container on `networks` (in its order of preference) resolves: the first network that
   * knows a name answers for it, as Docker's embedded resolver does for a container on several networks.
   */
  view(networks: () => readonly string[]): NameSource {
    return {
      lookup: (name, family) => {
        for (const n of networks()) {
          const r = this.lookup(n, name, family)
          if (r !== undefined) {
            // Ours in this network: the other family's addresses may still be there.
            return r
          }
        }
        return undefined
      },
      reverse: (address) => {
        for (const n of networks()) {
          const r = this.reverse(n, address)
          if (r.length) return r
        }
        return []
      },
      // NAME.NETWORK of one of the container's networks is ours even when no container has NAME:
      // NXDOMAIN, never forwarded (the upstream would learn the container's names).
      owns: (name) => {
        const k = nameKeyOf(name)
        return networks().some((n) => {
          const net = this.#networkNames.get(n)
          return net !== undefined && k.length > net.length + 1 && k.endsWith(`.${net}`)
        })
      },
    }
  }
}

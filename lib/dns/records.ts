// The names an embedded resolver answers for: a record set the runtime keeps up to date.
import * as net from 'node:net'
import { invalidArg } from '../errors'
import { canonicalIp } from '../ipam/ip'

/** What one endpoint (a container on a network) is known by. */
export interface DnsEntry {
  /** Its names: container name, aliases, hostname. Matched without regard to case. */
  names: string[]
  /** Its addresses, IPv4 and IPv6. */
  addresses: string[]
}

const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?$/

/** Lower case, without a trailing dot; throws on a name DNS cannot carry. */
export function normaliseName(value: unknown, arg = 'name'): string {
  if (typeof value !== 'string') throw invalidArg(arg, value, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const name = (value.endsWith('.') ? value.slice(0, -1) : value).toLowerCase()
  if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => LABEL.test(l) && !l.endsWith('-'))) {
    throw invalidArg(arg, value, "must be a DNS name: labels of 1 to 63 letters, digits, '_' or '-', at most 253 characters")
  }
  return name
}

/**
 * A set of DNS records kept per endpoint id: `set()` when a container joins a network (or
 * its aliases change), `delete()` when it leaves. Several resolvers (one per container on
 * the network) share one set, so they all answer from the current state. Names that
 * several endpoints share (a common alias) resolve to all of their addresses. Each change
 * costs what the endpoint's own names and addresses do, whatever the size of the set.
 */
export class DnsRecords {
  readonly #entries = new Map<string, DnsEntry>()
  /** Name -> the ids answering to it, in the order they were set. */
  readonly #byName = new Map<string, Set<string>>()
  /** Address -> the ids holding it. */
  readonly #byAddress = new Map<string, Set<string>>()

  /**
   * Adds or replaces what endpoint `id` is known by.
   * Names: DNS names (labels of 1 to 63 letters, digits, '_' or '-', at most 253 characters), stored in lower case without a trailing dot; addresses IPv4 or IPv6, stored canonical.
   * @throws {TypeError} `ERR_INVALID_ARG_VALUE` for an empty id, a name DNS cannot carry or an address that is not IPv4 or IPv6; `ERR_INVALID_ARG_TYPE` for an entry without arrays `names` and `addresses` or a non-string name. Nothing changes then.
   */
  set(id: string, entry: DnsEntry): void {
    if (typeof id !== 'string' || id.length === 0) throw invalidArg('id', id, 'must be a non-empty string')
    if (!entry || typeof entry !== 'object') throw invalidArg('entry', entry, 'must be an object { names, addresses }', 'ERR_INVALID_ARG_TYPE')
    if (!Array.isArray(entry.names) || !Array.isArray(entry.addresses))
      throw invalidArg('entry', entry, 'must have arrays names and addresses', 'ERR_INVALID_ARG_TYPE')
    const names = [...new Set(entry.names.map((n, i) => normaliseName(n, `entry.names[${i}]`)))]
    const addresses = [
      ...new Set(
        entry.addresses.map((a, i) => {
          if (typeof a !== 'string' || net.isIP(a) === 0) throw invalidArg(`entry.addresses[${i}]`, a, 'must be an IPv4 or IPv6 address')
          return canonicalIp(a)
        }),
      ),
    ]
    this.#unindex(id)
    this.#entries.set(id, { names, addresses })
    for (const n of names) add(this.#byName, n, id)
    for (const a of addresses) add(this.#byAddress, a, id)
  }

  /**
   * Forgets endpoint `id`; returns whether it was known.
   * @throws Nothing: an unknown id returns false.
   */
  delete(id: string): boolean {
    if (!this.#entries.has(id)) return false
    this.#unindex(id)
    this.#entries.delete(id)
    return true
  }

  /**
   * What endpoint `id` is known by (a copy), or undefined.
   * @throws Nothing: an unknown id returns undefined.
   */
  get(id: string): DnsEntry | undefined {
    const e = this.#entries.get(id)
    return e && { names: [...e.names], addresses: [...e.addresses] }
  }

  /**
   * The endpoint ids, in the order they were first set.
   * @throws Nothing.
   */
  ids(): string[] {
    return [...this.#entries.keys()]
  }

  get size(): number {
    return this.#entries.size
  }

  /**
   * Whether the name is ours (whatever its addresses).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string, `ERR_INVALID_ARG_VALUE` for a name DNS cannot carry.
   */
  has(name: string): boolean {
    return this.#byName.has(normaliseName(name))
  }

  /**
   * The addresses of `family` for `name` (any case, trailing dot or not): undefined when the
   * name is not ours, an empty array when it is ours but has no address of that family.
   * @throws Nothing: a name DNS cannot carry is not ours (undefined).
   */
  lookup(name: string, family: 4 | 6): string[] | undefined {
    let n: string
    try {
      n = normaliseName(name)
    } catch {
      return undefined
    }
    const ids = this.#byName.get(n)
    if (!ids) return undefined
    const out: string[] = []
    for (const id of ids) {
      for (const a of this.#entries.get(id)!.addresses) if ((family === 4) === net.isIPv4(a) && !out.includes(a)) out.push(a)
    }
    return out
  }

  /**
   * The names of an address (for PTR queries), first name of each endpoint first.
   * @throws Nothing: anything but an IPv4 or IPv6 address has no name ([]).
   */
  reverse(address: string): string[] {
    if (typeof address !== 'string' || net.isIP(address) === 0) return []
    const out: string[] = []
    for (const id of this.#byAddress.get(canonicalIp(address)) ?? []) {
      for (const n of this.#entries.get(id)!.names) if (!out.includes(n)) out.push(n)
    }
    return out
  }

  #unindex(id: string): void {
    const old = this.#entries.get(id)
    if (!old) return
    for (const n of old.names) remove(this.#byName, n, id)
    for (const a of old.addresses) remove(this.#byAddress, a, id)
  }
}

function add(index: Map<string, Set<string>>, key: string, id: string): void {
  let s = index.get(key)
  if (!s) index.set(key, (s = new Set()))
  s.add(id)
}

function remove(index: Map<string, Set<string>>, key: string, id: string): void {
  const s = index.get(key)
  if (!s) return
  s.delete(id)
  if (!s.size) index.delete(key)
}

// An IpamStore in memory: for tests, and the smallest example of the store contract.
import { randomUUID } from 'node:crypto'
import { checkKey, type IpamStore, type StoreEntry } from './store'

/**
 * Records in a Map, changed only by compareAndSwap (no transact(), so Ipam uses its
 * optimistic get + compare-and-swap loop, as it would with a distributed store). Values are
 * copied in and out, as a real store serialises them. Not shared between processes.
 */
export class MemoryStore implements IpamStore {
  readonly #records = new Map<string, StoreEntry>()

  async get(key: string): Promise<StoreEntry | undefined> {
    const e = this.#records.get(checkKey(key))
    return e && structuredClone(e)
  }

  async list(prefix = ''): Promise<StoreEntry[]> {
    return [...this.#records.values()].filter((e) => e.key.startsWith(prefix)).sort((a, b) => a.key.localeCompare(b.key)).map((e) => structuredClone(e))
  }

  async compareAndSwap(key: string, expected: string | null, value: unknown): Promise<string | null | false> {
    checkKey(key)
    await Promise.resolve() // a round trip, as a real store's, lets other writers interleave
    const cur = this.#records.get(key)
    if ((cur?.revision ?? null) !== expected) return false
    if (value === undefined) {
      this.#records.delete(key)
      return null
    }
    const revision = randomUUID()
    this.#records.set(key, { key, value: JSON.parse(JSON.stringify(value)) as unknown, revision })
    return revision
  }
}

// The state store behind IPAM: a key space of JSON records changed by compare-and-swap.
import { NetnsKitError, invalidArg } from '../errors'

/** One record as a store holds it. */
export interface StoreEntry<T = unknown> {
  key: string
  value: T
  /**
   * An opaque token that changes with every write (never reused, so a record deleted and
   * created again does not match an old token): the FileStore writes a random one, an etcd
   * store would use the key's mod_revision.
   */
  revision: string
}

/** What a read-modify-write step decides: keep the record, replace it, or delete it; and what to return. */
export interface Mutation<R> {
  result: R
  /** The new value (JSON-serialisable). */
  set?: unknown
  /** Delete the record. */
  delete?: boolean
}

/**
 * Where IPAM keeps what the kernel cannot hold (networks, address allocations). Each record
 * is changed by compare-and-swap on its revision, so several processes, or several hosts
 * sharing a distributed store (etcd: a Txn comparing mod_revision), never lose an update.
 * Records are independent: no operation needs two keys at once.
 */
export interface IpamStore {
  /** One record, or undefined when there is none. */
  get(key: string): Promise<StoreEntry | undefined>
  /** Every record whose key starts with `prefix` (all records without one). */
  list(prefix?: string): Promise<StoreEntry[]>
  /**
   * Writes `value` (or deletes the record when `value` is undefined) only if the record's
   * revision is still `expected` (null: only if there is no record). Resolves to the new
   * revision (null after a delete), or to false when another writer got there first.
   */
  compareAndSwap(key: string, expected: string | null, value: unknown): Promise<string | null | false>
  /**
   * Optional: a read-modify-write under the store's own lock (the FileStore's flock), with
   * no retries. Stores without it get an optimistic loop of get + compareAndSwap.
   */
  transact?<R>(key: string, fn: (current: StoreEntry | undefined) => Mutation<R> | Promise<Mutation<R>>): Promise<R>
}

/** Keys: a letter or digit, then letters, digits, '_', '.', '-' (safe as a file name; no '/', no '..' component). */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string') throw invalidArg('key', key, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/.test(key)) throw invalidArg('key', key, "must be 1 to 200 characters of letters, digits, '_', '.', '-', starting with a letter or digit")
  return key
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Read-modify-write of one record: through the store's transact() when it has one, else
 * get + compareAndSwap retried with jittered backoff until it wins (at most `attempts`).
 */
export async function updateRecord<R>(store: IpamStore, key: string,
  fn: (current: StoreEntry | undefined) => Mutation<R> | Promise<Mutation<R>>, attempts = 200): Promise<R> {
  if (typeof store.transact === 'function') return store.transact(key, fn)
  for (let i = 0; i < attempts; i++) {
    const cur = await store.get(key)
    const m = await fn(cur)
    if (m.set === undefined && !m.delete) return m.result
    if (m.delete && !cur) return m.result
    const ok = await store.compareAndSwap(key, cur ? cur.revision : null, m.delete ? undefined : m.set)
    if (ok !== false) return m.result
    await sleep(Math.random() * Math.min(50, 2 ** Math.min(i, 6)))
  }
  throw new NetnsKitError('ERR_NETNS_KIT_STORE_CONFLICT', `the record '${key}' kept changing under ${attempts} attempts to update it`)
}

// A key-value space with revisions (etcd's model): the ground the memory and etcd NetworkStores
// stand on. Transactions are optimistic and serializable: every key and range read is compared at
// commit (nothing in it modified after the transaction's first read), and the writes go in one
// atomic commit; a conflict runs the transaction again after a jittered backoff.
import { backoff, busy, sleep } from './store-logic'

export interface KvItem {
  key: string
  value: string
  /** The revision of its last change (etcd's mod_revision): > 0. */
  mod: number
}

export type KvOp = { put: string; value: string } | { del: string; end?: string }

/** What a backend does: reads of the latest state with the revision they saw, and a conditional commit. */
export interface KvBackend {
  get(key: string): Promise<{ item: KvItem | undefined; rev: number }>
  /** Keys in [start, end), ascending, at most `limit` (0: all). */
  range(start: string, end: string, limit?: number): Promise<{ items: KvItem[]; rev: number }>
  /** Keys in [start, end) changed after revision `since` (etcd: min_mod_revision). */
  changedSince(start: string, end: string, since: number): Promise<{ items: KvItem[]; rev: number }>
  /**
   * Applies `ops` atomically if no key of each compared key or range [key, end) was modified at
   * revision `below` or later; resolves to the new revision, or false when a compare failed.
   */
  commit(compares: { key: string; end?: string; below: number }[], ops: KvOp[]): Promise<number | false>
  /** Calls `listener` after changes under [start, end) by anyone; returns the unsubscriber. */
  watch(start: string, end: string, listener: () => void): () => void
  close(): Promise<void>
}

/** The end of the range of keys starting with `prefix`. */
export function prefixEnd(prefix: string): string {
  return prefix + '\uffff'
}

/** A transaction saw a key changed after its start: run it again. */
export class KvConflict extends Error {
  constructor() {
    super('conflict')
  }
}

/** One optimistic transaction: reads recorded, writes buffered until commit. */
export class KvTx {
  readonly #be: KvBackend
  #rev: number | undefined
  readonly #reads: { key: string; end?: string }[] = []
  readonly #writes = new Map<string, string | null>()
  readonly #rangeDeletes: string[] = []

  constructor(be: KvBackend) {
    this.#be = be
  }

  #observe(rev: number, items: KvItem[]): void {
    if (this.#rev === undefined) this.#rev = rev
    for (const i of items) if (i.mod > this.#rev) throw new KvConflict()
  }

  async get<T>(key: string): Promise<T | undefined> {
    if (this.#writes.has(key)) {
      const v = this.#writes.get(key)
      return v === null || v === undefined ? undefined : (JSON.parse(v) as T)
    }
    const r = await this.#be.get(key)
    this.#observe(r.rev, r.item ? [r.item] : [])
    this.#reads.push({ key })
    return r.item ? (JSON.parse(r.item.value) as T) : undefined
  }

  /** Every key under `prefix` (small sets: an index of one network, one container). Writes of this transaction are not merged in. */
  async list<T>(prefix: string): Promise<{ key: string; value: T }[]> {
    const end = prefixEnd(prefix)
    const r = await this.#be.range(prefix, end)
    this.#observe(r.rev, r.items)
    this.#reads.push({ key: prefix, end })
    return r.items.map((i) => ({ key: i.key, value: JSON.parse(i.value) as T }))
  }

  /** Keys of [start, end) in ascending order, page by page; only the part actually read is compared at commit. */
  async *scan(start: string, end: string, page = 64): AsyncGenerator<string> {
    let from = start
    for (;;) {
      const r = await this.#be.range(from, end, page)
      this.#observe(r.rev, r.items)
      const full = r.items.length === page
      this.#reads.push({ key: from, end: full ? r.items[r.items.length - 1]!.key + '\0' : end })
      for (const i of r.items) yield i.key
      if (!full) return
      from = r.items[r.items.length - 1]!.key + '\0'
    }
  }

  put(key: string, value: unknown): void {
    this.#writes.set(key, JSON.stringify(value))
  }

  del(key: string): void {
    this.#writes.set(key, null)
  }

  /** Deletes every key under `prefix` at commit. */
  delPrefix(prefix: string): void {
    this.#rangeDeletes.push(prefix)
  }

  get empty(): boolean {
    return this.#writes.size === 0 && this.#rangeDeletes.length === 0
  }

  async commit(): Promise<number | false> {
    if (this.empty) return this.#rev ?? 0
    const below = (this.#rev ?? Number.MAX_SAFE_INTEGER - 1) + 1
    const compares = this.#rev === undefined ? [] : dedupe(this.#reads).map((r) => ({ ...r, below }))
    const ops: KvOp[] = [
      ...this.#rangeDeletes.map((p) => ({ del: p, end: prefixEnd(p) })),
      ...[...this.#writes].map(([k, v]) => (v === null ? { del: k } : { put: k, value: v })),
    ]
    return this.#be.commit(compares, ops)
  }
}

function dedupe(reads: { key: string; end?: string }[]): { key: string; end?: string }[] {
  const seen = new Set<string>()
  return reads.filter((r) => {
    const k = `${r.key}\0${r.end ?? ''}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

/** Runs `fn` in transactions until one commits (or `timeoutMs` passes: ERR_NETNS_KIT_STORE_BUSY). */
export async function transact<T>(be: KvBackend, what: string, timeoutMs: number, fn: (tx: KvTx) => Promise<T>): Promise<{ result: T; rev: number }> {
  const deadline = Date.now() + timeoutMs
  for (let attempt = 0; ; attempt++) {
    const tx = new KvTx(be)
    try {
      const result = await fn(tx)
      const rev = await tx.commit()
      if (rev !== false) return { result, rev }
    } catch (e) {
      if (!(e instanceof KvConflict)) throw e
    }
    if (Date.now() >= deadline) throw busy(timeoutMs, what)
    await sleep(backoff(attempt))
  }
}

/** A KvBackend in memory (one process): the MemoryNetworkStore's. */
export class MemoryKv implements KvBackend {
  readonly #items = new Map<string, KvItem>()
  #sorted: string[] | undefined
  #rev = 0
  readonly #watchers = new Set<{ start: string; end: string; listener: () => void }>()

  #keys(): string[] {
    this.#sorted ??= [...this.#items.keys()].sort()
    return this.#sorted
  }

  #from(start: string): number {
    const keys = this.#keys()
    let lo = 0
    let hi = keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (keys[mid]! < start) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  async get(key: string): Promise<{ item: KvItem | undefined; rev: number }> {
    await Promise.resolve()
    const i = this.#items.get(key)
    return { item: i && { ...i }, rev: this.#rev }
  }

  async range(start: string, end: string, limit = 0): Promise<{ items: KvItem[]; rev: number }> {
    await Promise.resolve()
    const keys = this.#keys()
    const items: KvItem[] = []
    for (let i = this.#from(start); i < keys.length && keys[i]! < end; i++) {
      items.push({ ...this.#items.get(keys[i]!)! })
      if (limit && items.length === limit) break
    }
    return { items, rev: this.#rev }
  }

  async changedSince(start: string, end: string, since: number): Promise<{ items: KvItem[]; rev: number }> {
    const { items, rev } = await this.range(start, end)
    return { items: items.filter((i) => i.mod > since), rev }
  }

  async commit(compares: { key: string; end?: string; below: number }[], ops: KvOp[]): Promise<number | false> {
    await Promise.resolve()
    for (const c of compares) {
      if (c.end === undefined) {
        const i = this.#items.get(c.key)
        if (i && i.mod >= c.below) return false
      } else {
        const keys = this.#keys()
        for (let i = this.#from(c.key); i < keys.length && keys[i]! < c.end; i++) if (this.#items.get(keys[i]!)!.mod >= c.below) return false
      }
    }
    const rev = ++this.#rev
    const touched: string[] = []
    for (const op of ops) {
      if ('put' in op) {
        // The sorted keys change in place (a binary search and a splice): never sorted again whole.
        if (!this.#items.has(op.put) && this.#sorted) this.#sorted.splice(this.#from(op.put), 0, op.put)
        this.#items.set(op.put, { key: op.put, value: op.value, mod: rev })
        touched.push(op.put)
      } else if (op.end === undefined) {
        if (this.#items.delete(op.del)) {
          if (this.#sorted) this.#sorted.splice(this.#from(op.del), 1)
          touched.push(op.del)
        }
      } else {
        for (const k of [...this.#items.keys()])
          if (k >= op.del && k < op.end && this.#items.delete(k)) {
            this.#sorted = undefined
            touched.push(k)
          }
      }
    }
    for (const w of this.#watchers) if (touched.some((k) => k >= w.start && k < w.end)) setImmediate(w.listener)
    return rev
  }

  watch(start: string, end: string, listener: () => void): () => void {
    const w = { start, end, listener }
    this.#watchers.add(w)
    return () => {
      this.#watchers.delete(w)
    }
  }

  async close(): Promise<void> {
    this.#watchers.clear()
  }
}

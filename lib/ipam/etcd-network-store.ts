// The NetworkStore for many hosts: the KV logic over etcd (v3 API through the `etcd3` client).
// Each operation is one etcd transaction comparing the mod_revision of every key and range it read
// (nothing modified since its first read) and writing its claims and records together.
import type { Etcd3, Watcher } from 'etcd3'
import * as os from 'node:os'
import { invalidArg } from '../errors'
import { etcdClient, withDeadline, type EtcdConnectOptions } from './etcd-client'
import { type KvBackend, type KvItem, type KvOp } from './kv'
import { KvNetworkStore } from './kv-store'

export interface EtcdNetworkStoreOptions extends EtcdConnectOptions {
  /** Keys live under this prefix (default 'netns-kit/state/'). */
  prefix?: string
  /** This host's name in namespace keys (device and inode numbers repeat across hosts); default os.hostname(). */
  hostId?: string
  /** How long an operation retries under contention before ERR_NETNS_KIT_STORE_BUSY (ms, default 10000). */
  busyTimeoutMs?: number
}

/** A KvBackend on etcd: reads are ranges, commits are Txn requests with MOD < rev compares (over ranges too). */
class EtcdKv implements KvBackend {
  readonly #client: Etcd3
  readonly #owned: boolean
  readonly #prefix: string
  readonly #endpoints: string
  readonly #timeoutMs: number
  readonly #listeners = new Set<{ start: string; end: string; listener: () => void }>()
  #watcher: Promise<Watcher> | undefined

  constructor(c: ReturnType<typeof etcdClient>, prefix: string) {
    this.#client = c.client
    this.#owned = c.owned
    this.#endpoints = c.endpoints
    this.#timeoutMs = c.timeoutMs
    this.#prefix = prefix
  }

  #call<T>(p: Promise<T>, what: string): Promise<T> {
    return withDeadline(p, this.#timeoutMs, this.#endpoints, what)
  }

  #b(key: string): Buffer {
    return Buffer.from(this.#prefix + key)
  }

  #item(kv: { key: Buffer; value: Buffer; mod_revision: string }): KvItem {
    return { key: kv.key.toString().slice(this.#prefix.length), value: kv.value.toString(), mod: Number(kv.mod_revision) }
  }

  async get(key: string): Promise<{ item: KvItem | undefined; rev: number }> {
    const r = await this.#call(this.#client.kv.range({ key: this.#b(key) }), `get '${key}'`)
    return { item: r.kvs[0] && this.#item(r.kvs[0]), rev: Number(r.header.revision) }
  }

  async range(start: string, end: string, limit = 0): Promise<{ items: KvItem[]; rev: number }> {
    const r = await this.#call(this.#client.kv.range({ key: this.#b(start), range_end: this.#b(end), limit }), `range '${start}'`)
    return { items: r.kvs.map((kv) => this.#item(kv)), rev: Number(r.header.revision) }
  }

  async changedSince(start: string, end: string, since: number): Promise<{ items: KvItem[]; rev: number }> {
    const r = await this.#call(this.#client.kv.range({ key: this.#b(start), range_end: this.#b(end), min_mod_revision: since + 1 }), `changes since ${since}`)
    return { items: r.kvs.map((kv) => this.#item(kv)), rev: Number(r.header.revision) }
  }

  async commit(compares: { key: string; end?: string; below: number }[], ops: KvOp[]): Promise<number | false> {
    const r = await this.#call(
      this.#client.kv.txn({
        // CompareResult.LESS = 2, CompareTarget.MOD = 2 (etcd's rpc.proto), as numbers: the enum objects live in the lazily loaded client.
        compare: compares.map((c) => ({
          result: 2 as const,
          target: 2 as const,
          key: this.#b(c.key),
          mod_revision: c.below,
          ...(c.end !== undefined ? { range_end: this.#b(c.end) } : {}),
        })),
        success: ops.map((op) =>
          'put' in op
            ? { request_put: { key: this.#b(op.put), value: Buffer.from(op.value) } }
            : { request_delete_range: { key: this.#b(op.del), ...(op.end !== undefined ? { range_end: this.#b(op.end) } : {}) } },
        ),
        failure: [],
      }),
      'commit',
    )
    return r.succeeded ? Number(r.header.revision) : false
  }

  watch(start: string, end: string, listener: () => void): () => void {
    const w = { start, end, listener }
    this.#listeners.add(w)
    this.#watcher ??= this.#client
      .watch()
      .inRange({ start: this.#prefix + start, end: this.#prefix + end })
      .create()
      .then((watcher) => {
        const fire = () => {
          for (const l of [...this.#listeners]) setImmediate(l.listener)
        }
        watcher.on('put', fire)
        watcher.on('delete', fire)
        watcher.on('error', () => {})
        return watcher
      })
    this.#watcher.catch(() => {
      this.#watcher = undefined
    })
    return () => {
      this.#listeners.delete(w)
      if (!this.#listeners.size && this.#watcher) {
        const p = this.#watcher
        this.#watcher = undefined
        void p.then(
          (x) => x.cancel(),
          () => {},
        )
      }
    }
  }

  async close(): Promise<void> {
    this.#listeners.clear()
    const p = this.#watcher
    this.#watcher = undefined
    await p?.then(
      (x) => x.cancel(),
      () => {},
    )
    if (this.#owned) this.#client.close()
  }
}

/**
 * NetworkStore in etcd, shared by every host of a cluster: the same records, intents and
 * uniqueness as SqliteStore, each operation one etcd transaction (compare-and-swap on the mod
 * revisions of what it read). Owners on other hosts are never judged dead from this one.
 * Calls fail with ERR_NETNS_KIT_STORE_UNAVAILABLE when etcd cannot be reached.
 */
export class EtcdNetworkStore extends KvNetworkStore {
  readonly prefix: string
  readonly hostId: string

  constructor(opts: EtcdNetworkStoreOptions) {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const prefix = opts.prefix ?? 'netns-kit/state/'
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 200 || /[\0-\x1f]/.test(prefix))
      throw invalidArg('opts.prefix', prefix, 'must be 1 to 200 printable characters')
    const hostId =
      opts.hostId ??
      os
        .hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '_')
        .slice(0, 64)
    super(new EtcdKv(etcdClient(opts), prefix), { hostId, busyTimeoutMs: opts.busyTimeoutMs })
    this.prefix = prefix
    this.hostId = hostId
  }
}

// An IpamStore in etcd (v3 API, through the `etcd3` client): records shared by every host, changed
// by etcd transactions comparing the key's mod_revision, so no address is handed out twice across hosts.
import type { Etcd3 } from 'etcd3'
import { NetnsKitError, invalidArg } from '../errors'
import { checkKey, type IpamStore, type StoreEntry } from './store'

export interface EtcdConnectOptions {
  /** An etcd3 client to use (the caller closes it), or endpoints ('http://10.0.0.1:2379') to open one. */
  etcd: Etcd3 | string | string[]
  /** Every call fails after this long with ERR_NETNS_KIT_STORE_UNAVAILABLE (default 3000 ms). */
  timeoutMs?: number
}

export interface EtcdStoreOptions extends EtcdConnectOptions {
  /** The keys of this store live under this prefix (default 'netns-kit/ipam/'). */
  prefix?: string
}

/** The etcd3 module, loaded on first use (single-host users never load gRPC). */
function etcd3Module(): typeof import('etcd3') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('etcd3') as typeof import('etcd3')
}

/** @internal An etcd3 client from the options: the given one, or a new one with short timeouts. */
export function etcdClient(opts: EtcdConnectOptions, arg = 'opts.etcd'): { client: Etcd3; owned: boolean; endpoints: string; timeoutMs: number } {
  const timeoutMs = opts.timeoutMs ?? 3000
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw invalidArg('opts.timeoutMs', timeoutMs, 'must be an integer from 1 to 600000')
  }
  const e = opts.etcd
  const isClient = e !== null && typeof e === 'object' && !Array.isArray(e) && typeof (e as Etcd3).if === 'function' && typeof (e as Etcd3).lease === 'function'
  if (isClient) return { client: e as Etcd3, owned: false, endpoints: 'etcd', timeoutMs }
  const hosts = typeof e === 'string' ? [e] : e
  if (!Array.isArray(hosts) || hosts.length === 0 || hosts.some((h) => typeof h !== 'string' || !/^https?:\/\/[^\s/]+\/?$/.test(h))) {
    throw invalidArg(arg, e, "must be an Etcd3 client or endpoints such as 'http://127.0.0.1:2379'", 'ERR_INVALID_ARG_TYPE')
  }
  const { Etcd3: Client } = etcd3Module()
  const client = new Client({
    hosts,
    dialTimeout: timeoutMs,
    // Unary calls give up after timeoutMs; streams (watches, keepalives) are long-lived.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  })
  return { client, owned: true, endpoints: hosts.join(','), timeoutMs }
}

/** @internal An etcd client failure as a typed error: ERR_NETNS_KIT_STORE_UNAVAILABLE when etcd cannot be reached. */
export function storeError(e: unknown, endpoints: string, what: string): Error {
  if (e instanceof NetnsKitError || e instanceof TypeError || e instanceof RangeError) return e
  const err = e as Error
  const name = err?.constructor?.name ?? ''
  const unavailable = /Unavailable|DeadlineExceeded|ConnectFailed|BrokenCircuit|ClientClosed|TaskCancelled|Cancelled/.test(name) ||
    /timed out|unavailable|ECONNREFUSED|No connection|deadline|connect/i.test(err?.message ?? '')
  const out = new NetnsKitError(unavailable ? 'ERR_NETNS_KIT_STORE_UNAVAILABLE' : 'ERR_NETNS_KIT_STORE',
    `${what}: etcd at ${endpoints} ${unavailable ? 'is unreachable' : 'failed'} (${name || 'Error'}: ${err?.message ?? String(e)})`)
  ;(out as Error & { cause?: unknown }).cause = e
  return out
}

/** @internal Runs one etcd call with an overall deadline (the client's own retries included). */
export async function withDeadline<T>(p: Promise<T>, timeoutMs: number, endpoints: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NetnsKitError('ERR_NETNS_KIT_STORE_UNAVAILABLE',
      `${what}: etcd at ${endpoints} is unreachable (no answer within ${timeoutMs} ms)`)), timeoutMs)
  })
  try {
    return await Promise.race([p, timeout])
  } catch (e) {
    throw storeError(e, endpoints, what)
  } finally {
    clearTimeout(timer)
  }
}

/**
 * IPAM records in etcd: key K is the etcd key `prefix + K`, its value the JSON text, its
 * revision the key's mod_revision (etcd's global counter: never reused, so a record deleted
 * and created again does not match an old token). compareAndSwap is one transaction
 * (`etcdctl txn`: compare mod_revision, or create_revision = 0 for "no record", then put or
 * delete). Calls fail fast with ERR_NETNS_KIT_STORE_UNAVAILABLE when etcd cannot be reached.
 */
export class EtcdStore implements IpamStore {
  readonly client: Etcd3
  readonly prefix: string
  readonly #owned: boolean
  readonly #endpoints: string
  readonly #timeoutMs: number

  constructor(opts: EtcdStoreOptions) {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const prefix = opts.prefix ?? 'netns-kit/ipam/'
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 200 || /[\0-\x1f]/.test(prefix)) {
      throw invalidArg('opts.prefix', prefix, 'must be 1 to 200 printable characters')
    }
    const c = etcdClient(opts)
    this.client = c.client
    this.prefix = prefix
    this.#owned = c.owned
    this.#endpoints = c.endpoints
    this.#timeoutMs = c.timeoutMs
  }

  #call<T>(p: Promise<T>, what: string): Promise<T> {
    return withDeadline(p, this.#timeoutMs, this.#endpoints, what)
  }

  /** `etcdctl get PREFIX+KEY`. */
  async get(key: string): Promise<StoreEntry | undefined> {
    checkKey(key)
    const r = await this.#call(this.client.get(this.prefix + key).exec(), `get '${key}'`)
    const kv = r.kvs[0]
    return kv ? { key, value: JSON.parse(kv.value.toString()) as unknown, revision: String(kv.mod_revision) } : undefined
  }

  /** `etcdctl get --prefix PREFIX+P`, sorted by key. */
  async list(prefix = ''): Promise<StoreEntry[]> {
    const r = await this.#call(this.client.getAll().prefix(this.prefix + prefix).exec(), `list '${prefix}'`)
    return r.kvs
      .map((kv) => ({ key: kv.key.toString().slice(this.prefix.length), value: JSON.parse(kv.value.toString()) as unknown, revision: String(kv.mod_revision) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** One etcd transaction: `if mod_revision(K) = expected (create_revision(K) = 0 for null) then put K V (or del K)`. */
  async compareAndSwap(key: string, expected: string | null, value: unknown): Promise<string | null | false> {
    checkKey(key)
    if (expected !== null && !/^[0-9]+$/.test(String(expected))) throw invalidArg('expected', expected, 'must be a revision from this store or null')
    const k = this.prefix + key
    const c = this.client
    const txn = expected === null ? c.if(k, 'Create', '==', 0) : c.if(k, 'Mod', '==', expected)
    const then = value === undefined ? c.delete().key(k) : c.put(k).value(JSON.stringify(value))
    const r = await this.#call(txn.then(then).commit(), `compare-and-swap '${key}'`)
    if (!r.succeeded) return false
    return value === undefined ? null : String(r.header.revision)
  }

  /** Closes the client if this store opened it. */
  close(): void {
    if (this.#owned) this.client.close()
  }
}

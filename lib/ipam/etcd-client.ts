// The etcd client netns-kit opens (v3 API, through the `etcd3` package, loaded on first use): short
// deadlines, and etcd's failures as ERR_NETNS_KIT_STORE_UNAVAILABLE.
import type { Etcd3 } from 'etcd3'
import { NetnsKitError, invalidArg } from '../errors'

export interface EtcdConnectOptions {
  /** An etcd3 client to use (the caller closes it), or endpoints ('http://10.0.0.1:2379') to open one. */
  etcd: Etcd3 | string | string[]
  /** Every call fails after this long with ERR_NETNS_KIT_STORE_UNAVAILABLE (default 3000 ms). */
  timeoutMs?: number
}

/** What an optional peer dependency is, for the error that names it. */
const ETCD3 = { name: 'etcd3', range: '^1.1.2', users: 'EtcdStore (EtcdNetworkStore), OverlayAgent and overlay networks' }

let loaded: typeof import('etcd3') | undefined

/**
 * The etcd3 module, loaded on first use: it is an optional peer dependency (gRPC and protobufjs
 * with it), so single-host users never install or load it.
 * @throws {NetnsKitError} ERR_NETNS_KIT_MISSING_DEPENDENCY when `etcd3` is not installed (or fails to load).
 */
export function etcd3Module(): typeof import('etcd3') {
  if (loaded) return loaded
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('etcd3') as typeof import('etcd3')
    return loaded
  } catch (e) {
    const notFound = (e as { code?: string })?.code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(`'${ETCD3.name}'`)
    throw new NetnsKitError(
      'ERR_NETNS_KIT_MISSING_DEPENDENCY',
      `${ETCD3.users} need the optional peer dependency '${ETCD3.name}', which ${notFound ? 'is not installed' : `failed to load (${(e as Error)?.message ?? String(e)})`}: ` +
        `npm install ${ETCD3.name}@'${ETCD3.range}'`,
      { cause: e },
    )
  }
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
  const unavailable =
    /Unavailable|DeadlineExceeded|ConnectFailed|BrokenCircuit|ClientClosed|TaskCancelled|Cancelled/.test(name) ||
    /timed out|unavailable|ECONNREFUSED|No connection|deadline|connect/i.test(err?.message ?? '')
  const out = new NetnsKitError(
    unavailable ? 'ERR_NETNS_KIT_STORE_UNAVAILABLE' : 'ERR_NETNS_KIT_STORE',
    `${what}: etcd at ${endpoints} ${unavailable ? 'is unreachable' : 'failed'} (${name || 'Error'}: ${err?.message ?? String(e)})`,
  )
  ;(out as Error & { cause?: unknown }).cause = e
  return out
}

/** @internal Runs one etcd call with an overall deadline (the client's own retries included). */
export async function withDeadline<T>(p: Promise<T>, timeoutMs: number, endpoints: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NetnsKitError('ERR_NETNS_KIT_STORE_UNAVAILABLE', `${what}: etcd at ${endpoints} is unreachable (no answer within ${timeoutMs} ms)`)),
      timeoutMs,
    )
  })
  try {
    return await Promise.race([p, timeout])
  } catch (e) {
    throw storeError(e, endpoints, what)
  } finally {
    clearTimeout(timer)
  }
}

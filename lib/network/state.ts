// What lib/network keeps in the state store (lib/ipam's NetworkStore: networks, endpoints, their
// addresses, ports and rules, with intents), and how it names namespaces there so that another
// process, or gc after a crash, can find them again.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { NetnsKitError, invalidArg } from '../errors'
import { SqliteStore, type NetworkRecord, type NetworkStore, type NsIdentity } from '../ipam'
import { handleOf } from '../kernel/handles'
import { NETNS_RUN_DIR, Namespace } from '../namespace'

export type { NsIdentity } from '../ipam'

let shared: SqliteStore | undefined

/**
 * The store of every Network call without `store`: one SqliteStore per process on
 * /run/netns-kit/state.db (shared by every process of the host through the database).
 */
export function defaultStore(): NetworkStore {
  shared ??= new SqliteStore()
  return shared
}

/** `store` if given (it must be a NetworkStore), else the default one. */
export function storeOf(store: unknown, arg = 'opts.store'): NetworkStore {
  if (store === undefined) return defaultStore()
  const s = store as Partial<NetworkStore>
  if (!s || typeof s !== 'object' || typeof s.beginConnect !== 'function' || typeof s.orphans !== 'function') {
    throw invalidArg(arg, store, 'must be a NetworkStore (SqliteStore, MemoryStore, EtcdStore)', 'ERR_INVALID_ARG_TYPE')
  }
  return s as NetworkStore
}

const identities = new WeakMap<Namespace, NsIdentity>()

/**
 * How records name `ns`: its device and inode, and a path another process can open it by.
 * `/proc/self/ns/net` (Namespace.current()) names a different namespace in every process: the
 * init namespace is recorded as /proc/1/ns/net, a named one as /run/netns/NAME, and only
 * failing both as /proc/PID/ns/net of this process. Refused for a closed or deleted namespace.
 */
export function identity(ns: Namespace): NsIdentity {
  const h = handleOf(ns)
  let id = identities.get(ns)
  if (!id) {
    const dev = String(h.dev)
    const ino = String(h.ino)
    id = { dev, ino, path: lastingPath(ns.path, dev, ino) }
    identities.set(ns, id)
  }
  return { ...id }
}

function sameFile(p: string, dev: string, ino: string): boolean {
  try {
    const st = fs.statSync(p, { bigint: true })
    return String(st.dev) === dev && String(st.ino) === ino
  } catch {
    return false
  }
}

const PROC_NS = /^\/proc\/(self|thread-self|\d+)(\/task\/\d+)?\/ns\/net$/

function lastingPath(p: string, dev: string, ino: string): string {
  const m = PROC_NS.exec(p)
  if (!m) return p
  if (sameFile('/proc/1/ns/net', dev, ino)) return '/proc/1/ns/net'
  let names: string[] = []
  try {
    names = fs.readdirSync(NETNS_RUN_DIR)
  } catch {
    /* none */
  }
  for (const n of names) {
    const q = path.join(NETNS_RUN_DIR, n)
    if (sameFile(q, dev, ino)) return q
  }
  return m[1] === 'self' || m[1] === 'thread-self' ? `/proc/${process.pid}/ns/net` : p
}

/** `a` names the namespace `ns` (device and inode). */
export function sameNs(a: NsIdentity | null | undefined, ns: Namespace): boolean {
  if (!a) return false
  const h = handleOf(ns)
  return a.dev === String(h.dev) && a.ino === String(h.ino)
}

/**
 * The namespace recorded is still there: its path exists and names the same device and inode
 * (a stat, nothing opened). A record without a path cannot be judged: taken as there.
 */
export function nsAlive(n: NsIdentity): boolean {
  return n.path === undefined || sameFile(n.path, n.dev, n.ino)
}

/**
 * Opens a recorded namespace by its path, checking it is still the same one; a namespace
 * that is gone comes back as Namespace.gone() (every call on it refused as gone).
 */
export async function openRecorded(n: NsIdentity): Promise<Namespace> {
  if (n.path !== undefined && sameFile(n.path, n.dev, n.ino)) {
    const ns = await Namespace.open(n.path).catch(() => undefined)
    if (ns) {
      const h = handleOf(ns)
      if (String(h.dev) === n.dev && String(h.ino) === n.ino) return ns
      await ns.close()
    }
  }
  return Namespace.gone(n.path ?? `/proc/0/ns/net`, BigInt(n.dev), BigInt(n.ino))
}

/** A bridge network's settings as its record's `config` holds them. */
export interface BridgeConfig {
  bridge: string
  /** The bridge's name was drawn by netns-kit (br-XXXXXXXXXXXX), not given. */
  generated?: boolean
  mtu?: number
  masquerade: boolean
  icc: boolean
  internal: boolean
  /** Anti-spoofing on the endpoints' ports (records without the setting: on). */
  antiSpoofing: boolean
  dns: boolean
  upstream?: string[]
}

/** The bridge settings of a record (written by Network.create, or imported from 0.1). */
export function bridgeConfig(rec: NetworkRecord): BridgeConfig {
  const c = rec.config
  if (typeof c.bridge !== 'string') throw new NetnsKitError('ERR_NETNS_KIT_STORE_CORRUPT', `the record of the network '${rec.name}' names no bridge`)
  return {
    bridge: c.bridge,
    generated: c.generated === true,
    mtu: typeof c.mtu === 'number' ? c.mtu : undefined,
    masquerade: c.masquerade !== false,
    icc: c.icc !== false,
    internal: c.internal === true,
    antiSpoofing: c.antiSpoofing !== false,
    dns: c.dns === true,
    upstream: Array.isArray(c.upstream) ? c.upstream.filter((x): x is string => typeof x === 'string') : undefined,
  }
}

/**
 * Runs `fn` once per key at a time in this process: calls made while one runs get its
 * outcome (so ten disconnects of one endpoint make one teardown, and all resolve).
 */
export function singleFlight<T>(map: Map<string, Promise<T>>, key: string, fn: () => Promise<T>): Promise<T> {
  const cur = map.get(key)
  if (cur) return cur
  const p = fn().finally(() => map.delete(key))
  map.set(key, p)
  return p
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

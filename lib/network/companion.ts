// The companion process as Network uses it (lib/companion/): with a SqliteStore, a database every
// process of the host opens, one companion per host namespace and store serves the embedded DNS
// of every container and holds the published host ports, and outlives the caller. With another
// store (MemoryStore: this process only; EtcdStore: several hosts) no companion can follow it:
// DNS is served by this process (InProcessDns, lib/network/dns.ts) and ports are not reserved.
// NETNS_KIT_COMPANION=0 in the environment makes the SqliteStore take that path too.
import { AsyncLocalStorage } from 'node:async_hooks'
import { Companion } from '../companion/client'
import { SqliteStore, type NetworkStore } from '../ipam'
import { handleOf } from '../kernel/handles'
import type { Namespace } from '../namespace'

const clients = new Map<string, Promise<Companion>>()

const without = new AsyncLocalStorage<true>()

/**
 * Runs `fn` with no companion for the Network calls it makes (the CNI plugin: its runtime holds
 * the published ports itself, as podman does, and no CNI network has embedded DNS).
 */
export function withoutCompanion<T>(fn: () => Promise<T>): Promise<T> {
  return without.run(true, fn)
}

/** Whether a companion can serve `store` (the database path it follows), or undefined. */
export function companionStore(store: NetworkStore): string | undefined {
  if (process.env.NETNS_KIT_COMPANION === '0' || without.getStore()) return undefined
  return store instanceof SqliteStore ? store.path : undefined
}

/**
 * The companion of `host` and `store`: started when none answers (`start`, the default), else
 * undefined when none runs. Undefined too when no companion can serve the store. One connection
 * per process and companion, reused.
 */
export async function companionFor(host: Namespace, store: NetworkStore, opts: { start?: boolean } = {}): Promise<Companion | undefined> {
  const db = companionStore(store)
  if (!db) return undefined
  const h = handleOf(host)
  const key = `${h.dev}:${h.ino}\0${db}`
  const cur = clients.get(key)
  if (cur) {
    const c = await cur.catch(() => undefined)
    if (c) {
      // The caller's namespace is the one alive now: with an inode number reused, the cached
      // object's may be a deleted namespace's (a companion it starts again must open this one).
      c.useHost(host)
      return c
    }
    clients.delete(key)
  }
  if (opts.start === false) {
    // Nothing to start: a running one is reused, a missing one is not made (and not remembered).
    return Companion.connect({ host, store: db }, { start: false }).then(
      (c) => {
        clients.set(key, Promise.resolve(c))
        return c
      },
      () => undefined,
    )
  }
  const p = Companion.connect({ host, store: db })
  clients.set(key, p)
  p.catch(() => clients.delete(key))
  return p
}

/** Lets the companion (if one runs) apply every change made so far: what was disconnected is released when this resolves. */
export async function syncCompanion(host: Namespace, store: NetworkStore): Promise<void> {
  const c = await companionFor(host, store, { start: false })
  await c?.sync().catch(() => {})
}

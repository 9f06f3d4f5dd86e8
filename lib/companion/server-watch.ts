// The companion's watches (lib/companion/server.ts): letting go of dead container namespaces, its own
// host namespace or store gone, and self-healing (an endpoint whose veth vanished with its namespace).
import * as fs from 'node:fs'
import { nsGone, teardownEndpoint } from './teardown'
import { type Container, type ServerInternals } from './server-state'
import { goneWithin } from './server-host'
import { closeResolver } from './server-resolvers'

/** Watches the directory of a container's namespace file: once the file is gone, we release the namespace. */
export function watchPath(st: ServerInternals, p: string | undefined): void {
  if (!p) return
  if (p.startsWith('/proc/')) {
    st.procPoll ??= setInterval(() => checkContainers(st, (c) => !!c.ns.path?.startsWith('/proc/')), 200)
    st.procPoll.unref()
    return
  }
  const dir = p.slice(0, p.lastIndexOf('/')) || '/'
  if (st.dirWatches.has(dir)) return
  try {
    // An event names the entry that changed: only the containers at that path are looked at (a
    // stat each). Every namespace created or deleted in the directory is an event, so looking at
    // all of them each time made wiring N containers O(N^2) stats (10-17 ms of the companion's
    // event loop per event at 200 containers). No name (the kernel's queue overflowed): all.
    const w = fs.watch(dir, { persistent: false }, (_event, name) => {
      const at = name ? `${dir === '/' ? '' : dir}/${name}` : undefined
      checkContainers(st, at ? (c) => c.ns.path === at : (c) => !!c.ns.path?.startsWith(dir + '/'))
    })
    w.on('error', () => {
      w.close()
      st.dirWatches.delete(dir)
    })
    st.dirWatches.set(dir, w)
  } catch {
    /* no such directory: the periodic check covers it */
  }
}

export function checkContainers(st: ServerInternals, which: (c: Container) => boolean): void {
  for (const c of st.containers.values()) {
    if (c.gone || !which(c) || !nsGone(c.ns)) continue
    c.gone = true
    st.log(`container ${c.ns.path}: its namespace file is gone; closing its resolver`)
    void closeResolver(c)
  }
}

/** Our host namespace or our store gone: nothing left to serve. */
export function checkAlive(st: ServerInternals): void {
  if (st.stopping) return
  if (st.server.host.path !== '/proc/self/ns/net' && nsGone({ ...st.server.hostId, path: st.server.host.path })) {
    void st.server.stop(`the host namespace ${st.server.host.path} is gone`)
    return
  }
  if (!fs.existsSync(st.server.store.path)) {
    void st.server.stop(`the store ${st.server.store.path} is gone`)
    return
  }
}

export function watchLinks(st: ServerInternals): void {
  // Deletions only: the kernel drops every other link notification of the host (a connect makes
  // half a dozen) before it reaches us (a resync's dump still comes whole).
  const w = st.server.host.watch({ signal: st.abort.signal, groups: ['link'], events: ['del'], persistent: false })
  void (async () => {
    let resync: Set<string> | undefined
    try {
      for await (const ev of w) {
        if (ev.type === 'overrun') resync = new Set()
        else if (ev.type === 'synced') {
          const present = resync ?? new Set<string>()
          resync = undefined
          for (const e of st.endpoints.values()) if (e.hostIf && !present.has(e.hostIf)) linkGone(st, e.hostIf)
        } else if (ev.group === 'link' && ev.type === 'new' && ev.resync) resync?.add(ev.link.name)
        else if (ev.group === 'link' && ev.type === 'del') linkGone(st, ev.link.name)
      }
    } catch (e) {
      if (!st.stopping) {
        st.log(`link watch failed: ${(e as Error).message}`)
        void st.server.stop('the link watch failed')
      }
    }
  })()
}

/** A link of the host went away: if it was a connected endpoint's veth, finish that endpoint. */
export function linkGone(st: ServerInternals, hostIf: string): void {
  if (st.healing.has(hostIf) || st.stopping) return
  st.healing.add(hostIf)
  void (async () => {
    try {
      const e = await st.server.store.endpointByHostIf(st.server.hostId, hostIf)
      if (!e || e.state !== 'connected') return
      const n = await st.server.store.network(e.networkId)
      if (!n || n.driver !== 'bridge') return
      // Only a container that died: a host end deleted by hand while its namespace lives is a
      // broken endpoint for check() (CNI CHECK) and gc to report, not one to disconnect. The
      // namespace's file goes before the kernel tears the namespace (and the veth) down; a short
      // grace covers a path still there at the notification.
      if (!(await goneWithin(e.ns, 300))) {
        st.log(`endpoint ${e.id} (${n.name}/${e.name}): its veth ${hostIf} was deleted but its namespace lives; left as it is`)
        return
      }
      const done = await teardownEndpoint(st.server.store, st.server.host, e.id)
      if (done) {
        st.healed++
        st.log(`endpoint ${e.id} (${n.name}/${e.name}): its veth ${hostIf} vanished with its namespace; disconnected`)
      }
    } catch (err) {
      st.log(`endpoint of ${hostIf}: self-healing failed: ${(err as Error).message}`)
    } finally {
      st.healing.delete(hostIf)
    }
  })()
}

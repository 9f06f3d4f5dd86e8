// The companion's resolvers (lib/companion/server.ts): one per container with an endpoint on a
// network with DNS, its names from the NameIndex, its upstreams as the container's endpoints say.
import { Resolver } from '../dns'
import type { EndpointRecord } from '../ipam/network-store'
import { handleOf } from '../kernel/handles'
import { Namespace } from '../namespace'
import { nsGone } from './teardown'
import { type Container, type NetInfo, type ServerInternals } from './server-state'

/** The networks a container's names come from, in the order of its endpoints. */
export function networksOf(st: ServerInternals, c: Container): string[] {
  const out: string[] = []
  for (const id of c.endpoints) {
    const e = st.endpoints.get(id)
    if (e && !out.includes(e.networkId)) out.push(e.networkId)
  }
  return out
}

/** CompanionServer.upstreamsOf (see its docstring). */
export function upstreamsOfContainer(st: ServerInternals, c: Container): string[] {
  const eps = [...c.endpoints].map((id) => st.endpoints.get(id)).filter((e): e is EndpointRecord => !!e)
  const nets = eps.map((e) => st.networks.get(e.networkId)).filter((n): n is NetInfo => !!n)
  if (nets.length && nets.every((n) => n.internal)) return []
  for (const e of eps) if (e.dns?.servers?.length && !st.networks.get(e.networkId)?.internal) return [...e.dns.servers]
  for (const n of nets) if (!n.internal && n.upstream) return [...n.upstream]
  return [...(st.resolv?.servers ?? [])]
}

export function setUpstreams(st: ServerInternals, c: Container): void {
  if (!c.resolver) return
  const servers = upstreamsOfContainer(st, c)
  if (
    servers.join(' ') ===
    c.resolver.upstreams.map((u) => (u.port === 53 ? u.address : `${u.address.includes(':') ? `[${u.address}]` : u.address}:${u.port}`)).join(' ')
  )
    return
  try {
    c.resolver.setUpstreams(servers)
  } catch (e) {
    st.log(`container ${c.ns.path ?? c.key}: bad upstreams ${servers.join(' ')}: ${(e as Error).message}`)
  }
}

export function refreshUpstreams(st: ServerInternals): void {
  st.log(`host resolv.conf: upstreams now [${st.resolv?.servers.join(' ')}]`)
  for (const c of st.containers.values()) setUpstreams(st, c)
}

export async function ensureResolver(st: ServerInternals, c: Container): Promise<void> {
  if (c.resolver) {
    setUpstreams(st, c)
    return
  }
  if (c.gone) return
  c.starting ??= startResolver(st, c).finally(() => {
    c.starting = undefined
  })
  await c.starting
}

export async function startResolver(st: ServerInternals, c: Container): Promise<void> {
  if (!c.ns.path || nsGone(c.ns)) {
    c.gone = true
    return
  }
  let ns: Namespace | undefined
  try {
    ns = await Namespace.open(c.ns.path)
    const h = handleOf(ns)
    if (String(h.dev) !== c.ns.dev || String(h.ino) !== c.ns.ino) {
      c.gone = true
      return
    }
    const r = await Resolver.start({
      namespace: ns,
      records: st.index.view(() => networksOf(st, c)),
      upstream: { servers: upstreamsOfContainer(st, c), namespace: st.server.host },
    })
    c.error = undefined
    if (st.containers.get(c.key) !== c || st.stopping) {
      await r.close()
      return
    }
    c.resolver = r
  } catch (e) {
    c.error = e as Error
    st.log(`container ${c.ns.path}: cannot start its resolver: ${(e as Error).message}`)
  } finally {
    // The sockets keep the namespace; our handle must not (a deleted namespace must be able to die).
    await ns?.close()
  }
}

export async function closeResolver(c: Container): Promise<void> {
  await c.starting?.catch(() => {})
  const r = c.resolver
  c.resolver = undefined
  await r?.close()
}

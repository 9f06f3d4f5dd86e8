// The embedded name resolution of bridge networks (Docker's 127.0.0.11): one record set per
// network, one resolver per endpoint, run by this process with sockets opened in the containers.
import * as fs from 'node:fs'
import { planResolvConf } from '../container-files'
import { DnsRecords, Resolver } from '../dns'
import { Namespace } from '../namespace'
import { nsAlive, type EndpointRecord, type NetworkRecords } from './records'

/** What the resolvers of a network need to know about it. */
export interface DnsNetwork {
  readonly id: string
  readonly name: string
  /** The host namespace: upstream queries go out from there. */
  readonly namespace: Namespace
  readonly upstream: readonly string[] | undefined
  readonly internal: boolean
}

/** The embedded resolvers this process runs: one record set per network, one resolver per endpoint. */
const state = new Map<string, { records: DnsRecords; resolvers: Map<string, Resolver> }>()

function stateOf(networkId: string): { records: DnsRecords; resolvers: Map<string, Resolver> } {
  let s = state.get(networkId)
  if (!s) state.set(networkId, (s = { records: new DnsRecords(), resolvers: new Map() }))
  return s
}

function names(r: EndpointRecord): string[] {
  return [...new Set([r.name, ...r.aliases, ...(r.hostname ? [r.hostname] : [])].map((n) => n.toLowerCase()))]
}

/** The host's /etc/resolv.conf (the default upstreams of the embedded resolver). */
export function hostResolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8')
  } catch {
    return ''
  }
}

/** Starts the resolver of endpoint `rec` inside `ns`, knowing the names of every endpoint of the network. */
export async function startResolver(net: DnsNetwork, records: NetworkRecords, ns: Namespace, rec: EndpointRecord): Promise<void> {
  const s = stateOf(net.id)
  // The names of every endpoint of the network, also those other processes connected.
  for (const r of await records.listEndpoints(net.name)) {
    if (r.networkId === net.id) s.records.set(r.id, { names: names(r), addresses: [r.ip, ...(r.ip6 ? [r.ip6] : [])] })
  }
  s.records.set(rec.id, { names: names(rec), addresses: [rec.ip, ...(rec.ip6 ? [rec.ip6] : [])] })
  // Given upstreams (even none) are used as given; only without them the host's resolv.conf is read.
  const servers = net.upstream ? [...net.upstream] : planResolvConf({ host: hostResolvConf(), resolver: true, fallback: [] }).upstreams
  const resolver = await Resolver.start({
    namespace: ns, records: s.records,
    upstream: net.internal || !servers.length ? undefined : { servers, namespace: net.namespace },
  })
  resolver.unref()
  s.resolvers.set(rec.id, resolver)
}

/** Stops an endpoint's resolver (if this process runs it) and forgets its names. */
export async function stopResolver(networkId: string, endpointId: string): Promise<void> {
  const s = state.get(networkId)
  if (!s) return
  s.records.delete(endpointId)
  const r = s.resolvers.get(endpointId)
  s.resolvers.delete(endpointId)
  await r?.close()
}

/**
 * Starts the resolvers of the network's connected endpoints that this process does not run yet
 * (connected by another process, or before a restart) whose namespaces are still there; returns how many.
 */
export async function restoreResolvers(net: DnsNetwork, records: NetworkRecords): Promise<number> {
  let n = 0
  for (const r of await records.listEndpoints(net.name)) {
    if (r.networkId !== net.id || r.state !== 'connected' || state.get(net.id)?.resolvers.has(r.id) || !nsAlive(r.ns)) continue
    await startResolver(net, records, await Namespace.open(r.ns.path), r)
    n++
  }
  return n
}

/** Forgets a removed network's names. */
export function forgetNetwork(networkId: string): void {
  state.delete(networkId)
}

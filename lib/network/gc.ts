// Repair after a crash (`docker network prune`-like), for the bridge networks of a host namespace.
import { Ipam, pidAlive, type IpamStore } from '../ipam'
import { NatRule } from '../nat'
import { listLinks, runOne } from '../kernel/rtnl'
import type { Namespace } from '../namespace'
import { stopResolver } from './dns'
import { ALIAS, deleteRules, deleteVeth, linkAlias, linkIfThere } from './owned'
import { driverOf, nsAlive, recordsIn, sameNs, type BridgeNetworkRecord } from './records'

/** What Network.gc() removed. */
export interface GcReport {
  /** Endpoints whose namespace was gone (or whose connect died half-way): `network/name`. */
  endpoints: string[]
  /** Links carrying netns-kit's alias that no live endpoint uses. */
  links: string[]
  /** Published mappings to addresses no longer allocated (`tcp 8080 -> 172.18.0.2:80`). */
  rules: string[]
  /** IPAM allocations whose owner (endpoint) was gone: `network/address`. */
  addresses: string[]
}

/**
 * Removes, in the host namespace `ns`: endpoints whose namespace is gone (its path missing or
 * naming another inode) or whose connect died half-way (its process is gone), links carrying
 * netns-kit's alias that no live endpoint uses, published mappings to addresses no longer
 * allocated, and allocations whose endpoint is gone. Networks of other drivers keep no endpoint
 * records and are left alone.
 */
export async function gc(ns: Namespace, store: IpamStore): Promise<GcReport> {
  const records = recordsIn(store)
  const ipam = new Ipam({ store })
  const report: GcReport = { endpoints: [], links: [], rules: [], addresses: [] }
  const nets = (await records.listNetworks()).filter((n): n is BridgeNetworkRecord => driverOf(n) === 'bridge' && sameNs(n.host, ns))
  const live = new Set<string>()
  for (const n of nets) {
    for (const e of await records.listEndpoints(n.name)) {
      const stale = e.networkId !== n.id || !nsAlive(e.ns) || (e.state === 'connecting' && e.pid !== process.pid && !pidAlive(e.pid))
      if (!stale) { live.add(e.id); continue }
      await deleteRules(ns, e.rules)
      const br = e.state === 'connecting' ? (await linkIfThere(ns, n.bridge))?.index : undefined
      if (await deleteVeth(ns, e.hostIf, linkAlias(n.name, e.id), br)) report.links.push(e.hostIf)
      await stopResolver(n.id, e.id)
      await records.deleteEndpoint(n.name, e.id)
      report.endpoints.push(`${n.name}/${e.name}`)
    }
  }
  // Links of ours without a live endpoint (a crash between the veth and the record's removal).
  const names = new Set(nets.map((n) => n.name))
  for (const l of await listLinks(ns)) {
    if (!l.alias.startsWith(ALIAS)) continue
    const parts = l.alias.slice(ALIAS.length).split(':')
    if (parts.length !== 2 || !names.has(parts[0]!) || live.has(parts[1]!)) continue
    await runOne({ ns, op: 'link.delete', index: l.index, ignoreMissing: true, object: l.name })
    report.links.push(l.name)
  }
  // Addresses whose owner is gone, then mappings to addresses nobody holds.
  const allocated = new Set<string>()
  for (const n of nets) {
    for (const a of await ipam.allocations(n.name).catch(() => [])) {
      if (live.has(a.owner)) { allocated.add(a.address); continue }
      await ipam.release(n.name, a.address)
      report.addresses.push(`${n.name}/${a.address}`)
    }
  }
  const bridges = new Set(nets.map((n) => n.bridge))
  for (const r of await NatRule.list({ namespace: ns })) {
    if (r.kind !== 'publish' || !bridges.has(r.interface!) || allocated.has(r.containerIp!)) continue
    await r.delete()
    report.rules.push(String(r))
  }
  return report
}

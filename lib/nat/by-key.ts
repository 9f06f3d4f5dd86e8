// Published mappings found by their keys, never by listing: what the teardown of an endpoint (whose
// record holds its ports) needs to find its mappings. It costs the same with 2 mappings or 10,000,
// as the table's removal after the last one does (dropTableIfEmpty in ruleset.ts).
import type { NftElementInfo } from '../kernel/binding'
import { ipToBytes, isLoopbackIp } from '../ipam/ip'
import type { Namespace } from '../namespace'
import { decodePublication } from './decode'
import { localnetRecords } from './localnet'
import { L4PROTO, padded, portBytes } from './expr'
import { MAPS, findElements, ownerOf, type MapDef } from './ruleset'
import type { NatProtocol, OwnedRule } from './types'

/** A host port as a record keeps it (an endpoint's PortRecord). */
export interface PortKey {
  protocol: NatProtocol
  family: 4 | 6
  /** '0.0.0.0' / '::' / undefined: every local address; 127.x: the loopback map only; else that address. */
  hostIp?: string
  hostPort: number
  hostPortEnd?: number
}

function keyOf(m: MapDef, protocol: NatProtocol, port: number, hostIp: string | undefined): Buffer {
  const parts: Buffer[] = []
  if (m.byAddress) parts.push(ipToBytes(hostIp!))
  parts.push(padded(Buffer.from([L4PROTO[protocol]])), padded(portBytes(port)))
  return Buffer.concat(parts)
}

/** The maps a mapping of this host port can have elements in (the loopback map too: localhost). */
function mapsOf(p: PortKey): MapDef[] {
  const wildcard = p.hostIp === undefined || p.hostIp === '0.0.0.0' || p.hostIp === '::'
  const loopback = !wildcard && p.family === 4 && isLoopbackIp(p.hostIp!)
  return MAPS.filter((m) => m.family === p.family && (m.loopback ? p.family === 4 : !loopback && m.byAddress === !wildcard))
}

/**
 * The published mappings holding these host ports, decoded from the elements found by key (one
 * lookup per map, side by side), grouped by owner id. Only elements netns-kit owns count.
 * `localnet: false`: netns-kit's route_localnet records are not read (each mapping's
 * `ownsRouteLocalnet` is then false): a caller that only deletes them saves the trip.
 */
export async function publishedAt(ns: Namespace, ports: PortKey[], opts: { localnet?: boolean } = {}): Promise<OwnedRule[]> {
  const byMap = new Map<MapDef, Map<string, Buffer>>()
  for (const p of ports) {
    if (!Object.hasOwn(L4PROTO, p.protocol)) continue
    for (const m of mapsOf(p)) {
      const keys = byMap.get(m) ?? new Map<string, Buffer>()
      for (let port = p.hostPort; port <= (p.hostPortEnd ?? p.hostPort); port++) {
        const k = keyOf(m, p.protocol, port, p.hostIp)
        keys.set(k.toString('hex'), k)
      }
      byMap.set(m, keys)
    }
  }
  const maps = [...byMap.keys()]
  const found = await Promise.all(maps.map((m) => findElements(ns, m.name, [...byMap.get(m)!.values()])))
  const entries: { m: MapDef; e: NftElementInfo }[] = []
  found.forEach((list, i) => {
    for (const e of list) if (e) entries.push({ m: maps[i]!, e })
  })
  // Whether netns-kit turned route_localnet on matters for localhost mappings only: the small
  // record set is read then.
  const lo = opts.localnet !== false && entries.some(({ e }) => ownerOf(e.userdata)?.rest.includes('lo'))
  return decodePublication(ns, entries, lo ? new Set(await localnetRecords(ns)) : new Set())
}

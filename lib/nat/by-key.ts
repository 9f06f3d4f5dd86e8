// Published mappings found by their keys, never by listing: what the teardown of an endpoint (whose
// record holds its ports) needs to find its mappings, and the table's removal after the last
// mapping, decided by the kernel in one atomic batch. Both cost the same with 2 mappings or 10,000.
import * as os from 'node:os'
import type { NftElementInfo, NftMsg } from '../kernel/binding'
import { nftApply, nftList } from '../kernel/nft'
import { ipToBytes, isLoopbackIp } from '../ipam/ip'
import type { Namespace } from '../namespace'
import { decodePublication } from './decode'
import { localnetRecords } from './localnet'
import { L4PROTO, commentOf, padded, portBytes } from './expr'
import { HAIRPIN_SETS, MAPS, TABLE, TAG, findElements, ownerOf, type MapDef } from './ruleset'

/** The comment of the skeleton's own rules (skeleton() in ruleset.ts). */
const BASE = `${TAG} base`
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
 */
export async function publishedAt(ns: Namespace, ports: PortKey[]): Promise<OwnedRule[]> {
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
  const lo = entries.some(({ e }) => ownerOf(e.userdata)?.rest.includes('lo'))
  return decodePublication(ns, entries, lo ? new Set(await localnetRecords(ns)) : new Set())
}

/** The hairpin sets: their entries only ever match traffic DNAT'd by a mapping, so they never keep the table. */
const HAIRPIN = new Set(Object.values(HAIRPIN_SETS) as string[])
const NFT_SET_CONSTANT = 0x2

/**
 * Removes netns-kit's inet table if nothing of anyone's is left in it but its skeleton, in ONE
 * atomic batch whose refusal leaves everything as it was: every rule listed (the skeleton's, by
 * handle), then every set and map that holds state with NLM_F_NONREC (EBUSY while it holds an
 * element: the kernel counts them, nothing is listed), each chain with NLM_F_NONREC (EBUSY if a
 * rule was added since the listing), then the table. Nothing is tried while a rule other than the
 * skeleton's is there. The hairpin sets go with the table; while it stays, their entries for
 * interfaces without mappings stay too (harmless: they only match traffic DNAT'd to that
 * interface; NatRule.tidy() and gc drop them). Three listings of the table's few rules, chains and
 * sets, and the batch (refused: an abort, ~1 ms): whatever the number of mappings. Resolves
 * whether the table went.
 */
export async function dropTableIfEmpty(ns: Namespace): Promise<boolean> {
  const [rules, chains, sets] = await Promise.all([
    nftList(ns, { what: 'rules', family: 'inet', table: TABLE, brief: true }),
    nftList(ns, { what: 'chains', family: 'inet' }),
    nftList(ns, { what: 'sets', family: 'inet' }),
  ]).catch(() => [[], [], []] as const)
  const mine = chains.filter((c) => c.table === TABLE)
  if (!mine.length) return false
  if (rules.some((r) => !isBase(commentOf(r.userdata)))) return false
  const holding = sets.filter((x) => x.table === TABLE && !HAIRPIN.has(x.name) && !((x.flags ?? 0) & NFT_SET_CONSTANT))
  // Chains reached by a jump go after the chains jumping to them (base chains first).
  const order = [...mine].sort((a, b) => Number(a.hook === undefined) - Number(b.hook === undefined))
  const msgs: NftMsg[] = [
    ...rules.map((r) => ({ op: 'delrule' as const, family: 'inet' as const, table: TABLE, chain: r.chain, handle: r.handle })),
    ...holding.map((x) => ({ op: 'delset' as const, family: 'inet' as const, table: TABLE, name: x.name, nonrec: true })),
    ...order.map((c) => ({ op: 'delchain' as const, family: 'inet' as const, table: TABLE, name: c.name, nonrec: true })),
    { op: 'deltable', family: 'inet', name: TABLE },
  ]
  try {
    await nftApply(ns, msgs, 'delete the netns-kit table if empty')
    return true
  } catch {
    return false // EBUSY: a set holds an element, or something was added since; ENOENT: another process tidied
  }
}

/**
 * The kernel honours NLM_F_NONREC on set and chain deletes (verified on 6.18; the flag's handling
 * there dates from the 5.x series). Before 6.1 dropTableIfEmpty is not used: a kernel that ignored
 * the flag would drop a table whose maps still hold mappings; tidy() reads the maps instead.
 */
export function nonrecTrusted(release = os.release()): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number)
  return major > 6 || (major === 6 && minor >= 1)
}

/** A skeleton rule's comment: "netns-kit base" (or "netns-kit base NAME"). */
function isBase(c: string | undefined): boolean {
  return c === BASE || (c !== undefined && c.startsWith(`${BASE} `))
}

// Anti-spoofing for the ports of endpoints, in netns-kit's bridge-family table (lib/nat/ruleset.ts,
// chain spoof): frames entering a bridge from a container's port must carry that endpoint's MAC,
// IPv4 and IPv6 packets one of its addresses (IPv6 also its EUI-64 link-local address, and :: only
// for duplicate address detection and MLD), ARP its MAC and addresses as sender, a neighbour
// advertisement one of its addresses as target. An endpoint is a few set elements keyed by the
// name of its port (`nft add element bridge netns-kit macs { "vethX" . 02:42:ac:11:00:02 }` ...),
// so the 1,000th endpoint costs what the first did; elements go in before the port exists (the
// name is known) and out after it is gone, so no moment passes where the port is unfiltered.
import * as net from 'node:net'
import type { NetlinkError } from '../errors'
import { ipToBytes } from '../ipam/ip'
import { nftApply } from '../kernel/nft'
import type { Namespace } from '../namespace'
import { comment, ifnameBytes, ifnameString } from './expr'
import { addMessages, destroyMessages, type SetElement } from './isolate'
import { SPOOF, TAG, change, listElementsIfAny, ownerOf } from './ruleset'

/** What anti-spoofing knows of an endpoint: the host end of its veth, its MAC and addresses. */
export interface GuardedPort {
  hostIf: string
  mac: string
  /** Its IPv4 and IPv6 addresses (without prefix length). */
  addresses: string[]
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))
}

/** The EUI-64 link-local address the kernel gives an interface with this MAC (fe80::...). */
export function linkLocalOf(mac: string): string {
  const m = macBytes(mac)
  const w = (a: number, b: number) => ((a << 8) | b).toString(16)
  return `fe80::${w(m[0]! ^ 0x02, m[1]!)}:${w(m[2]!, 0xff)}:${w(0xfe, m[3]!)}:${w(m[4]!, m[5]!)}`
}

/** The anti-spoofing elements of a port, each with the comment "netns-kit spoof HOSTIF". */
export function spoofElements(p: GuardedPort): SetElement[] {
  const ifb = ifnameBytes(p.hostIf)
  const userdata = comment(`${TAG} spoof ${p.hostIf}`)
  const el = (set: string, ...rest: Buffer[]): SetElement => ({ family: 'bridge', set, element: { key: Buffer.concat([ifb, ...rest]), userdata } })
  const out: SetElement[] = [el(SPOOF.ports), el(SPOOF.macs, macBytes(p.mac), Buffer.alloc(2))]
  const v6 = p.addresses.filter((a) => net.isIPv6(a))
  for (const a of p.addresses.filter((x) => net.isIPv4(x))) out.push(el(SPOOF.addr4, ipToBytes(a)))
  // The link-local address only where the endpoint has IPv6 (an IPv4-only endpoint has none).
  for (const a of v6.length ? [...v6, linkLocalOf(p.mac)] : []) out.push(el(SPOOF.addr6, ipToBytes(a)))
  return out
}

/** Filters frames from `p`'s port (one batch; the bridge table's skeleton with it when missing). */
export async function guardPort(ns: Namespace, p: GuardedPort): Promise<void> {
  await change(ns, addMessages(spoofElements(p)), `anti-spoofing for ${p.hostIf}`, undefined, ['bridge'])
}

/** Removes `p`'s elements (those still there; none is an error). */
export async function unguardPort(ns: Namespace, p: GuardedPort): Promise<void> {
  const msgs = destroyMessages(spoofElements(p).map((e) => ({ family: e.family, set: e.set, key: e.element.key! })))
  await nftApply(ns, msgs, `anti-spoofing for ${p.hostIf}`).catch((e: unknown) => {
    if ((e as NetlinkError).code !== 'ENOENT') throw e
  })
}

/**
 * gc: removes the anti-spoofing elements of ports not in the set `keep()` resolves to (endpoints
 * that are gone: a crash between a port's teardown and its elements' removal). `keep` is called
 * AFTER the sets are read: a connect records its endpoint before it adds its port's elements, so
 * every element read belongs to a record `keep` then sees (reading the records first would
 * prune the elements of a connect that began in between). Reads the sets whole: a repair, not a
 * hot path. Returns the ports whose elements went.
 */
export async function pruneGuards(ns: Namespace, keep: () => Promise<ReadonlySet<string>>): Promise<string[]> {
  const sets = Object.values(SPOOF)
  const lists = await Promise.all(sets.map((s) => listElementsIfAny(ns, s, 'bridge')))
  if (lists.every((l) => l.length === 0)) return []
  const kept = await keep()
  const gone = new Set<string>()
  const doomed: { family: 'bridge'; set: string; key: Buffer }[] = []
  lists.forEach((list, i) => {
    for (const e of list) {
      const c = ownerOf(e.userdata)
      const port = ifnameString(e.key!.subarray(0, 16))
      if (c?.kind !== 'spoof' || kept.has(port)) continue
      gone.add(port)
      doomed.push({ family: 'bridge', set: sets[i]!, key: e.key! })
    }
  })
  if (doomed.length) await nftApply(ns, destroyMessages(doomed), 'prune anti-spoofing elements')
  return [...gone]
}

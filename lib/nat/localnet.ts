// route_localnet, crash-safe (CVE-2020-8558 class). Publishing on 127.0.0.1 (localhost: true)
// needs net.ipv4.conf.IF.route_localnet=1 on the one interface that leads to the container, and
// that sysctl opens 127.0.0.0/8 to whatever arrives on IF unless the guard (inet netns-kit guard:
// `iifname != "lo" ip daddr 127.0.0.0/8 drop`) is in place. So the order of writes is:
//
//   on:  commit the record "netns-kit turned route_localnet on for IF" (an element of the set
//        `localnet`, in the same batch as the skeleton and its guard when the table is new),
//        THEN write route_localnet=1;
//   off: write route_localnet=0, THEN remove the record (the table, and the guard, go only once
//        no record is left).
//
// A process killed at any moment leaves either nothing, a record with the sysctl still 0, or the
// record, the guard and the sysctl on: never route_localnet=1 without the guard. gc (NatRule.gc,
// Network.gc) turns route_localnet off wherever a record remains that no localhost mapping needs.
import type { NetlinkError } from '../errors'
import { nftApply } from '../kernel/nft'
import type { Namespace } from '../namespace'
import { comment, ifnameBytes, ifnameString } from './expr'
import { setRouteLocalnet, routeLocalnetOn } from './host'
import { addMessages, destroyMessages, type SetElement } from './isolate'
import { LOCALNET_SET, MAPS, TAG, change, findElements, listElementsIfAny, ownerOf } from './ruleset'

const LO_MAP = MAPS.find((m) => m.loopback)!.name

/** The record of `dev` (an element of the set `localnet`). */
export function localnetElement(dev: string): SetElement {
  return { family: 'inet' as const, set: LOCALNET_SET, element: { key: ifnameBytes(dev), userdata: comment(`${TAG} localnet ${dev}`) } }
}

/**
 * Turns route_localnet on for `dev`, its record committed first (with the table's skeleton and
 * guard when the table is missing: `exists` false). True if this call turned it on; false if it
 * was on already (then it is netns-kit's only if a record says so: localnetRecorded()).
 */
export async function turnOnLocalnet(ns: Namespace, dev: string, exists?: boolean): Promise<boolean> {
  if (await routeLocalnetOn(ns, dev)) return false
  await change(ns, addMessages([localnetElement(dev)]), `route_localnet record for ${dev}`, exists)
  await setRouteLocalnet(ns, dev, true)
  return true
}

/** Which of `devs` carry a record: netns-kit turned their route_localnet on. */
export async function localnetRecorded(ns: Namespace, devs: string[]): Promise<Set<string>> {
  if (!devs.length) return new Set()
  const found = await findElements(
    ns,
    LOCALNET_SET,
    devs.map((d) => ifnameBytes(d)),
  ).catch((e: unknown) => {
    if ((e as NetlinkError).code === 'ENOENT') return devs.map(() => null)
    throw e
  })
  return new Set(devs.filter((_, i) => found[i] !== null))
}

/** Every interface with a record. */
export async function localnetRecords(ns: Namespace): Promise<string[]> {
  return (await listElementsIfAny(ns, LOCALNET_SET)).map((e) => ifnameString(e.key!))
}

/** The interfaces that localhost mappings (the elements of pub4lo) lead to. */
export async function localhostUsers(ns: Namespace): Promise<Set<string>> {
  const out = new Set<string>()
  for (const e of await listElementsIfAny(ns, LO_MAP)) {
    const c = ownerOf(e.userdata)
    if (c?.kind === 'publish' && c.rest[0]) out.add(c.rest[0])
  }
  return out
}

/**
 * Turns route_localnet off for `dev` if netns-kit turned it on (a record), then removes the
 * record. An interface that is gone has no sysctl left to turn off.
 */
export async function releaseLocalnet(ns: Namespace, dev: string): Promise<boolean> {
  if (!(await localnetRecorded(ns, [dev])).has(dev)) return false
  await setRouteLocalnet(ns, dev, false).catch((e: unknown) => {
    const code = (e as { code?: string }).code
    if (code !== 'ERR_NETNS_KIT_NO_SYSCTL' && code !== 'ENOENT') throw e
  })
  await nftApply(ns, destroyMessages([{ family: 'inet', set: LOCALNET_SET, key: ifnameBytes(dev) }]), `route_localnet record for ${dev}`)
  return true
}

/**
 * gc: turns route_localnet off (and drops the record) on every interface where netns-kit turned
 * it on and no localhost mapping needs it any more. Returns those interfaces.
 */
export async function repairLocalnet(ns: Namespace): Promise<string[]> {
  const [records, users] = await Promise.all([localnetRecords(ns), localhostUsers(ns)])
  const off: string[] = []
  for (const dev of records) if (!users.has(dev) && (await releaseLocalnet(ns, dev))) off.push(dev)
  return off
}

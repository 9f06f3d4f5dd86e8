// Published ports (docker run -p / -P): ONE planner and ONE executor for one mapping or many.
// NatRule.publish(o) is NatRule.publishMany([o]): every mapping of a call goes in ONE atomic
// nf_tables batch (all published or none), whatever its kind (fixed port, -P, ranges, localhost).
//
// The planner makes the lookups, side by side (each is a trip to a namespace thread): per family
// the routes (which interface leads to the container; IPv4's local addresses), forwarding, our
// table and the local addresses a collision check needs; the collision checks of the ports asked
// for; then the interfaces and the candidate ports of the mappings whose port is chosen. Nothing
// is changed before every interface is known. The executor picks a host port for each mapping
// (distinct within the batch), checks collisions with the other maps (a wildcard and an address
// on one port: ours to check), and sends the batch; a port found taken, by that check or by the
// kernel's NLM_F_EXCL (another process just now), moves that mapping to its next candidate.
import { randomBytes } from 'node:crypto'
import { NetnsKitError, type NetlinkError } from '../errors'
import type { NativeRoute, NftMsg } from '../kernel/binding'
import { listRoutes } from '../kernel/rtnl'
import { nftApply } from '../kernel/nft'
import type { Namespace } from '../namespace'
import { clearUdpConntrack, egressInterface, forwardingKey, forwardingOn, localAddresses, routeLocalnetOn, type Egress } from './host'
import { localhostUsers, localnetRecorded, releaseLocalnet, turnOnLocalnet } from './localnet'
import { readHostPorts, type HostClaim } from './host-ports'
import {
  checkCollisions,
  firstTaken,
  fmtRange,
  freePorts,
  groupByMap,
  hairpinMessage,
  isChosen,
  mappingElements,
  portAllocated,
  targetMaps,
  type PublishSpec,
  type Probe,
} from './ports'
import { interfacesInUse } from './decode'
import { destroyMessages } from './isolate'
import { ifnameBytes } from './expr'
import { ISO, TABLE, TAG, change, dropTablesIfEmpty, findElements, nonrecTrusted, ownerOf, tableExists, tableHeld, tidy } from './ruleset'
import type { ElemRef, NatFields, OwnedRule } from './types'

/** How many candidates a chosen port gets (per mapping of the batch choosing one of the same protocol). */
const CANDIDATES = 8
/** How often a batch is sent again when the kernel refused a key that is gone when looked for. */
const RACE_RETRIES = 8

/** A promise that never rejects (its outcome is read later with unwrap): lookups started early. */
type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }
function settled<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
}
function unwrap<T>(s: Settled<T>): T {
  if (!s.ok) throw s.error
  return s.value
}

/** One mapping, planned. */
interface Planned {
  spec: PublishSpec
  id: string
  egress: Egress
  /** Host ranges to try in turn: the one asked for, or the candidates of a chosen port. */
  candidates: [number, number][]
  /** A candidate found taken moves on to the next (a chosen port); else the mapping fails. */
  chosen: boolean
  /** The collision check of the port asked for, started during the lookups. */
  earlyCheck?: Promise<Settled<void>>
  probe: Probe
  ownsRouteLocalnet: boolean
}

interface Plan {
  mappings: Planned[]
  exists: boolean
  /** Interfaces whose route_localnet this call turned on (off again if the call fails). */
  routeLocalnetSetHere: string[]
}

/**
 * What the caller knows already (Network.connect: the network's bridge leads to the container,
 * and connect turned forwarding on): lookups left out, each a trip through the host
 * namespace's one queue that 8 concurrent connects wait in.
 */
export interface PublishHints {
  /** Per family, the interface that leads to the containers and the subnet behind it. */
  egress?: Partial<Record<4 | 6, Egress>>
  /** Forwarding of the mappings' families is on. */
  forwarding?: boolean
}

/** Per family, the lookups every mapping of that family shares. */
interface FamilyLookups {
  routes: Promise<NativeRoute[]>
  forwarding: Promise<Settled<boolean>>
  probe: Promise<Settled<Probe>>
}

/** What a mapping takes on the host, for the host's own sockets (host-ports.ts). */
function hostClaim(s: PublishSpec): HostClaim {
  return {
    protocol: s.protocol,
    addresses: [s.loopbackOnly ? '127.0.0.1' : (s.hostIp ?? (s.family === 4 ? '0.0.0.0' : '::'))],
    ...(s.hostPort ? { ports: s.hostPort } : {}),
  }
}

async function plan(ns: Namespace, specs: PublishSpec[], hints: PublishHints): Promise<Plan> {
  // The ports host processes hold (sock_diag), read beside the other lookups: a port given that
  // one holds is refused before anything changes; a chosen one skips them (and, from
  // ip_local_port_range, ip_local_reserved_ports).
  const claims = specs.map(hostClaim)
  const checked = specs.filter((s) => s.hostSockets)
  const held = settled(checked.length ? readHostPorts(ns, checked.map(hostClaim)) : Promise.resolve(undefined))
  const table = tableExists(ns, 'inet')
  table.catch(() => {})
  // Interfaces given by the caller: their route_localnet and its records read beside the rest.
  const knownLo = [...new Set(specs.flatMap((s) => (s.localhost && hints.egress?.[s.family] ? [hints.egress[s.family]!.dev] : [])))]
  const loState = knownLo.length ? settled(Promise.all([Promise.all(knownLo.map((d) => routeLocalnetOn(ns, d))), localnetRecorded(ns, knownLo)])) : undefined
  const families = new Map<4 | 6, FamilyLookups>()
  for (const f of new Set(specs.map((s) => s.family))) {
    const routes = listRoutes(ns, f) // which link leads to the container; IPv4's local addresses
    routes.catch(() => {})
    const addrs = localAddresses(ns, f, routes)
    addrs.catch(() => {})
    families.set(f, {
      routes,
      forwarding: settled(hints.forwarding ? Promise.resolve(true) : forwardingOn(ns, f)),
      probe: settled(Promise.all([table, addrs]).then(([exists, a]) => ({ exists, addrs: a }))),
    })
  }
  const lookups = (s: PublishSpec) => families.get(s.family)!
  const early = specs.map((s) => (isChosen(s) ? undefined : settled(lookups(s).probe.then((p) => checkCollisions(ns, s, s.hostPort!, unwrap(p))))))
  const egress = new Map<string, Promise<Egress>>()
  for (const s of specs) {
    const k = `${s.family}/${s.containerIp}`
    const known = hints.egress?.[s.family]
    if (!egress.has(k)) egress.set(k, known ? Promise.resolve(known) : egressInterface(ns, s.containerIp, s.family, lookups(s).routes))
  }
  const egressOf = await Promise.all(specs.map((s) => egress.get(`${s.family}/${s.containerIp}`)!))
  const probes = await Promise.all(specs.map(async (s) => unwrap(await lookups(s).probe)))
  const hp = unwrap(await held)
  for (const [i, s] of specs.entries()) if (hp && s.hostSockets && !isChosen(s)) await hp.check(claims[i]!)
  let portRange: Promise<[number, number]> | undefined
  const candidates = await Promise.all(
    specs.map(async (s, i) => {
      if (!isChosen(s)) return [s.hostPort!]
      const sharing = specs.filter((o) => isChosen(o) && o.protocol === s.protocol).length
      portRange ??= localPortRange(ns)
      return freePorts(
        ns,
        s,
        CANDIDATES * sharing,
        s.hostPort ?? (await portRange),
        probes[i]!,
        hp && s.hostSockets ? (port) => hp.skip(claims[i]!, port, !s.hostPort) : undefined,
      )
    }),
  )
  for (const [f, l] of families) if (!unwrap(await l.forwarding)) await ns.sysctl.set(forwardingKey(f), 1)
  // route_localnet on the one interface leading to the container, never on all/default; its
  // record (and the guard with the table) committed before the sysctl is written
  // (lib/nat/localnet.ts). It is netns-kit's, and goes off again with the last localhost mapping
  // through it, if a record says netns-kit turned it on.
  let exists = await table
  const setHere: string[] = []
  const lo = specs.map((s, i) => (s.localhost ? egressOf[i]!.dev : undefined))
  const loDevs = [...new Set(lo.filter((d): d is string => d !== undefined))]
  const read = loState ? unwrap(await loState) : undefined
  for (const dev of loDevs) {
    const k = knownLo.indexOf(dev)
    if (read && k >= 0 && read[0][k]) continue // on already: read beside the lookups
    if (await turnOnLocalnet(ns, dev, exists)) {
      setHere.push(dev)
      exists = true
    }
  }
  const readSuffices = read !== undefined && !setHere.length && loDevs.every((d) => knownLo.includes(d))
  const recorded = !loDevs.length || !exists ? new Set<string>() : readSuffices ? read[1] : await localnetRecorded(ns, loDevs)
  return {
    exists,
    routeLocalnetSetHere: setHere,
    mappings: specs.map((spec, i) => ({
      spec,
      id: randomBytes(4).toString('hex'),
      egress: egressOf[i]!,
      candidates: candidates[i]!,
      chosen: isChosen(spec),
      earlyCheck: early[i],
      probe: probes[i]!,
      ownsRouteLocalnet: lo[i] !== undefined && recorded.has(lo[i]!),
    })),
  }
}

/** net.ipv4.ip_local_port_range: where docker -P picks a port. */
async function localPortRange(ns: Namespace): Promise<[number, number]> {
  const range = (await ns.sysctl.get('net.ipv4.ip_local_port_range')).trim().split(/\s+/).map(Number)
  return [range[0] ?? 32768, range[1] ?? 60999]
}

function overlaps(a: [number, number], b: [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1]
}

/**
 * For each mapping, its current candidate; a chosen port moves on past the ports of the same
 * protocol the batch holds already (the ports asked for, and those chosen before it). Undefined
 * when a mapping has no candidate left.
 */
function pick(mappings: Planned[], cursor: number[]): [number, number][] | undefined {
  const held: { protocol: string; range: [number, number] }[] = mappings
    .filter((m) => !m.chosen)
    .map((m) => ({ protocol: m.spec.protocol, range: m.candidates[0]! }))
  const out: [number, number][] = []
  for (const [i, m] of mappings.entries()) {
    const clash = (r: [number, number]) => held.some((h) => h.protocol === m.spec.protocol && overlaps(h.range, r))
    while (m.chosen && cursor[i]! < m.candidates.length && clash(m.candidates[cursor[i]!]!)) cursor[i]!++
    const r = m.candidates[cursor[i]!]
    if (!r) return undefined
    if (m.chosen) held.push({ protocol: m.spec.protocol, range: r })
    out.push(r)
  }
  return out
}

function note(m: Planned): string {
  return `${TAG} publish ${m.id} ${m.egress.dev}${m.spec.localhost ? ' lo' : ''}`
}

async function execute(ns: Namespace, p: Plan): Promise<OwnedRule[]> {
  const { mappings } = p
  const cursor = mappings.map(() => 0)
  const what = (ranges: [number, number][]) =>
    mappings.length === 1
      ? `publish ${mappings[0]!.spec.protocol} ${mappings[0]!.spec.hostIp ?? '*'}:${fmtRange(ranges[0]!)}`
      : `publish ${mappings.length} mapping(s)`
  let lastErr: unknown
  let races = 0
  for (let attempt = 0; ; attempt++) {
    const ranges = pick(mappings, cursor)
    if (!ranges) throw lastErr ?? new NetnsKitError('ERR_NETNS_KIT_NO_FREE_PORT', 'no free host port')
    const built = mappings.map((m, i) => mappingElements(m.spec, targetMaps(m.spec), ranges[i]!, note(m)))
    const hairpins = new Map<string, NftMsg>()
    for (const m of mappings) hairpins.set(`${m.spec.family}/${m.egress.dev}`, hairpinMessage(m.spec.family, m.egress))
    const elemsOf: ElemRef[][] = built.map((b) => b.map((x) => x.ref))
    // Collisions with other maps first; the same key in the same map is refused by the kernel.
    const checks = await Promise.all(
      mappings.map((m, i) => settled(attempt === 0 && m.earlyCheck ? m.earlyCheck.then(unwrap) : checkCollisions(ns, m.spec, ranges[i]!, m.probe))),
    )
    let taken = checks.findIndex((c) => !c.ok && c.error instanceof NetnsKitError && c.error.code === 'ERR_NETNS_KIT_PORT_ALLOCATED')
    const failed = checks.find((c) => !c.ok && !(c.error instanceof NetnsKitError && c.error.code === 'ERR_NETNS_KIT_PORT_ALLOCATED'))
    if (failed && !failed.ok) throw failed.error
    if (taken < 0) {
      try {
        await change(ns, [...groupByMap(built.flat()), ...hairpins.values()], what(ranges), p.exists)
        for (const [i, m] of mappings.entries()) {
          // Flows that reached the host port before it was published would keep bypassing the DNAT.
          if (m.spec.protocol === 'udp') await clearUdpConntrack(ns, m.spec.family, m.spec.hostIp, ranges[i]!)
        }
        return mappings.map((m, i) => ({ fields: fieldsOf(ns, m, ranges[i]!), rules: [], elems: elemsOf[i]! }))
      } catch (e) {
        if ((e as NetlinkError).code !== 'EEXIST') throw e
        lastErr = e
        taken = (await firstTaken(ns, elemsOf)) ?? -1
        if (taken < 0) {
          if (++races > RACE_RETRIES) throw e
          continue
        }
      }
    }
    // Taken (by another map, or by another process just now): the next candidate if the port
    // is chosen, else the caller's error.
    const m = mappings[taken]!
    lastErr = portAllocated(m.spec, ranges[taken]!)
    if (!m.chosen) throw lastErr
    cursor[taken]!++
  }
}

function fieldsOf(ns: Namespace, m: Planned, r: [number, number]): NatFields {
  const s = m.spec
  return {
    kind: 'publish',
    id: m.id,
    namespace: ns,
    family: s.family,
    protocol: s.protocol,
    hostIp: s.loopbackOnly ? '127.0.0.1' : s.hostIp,
    hostPort: r[0],
    hostPortEnd: r[1] !== r[0] ? r[1] : undefined,
    containerIp: s.containerIp,
    containerPort: s.containerPort[0],
    containerPortEnd: s.containerPort[1] !== s.containerPort[0] ? s.containerPort[1] : undefined,
    localhost: s.localhost,
    interface: m.egress.dev,
    ownsRouteLocalnet: m.ownsRouteLocalnet,
  }
}

/** Publishes the mappings (checked, all in `ns`) in one batch; the rules' fields and elements, in order. */
export async function publish(ns: Namespace, specs: PublishSpec[], hints: PublishHints = {}): Promise<OwnedRule[]> {
  if (!specs.length) return []
  const p = await plan(ns, specs, hints)
  try {
    return await execute(ns, p)
  } catch (e) {
    // Off again (sysctl first, then the record) unless a localhost mapping of another call needs it.
    if (p.routeLocalnetSetHere.length) {
      const users = await localhostUsers(ns).catch(() => undefined)
      for (const dev of p.routeLocalnetSetHere) if (users && !users.has(dev)) await releaseLocalnet(ns, dev).catch(() => {})
    }
    throw e
  }
}

/** Whether a network's bridge named `dev` is in the isolation stage's `bridges` set (a lookup by key). */
async function bridgeLives(ns: Namespace, dev: string): Promise<boolean> {
  const [el] = await findElements(ns, ISO.bridges, [ifnameBytes(dev)]).catch(() => [null])
  return !!el
}

/**
 * Removes a published mapping: only the elements still carrying its id (never another owner's),
 * looked up by key, every map at once: one round of trips, then the delete; then what follows a
 * mapping's removal (afterUnpublish). O(1) in the number of other mappings.
 */
export async function unpublish(ns: Namespace, f: NatFields, elems: ElemRef[]): Promise<void> {
  const gone: ElemRef[] = []
  const maps = [...new Set(elems.map((e) => e.map))]
  const mine = maps.map((map) => elems.filter((e) => e.map === map))
  const found = await Promise.all(
    mine.map((list, m) =>
      findElements(
        ns,
        maps[m]!,
        list.map((e) => e.key),
      ),
    ),
  )
  found.forEach((list, m) =>
    list.forEach((el, i) => {
      const c = ownerOf(el?.userdata)
      if (c?.kind === 'publish' && c.id === f.id) gone.push(mine[m]![i]!)
    }),
  )
  const byMap = new Map<string, Buffer[]>()
  for (const e of gone) byMap.set(e.map, [...(byMap.get(e.map) ?? []), e.key])
  const msgs: NftMsg[] = [...byMap].map(([set, keys]) => ({ op: 'delsetelem', family: 'inet', table: TABLE, set, elements: keys.map((key) => ({ key })) }))
  if (msgs.length) await nftApply(ns, msgs, `unpublish ${f.protocol} ${f.hostPort}`)
  await afterUnpublish(ns, f)
}

/**
 * Removes mappings the caller has just read by key and seen carry their ids (lib/nat/index.ts
 * unpublishFound: an endpoint's teardown): every element of every one of them in ONE batch of
 * DESTROYSETELEM (an element another teardown of the same endpoint took first is not an error),
 * with no second lookup, then each one's afterUnpublish.
 */
export async function unpublishVerified(ns: Namespace, rules: { fields: NatFields; elems: ElemRef[] }[]): Promise<void> {
  const msgs = destroyMessages(rules.flatMap((r) => r.elems.map((e) => ({ family: 'inet' as const, set: e.map, key: e.key }))))
  if (msgs.length)
    await nftApply(
      ns,
      msgs,
      rules.length === 1 ? `unpublish ${rules[0]!.fields.protocol} ${rules[0]!.fields.hostPort}` : `unpublish ${rules.length} mapping(s)`,
    )
  const lives = new Set<string>()
  for (const r of rules) await afterUnpublish(ns, r.fields, lives)
}

/**
 * What follows the removal of a mapping's elements. First whether its interface is a live
 * network's bridge (one lookup by key; `lives`: interfaces this call already saw live): a network
 * holds the table and its route_localnet, so nothing else is looked at, whatever the number of
 * mappings. Otherwise: whether something else of a network's lifetime holds the table (a few
 * rules' comments, two small sets), route_localnet if it was the last localhost mapping through
 * that interface and netns-kit turned it on, and the table if nothing of ours is left (but for
 * route_localnet off a network's bridge, which reads the mappings, O(1) in their number). Its UDP
 * conntrack entries in both cases.
 */
async function afterUnpublish(ns: Namespace, f: NatFields, lives = new Set<string>()): Promise<void> {
  // Looked at only now that the mapping is gone: a network removed meanwhile by another process,
  // whose own look still saw this mapping, is then seen gone here (a look before the delete left
  // the table to nobody). While the bridge's element is there, the network's removal is still to
  // come, and its own tidying sees this mapping gone.
  const live = f.interface !== undefined && (lives.has(f.interface) || (await bridgeLives(ns, f.interface)))
  if (live) lives.add(f.interface!)
  if (f.protocol === 'udp') await clearUdpConntrack(ns, f.family, f.hostIp, [f.hostPort!, f.hostPortEnd ?? f.hostPort!])
  if (live) return
  const held = tableHeld(ns)
  held.catch(() => {})
  // route_localnet off (then its record) with the last localhost mapping through that interface,
  // if netns-kit turned it on. Not while a network lives on that interface (seen above): its
  // removal, and gc, turn it off, and until then the network holds the table and with it the
  // 127.0.0.0/8 guard (as Docker leaves route_localnet on). That keeps deleting a mapping O(1)
  // when every mapping of a network answers on 127.0.0.1 (the default for Network's mappings).
  const released = f.localhost && f.interface && !(await localhostUsers(ns)).has(f.interface) ? await releaseLocalnet(ns, f.interface) : false
  // While something of a network's lifetime holds the table nothing else is looked at (the look
  // above saw a record just released: look again then); otherwise the kernel drops the table if
  // its sets are empty, counting the elements itself: no map is read, whatever the number of
  // mappings (dropTableIfEmpty).
  const isHeld = released ? tableHeld(ns) : held
  if (nonrecTrusted()) {
    if (!(await isHeld)) await dropTablesIfEmpty(ns)
  } else {
    await tidy(ns, () => interfacesInUse(ns), isHeld)
  }
}

// A network's NAT, isolation and anti-spoofing as data: what the kernel must hold for a bridge
// network and its endpoints (computed from the network's records alone), how to create and
// remove it, and, after someone else's `nft flush ruleset` or any other loss, what differs from
// the kernel (check: CNI CHECK's job) and how to put back what is missing (restore: gc's job).
// Every function is idempotent. lib/network builds a NetworkNat from its store and calls these.
import { randomBytes } from 'node:crypto'
import * as net from 'node:net'
import type { NetlinkError } from '../errors'
import { prefixBounds } from '../ipam/ip'
import type { NftElementInfo, NftMsg, NftRuleInfo } from '../kernel/binding'
import { nftApply, nftList } from '../kernel/nft'
import type { Namespace } from '../namespace'
import { spoofElements, type GuardedPort } from './antispoof'
import { comment, commentOf } from './expr'
import { enableForwarding, forwardingKey, routeLocalnetKey } from './host'
import { addMessages, destroyMessages, hairpinElement, isolateNote, isolationElements, type SetElement } from './isolate'
import { localhostUsers, localnetElement, localnetRecorded, releaseLocalnet } from './localnet'
import { checkPublish, mappingElements, targetMaps, type PublishSpec } from './ports'
import { TABLE, TAG, baseRuleMsg, change, ownerOf, skeletonOf, tableDef, tidy, type TableFamily } from './ruleset'
import { masqueradeExprs } from './rule'
import { decodeMasquerade, interfacesInUse } from './decode'
import type { NatProtocol } from './types'

/** One published port of an endpoint, as recorded (its NatRule id and the host port it was given). */
export interface PortNat {
  id: string
  protocol: NatProtocol
  /** Undefined, '0.0.0.0' or '::': every local address; a loopback address: 127.0.0.0/8 only. */
  hostIp?: string
  hostPort: number
  containerIp: string
  containerPort: number
  /** Also on 127.0.0.1 (a wildcard IPv4 mapping Network made with localhost, its default). */
  localhost?: boolean
}

export interface EndpointNat extends GuardedPort {
  ports: PortNat[]
}

/** The ids of what a network owns in the nft tables (recorded with it). */
export interface NetworkNatIds {
  /** Its isolation and hairpin elements. */
  isolate: string
  /** One masquerade rule per subnet (in the order of `subnets`), or none. */
  masquerade: string[]
}

/** What the kernel must hold for a bridge network, from its records. */
export interface NetworkNat {
  bridge: string
  /** Its subnets ('172.18.0.0/16', 'fd00:18::/64'). */
  subnets: string[]
  masquerade: boolean
  internal: boolean
  icc: boolean
  antiSpoofing: boolean
  ids: NetworkNatIds
  endpoints: EndpointNat[]
}

/** Something that differs between the records and the kernel. */
export interface Problem {
  /**
   * 'missing': recorded, not in the kernel; 'different': in the kernel, but not as recorded;
   * 'setting': a setting the network needs is off (forwarding), or one that is unsafe is on.
   */
  kind: 'missing' | 'different' | 'setting'
  /** The kernel object: 'nft inet netns-kit set bridges element "br-1"', 'sysctl net.ipv4.ip_forward'. */
  object: string
  message: string
}

function newId(): string {
  return randomBytes(4).toString('hex')
}

/** Fresh ids for a network's rules and elements. */
export function newNetworkIds(n: Pick<NetworkNat, 'subnets' | 'masquerade' | 'internal'>): NetworkNatIds {
  return { isolate: newId(), masquerade: n.masquerade && !n.internal ? n.subnets.map(() => newId()) : [] }
}

/** The ids as a record lists them: the masquerade rules', then the isolation's (the last). */
export function networkIdsToList(ids: NetworkNatIds): string[] {
  return [...ids.masquerade, ids.isolate]
}

export function networkIdsFromList(list: readonly string[]): NetworkNatIds {
  return { isolate: list[list.length - 1] ?? '', masquerade: list.slice(0, -1) }
}

// --- the desired state ------------------------------------------------------------------

/** A rule of a network (a masquerade), found again by its comment. */
interface RuleItem {
  kind: 'rule'
  family: 'inet'
  chain: string
  id: string
  msg: NftMsg & { op: 'newrule' }
  what: string
}
interface ElemItem extends SetElement {
  kind: 'element'
  what: string
  owner: { kind: string; id: string }
  /** map data compared too */ data?: Buffer
}
type Item = RuleItem | ElemItem

function cidrParts(cidr: string): { family: 4 | 6; network: string; len: number } {
  const [a, l] = cidr.split('/') as [string, string]
  const len = Number(l)
  return { family: net.isIPv6(a) ? 6 : 4, network: prefixBounds(a, len).first, len }
}

function portSpec(p: PortNat): PublishSpec {
  const wildcard = p.hostIp === undefined || p.hostIp === '0.0.0.0' || p.hostIp === '::'
  return checkPublish({
    protocol: p.protocol,
    hostIp: wildcard ? undefined : p.hostIp,
    hostPort: p.hostPort,
    containerIp: p.containerIp,
    containerPort: p.containerPort,
    ...(p.localhost && wildcard ? { localhost: true } : {}),
  })
}

/** The masquerade rules, isolation and hairpin elements of the network itself (no endpoint). */
function networkItems(n: NetworkNat): Item[] {
  const out: Item[] = []
  if (n.masquerade && !n.internal) {
    n.subnets.forEach((cidr, i) => {
      const id = n.ids.masquerade[i]
      if (!id) return
      const { family, network, len } = cidrParts(cidr)
      out.push({
        kind: 'rule',
        family: 'inet',
        chain: 'postrouting',
        id,
        what: `masquerade ${cidr} oifname != "${n.bridge}"`,
        msg: {
          op: 'newrule',
          family: 'inet',
          table: TABLE,
          chain: 'postrouting',
          exprs: masqueradeExprs(family, network, len, undefined, n.bridge),
          userdata: comment(`${TAG} masquerade ${id}`),
        },
      })
    })
  }
  const note = isolateNote(n.ids.isolate, n.bridge, n.internal, n.icc)
  const owner = { kind: 'isolate', id: n.ids.isolate }
  for (const e of isolationElements(n.bridge, n.internal, n.icc, note)) out.push({ kind: 'element', ...e, owner, what: `isolation of ${n.bridge} (${e.set})` })
  if (!n.internal)
    for (const cidr of n.subnets) out.push({ kind: 'element', ...hairpinElement(n.bridge, cidr, note), owner, what: `hairpin ${n.bridge} . ${cidr}` })
  return out
}

/** The published ports and anti-spoofing elements of one endpoint. */
function endpointItems(n: NetworkNat, ep: EndpointNat): Item[] {
  const out: Item[] = []
  for (const p of ep.ports) {
    const spec = portSpec(p)
    const note = `${TAG} publish ${p.id} ${n.bridge}${spec.localhost ? ' lo' : ''}`
    for (const b of mappingElements(spec, targetMaps(spec), [p.hostPort, p.hostPort], note)) {
      out.push({
        kind: 'element',
        family: 'inet',
        set: b.ref.map,
        element: b.element,
        data: b.element.data,
        owner: { kind: 'publish', id: p.id },
        what: `published port ${p.protocol} ${p.hostIp ?? '*'}:${p.hostPort} -> ${p.containerIp}:${p.containerPort} (${b.ref.map})`,
      })
    }
  }
  if (n.antiSpoofing) {
    for (const e of spoofElements(ep))
      out.push({ kind: 'element', ...e, owner: { kind: 'spoof', id: ep.hostIf }, what: `anti-spoofing of ${ep.hostIf} (${e.set})` })
  }
  return out
}

function allItems(n: NetworkNat): Item[] {
  return [...networkItems(n), ...n.endpoints.flatMap((ep) => endpointItems(n, ep))]
}

/** The interfaces whose route_localnet the network needs: its bridge, if a port is published on 127.0.0.1. */
function needsLocalnet(n: NetworkNat): boolean {
  return n.endpoints.some((ep) => ep.ports.some((p) => portSpec(p).localhost))
}

function families(n: NetworkNat): (4 | 6)[] {
  return [...new Set(n.subnets.map((c) => cidrParts(c).family))]
}

function elemObject(e: SetElement, what: string): string {
  return `nft ${e.family} ${TABLE} set ${e.set}: ${what}`
}

// --- create, remove ---------------------------------------------------------------------

/**
 * Puts a new network's isolation, hairpin and masquerade in place in ONE batch (with the tables'
 * skeletons when missing, the bridge table's too when anti-spoofing is on), and turns forwarding
 * on unless the network is internal. Call it BEFORE the bridge exists: its name is all it needs,
 * so the bridge never forwards a packet unisolated.
 */
export async function createNetworkNat(ns: Namespace, n: NetworkNat): Promise<void> {
  const items = networkItems(n)
  const msgs: NftMsg[] = [
    ...addMessages(
      items.filter((i): i is ElemItem => i.kind === 'element'),
      ['bridges'],
    ),
    ...items.filter((i): i is RuleItem => i.kind === 'rule').map((i) => i.msg),
  ]
  await change(ns, msgs, `network on ${n.bridge}`, undefined, n.antiSpoofing ? ['inet', 'bridge'] : ['inet'])
  if (!n.internal) for (const f of families(n)) await enableForwarding(ns, f)
}

/**
 * Removes everything of the network from the tables: its masquerade rules, isolation and hairpin
 * elements, what remains of its endpoints' published ports and anti-spoofing elements, and
 * route_localnet on its bridge if netns-kit turned it on; then the tables if nothing of ours is
 * left. Afterwards no line of `nft list ruleset` names its bridge or its subnets.
 */
export async function removeNetworkNat(ns: Namespace, n: NetworkNat): Promise<void> {
  const items = allItems(n)
  const rules = items.filter((i): i is RuleItem => i.kind === 'rule')
  const msgs: NftMsg[] = []
  if (rules.length) {
    const present = await nftList(ns, { what: 'rules', family: 'inet', table: TABLE, chain: 'postrouting', brief: true }).catch(() => [])
    for (const r of present) {
      const c = ownerOf(r.userdata)
      if (c?.kind === 'masquerade' && rules.some((x) => x.id === c.id))
        msgs.push({ op: 'delrule', family: 'inet', table: TABLE, chain: 'postrouting', handle: r.handle })
    }
  }
  const elems = items.filter((i): i is ElemItem => i.kind === 'element')
  for (const fam of ['inet', 'bridge'] as const) {
    const mine = elems.filter((e) => e.family === fam)
    if (!mine.length || !(await tableThere(ns, fam))) continue
    msgs.push(...destroyMessages(mine.map((e) => ({ family: e.family, set: e.set, key: e.element.key!, keyEnd: e.element.keyEnd }))))
  }
  if (msgs.length) await nftApply(ns, msgs, `remove network on ${n.bridge}`)
  if (await tableThere(ns, 'inet')) {
    if (!(await localhostUsers(ns)).has(n.bridge)) await releaseLocalnet(ns, n.bridge)
    await tidy(ns, () => interfacesInUse(ns))
  }
}

async function tableThere(ns: Namespace, family: TableFamily): Promise<boolean> {
  return (await nftList(ns, { what: 'tables', family })).some((t) => t.name === TABLE)
}

// --- check and restore ------------------------------------------------------------------

interface Skeleton {
  problems: Problem[]
  msgs: NftMsg[]
  exists: boolean
}

/** What of a table's skeleton is missing or out of place, and the messages that put it back. */
async function skeletonState(ns: Namespace, family: TableFamily): Promise<Skeleton> {
  const d = tableDef(family)
  const where = `nft ${family} ${TABLE}`
  if (!(await tableThere(ns, family))) {
    return {
      exists: false,
      msgs: skeletonOf(family),
      problems: [{ kind: 'missing', object: `${where}`, message: `the table ${family} ${TABLE} is missing (nft flush ruleset?)` }],
    }
  }
  const [sets, chains, rules] = await Promise.all([
    nftList(ns, { what: 'sets', family, table: TABLE }),
    nftList(ns, { what: 'chains', family }),
    nftList(ns, { what: 'rules', family, table: TABLE, brief: true }),
  ])
  const problems: Problem[] = []
  const msgs: NftMsg[] = []
  for (const s of d.sets) {
    if (sets.some((x) => x.table === TABLE && x.name === s.name)) continue
    problems.push({ kind: 'missing', object: `${where} set ${s.name}`, message: `the set ${s.name} is missing` })
    msgs.push(s)
  }
  for (const m of d.elements) {
    const have = sets.some((x) => x.table === TABLE && x.name === m.set)
      ? await nftList(ns, { what: 'elements', family, table: TABLE, set: m.set, keys: m.elements.map((e) => e.key!) })
      : m.elements.map(() => null)
    if (have.every((e) => e !== null)) continue
    problems.push({ kind: 'missing', object: `${where} set ${m.set}`, message: `elements of the constant set ${m.set} are missing` })
    msgs.push(m)
  }
  for (const c of d.chains) {
    const want = d.rules.filter((r) => r.chain === c.name)
    if (!chains.some((x) => x.table === TABLE && x.family === family && x.name === c.name)) {
      problems.push({ kind: 'missing', object: `${where} chain ${c.name}`, message: `the chain ${c.name} is missing` })
      msgs.push(c, ...want.map((r) => baseRuleMsg(family, r)))
      continue
    }
    const have = rules.filter((r) => r.chain === c.name).map((r) => ownerOf(r.userdata))
    const names = have.map((o) => (o?.kind === 'base' ? o.id : undefined))
    const missing = want.filter((r) => !names.includes(r.name))
    if (d.baseOnly.includes(c.name)) {
      // A chain of base rules only: exactly those, in that order, or flushed and written again.
      if (names.length === want.length && names.every((x, i) => x === want[i]!.name)) continue
      problems.push({
        kind: missing.length ? 'missing' : 'different',
        object: `${where} chain ${c.name}`,
        message: missing.length
          ? `rules of the chain ${c.name} are missing: ${missing.map((r) => r.name).join(', ')}`
          : `the chain ${c.name} holds rules that are not ours, or ours out of order`,
      })
      msgs.push({ op: 'flushchain', family, table: TABLE, name: c.name }, ...want.map((r) => baseRuleMsg(family, r)))
    } else if (missing.length) {
      problems.push({
        kind: 'missing',
        object: `${where} chain ${c.name}`,
        message: `rules of the chain ${c.name} are missing: ${missing.map((r) => r.name).join(', ')}`,
      })
      msgs.push(...missing.map((r) => baseRuleMsg(family, r)))
    }
  }
  return { exists: true, problems, msgs }
}

interface ItemState {
  missing: Item[]
  problems: Problem[]
}

/** Which of the network's rules and elements the kernel lacks or holds otherwise (tables assumed there, or all missing). */
async function itemState(ns: Namespace, n: NetworkNat, tables: Record<TableFamily, boolean>): Promise<ItemState> {
  const items = allItems(n)
  const missing: Item[] = []
  const problems: Problem[] = []
  const lost = (i: Item) => {
    missing.push(i)
    problems.push({
      kind: 'missing',
      object: i.kind === 'rule' ? `nft inet ${TABLE} chain ${i.chain}: ${i.what}` : elemObject(i, i.what),
      message: `${i.what} is missing`,
    })
  }
  // Masquerade rules: by their comment in the few rules of postrouting.
  const rules = items.filter((i): i is RuleItem => i.kind === 'rule')
  if (rules.length) {
    const present: NftRuleInfo[] = tables.inet ? await nftList(ns, { what: 'rules', family: 'inet', table: TABLE, chain: 'postrouting' }).catch(() => []) : []
    for (const r of rules) {
      const found = present.find((p) => {
        const c = ownerOf(p.userdata)
        return c?.kind === 'masquerade' && c.id === r.id
      })
      if (!found) lost(r)
      else if (!sameMasquerade(found, n.bridge, r.what)) {
        problems.push({ kind: 'different', object: `nft inet ${TABLE} chain postrouting: ${r.what}`, message: `the masquerade rule ${r.id} is not ${r.what}` })
      }
    }
  }
  // Elements: looked up by key, set by set (a network's own, never a dump of every endpoint's).
  const elems = items.filter((i): i is ElemItem => i.kind === 'element')
  const bySet = new Map<string, ElemItem[]>()
  for (const e of elems) bySet.set(`${e.family}/${e.set}`, [...(bySet.get(`${e.family}/${e.set}`) ?? []), e])
  await Promise.all(
    [...bySet.values()].map(async (list) => {
      const { family, set } = list[0]!
      const found: (NftElementInfo | null)[] = tables[family]
        ? await nftList(ns, { what: 'elements', family, table: TABLE, set, keys: list.map((e) => e.element.key!) }).catch((e: unknown) => {
            if ((e as NetlinkError).code === 'ENOENT') return list.map(() => null)
            throw e
          })
        : list.map(() => null)
      list.forEach((want, i) => {
        const have = found[i]
        if (!have) return lost(want)
        const owner = ownerOf(have.userdata)
        if (want.data && have.data && !have.data.equals(want.data)) {
          problems.push({
            kind: 'different',
            object: elemObject(want, want.what),
            message: `${want.what}: the kernel's element leads elsewhere (${commentOf(have.userdata) ?? 'no owner'})`,
          })
        } else if (owner?.kind !== want.owner.kind || owner.id !== want.owner.id) {
          problems.push({
            kind: 'different',
            object: elemObject(want, want.what),
            message: `${want.what}: the element belongs to ${commentOf(have.userdata) ?? 'nobody recognised'}`,
          })
        }
      })
    }),
  )
  return { missing, problems }
}

function sameMasquerade(r: NftRuleInfo, bridge: string, what: string): boolean {
  const d = decodeMasquerade(r.exprs)
  return d !== undefined && d.out === undefined && d.notOut === bridge && what.startsWith(`masquerade ${d.source} `)
}

/** Sysctls the network needs: forwarding (not internal), route_localnet only with its guard, and only where needed. */
async function settingState(ns: Namespace, n: NetworkNat, guard: boolean): Promise<Problem[]> {
  const out: Problem[] = []
  if (!n.internal) {
    for (const f of families(n)) {
      const key = forwardingKey(f)
      if ((await ns.sysctl.get(key)) !== '1')
        out.push({
          kind: 'setting',
          object: `sysctl ${key}`,
          message: `${key} is off: the network's containers cannot reach the outside or be reached through published ports`,
        })
    }
  }
  const key = routeLocalnetKey(n.bridge)
  const rl = await ns.sysctl.get(key).catch(() => undefined)
  if (rl === '1' && !guard)
    out.push({
      kind: 'setting',
      object: `sysctl ${key}`,
      message: `${key} is on without netns-kit's guard: containers can reach the host's 127.0.0.1 services`,
    })
  if (needsLocalnet(n) && rl !== '1') out.push({ kind: 'setting', object: `sysctl ${key}`, message: `${key} is off: ports published on 127.0.0.1 do not work` })
  if (!needsLocalnet(n) && rl === '1' && (await localnetRecorded(ns, [n.bridge]).catch(() => new Set<string>())).has(n.bridge)) {
    out.push({ kind: 'setting', object: `sysctl ${key}`, message: `${key} is on but no port published on 127.0.0.1 needs it` })
  }
  return out
}

function guardPresent(sk: Skeleton): boolean {
  return sk.exists && !sk.problems.some((p) => p.object === `nft inet ${TABLE} chain guard`)
}

/**
 * CNI CHECK for the NAT side: what differs between the network's records and the kernel (tables,
 * base rules, the network's rules and elements, its endpoints' published ports and anti-spoofing,
 * forwarding, route_localnet). Changes nothing.
 */
export async function checkNetworkNat(ns: Namespace, n: NetworkNat): Promise<Problem[]> {
  const fams: TableFamily[] = n.antiSpoofing && n.endpoints.length ? ['inet', 'bridge'] : ['inet']
  const sk = await Promise.all(fams.map((f) => skeletonState(ns, f)))
  const tables = { inet: sk[0]!.exists, bridge: sk[1]?.exists ?? false }
  const items = await itemState(ns, n, tables)
  const settings = await settingState(ns, n, guardPresent(sk[0]!))
  return [...sk.flatMap((s) => s.problems), ...items.problems, ...settings]
}

/**
 * Puts back what is missing of the network (after `nft flush ruleset`, a firewall reload): the
 * tables' skeletons, its masquerade rules, isolation, hairpin, its endpoints' published ports and
 * anti-spoofing, in ONE batch; then forwarding, and route_localnet where a port is published on
 * 127.0.0.1 (its record and the guard are in the batch, before the sysctl). Elements the kernel
 * holds otherwise (another owner's) are left alone. Returns what it put back, one line each.
 */
export async function restoreNetworkNat(ns: Namespace, n: NetworkNat): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await restoreOnce(ns, n)
    } catch (e) {
      // Another process made a table (EEXIST) or changed a chain (ENOENT) between our look and our batch.
      const code = (e as NetlinkError).code
      if (attempt < 2 && (code === 'EEXIST' || code === 'ENOENT')) continue
      throw e
    }
  }
}

async function restoreOnce(ns: Namespace, n: NetworkNat): Promise<string[]> {
  const fams: TableFamily[] = n.antiSpoofing && n.endpoints.length ? ['inet', 'bridge'] : ['inet']
  const sk = await Promise.all(fams.map((f) => skeletonState(ns, f)))
  const tables = { inet: sk[0]!.exists, bridge: sk[1]?.exists ?? false }
  const { missing } = await itemState(ns, n, tables)
  const restored: string[] = []
  const msgs: NftMsg[] = sk.flatMap((s) => s.msgs)
  for (const s of sk) if (s.msgs.length) restored.push(...s.problems.map((p) => p.object))
  msgs.push(...addMessages(missing.filter((i): i is ElemItem => i.kind === 'element')))
  msgs.push(...missing.filter((i): i is RuleItem => i.kind === 'rule').map((i) => i.msg))
  restored.push(...missing.map((i) => i.what))
  const lo = needsLocalnet(n)
  if (lo) msgs.push(...addMessages([localnetElement(n.bridge)]))
  if (msgs.length) await nftApply(ns, msgs, `restore network on ${n.bridge}`)
  if (!n.internal) {
    for (const f of families(n)) {
      if ((await ns.sysctl.get(forwardingKey(f))) !== '1') {
        await ns.sysctl.set(forwardingKey(f), 1)
        restored.push(`${forwardingKey(f)}=1`)
      }
    }
  }
  if (lo && (await ns.sysctl.get(routeLocalnetKey(n.bridge))) !== '1') {
    await ns.sysctl.set(routeLocalnetKey(n.bridge), 1)
    restored.push(`${routeLocalnetKey(n.bridge)}=1`)
  }
  return restored
}

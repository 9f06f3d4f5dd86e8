// A network's NAT, isolation and anti-spoofing as data: what the kernel must hold for a bridge
// network and its endpoints (computed from the network's records alone), how to create and
// remove it, and, after someone else's `nft flush ruleset` or any other loss, what differs from
// the kernel (check: CNI CHECK's job) and how to put back what is missing (restore: gc's job).
// Every function is idempotent. lib/network builds a NetworkNat from its store and calls these.
// The items are computed in network-items.ts; check and restore live in network-check.ts.
import { randomBytes } from 'node:crypto'
import type { NftMsg } from '../kernel/binding'
import { nftApply, nftList } from '../kernel/nft'
import type { Namespace } from '../namespace'
import { type GuardedPort } from './antispoof'
import { enableForwarding } from './host'
import { localhostUsers, releaseLocalnet } from './localnet'
import { TABLE, change, ownerOf, tidy, type TableFamily } from './ruleset'
import { interfacesInUse } from './decode'
import type { NatProtocol } from './types'
import { allItems, families, networkItems, type ElemItem, type RuleItem } from './network-items'
import { addMessages, destroyMessages } from './isolate'

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

export async function tableThere(ns: Namespace, family: TableFamily): Promise<boolean> {
  return (await nftList(ns, { what: 'tables', family })).some((t) => t.name === TABLE)
}

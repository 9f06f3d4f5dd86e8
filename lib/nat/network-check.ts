// A network's NAT checked against the kernel and put back (lib/nat/network.ts): what differs after
// someone else's `nft flush ruleset` or any other loss (check: CNI CHECK's job), and the restore (gc's job).
import type { NetlinkError } from '../errors'
import type { NftElementInfo, NftMsg, NftRuleInfo } from '../kernel/binding'
import { nftApply, nftList } from '../kernel/nft'
import type { Namespace } from '../namespace'
import { commentOf } from './expr'
import { addMessages } from './isolate'
import { forwardingKey, forwardingOn, routeLocalnetKey } from './host'
import { localnetElement, localnetRecorded } from './localnet'
import { TABLE, baseRuleMsg, ownerOf, skeletonOf, tableDef, type TableFamily } from './ruleset'
import { decodeMasquerade } from './decode'
import { allItems, elemObject, families, needsLocalnet, type ElemItem, type Item, type RuleItem } from './network-items'
import { tableThere, type NetworkNat, type Problem } from './network'

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
      if (!(await forwardingOn(ns, f)))
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
      if (!(await forwardingOn(ns, f))) {
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

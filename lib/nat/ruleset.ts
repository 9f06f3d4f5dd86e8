// netns-kit's own nftables tables: their fixed skeleton, how netns-kit recognises what it owns
// (the comments), and the batch plumbing NatRule uses (the skeleton created with the first change,
// rules deleted by handle, the tables removed with the last thing of ours in them).
//
//   table inet netns-kit                                   (everything below is ours alone)
//     map pub4    ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service   -p HOSTIP:PORT
//     map pub4any inet_proto . inet_service : ipv4_addr . inet_service               -p PORT (any local address)
//     map pub4lo  inet_proto . inet_service : ipv4_addr . inet_service               -p 127.0.0.1:PORT (localhost: true)
//     map pub6 / pub6any                        the same for IPv6
//     set hairpin4 / hairpin6  ifname . ipv4_addr (interval): an interface and the subnet behind it;
//                                                DNAT'd traffic going back into the subnet it came from
//     set bridges   ifname          every isolated bridge (a network's; NatRule.isolate)
//     set same      ifname . ifname "BR" . "BR" for each of them: traffic that stays on its bridge
//     set internal  ifname          the bridges of --internal networks
//     set noicc     ifname . ifname "BR" . "BR" of the icc=false bridges
//     set localnet  ifname          interfaces whose route_localnet netns-kit turned on (the record is
//                                   committed before the sysctl is written, removed after it is off)
//     chain guard       filter hook prerouting  priority raw: iifname != "lo" ip daddr 127.0.0.0/8 drop
//                                                (CVE-2020-8558: route_localnet never opens 127/8 to the wire)
//     chain prerouting  nat    hook prerouting  priority dstnat: fib daddr type local jump publish
//     chain output      nat    hook output      priority dstnat: fib daddr type local jump publish
//     chain publish     (regular): one lookup per family and map; 127/8 only through pub4lo
//     chain forward     filter hook forward     priority filter: THE ISOLATION STAGE. Drops only, no
//                                                accept anywhere in the table, so no network's accept
//                                                can run before another network's drop, whatever
//                                                order the networks were made in (Docker's
//                                                DOCKER-ISOLATION stages in front of its accepts):
//         iifname @internal iifname . oifname != @same drop     nothing out of an internal network
//         oifname @internal iifname . oifname != @same drop     nothing into it
//         iifname . oifname @noicc jump published              icc=false at layer 3 (routed back
//                                                               through the gateway): published ports only
//         oifname @bridges iifname . oifname != @same jump inbound   into a bridge from elsewhere
//     chain published   ct status dnat return; drop
//     chain inbound     ct state established,related return; ct status dnat return; drop
//                       (answers and published ports; no direct routing to container addresses)
//     chain postrouting nat    hook postrouting priority srcnat: hairpin (ct status dnat oifname . ip saddr
//                                                @hairpin4 masquerade) and localhost masquerade, then
//                                                the masquerade rules of NatRule.masquerade()
//   (icc: false at layer 2 is the kernel's bridge port isolation on the bridge's ports.)
//
//   table bridge netns-kit                                 (anti-spoofing, lib/nat/antispoof.ts)
//     set ports ifname; macs ifname . ether_addr; addr4 ifname . ipv4_addr; addr6 ifname . ipv6_addr
//     set etypes ether_type { ip, arp, ip6 }; set unspec6 icmpv6_type { 130..143: what may come from :: }
//     chain prerouting  filter hook prerouting priority filter: iifname @ports jump spoof
//     chain spoof       drops every frame from an endpoint's port whose MAC, IPv4/IPv6 source, ARP
//                       sender or neighbour advertisement target is not that endpoint's
//
// The sets are keyed by interface name: a network or an endpoint is a few elements, so the 1,000th
// costs what the first did, per change and per packet. Every base rule carries the comment
// "netns-kit base NAME" and every rule and element of a feature "netns-kit <kind> <id> ..." (nft's
// own userdata format, so `nft list ruleset` shows it): that is how netns-kit recognises what it
// owns, whom it belongs to, and what is missing after someone else's `nft flush ruleset`.
// Nothing outside these tables is ever changed.
import * as os from 'node:os'
import type { NetlinkError } from '../errors'
import type { NftElementInfo, NftMsg } from '../kernel/binding'
import { nftAnyElement, nftApply, nftGen, nftList } from '../kernel/nft'
import type { Namespace } from '../namespace'
import { commentOf, ifnameString } from './expr'
import type { RuleRef } from './types'
import { TABLE, TAG, type TableFamily, HAIRPIN_SETS, ISO, LOCALNET_SET, MAPS, skeletonOf, tableDef } from './ruleset-tables'

// The tables' skeleton is defined in ruleset-tables.ts; every module imports it from here.
export {
  TABLE,
  TAG,
  type TableFamily,
  type MapDef,
  MAPS,
  HAIRPIN_SETS,
  ISO,
  LOCALNET_SET,
  SPOOF,
  type BaseRule,
  type TableDef,
  tableDef,
  baseComment,
  baseRuleMsg,
  skeletonOf,
  skeleton,
} from './ruleset-tables'

export async function tableExists(ns: Namespace, family: 'inet' | 'bridge'): Promise<boolean> {
  const tables = await nftList(ns, { what: 'tables', family })
  return tables.some((t) => t.name === TABLE)
}

/**
 * Applies a change to our tables of `families` in one atomic batch, creating the skeleton of any
 * that is missing in the same batch (after a first change, or after someone's `nft flush
 * ruleset`). `exists` false: the tables are known to be missing, so no first try without them.
 * Returns, per message of `msgs`, the handle the kernel gave a new rule (null for the others).
 */
export async function change(ns: Namespace, msgs: NftMsg[], what: string, exists?: boolean, families: TableFamily[] = ['inet']): Promise<(bigint | null)[]> {
  if (exists !== false) {
    try {
      return await nftApply(ns, msgs, what)
    } catch (e) {
      if ((e as NetlinkError).code !== 'ENOENT') throw e
    }
  }
  for (let attempt = 0; ; attempt++) {
    const present = await Promise.all(families.map((f) => tableExists(ns, f)))
    const missing = families.filter((_, i) => !present[i])
    const pre = missing.flatMap((f) => skeletonOf(f))
    try {
      return (await nftApply(ns, [...pre, ...msgs], what)).slice(pre.length)
    } catch (e) {
      const code = (e as NetlinkError).code
      // Another process made a table between our look and our batch (EEXIST: the table is
      // created exclusively), or removed one (ENOENT): look again.
      if (attempt < 3 && ((code === 'EEXIST' && missing.length > 0) || (code === 'ENOENT' && missing.length === 0))) continue
      throw e
    }
  }
}

/** The parts of an owner comment "netns-kit KIND ID REST...". */
export interface OwnerComment {
  kind: string
  id: string
  rest: string[]
}

export function parseComment(c: string | undefined): OwnerComment | undefined {
  if (!c) return undefined
  const parts = c.split(' ')
  if (parts[0] !== TAG || parts.length < 3) return undefined
  return { kind: parts[1]!, id: parts[2]!, rest: parts.slice(3) }
}

/** The owner comment in a rule's or an element's userdata. */
export function ownerOf(userdata: Buffer | undefined): OwnerComment | undefined {
  return parseComment(commentOf(userdata))
}

export async function listElements(ns: Namespace, set: string, family: TableFamily = 'inet'): Promise<NftElementInfo[]> {
  return nftList(ns, { what: 'elements', family, table: TABLE, set })
}

/** The elements of `set`, or none when the table or the set is missing. */
export async function listElementsIfAny(ns: Namespace, set: string, family: TableFamily = 'inet'): Promise<NftElementInfo[]> {
  return listElements(ns, set, family).catch((e: unknown) => {
    if ((e as NetlinkError).code === 'ENOENT') return []
    throw e
  })
}

/** The elements of `set` with these keys (null where none): one lookup each, whatever the set's size. */
export async function findElements(ns: Namespace, set: string, keys: Buffer[], family: TableFamily = 'inet'): Promise<(NftElementInfo | null)[]> {
  if (!keys.length) return []
  return nftList(ns, { what: 'elements', family, table: TABLE, set, keys })
}

/** Deletes the rules still there (idempotent: a vanished handle is not an error). */
export async function deleteRules(ns: Namespace, rules: RuleRef[]): Promise<void> {
  if (!rules.length) return
  const present = new Set<string>()
  for (const family of new Set(rules.map((r) => r.family))) {
    if (!(await tableExists(ns, family))) continue
    for (const r of await nftList(ns, { what: 'rules', family, table: TABLE, brief: true })) present.add(`${family}/${r.chain}/${r.handle}`)
  }
  const msgs: NftMsg[] = rules
    .filter((r) => present.has(`${r.family}/${r.chain}/${r.handle}`))
    .map((r) => ({ op: 'delrule', family: r.family, table: TABLE, chain: r.chain, handle: r.handle }))
  if (msgs.length) await nftApply(ns, msgs, 'delete rules')
}

/**
 * True while something of a network's lifetime is in the table (so the table stays): a
 * masquerade rule, an isolated bridge, a route_localnet record. A few rules' comments and two
 * small sets (one element per network), one round of trips. False also when there is no table.
 */
export async function tableHeld(ns: Namespace): Promise<boolean> {
  const [rules, bridges, localnet] = await Promise.all([
    nftList(ns, { what: 'rules', family: 'inet', table: TABLE, brief: true }).catch(() => []),
    listElementsIfAny(ns, ISO.bridges),
    listElementsIfAny(ns, LOCALNET_SET),
  ])
  return bridges.length > 0 || localnet.length > 0 || rules.some((r) => ownerOf(r.userdata)?.kind === 'masquerade')
}

/**
 * Removes netns-kit's tables once nothing of ours is left in them, or else the hairpin elements
 * that published ports added for interfaces no published port uses any more (a network's own
 * hairpin elements go with the network). `interfacesInUse` lists, per family, the interfaces of
 * the published ports that remain (lib/nat/decode.ts reads them).
 */
export async function tidy(
  ns: Namespace,
  interfacesInUse: () => Promise<{ empty: boolean; used: Record<4 | 6, Set<string>> }>,
  held?: Promise<boolean>,
): Promise<void> {
  // While a network lives, nothing can go: a look at a few comments is enough, and deleting a
  // mapping stays cheap however many there are. Otherwise the maps are read, to drop the tables
  // with their last element (and stale hairpin entries).
  if (await (held ?? tableHeld(ns))) return
  // The anti-spoofing table goes once no endpoint's port is in it and the inet table is gone.
  if (!(await tableExists(ns, 'inet'))) return void (await dropTableIfEmpty(ns, 'bridge'))
  try {
    await tidyTable(ns, interfacesInUse)
  } catch (e) {
    if ((e as NetlinkError).code === 'ENOENT') return // another process dropped the table meanwhile
    throw e
  }
}

async function tidyTable(ns: Namespace, interfacesInUse: () => Promise<{ empty: boolean; used: Record<4 | 6, Set<string>> }>): Promise<void> {
  const { empty, used } = await interfacesInUse()
  if (empty) {
    // Refused while a map holds an element (the kernel counts them, or the drop reads them and
    // binds its batch to the generation read first) or the table holds anything else: a mapping,
    // rule or object that another process or the user added since is never taken with it.
    await dropTablesIfEmpty(ns)
    return
  }
  const msgs: NftMsg[] = []
  for (const family of [4, 6] as const) {
    const set = HAIRPIN_SETS[family]
    const stale = (await listElements(ns, set)).filter(
      (e) => ownerOf(e.userdata)?.kind !== 'isolate' && !used[family].has(ifnameString(e.key!.subarray(0, 16))),
    )
    if (stale.length) msgs.push({ op: 'delsetelem', family: 'inet', table: TABLE, set, elements: stale.map((e) => ({ key: e.key!, keyEnd: e.keyEnd })) })
  }
  if (msgs.length) await nftApply(ns, msgs, 'tidy netns-kit tables').catch(() => {})
}

/** The comment of the skeleton's own rules (skeletonOf() in ruleset-tables.ts). */
const BASE = `${TAG} base`

/** The hairpin sets: their entries only ever match traffic DNAT'd by a mapping, so they never keep the table. */
const HAIRPIN = new Set(Object.values(HAIRPIN_SETS) as string[])
const NFT_SET_ANONYMOUS = 0x1
const NFT_SET_CONSTANT = 0x2

/** The names of the sets and chains of a table's skeleton (tableDef), computed once. */
const skeletonNames = new Map<TableFamily, { sets: Set<string>; chains: Set<string> }>()
function skeletonNamesOf(family: TableFamily): { sets: Set<string>; chains: Set<string> } {
  let n = skeletonNames.get(family)
  if (!n) {
    const d = tableDef(family)
    skeletonNames.set(family, (n = { sets: new Set(d.sets.map((x) => x.name)), chains: new Set(d.chains.map((c) => c.name)) }))
  }
  return n
}

/**
 * Removes netns-kit's table of `family` (inet: NAT, published ports, isolation; bridge:
 * anti-spoofing) if nothing is left in it but its skeleton, in ONE atomic batch whose refusal
 * leaves everything as it was: every rule listed (the skeleton's, by handle), then the skeleton's
 * sets and maps, each chain with NLM_F_NONREC (EBUSY if a rule was added since the listing), then
 * the table with NLM_F_NONREC (EBUSY while it holds anything else: a chain, set, flowtable or
 * object someone added, before or since the listing). Nothing is tried while a rule, chain or set
 * other than the skeleton's is there: the table is not netns-kit's alone then.
 *
 * Whether the sets that hold state are empty: with `countElements` (kernels that count every
 * set's elements, nonrecTrusted()) the kernel decides, NLM_F_NONREC on their deletes (EBUSY while
 * one holds an element), and the batch is sent only when nftAnyElement() finds no element first
 * (one datagram of each set's dump: O(1) in the number of mappings). Otherwise they are
 * read, anyone's element keeping the table, and the batch is bound to the ruleset's generation
 * read before them (NFNL_BATCH_GENID): an element added since refuses it (ERESTART; tried again,
 * three times at most).
 *
 * The hairpin sets go with the table; while it stays, their entries for interfaces without
 * mappings stay too (harmless: they only match traffic DNAT'd to that interface; NatRule.tidy()
 * and gc drop them). Three listings of the table's few rules, chains and sets, whether each set
 * that holds state has an element (one datagram of its dump), and the batch only when none has
 * one (a refused batch costs the kernel's abort an RCU grace period). Resolves whether the table went.
 */
export async function dropTableIfEmpty(ns: Namespace, family: TableFamily = 'inet', countElements = nonrecTrusted()): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const genid = countElements ? undefined : await nftGen(ns).catch(() => null)
    if (genid === null) return false
    const [rules, chains, sets] = await Promise.all([
      nftList(ns, { what: 'rules', family, table: TABLE, brief: true }),
      nftList(ns, { what: 'chains', family }),
      nftList(ns, { what: 'sets', family }),
    ]).catch(() => [[], [], []] as const)
    const skeleton = skeletonNamesOf(family)
    const mine = chains.filter((c) => c.table === TABLE)
    // An anonymous set (`{ 80, 443 }` in a rule) goes with its rule.
    const named = sets.filter((x) => x.table === TABLE && !((x.flags ?? 0) & NFT_SET_ANONYMOUS))
    if (!mine.length) return false
    if (rules.some((r) => !isBase(commentOf(r.userdata)))) return false
    if (mine.some((c) => !skeleton.chains.has(c.name)) || named.some((x) => !skeleton.sets.has(x.name))) return false
    const holds = (x: { name: string; flags?: number }) => !(family === 'inet' && HAIRPIN.has(x.name)) && !((x.flags ?? 0) & NFT_SET_CONSTANT)
    if (!countElements) {
      const held = await Promise.all(named.filter(holds).map((x) => listElementsIfAny(ns, x.name, family)))
      if (held.some((l) => l.length > 0)) return false
    } else if (await nftAnyElement(ns, family, TABLE, byLikelihood(named.filter(holds).map((x) => x.name))).catch(() => false)) {
      // A refused batch costs the kernel's abort an RCU grace period (8-15 ms on 6.18), so the
      // batch is sent only when no set that holds state has an element: one datagram of each
      // set's dump, whatever its size. One added since is still refused by NLM_F_NONREC below; a
      // question that fails sends the batch anyway (the kernel decides, as before the question).
      return false
    }
    // The sets that hold state first: the batch is refused at the first that holds an element.
    const ours = named.sort((a, b) => Number(holds(b)) - Number(holds(a)))
    // Chains reached by a jump go after the chains jumping to them (base chains first).
    const order = [...mine].sort((a, b) => Number(a.hook === undefined) - Number(b.hook === undefined))
    const msgs: NftMsg[] = [
      ...rules.map((r) => ({ op: 'delrule' as const, family, table: TABLE, chain: r.chain, handle: r.handle })),
      ...ours.map((x) => ({ op: 'delset' as const, family, table: TABLE, name: x.name, nonrec: countElements && holds(x) })),
      ...order.map((c) => ({ op: 'delchain' as const, family, table: TABLE, name: c.name, nonrec: true })),
      // NLM_F_NONREC here too: the kernel processes every message of a refused batch before undoing
      // it, and a recursive table delete walks every element of every map (0.97 ms with 10,000
      // mappings vs 0.35 ms with 2); this one is refused by a count unless all the above went.
      { op: 'deltable', family, name: TABLE, nonrec: true },
    ]
    try {
      await nftApply(ns, msgs, `delete the netns-kit ${family} table if empty`, genid === undefined ? {} : { genid })
      return true
    } catch (e) {
      // ERESTART: something was committed since the sets were read: read again.
      if ((e as NetlinkError).code === 'ERESTART') continue
      return false // EBUSY: a set holds an element, or something was added since; ENOENT: another process tidied
    }
  }
  return false
}

/** The maps of published ports first (the likeliest to hold an element), then the other sets. */
function byLikelihood(sets: string[]): string[] {
  const maps = new Set(MAPS.map((m) => m.name))
  return [...sets.filter((x) => maps.has(x)), ...sets.filter((x) => !maps.has(x))]
}

/** dropTableIfEmpty for the inet table, then, once it went, the bridge-family one. Resolves whether the inet table went. */
export async function dropTablesIfEmpty(ns: Namespace, countElements = nonrecTrusted()): Promise<boolean> {
  if (!(await dropTableIfEmpty(ns, 'inet', countElements))) return false
  await dropTableIfEmpty(ns, 'bridge', countElements)
  return true
}

/**
 * Whether the kernel counts the elements of every set, so that NLM_F_NONREC on a set delete is
 * refused while one holds an element: from 6.5 (commit d4b7f29eb85c, "netfilter: nf_tables: always
 * increment set element count"; before it only sets declared with a size were counted, and
 * netns-kit's have none, so a NONREC delete of a map still holding mappings went through).
 * Before 6.5, tidy() reads the maps before the table is dropped, and a mapping's delete goes
 * through tidy(). Verified on 6.18.
 */
export function nonrecTrusted(release = os.release()): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number)
  return major > 6 || (major === 6 && minor >= 5)
}

/** A skeleton rule's comment: "netns-kit base" (or "netns-kit base NAME"). */
function isBase(c: string | undefined): boolean {
  return c === BASE || (c !== undefined && c.startsWith(`${BASE} `))
}

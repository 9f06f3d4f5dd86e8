// Reading netns-kit's NAT rules back from the kernel: the rules and map elements of its table,
// grouped by the owner id in their comments and decoded into the fields they were made with.
import type { NftElementInfo, NftExpr } from '../kernel/binding'
import { nftList } from '../kernel/nft'
import { ipFromBytes } from '../ipam/ip'
import { turn } from '../turn'
import type { Namespace } from '../namespace'
import { L4PROTO, ifnameString } from './expr'
import { isolationElements } from './isolate'
import { localnetRecords } from './localnet'
import { HAIRPIN_SETS, ISO, MAPS, TABLE, listElements, listElementsIfAny, ownerOf, tableExists, type MapDef } from './ruleset'
import type { ElemRef, NatProtocol, OwnedRule } from './types'

interface DecodedRule {
  family: 'inet' | 'bridge'
  chain: string
  handle: bigint
  exprs: NftExpr[]
  userdata?: Buffer
}

/** Every rule and mapping netns-kit owns in `ns`, decoded (`nft list table inet netns-kit`). */
export async function readOwned(ns: Namespace): Promise<OwnedRule[]> {
  if (!(await tableExists(ns, 'inet'))) return []
  const [rules, iso, pubs] = await Promise.all([
    nftList(ns, { what: 'rules', family: 'inet', table: TABLE, chain: 'postrouting' }).then((rs) => rs.map((r): DecodedRule => ({ ...r, family: 'inet' }))),
    isolations(ns),
    publications(ns),
  ])
  return [...masquerades(ns, rules), ...iso, ...pubs]
}

/** Masquerade: one rule each, decoded from its expressions. */
function masquerades(ns: Namespace, rules: DecodedRule[]): OwnedRule[] {
  const out: OwnedRule[] = []
  for (const r of rules) {
    const c = ownerOf(r.userdata)
    if (c?.kind !== 'masquerade') continue
    const d = decodeMasquerade(r.exprs)
    if (!d) continue
    out.push({
      fields: { kind: 'masquerade', id: c.id, namespace: ns, family: d.family, source: d.source, outInterface: d.out, notOutInterface: d.notOut },
      rules: [{ family: r.family, chain: r.chain, handle: r.handle }],
      elems: [],
    })
  }
  return out
}

/**
 * Isolation: an element of the `bridges` set each ("netns-kit isolate ID BRIDGE [internal]
 * [noicc]"), with the other elements of that id: `same`, `internal`, `noicc`, and a network's
 * hairpin elements.
 */
async function isolations(ns: Namespace): Promise<OwnedRule[]> {
  const [bridges, hp4, hp6] = await Promise.all([
    listElementsIfAny(ns, ISO.bridges),
    listElementsIfAny(ns, HAIRPIN_SETS[4]),
    listElementsIfAny(ns, HAIRPIN_SETS[6]),
  ])
  const out: OwnedRule[] = []
  for (const e of bridges) {
    const c = ownerOf(e.userdata)
    if (c?.kind !== 'isolate' || !c.rest[0]) continue
    const ifname = c.rest[0]
    const internal = c.rest.includes('internal')
    const icc = !c.rest.includes('noicc')
    const elems: ElemRef[] = isolationElements(ifname, internal, icc, '').map((x) => ({ map: x.set, key: x.element.key! }))
    for (const [set, list] of [
      [HAIRPIN_SETS[4], hp4],
      [HAIRPIN_SETS[6], hp6],
    ] as const) {
      for (const h of list) {
        const o = ownerOf(h.userdata)
        if (o?.kind === 'isolate' && o.id === c.id) elems.push({ map: set, key: h.key!, ...(h.keyEnd ? { keyEnd: h.keyEnd } : {}) })
      }
    }
    out.push({ fields: { kind: 'isolate', id: c.id, namespace: ns, family: 4, interface: ifname, internal, icc }, rules: [], elems })
  }
  return out
}

/** Published ports: the map elements grouped by their owner id. */
async function publications(ns: Namespace): Promise<OwnedRule[]> {
  const entries: { m: MapDef; e: NftElementInfo }[] = []
  for (const m of MAPS) for (const e of await listElements(ns, m.name)) entries.push({ m, e })
  const records = new Set(await localnetRecords(ns))
  // Grouped and decoded a slice at a time, with a turn of the event loop between slices: 10,000
  // mappings held the main thread for 40-90 ms in one go (NatRule.list(), Network.gc()).
  const groups = new Map<string, PubElem[]>()
  let work = 0
  for (const { m, e } of entries) {
    addToGroup(groups, m, e)
    if (++work % DECODE_SLICE === 0) await turn()
  }
  const out: OwnedRule[] = []
  for (const [id, els] of groups) {
    out.push(decodeGroup(ns, id, els, records))
    if (++work % DECODE_SLICE === 0) await turn()
  }
  return out
}

/** How many elements or mappings are decoded between two turns of the event loop (~1 ms of work). */
export const DECODE_SLICE = 256

interface PubElem {
  m: MapDef
  e: NftElementInfo
  lo: boolean
  ifname: string
}

const PROTO_NAME = new Map<number, NatProtocol>(Object.entries(L4PROTO).map(([k, v]) => [v, k as NatProtocol]))

/** Files a published port's element under its owner id (other elements are skipped). */
function addToGroup(groups: Map<string, PubElem[]>, m: MapDef, e: NftElementInfo): void {
  const c = ownerOf(e.userdata)
  if (c?.kind !== 'publish') return
  const g = groups.get(c.id)
  const x = { m, e, lo: c.rest.includes('lo'), ifname: c.rest[0] ?? '' }
  if (g) g.push(x)
  else groups.set(c.id, [x])
}

/**
 * Published ports from map elements (every map's, or those found by key): grouped by their owner
 * id, decoded. `records`: the interfaces whose route_localnet netns-kit turned on.
 */
export function decodePublication(ns: Namespace, entries: { m: MapDef; e: NftElementInfo }[], records: Set<string>): OwnedRule[] {
  const groups = new Map<string, PubElem[]>()
  for (const { m, e } of entries) addToGroup(groups, m, e)
  const out: OwnedRule[] = []
  for (const [id, els] of groups) out.push(decodeGroup(ns, id, els, records))
  return out
}

/** One published mapping (a port or a range) from its elements. */
function decodeGroup(ns: Namespace, id: string, els: PubElem[], records: Set<string>): OwnedRule {
  const main = els.length === 1 && !els[0]!.m.loopback ? els : els.filter((x) => !x.m.loopback)
  const use = main.length ? main : els
  const first = use[0]!
  const fam = first.m.family
  const alen = fam === 4 ? 4 : 16
  const off = first.m.byAddress ? alen : 0
  const key = first.e.key!
  const protoNum = key[off]!
  const protocol = PROTO_NAME.get(protoNum) ?? (String(protoNum) as NatProtocol)
  const port = (x: PubElem) => ({ host: x.e.key!.readUInt16BE(off + 4), cport: x.e.data!.readUInt16BE(alen), cip: ipFromBytes(x.e.data!.subarray(0, alen)) })
  const ports = use.length === 1 ? [port(first)] : use.map(port).sort((a, b) => a.host - b.host)
  const hostIp = first.m.byAddress ? ipFromBytes(key.subarray(0, alen)) : first.m.loopback ? '127.0.0.1' : undefined
  const hp = ports[0]!,
    hl = ports[ports.length - 1]!
  const lo = els.some((x) => x.lo)
  return {
    fields: {
      kind: 'publish',
      id,
      namespace: ns,
      family: fam,
      protocol,
      hostIp,
      hostPort: hp.host,
      hostPortEnd: hl.host !== hp.host ? hl.host : undefined,
      containerIp: hp.cip,
      containerPort: hp.cport,
      containerPortEnd: hl.cport !== hp.cport ? hl.cport : undefined,
      localhost: lo,
      interface: first.ifname,
      ownsRouteLocalnet: lo && records.has(first.ifname),
    },
    rules: [],
    elems: els.map((x) => ({ map: x.m.name, key: x.e.key! })),
  }
}

type Fields = Record<string, unknown>

export function decodeMasquerade(exprs: NftExpr[]): { family: 4 | 6; source: string; out?: string; notOut?: string } | undefined {
  let family: 4 | 6 | undefined
  let source: string | undefined
  let out: string | undefined, notOut: string | undefined
  for (let i = 0; i < exprs.length; i++) {
    const e = exprs[i] as Fields
    const next = exprs[i + 1] as Fields | undefined
    if (e.type === 'meta' && e.key === 'nfproto' && next?.type === 'cmp') {
      family = (next.data as Buffer)[0] === 10 ? 6 : 4
      i++
    } else if (e.type === 'payload' && e.base === 'network' && family) {
      const len = e.len as number
      let mask: Buffer | undefined
      let j = i + 1
      if ((exprs[j] as Fields | undefined)?.type === 'bitwise') {
        mask = (exprs[j] as { mask: Buffer }).mask
        j++
      }
      const cmp = exprs[j] as { type: string; data: Buffer } | undefined
      if (cmp?.type !== 'cmp') return undefined
      const full = Buffer.alloc(family === 4 ? 4 : 16)
      cmp.data.copy(full)
      let prefix = len * 8
      if (mask) prefix = [...mask].reduce((n, b) => n + popcount(b), 0)
      source = `${ipFromBytes(full)}/${prefix}`
      i = j
    } else if (e.type === 'meta' && e.key === 'oifname' && next?.type === 'cmp') {
      const name = ifnameString(next.data as Buffer)
      if (next.op === 'neq') notOut = name
      else out = name
      i++
    }
  }
  if (!family || !source) return undefined
  return { family, source, out, notOut }
}

function popcount(b: number): number {
  let n = 0
  while (b) {
    n += b & 1
    b >>= 1
  }
  return n
}

/** Per family, the interfaces of the published ports that remain, and whether anything of ours does (for tidy()). */
export async function interfacesInUse(ns: Namespace): Promise<{ empty: boolean; used: Record<4 | 6, Set<string>> }> {
  const all = await readOwned(ns)
  const used = { 4: new Set<string>(), 6: new Set<string>() }
  for (const r of all) if (r.fields.kind === 'publish') used[r.fields.family].add(r.fields.interface!)
  return { empty: all.length === 0, used }
}

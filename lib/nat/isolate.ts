// Isolation of bridges (DOCKER-ISOLATION, --internal, icc=false at layer 3) as elements of the
// isolation sets in the inet table (lib/nat/ruleset.ts): the forward chain's fixed rules look
// them up, so a network is four elements at most whatever the number of networks and endpoints,
// and no order of creation can put one network's accept before another's drop (there is none).
import type { NftElement, NftMsg } from '../kernel/binding'
import { ipToBytes, prefixBounds } from '../ipam/ip'
import type { Namespace } from '../namespace'
import { comment, ifnameBytes } from './expr'
import { HAIRPIN_SETS, ISO, TABLE, TAG, findElements, ownerOf, type TableFamily } from './ruleset'
import type { ElemRef } from './types'

/** An element of one of our sets, in the table of `family`. */
export interface SetElement {
  family: TableFamily
  set: string
  element: NftElement
}

export function isolateNote(id: string, bridge: string, internal: boolean, icc: boolean): string {
  return `${TAG} isolate ${id} ${bridge}${internal ? ' internal' : ''}${icc ? '' : ' noicc'}`
}

/** The isolation elements of `bridge`: in `bridges` and `same`, and `internal` / `noicc` as asked. */
export function isolationElements(bridge: string, internal: boolean, icc: boolean, note: string): SetElement[] {
  const b = ifnameBytes(bridge)
  const pair = Buffer.concat([b, b])
  const userdata = comment(note)
  const out: SetElement[] = [
    { family: 'inet', set: ISO.bridges, element: { key: b, userdata } },
    { family: 'inet', set: ISO.same, element: { key: pair, userdata } },
  ]
  if (internal) out.push({ family: 'inet', set: ISO.internal, element: { key: b, userdata } })
  if (!icc) out.push({ family: 'inet', set: ISO.noicc, element: { key: pair, userdata } })
  return out
}

/** The hairpin element of a subnet behind `dev` ('172.18.0.0/16'). */
export function hairpinElement(dev: string, cidr: string, note: string): SetElement {
  const [addr, len] = cidr.split('/') as [string, string]
  const { first, last } = prefixBounds(addr, Number(len))
  const family = addr.includes(':') ? 6 : 4
  return {
    family: 'inet',
    set: HAIRPIN_SETS[family],
    element: { key: Buffer.concat([ifnameBytes(dev), ipToBytes(first)]), keyEnd: Buffer.concat([ifnameBytes(dev), ipToBytes(last)]), userdata: comment(note) },
  }
}

/**
 * NEWSETELEM messages for `elems`, one per table and set, in the order first seen. `exclusive`:
 * the kernel refuses a key that is already there (EEXIST) for the sets named.
 */
export function addMessages(elems: SetElement[], exclusive: readonly string[] = []): NftMsg[] {
  const bySet = new Map<string, NftMsg & { op: 'newsetelem' }>()
  for (const e of elems) {
    const k = `${e.family}/${e.set}`
    const msg = bySet.get(k) ?? {
      op: 'newsetelem',
      family: e.family,
      table: TABLE,
      set: e.set,
      elements: [],
      ...(exclusive.includes(e.set) ? { exclusive: true } : {}),
    }
    msg.elements.push(e.element)
    bySet.set(k, msg)
  }
  return [...bySet.values()]
}

/** DESTROYSETELEM messages (no error for a key that is not there) for these keys. */
export function destroyMessages(elems: { family: TableFamily; set: string; key: Buffer; keyEnd?: Buffer }[]): NftMsg[] {
  const bySet = new Map<string, NftMsg & { op: 'destroysetelem' }>()
  for (const e of elems) {
    const k = `${e.family}/${e.set}`
    const msg = bySet.get(k) ?? { op: 'destroysetelem', family: e.family, table: TABLE, set: e.set, elements: [] }
    msg.elements.push({ key: e.key, ...(e.keyEnd ? { keyEnd: e.keyEnd } : {}) })
    bySet.set(k, msg)
  }
  return [...bySet.values()]
}

/**
 * Of `refs` (inet table), those whose element is there and carries the owner comment of `kind`
 * `id`: looked up by key, every set at once. What a delete may remove (never another owner's).
 */
export async function ownedRefs(ns: Namespace, refs: ElemRef[], kind: string, id: string): Promise<ElemRef[]> {
  const sets = [...new Set(refs.map((e) => e.map))]
  const mine = sets.map((set) => refs.filter((e) => e.map === set))
  const found = await Promise.all(
    mine.map((list, i) =>
      findElements(
        ns,
        sets[i]!,
        list.map((e) => e.key),
      ),
    ),
  )
  const out: ElemRef[] = []
  found.forEach((list, m) =>
    list.forEach((el, i) => {
      const c = ownerOf(el?.userdata)
      if (c?.kind === kind && c.id === id) out.push({ ...mine[m]![i]!, ...(el?.keyEnd ? { keyEnd: el.keyEnd } : {}) })
    }),
  )
  return out
}

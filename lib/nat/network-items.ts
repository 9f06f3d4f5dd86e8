// A network's NAT as data (lib/nat/network.ts): the rules and set elements the kernel must hold for a
// network and its endpoints, computed from its records alone.
import * as net from 'node:net'
import { prefixBounds } from '../ipam/ip'
import type { NftMsg } from '../kernel/binding'
import { spoofElements } from './antispoof'
import { comment } from './expr'
import { hairpinElement, isolateNote, isolationElements, type SetElement } from './isolate'
import { checkPublish, mappingElements, targetMaps, type PublishSpec } from './ports'
import { TABLE, TAG } from './ruleset'
import { masqueradeExprs } from './rule'
import { type EndpointNat, type NetworkNat, type PortNat } from './network'

/** A rule of a network (a masquerade), found again by its comment. */
export interface RuleItem {
  kind: 'rule'
  family: 'inet'
  chain: string
  id: string
  msg: NftMsg & { op: 'newrule' }
  what: string
}
export interface ElemItem extends SetElement {
  kind: 'element'
  what: string
  owner: { kind: string; id: string }
  /** map data compared too */ data?: Buffer
}
export type Item = RuleItem | ElemItem

export function cidrParts(cidr: string): { family: 4 | 6; network: string; len: number } {
  const [a, l] = cidr.split('/') as [string, string]
  const len = Number(l)
  return { family: net.isIPv6(a) ? 6 : 4, network: prefixBounds(a, len).first, len }
}

export function portSpec(p: PortNat): PublishSpec {
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
export function networkItems(n: NetworkNat): Item[] {
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
export function endpointItems(n: NetworkNat, ep: EndpointNat): Item[] {
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

export function allItems(n: NetworkNat): Item[] {
  return [...networkItems(n), ...n.endpoints.flatMap((ep) => endpointItems(n, ep))]
}

/** The interfaces whose route_localnet the network needs: its bridge, if a port is published on 127.0.0.1. */
export function needsLocalnet(n: NetworkNat): boolean {
  return n.endpoints.some((ep) => ep.ports.some((p) => portSpec(p).localhost))
}

export function families(n: NetworkNat): (4 | 6)[] {
  return [...new Set(n.subnets.map((c) => cidrParts(c).family))]
}

export function elemObject(e: SetElement, what: string): string {
  return `nft ${e.family} ${TABLE} set ${e.set}: ${what}`
}

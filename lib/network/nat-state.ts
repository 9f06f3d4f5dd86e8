// A bridge network's records as the NAT layer takes them (lib/nat/network.ts): what the kernel
// must hold for the network and its endpoints (masquerade, isolation, hairpin, published ports,
// anti-spoofing), for create, check() and gc's repair.
import type { EndpointRecord, NetworkRecord } from '../ipam'
import { networkIdsFromList, type EndpointNat, type GuardedPort, type NetworkNat, type NetworkNatIds } from '../nat'
import { macForIp } from './mac'
import { bridgeConfig } from './state'

/** What anti-spoofing knows of an endpoint (its host veth, MAC, addresses); undefined before it has a host veth. */
export function guardedPort(ep: Pick<EndpointRecord, 'hostIf' | 'mac' | 'addresses'>): GuardedPort | undefined {
  const v4 = ep.addresses.find((a) => a.family === 4)?.address
  const mac = ep.mac ?? (v4 ? macForIp(v4) : undefined)
  if (!ep.hostIf || !mac) return undefined
  return { hostIf: ep.hostIf, mac, addresses: ep.addresses.map((a) => a.address) }
}

function endpointNat(ep: EndpointRecord): EndpointNat | undefined {
  const port = guardedPort(ep)
  const v4 = ep.addresses.find((a) => a.family === 4)?.address
  if (!port || !v4) return undefined
  // Published ports lead to the endpoint's address of their family; their NatRule ids, port by
  // port, in the endpoint's configuration (`portRules`; an older record: its rule list, in the same
  // order), and which of them also answer on 127.0.0.1 (`portLocalhost`; absent: none).
  const given = (ep.config as { portRules?: unknown }).portRules
  const ids = Array.isArray(given) && given.length === ep.ports.length && given.every((x) => typeof x === 'string') ? (given as string[]) : ep.rules
  const lo = (ep.config as { portLocalhost?: unknown }).portLocalhost
  const localhost = Array.isArray(lo) && lo.length === ep.ports.length ? lo : []
  const ports = ep.ports.flatMap((p, i) => {
    const to = ep.addresses.find((a) => a.family === p.family)?.address
    return to && ids[i]
      ? [
          {
            id: ids[i],
            protocol: p.protocol,
            hostIp: p.hostIp,
            hostPort: p.hostPort,
            containerIp: to,
            containerPort: p.containerPort,
            ...(localhost[i] === true ? { localhost: true } : {}),
          },
        ]
      : []
  })
  return { ...port, ports }
}

/** The NAT side of a bridge network and of its `endpoints` (pass the connected ones). */
export function networkNat(rec: NetworkRecord, endpoints: EndpointRecord[], ids?: NetworkNatIds): NetworkNat {
  const cfg = bridgeConfig(rec)
  return {
    bridge: cfg.bridge,
    subnets: rec.pools.map((p) => p.subnet),
    masquerade: cfg.masquerade,
    internal: cfg.internal,
    icc: cfg.icc,
    antiSpoofing: cfg.antiSpoofing,
    ids: ids ?? idsOf(rec),
    endpoints: endpoints.map(endpointNat).filter((e): e is EndpointNat => e !== undefined),
  }
}

/** The ids the network's configuration names (`nat`), else (an older record) those of its rule list. */
function idsOf(rec: NetworkRecord): NetworkNatIds {
  const n = (rec.config as { nat?: { isolate?: unknown; masquerade?: unknown } }).nat
  if (n && typeof n.isolate === 'string' && Array.isArray(n.masquerade) && n.masquerade.every((x) => typeof x === 'string')) {
    return { isolate: n.isolate, masquerade: n.masquerade as string[] }
  }
  return networkIdsFromList(rec.rules)
}

// The bridge driver's Network.connect: the intent in the store, one kernel trip built by wiring(),
// the companion, the published ports and the resolver, then the record finished (lib/network/bridge.ts).
import { randomBytes } from 'node:crypto'
import { NetnsKitError, invalidArg } from '../errors'
import { type EndpointRecord, type GatewayMove, type PortRecord, type PortSpec } from '../ipam'
import { prefixBounds } from '../ipam/ip'
import { handleOf } from '../kernel/handles'
import { run, type Op } from '../kernel/rtnl'
import { NatRule, enableForwarding, guardPort, readHostPorts, type HostClaim, type PublishHints, type PublishOptions } from '../nat'
import { Namespace } from '../namespace'
import { noIpv6 } from '../veth'
import { checkConnectOptions, publishFamily, type CheckedConnect, type ConnectOptions } from './bridge-options'
import { dnsService } from './dns'
import { containerIfname } from './driver'
import { Endpoint } from './endpoint'
import { macForIp } from './mac'
import { guardedPort } from './nat-state'
import { linkAlias } from './owned'
import { identity, type BridgeConfig } from './state'
import { applyMoves, teardownBridgeEndpoint } from './teardown'
import { companionFor } from './companion'
import { connectEtcFiles } from './etc-files'
import type { Network } from './bridge'

/** How often a connect starts again when a host port the store chose for -P is held in the kernel by a mapping it does not know. */
const PORT_RETRIES = 8

/** @internal A bridge Network's private state, for the functions that hold its method bodies. */
export interface BridgeInternals {
  readonly cfg: BridgeConfig
  readonly local: Map<string, Endpoint>
}

/** Network.connect (see its docstring): checks, then connectOnce, again with another host port when one the store chose for -P was held. */
export async function connectEndpoint(net: Network, st: BridgeInternals, ns: Namespace, opts: ConnectOptions): Promise<Endpoint> {
  if (!(ns instanceof Namespace)) throw invalidArg('ns', ns, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
  handleOf(ns) // closed or deleted: refused before anything is made
  const o = checkConnectOptions(opts, net.name, net.ipv6 !== undefined)
  if (ns.equals(net.namespace)) throw invalidArg('ns', ns.name ?? ns.path, "is the network's host namespace: use Network.host() for host networking")
  // An internal network has no way in from outside: a published port there would be listed and never reachable.
  if (net.internal && o.publish.length) throw invalidArg('opts.publish', opts.publish, `cannot publish ports on the internal network '${net.name}'`)
  if (net.bridge.index === 0) {
    throw new NetnsKitError(
      'ERR_NETNS_KIT_NO_BRIDGE',
      `the bridge ${net.bridge.name} of the network '${net.name}' is gone: remove the network (remove() works without it) and create it again`,
    )
  }
  // A MAC another endpoint of net bridge has (given, or derived from its address) would steal its frames.
  if (o.mac !== undefined) {
    const mac = o.mac.toLowerCase()
    const twin = (await net.store.endpoints(net.id)).find((e) => {
      const v4 = e.addresses.find((a) => a.family === 4)?.address
      return (e.mac ?? (v4 ? macForIp(v4) : '')).toLowerCase() === mac
    })
    if (twin)
      throw new NetnsKitError(
        'ERR_NETNS_KIT_MAC_IN_USE',
        `the MAC address ${o.mac} is already used by the endpoint '${twin.name}' of the network '${net.name}'`,
      )
  }
  const exclude = new Set<number>()
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectOnce(net, st, ns, o, exclude)
    } catch (e) {
      const port = (e as { chosenPort?: number }).chosenPort
      if (port === undefined || attempt >= PORT_RETRIES) throw e
      exclude.add(port) // the store's cursor moves on too
    }
  }
}

async function connectOnce(net: Network, st: BridgeInternals, ns: Namespace, o: CheckedConnect, exclude: Set<number>): Promise<Endpoint> {
  const store = net.store
  const host = net.namespace
  const id = randomBytes(6).toString('hex')
  const { ports, checkHost } = await portSpecs(net, o.publish, exclude)
  // 1. The intent, in one transaction: the endpoint `connecting`, its name, interfaces, CNI key,
  // addresses and host ports claimed, and whether it gives the container its default route.
  // A second network gets the next free ethN (docker network connect); a given name the container has is refused here.
  const ifname = await containerIfname(ns, o.ifname)
  const { endpoint: rec, moves } = await store.beginConnect(net.id, {
    id,
    name: o.name ?? `ep-${id}`,
    aliases: o.aliases,
    ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
    ns: identity(ns),
    ...ifname,
    hostIf: `veth${id.slice(0, 7)}`,
    ...(o.mac !== undefined ? { mac: o.mac } : {}),
    ...(o.containerId !== undefined ? { containerId: o.containerId } : {}),
    addresses: [{ family: 4, ip: o.ip }, ...(net.ipv6 ? [{ family: 6 as const, ip: o.ip6 }] : [])],
    gatewayPriority: net.internal || !o.defaultRoute ? null : (o.gatewayPriority ?? 0),
    ports,
    ...(o.dns ? { dns: o.dns } : {}),
    ...(o.extraHosts.length ? { extraHosts: o.extraHosts.map((h) => ({ name: h.name, ip: h.ip === 'host-gateway' ? net.gateway : h.ip })) } : {}),
  })
  const dns = dnsService()
  let rules: NatRule[] = []
  let mappings: PublishOptions[] = []
  let companion: Awaited<ReturnType<typeof companionFor>>
  const nsId = identity(ns)
  // A named container's files for ip netns exec and ns.spawn, written from the store while the
  // kernel work runs (they only need the intent recorded above); settled before the record is
  // finished, and before a failed connect writes them again without this endpoint.
  const files = connectEtcFiles(store, nsId, id)
  try {
    // A given host port a host process holds: Docker's "address already in use", before the
    // kernel is touched (and before the companion reserves it).
    await checkHost()
    // 2. The kernel: one trip, the companion, then the mappings, then the resolver.
    const mac = rec.mac ?? macForIp(rec.addresses[0]!.address)
    // Forwarding, which another tool may have turned off since the network was made.
    if (!net.internal) for (const f of net.ipv6 ? ([4, 6] as const) : ([4] as const)) await enableForwarding(host, f)
    // Anti-spoofing before the port exists (its elements are keyed by the port's name): no
    // moment where the container's port forwards unfiltered frames.
    const guarded = st.cfg.antiSpoofing ? guardedPort({ ...rec, mac }) : undefined
    if (guarded) await guardPort(host, guarded)
    await run(wiring(net, ns, { ...rec, mac }, moves)).catch((e: unknown) => {
      throw bridgeFull(e, net.name, net.bridge.name)
    })
    // The companion (DNS or published ports), once the container's loopback is up: the host ports
    // bound and the container's resolver listening BEFORE any DNAT element exists, so a port is
    // never published unreserved.
    if (net.dns || rec.ports.length) {
      companion = await companionFor(host, store)
      try {
        await companion?.prepare(id)
      } catch (e) {
        // A port the store chose (docker -P) held by a host process: connect again without it.
        const { port, protocol } = e as { port?: number; protocol?: string }
        const given = o.publish.some((p) => p.protocol === protocol && p.hostPort === port)
        if ((e as { code?: string }).code === 'EADDRINUSE' && port !== undefined && !given) (e as { chosenPort?: number }).chosenPort = port
        throw e
      }
    }
    if (rec.ports.length) {
      try {
        mappings = rec.ports.map((p) => publishMapping(net, rec, p, o.publish))
        rules = await NatRule.publishWith(mappings, publishHints(net))
      } catch (e) {
        // A port the store chose (docker -P) held in the kernel by a mapping the store does not know: connect again without it.
        const m =
          (e as { code?: string }).code === 'ERR_NETNS_KIT_PORT_ALLOCATED'
            ? /:(\d+)(?:-\d+)?\/(tcp|udp|sctp) is already published/.exec((e as Error).message)
            : null
        const given = (proto: string, port: number) => o.publish.some((p) => p.protocol === proto && p.hostPort === port)
        if (m && !given(m[2]!, Number(m[1]))) (e as { chosenPort?: number }).chosenPort = Number(m[1])
        throw e
      }
    }
    if (net.dns && !companion) await dns.start(net, ns, rec)
    await files.written()
    // 3. The result, in one transaction: the rule ids with the `connected` flip (which rule is
    // which port's: the store lists rule ids in its own order, and which of them answer on
    // 127.0.0.1 too: check() and gc put back what was made); the companion serves the names
    // before connect returns. A process killed between the mappings and this finds them by the
    // host ports its intent claimed (teardown and gc look them up by key, and gc keeps a mapping
    // to an address a record holds), so they need no transaction of their own.
    const ruleIds = rules.map((r) => r.id)
    const done = await store.finishConnect(id, {
      mac,
      ...(ruleIds.length ? { rules: ruleIds, config: { ...rec.config, portRules: ruleIds, portLocalhost: mappings.map((m) => m.localhost === true) } } : {}),
    })
    await companion?.sync().catch(() => {})
    const ep = new Endpoint(net, ns, done)
    st.local.set(id, ep)
    return ep
  } catch (e) {
    await dns.stop(net.id, id).catch(() => {})
    await teardownBridgeEndpoint(host, net.name, st.cfg, { ...rec, rules: rules.map((r) => r.id) }).catch(() => {})
    // The container's files without it, before its intent goes (see etcFilesAfter).
    await files.undo()
    // The endpoints that gave their default route to net one take it back.
    await applyMoves(await store.abortConnect(id).catch(() => [] as GatewayMove[])).catch(() => {})
    // Its reservations released before the caller hears of the failure (and tries again).
    await companion?.sync().catch(() => {})
    throw e
  }
}

/**
 * The store's port specs of a connect's publish entries, with the host's own ports respected:
 * `checkHost()` refuses a given port a host socket holds with ERR_NETNS_KIT_PORT_ALLOCATED
 * (Docker's "address already in use"), before the kernel is touched; -P picks from
 * ip_local_port_range, skipping ports host sockets hold and ip_local_reserved_ports. Without
 * hostIp a mapping covers both families on a dual-stack network (one port, two claims).
 */
async function portSpecs(
  net: Network,
  publish: CheckedConnect['publish'],
  exclude: Set<number>,
): Promise<{ ports: PortSpec[]; checkHost: () => Promise<void> }> {
  if (!publish.length) return { ports: [], checkHost: async () => {} }
  const fams = publish.map((p) => publishFamily(p.hostIp, net.ipv6 !== undefined))
  const claims: HostClaim[] = publish.map((p, i) => ({
    protocol: p.protocol,
    ...(p.hostPort !== undefined ? { ports: [p.hostPort, p.hostPort] as [number, number] } : {}),
    addresses: p.hostIp !== undefined ? [p.hostIp] : fams[i]!.dualStack ? ['0.0.0.0', '::'] : ['0.0.0.0'],
  }))
  const hp = await readHostPorts(net.namespace, claims)
  const ports = publish.map((p, i) => ({
    protocol: p.protocol,
    family: fams[i]!.family,
    ...(fams[i]!.dualStack ? { dualStack: true } : {}),
    ...(p.hostIp !== undefined ? { hostIp: p.hostIp } : {}),
    ...(p.hostPort !== undefined ? { hostPort: p.hostPort } : { range: hp.range, exclude: [...new Set([...exclude, ...hp.exclude(claims[i]!)])] }),
    containerPort: p.containerPort,
  }))
  // The given ports are checked once the store has claimed them: a port another endpoint
  // publishes is refused by the store first, naming that endpoint (its reservation, with a
  // companion, is a host socket too).
  return {
    ports,
    checkHost: async () => {
      for (const c of claims) await hp.check(c)
    },
  }
}

/**
 * What publish need not look up for a network's mappings: the network's bridge leads to its
 * containers (egress for the hairpin rule and the mapping's interface), and connect turned
 * forwarding on just before.
 */
function publishHints(net: Network): PublishHints {
  const egress = (subnet: string) => {
    const [addr, len] = subnet.split('/')
    return { dev: net.bridge.name, subnet: prefixBounds(addr!, Number(len)) }
  }
  return { forwarding: true, egress: { 4: egress(net.subnet), ...(net.ipv6 ? { 6: egress(net.ipv6.subnet) } : {}) } }
}

/**
 * The NatRule mapping of one recorded port: to the container's address of its family; without
 * host address (or on 0.0.0.0) an IPv4 mapping also answers on the host's 127.0.0.1 (as Docker) unless the
 * entry said `localhost: false`. IPv6 has no such thing: the kernel never routes ::1 off the host.
 */
function publishMapping(net: Network, rec: EndpointRecord, p: PortRecord, publish: CheckedConnect['publish']): PublishOptions & { namespace: Namespace } {
  const to = rec.addresses.find((a) => a.family === p.family)!.address
  const wildcard = p.hostIp === '0.0.0.0' || p.hostIp === '::'
  const entry = publish.find(
    (e) =>
      e.protocol === p.protocol &&
      e.containerPort === p.containerPort &&
      (e.hostPort === undefined || e.hostPort === p.hostPort) &&
      (e.hostIp === undefined ? wildcard : e.hostIp === p.hostIp),
  )
  const localhost = p.family === 4 && wildcard && entry?.localhost !== false
  return {
    namespace: net.namespace,
    protocol: p.protocol,
    ...(wildcard ? {} : { hostIp: p.hostIp }),
    hostPort: p.hostPort,
    containerIp: to,
    containerPort: p.containerPort,
    ...(localhost ? { localhost: true } : {}),
    // Checked by portSpecs' checkHost(); a companion's reservations of them are host sockets.
    hostSockets: false,
  }
}

/** Linux's BR_MAX_PORTS: a bridge takes at most this many ports (the next RTM_NEWLINK with its IFLA_MASTER gets EXFULL). */
export const BRIDGE_MAX_PORTS = 1023

/**
 * A refusal of a new port on a network's bridge because it already has BR_MAX_PORTS ports (EXFULL,
 * "Exchange full", Docker passes it on as is) as ERR_NETNS_KIT_NETWORK_FULL, the kernel's error its
 * cause; any other error as it is.
 */
export function bridgeFull(e: unknown, network: string, bridge: string): unknown {
  if ((e as { code?: string })?.code !== 'EXFULL') return e
  return new NetnsKitError(
    'ERR_NETNS_KIT_NETWORK_FULL',
    `the network '${network}' is full: its bridge ${bridge} has ${BRIDGE_MAX_PORTS.toLocaleString('en-US')} ports, the most a Linux bridge takes (BR_MAX_PORTS); connect the container to another network`,
    { cause: e },
  )
}

/**
 * The one trip that wires a container: the veth, its port flags, the addresses, the default
 * routes (for the families net endpoint provides them; replacing another endpoint's route
 * where it took the route over).
 */
function wiring(net: Network, ns: Namespace, rec: EndpointRecord & { mac: string }, moves: GatewayMove[]): Op[] {
  const host = net.namespace
  const hostIf = rec.hostIf!
  const { ifname } = rec
  const a4 = rec.addresses.find((a) => a.family === 4)!
  const a6 = rec.addresses.find((a) => a.family === 6)
  const route = (a: typeof a4, provides: boolean): Op[] => {
    if (!provides) return []
    const replace = moves.some((m) => m.family === a.family && !m.provides)
    return [
      {
        ns,
        op: replace ? ('route.replace' as const) : ('route.add' as const),
        family: a.family,
        dstLength: 0,
        gateway: a.gateway,
        object: `default via ${a.gateway}`,
      },
    ]
  }
  return [
    {
      ns: host,
      op: 'link.create',
      kind: 'veth',
      name: hostIf,
      mtu: net.mtu,
      master: net.bridge.index,
      object: hostIf,
      peer: { name: ifname, mtu: net.mtu, mac: rec.mac, target: ns },
    },
    // The bridge port carries no IPv6 of its own (IPv6 is still bridged): no link-local address,
    // route and multicast state per port, which made each new port cost more than the last.
    noIpv6(host, hostIf),
    // The kernel ignores IFLA_IFALIAS in a creating RTM_NEWLINK: set it (and port isolation) next.
    // Hairpin mode, as Docker sets it: where br_netfilter is on, the answer to a container reaching
    // its own published port is bridged back out the port it came in on.
    {
      ns: host,
      op: 'link.set',
      name: hostIf,
      alias: linkAlias(net.name, rec.id),
      hairpin: true,
      ...(net.icc ? {} : { isolated: true }),
      object: `${hostIf} (port of ${net.bridge.name})`,
    },
    // Up once isolated (icc=false): no moment where the port forwards to the others.
    { ns: host, op: 'link.set', name: hostIf, up: true, object: hostIf },
    // On an IPv4-only network the container's interface has no IPv6 either (Docker's choice):
    // no link-local address, DAD or MLD reports flooded to every port of the bridge.
    ...(a6 ? [] : [noIpv6(ns, ifname)]),
    // Loopback up (a namespace made by `ip netns add` has it down): the resolver binds 127.0.0.11.
    { ns, op: 'link.set', name: 'lo', up: true, object: 'lo' },
    { ns, op: 'link.set', name: ifname, up: true, object: ifname },
    { ns, op: 'addr.add', linkName: ifname, address: a4.address, prefixLength: a4.prefixLength, object: `${a4.address}/${a4.prefixLength} on ${ifname}` },
    ...(a6
      ? [
          {
            ns,
            op: 'addr.add' as const,
            linkName: ifname,
            address: a6.address,
            prefixLength: a6.prefixLength,
            nodad: true,
            object: `${a6.address}/${a6.prefixLength} on ${ifname}`,
          },
        ]
      : []),
    ...route(a4, rec.gateway4),
    ...(a6 ? route(a6, rec.gateway6) : []),
  ]
}

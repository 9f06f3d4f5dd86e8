// The CNI verbs' access to netns-kit (Network.create/open/connect/disconnect, network.endpoint()
// by container id, network.check(), Network.gc() scoped to one network, Namespace), with the
// records in the SQLite store. Everything the verbs need from the library goes through these
// functions, so that they can be re-pointed in one place.
// Where the API still lacks a call, the workaround is marked `TODAY:`.
import { createHash } from 'node:crypto'
import * as path from 'node:path'
import { SqliteStore, type NetworkStore } from '../../ipam'
import { parseIp, parsePrefix, sizeOf } from '../../ipam/ip'
import { Namespace } from '../../namespace'
import { Network, type Endpoint, type PublishSpec } from '../../network'
import { CNI_ERR, CniError } from './errors'
import type { NetConf, RouteConf } from './config'
import { expectedFrom, type Attached } from './result'

/** One attachment: (network, CNI_CONTAINERID, CNI_IFNAME), the spec's primary key. */
export interface AttachmentKey {
  containerId: string
  ifname: string
  netns?: string
  args?: Map<string, string>
}

/**
 * The endpoint name of an attachment on its network: derived from (container id, ifname) (what
 * `inspect()` shows; the attachment itself is found by its container id and ifname).
 */
export function endpointName(containerId: string, ifname: string): string {
  return `cni-${createHash('sha256').update(`${containerId}\0${ifname}`).digest('hex').slice(0, 24)}`
}

/** The store of `stateDir` (its state.db), else the default one (/run/netns-kit/state.db). */
function storeOf(conf: NetConf): NetworkStore | undefined {
  return conf.stateDir ? new SqliteStore({ path: path.join(conf.stateDir, 'state.db') }) : undefined
}

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string })?.code
}

const isDefault = (r: RouteConf) => r.dst === '0.0.0.0/0' || r.dst === '::/0'

/** Where the existing network differs from the configuration (empty: the same network). */
function differences(net: Network, conf: NetConf): string[] {
  const want = conf.ipam
  const out: string[] = []
  const diff = (what: string, have: unknown, cfg: unknown) => {
    if (have !== cfg) out.push(`${what} is ${JSON.stringify(have)}, the configuration says ${JSON.stringify(cfg)}`)
  }
  diff('bridge', net.bridge.name, conf.bridge)
  diff('subnet', net.subnet, want.subnet)
  if (want.gateway) diff('gateway', net.gateway, want.gateway)
  diff('range', net.ipRange, want.ipRange)
  diff('mtu', net.mtu, conf.mtu)
  diff('ipMasq', net.masquerade, conf.ipMasq)
  diff('IPv6 subnet', net.ipv6?.subnet, want.ipv6?.subnet)
  if (net.dns) out.push('it serves embedded DNS, which needs a long-lived process (netns-kit-cni runs per call)')
  if (net.internal || !net.icc) out.push('it is internal or isolates its containers (not expressible in a CNI bridge configuration)')
  return out
}

/**
 * The network of `conf` in the runtime's namespace, created on first use (as the bridge plugin
 * creates its bridge). An existing network with other settings is refused (code 7).
 */
async function network(conf: NetConf, host: Namespace, store: NetworkStore | undefined): Promise<Network> {
  let net: Network | undefined
  let collected = false
  // TODAY: no atomic "open or create": a concurrent ADD that loses the race to create the
  // network (ERR_NETNS_KIT_NETWORK_EXISTS from the store, or NETWORK_NOT_READY while the winner
  // is creating it) waits until the winner has finished, or creates it itself if the winner
  // failed and rolled back.
  for (let attempt = 0; !net; attempt++) {
    try {
      net = await Network.open(conf.name, { namespace: host, store })
      break
    } catch (e) {
      if (codeOf(e) === 'ERR_NETNS_KIT_NETWORK_NOT_READY') {
        if (attempt >= 100) throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `the network '${conf.name}' is being created or removed by another process`)
        // A create or remove whose process died is finished or undone by gc (a live one is left alone).
        if (!collected) {
          collected = true
          await Network.gc({ namespace: host, store, network: conf.name })
        }
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 30))
        continue
      }
      if (codeOf(e) !== 'ERR_NETNS_KIT_NO_NETWORK') throw e
    }
    try {
      net = await Network.create({
        name: conf.name,
        namespace: host,
        store,
        bridgeName: conf.bridge,
        subnet: conf.ipam.subnet,
        gateway: conf.ipam.gateway,
        ipRange: conf.ipam.ipRange,
        mtu: conf.mtu,
        masquerade: conf.ipMasq,
        dns: false,
        ...(conf.ipam.ipv6 ? { ipv6: { subnet: conf.ipam.ipv6.subnet, ...(conf.ipam.ipv6.gateway ? { gateway: conf.ipam.ipv6.gateway } : {}) } } : {}),
      })
    } catch (e) {
      if (codeOf(e) !== 'ERR_NETNS_KIT_NETWORK_EXISTS') throw e
      if (attempt >= 100) throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `the network '${conf.name}' is being created by another process`)
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30))
    }
  }
  const diffs = differences(net, conf)
  if (diffs.length) throw new CniError(CNI_ERR.INVALID_CONFIG, `the network '${conf.name}' exists with other settings`, diffs.join('; '))
  return net
}

/** The network if it is recorded (it opens whether its bridge is there or not). */
async function existing(conf: NetConf, host: Namespace, store: NetworkStore | undefined): Promise<Network | undefined> {
  try {
    return await Network.open(conf.name, { namespace: host, store })
  } catch (e) {
    if (codeOf(e) === 'ERR_NETNS_KIT_NO_NETWORK') return undefined
    throw e
  }
}

/** A network whose bridge was gone when it was opened (deleted by hand). */
const bridgeGone = (net: Network) => net.bridge.index === 0

/** The attachment's endpoint on `net` (its namespace gone or not): an O(log n) lookup by container id and ifname. */
async function findEndpoint(net: Network, key: AttachmentKey): Promise<Endpoint | undefined> {
  return net.endpoint({ containerId: key.containerId, ifname: key.ifname })
}

function prefixLength(cidr: string): number {
  return Number(cidr.split('/')[1])
}

/** The routes the container ends up with, as the result lists them: the configured ones, plus the default routes connect() always adds. */
function resultRoutes(conf: NetConf, net: Network): RouteConf[] {
  const routes = [...conf.ipam.routes]
  // TODAY: connect() always adds a default route via the gateway (no option to leave it out).
  if (!routes.some((r) => r.dst === '0.0.0.0/0')) routes.push({ dst: '0.0.0.0/0', gw: net.gateway })
  if (net.ipv6 && !routes.some((r) => r.dst === '::/0')) routes.push({ dst: '::/0', gw: net.ipv6.gateway })
  return routes
}

/** Requested addresses: capability `ips` / args.cni.ips, else CNI_ARGS IP (CONVENTIONS.md). */
function requested(conf: NetConf, key: AttachmentKey): { ip?: string; ip6?: string } {
  const list = conf.runtimeConfig.ips.length
    ? conf.runtimeConfig.ips
    : (key.args?.get('IP') ?? '')
        .split(',')
        .filter(Boolean)
        .map((a) => a.split('/')[0]!)
  const out: { ip?: string; ip6?: string } = {}
  for (const a of list) {
    if (a.includes(':')) out.ip6 ??= a
    else out.ip ??= a
  }
  return out
}

async function openContainer(netns: string, host: Namespace): Promise<Namespace> {
  let ns: Namespace
  try {
    ns = await Namespace.open(netns)
  } catch (e) {
    throw new CniError(CNI_ERR.INVALID_NETNS, `failed to open netns "${netns}"`, (e as Error).message)
  }
  if (ns.equals(host)) {
    await ns.close()
    throw new CniError(CNI_ERR.INVALID_NETNS, "plugin's netns and netns from CNI_NETNS should not be the same")
  }
  return ns
}

/**
 * ADD: the network (created on first use), the container's veth and address, routes, published
 * ports (all by Network.connect), then the extra configured routes.
 */
export async function attach(conf: NetConf, key: AttachmentKey): Promise<Attached> {
  const host = await Namespace.current()
  const ns = await openContainer(key.netns!, host)
  if ((await ns.links()).some((l) => l.name === key.ifname)) {
    throw new CniError(CNI_ERR.INTERNAL, `container veth name provided (${key.ifname}) already exists`)
  }
  const store = storeOf(conf)
  const net = await network(conf, host, store)
  const publish: PublishSpec[] = conf.runtimeConfig.portMappings.map((m) => ({
    protocol: m.protocol,
    hostPort: m.hostPort,
    containerPort: m.containerPort,
    ...(m.hostIP ? { hostIp: m.hostIP } : {}),
  }))
  const mac = conf.runtimeConfig.mac ?? key.args?.get('MAC')
  let ep: Endpoint
  try {
    ep = await net.connect(ns, {
      name: endpointName(key.containerId, key.ifname),
      containerId: key.containerId,
      ifname: key.ifname,
      ...requested(conf, key),
      ...(mac ? { mac } : {}),
      publish,
    })
  } catch (e) {
    if (codeOf(e) === 'ERR_NETNS_KIT_ENDPOINT_EXISTS')
      throw new CniError(CNI_ERR.INTERNAL, `the container ${key.containerId} is already attached to '${conf.name}' as ${key.ifname}`)
    throw e
  }
  try {
    for (const r of conf.ipam.routes) {
      if (isDefault(r)) continue
      const v6 = r.dst.includes(':')
      await ns.routes.add({ to: r.dst, via: r.gw ?? (v6 ? net.ipv6!.gateway : net.gateway) })
    }
    const [br, hv, cv] = await Promise.all([net.bridge.info(), host.link(ep.hostInterface).then((l) => l.info()), ns.link(key.ifname).then((l) => l.info())])
    return {
      bridge: { name: br.name, mac: br.mac, mtu: br.mtu },
      host: { name: hv.name, mac: hv.mac, mtu: hv.mtu },
      container: { name: key.ifname, mac: cv.mac, mtu: cv.mtu, sandbox: key.netns! },
      ips: [
        { address: `${ep.ip}/${prefixLength(net.subnet)}`, gateway: net.gateway },
        ...(ep.ip6 && net.ipv6 ? [{ address: `${ep.ip6}/${prefixLength(net.ipv6.subnet)}`, gateway: net.ipv6.gateway }] : []),
      ],
      routes: resultRoutes(conf, net),
      ...(conf.dns ? { dns: conf.dns } : {}),
    }
  } catch (e) {
    await net.disconnect(ep).catch(() => {})
    throw e
  }
}

/**
 * DEL: removes the attachment's endpoint (veth, ports, address, record), found by its container
 * id and ifname even when its namespace or the bridge is gone; an ADD that died half-way is
 * undone the same way. Succeeds when the network, the namespace or the endpoint is already gone,
 * and when repeated or run concurrently.
 */
export async function detach(conf: NetConf, key: AttachmentKey): Promise<void> {
  const host = await Namespace.current()
  const net = await existing(conf, host, storeOf(conf))
  if (!net) return
  const ep = await findEndpoint(net, key)
  if (!ep) return
  try {
    await net.disconnect(ep)
  } finally {
    await ep.namespace.close().catch(() => {})
  }
}

/**
 * A problem network.check() reports about another endpoint than `ep`: one naming another host
 * interface (`vethXXXXXXX`) or leading to another container address (`-> 10.88.0.3:80`).
 */
function aboutAnother(p: { object: string; message: string }, ep: Endpoint): boolean {
  const text = `${p.object} ${p.message}`
  for (const m of text.matchAll(/\bveth[0-9a-f]+\b/g)) if (m[0] !== ep.hostInterface) return true
  for (const m of text.matchAll(/-> \[?([0-9a-f.:]+?)\]?:\d+/g)) if (m[1] !== ep.ip && m[1] !== ep.ip6) return true
  return false
}

/**
 * CHECK: what differs between the attachment as recorded and prevResult, and the kernel: the
 * container's interface, addresses and routes (against prevResult), its host end and the bridge
 * up, the network's host side as network.check() finds it (but for other attachments' parts),
 * the address reservation. Empty: all there.
 */
export async function inspect(conf: NetConf, key: AttachmentKey): Promise<string[]> {
  const host = await Namespace.current()
  const net = await existing(conf, host, storeOf(conf))
  if (!net) return [`no network '${conf.name}'`]
  if (bridgeGone(net)) return [`the bridge of the network '${conf.name}' is gone`]
  const ep = await findEndpoint(net, key)
  if (!ep) return [`no attachment of container ${key.containerId} as ${key.ifname} on '${conf.name}'`]
  const problems: string[] = []
  const ns = await openContainer(key.netns!, host)
  try {
    if (!ns.equals(ep.namespace)) problems.push(`the attachment was made in another namespace than ${key.netns}`)
    const link = await ns
      .link(key.ifname)
      .then((l) => l.info())
      .catch(() => undefined)
    if (!link) {
      problems.push(`no interface ${key.ifname} in ${key.netns}`)
    } else {
      if (!link.up) problems.push(`${key.ifname} is down`)
      const expected = expectedFrom(conf.prevResult ?? {}, key.ifname, key.netns)
      if (expected.mac && expected.mac.toLowerCase() !== link.mac) problems.push(`${key.ifname} has MAC ${link.mac}, prevResult says ${expected.mac}`)
      const have = (await ns.addresses()).filter((a) => a.index === link.index).map((a) => a.cidr)
      for (const a of expected.addresses) if (!have.includes(a)) problems.push(`${key.ifname} lacks the address ${a}`)
      const routes = await ns.routes.list()
      for (const r of expected.routes) {
        const to = isDefault(r) ? 'default' : r.dst
        if (!routes.some((x) => x.to === to && (!r.gw || x.via === r.gw))) problems.push(`the route to ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing`)
      }
    }
    const hv = await host
      .link(ep.hostInterface)
      .then((l) => l.info())
      .catch(() => undefined)
    if (hv && !hv.up) problems.push(`${ep.hostInterface} is down`)
    const br = await net.bridge.info().catch(() => undefined)
    if (br && !br.up) problems.push(`the bridge ${br.name} is down`)
    // The host side (bridge, host ends, masquerade, isolation, published ports, anti-spoofing,
    // sysctls) as network.check() compares the records with the kernel; what it finds about
    // other attachments (their host ends, their published ports) is theirs to CHECK.
    for (const x of await net.check()) if (!aboutAnother(x, ep)) problems.push(x.message)
    const held = await net.store.endpointByAddress(net.id, ep.ip)
    if (held?.id !== ep.id) problems.push(`the address ${ep.ip} is not reserved`)
  } finally {
    await ns.close().catch(() => {})
    await ep.namespace.close().catch(() => {})
  }
  return problems
}

/**
 * STATUS: ready when netns-kit's records can be read and, once the network exists, its bridge
 * is there and its range has a free address (code 50 otherwise).
 * TODAY: the free count is worked out here from the network's endpoints and the range size.
 */
export async function status(conf: NetConf): Promise<void> {
  const host = await Namespace.current()
  let net: Network | undefined
  try {
    net = await existing(conf, host, storeOf(conf))
  } catch (e) {
    throw new CniError(CNI_ERR.NOT_AVAILABLE, 'netns-kit cannot read its records', (e as Error).message)
  }
  if (!net) return
  if (bridgeGone(net))
    throw new CniError(
      CNI_ERR.NOT_AVAILABLE,
      `the bridge of the network '${conf.name}' is gone`,
      'the network must be removed (netns-kit CLI) before ADD can create it again',
    )
  const range = parsePrefix(net.ipRange ?? net.subnet)
  const subnet = parsePrefix(net.subnet)
  // Never handed out: the network and broadcast addresses and the gateway, when inside the range.
  let reserved = 0n
  for (const v of [subnet.network, subnet.network + sizeOf(subnet) - 1n]) if (v >= range.network && v < range.network + sizeOf(range)) reserved++
  const gw = parseIp(net.gateway).value
  if (gw >= range.network && gw < range.network + sizeOf(range)) reserved++
  const used = (await net.store.endpoints(net.id)).filter((e) => e.addresses.some((a) => a.family === 4)).length
  if (BigInt(used) >= sizeOf(range) - reserved) {
    throw new CniError(CNI_ERR.NOT_AVAILABLE, `no free address left in ${net.ipRange ?? net.subnet} of the network '${net.name}'`)
  }
}

/**
 * GC: removes the network's CNI attachments that are not in `valid` (runtime's list), and what
 * Network.gc() finds stale in that network (endpoints whose namespace is gone, ADDs and DELs that
 * died half-way, orphan links and rules), without opening any container's namespace. Without a
 * list from the runtime, only the stale ones go. Returns what went, for stderr.
 */
export async function collect(conf: NetConf): Promise<{ removed: string[]; errors: string[] }> {
  const host = await Namespace.current()
  const removed: string[] = []
  const errors: string[] = []
  try {
    const keep = conf.validAttachments?.map((a) => ({ containerId: a.containerID, ifname: a.ifname }))
    const r = await Network.gc({ namespace: host, store: storeOf(conf), network: conf.name, ...(keep ? { keep } : {}) })
    removed.push(
      ...r.networks.map((n) => `network ${n}`),
      ...r.endpoints,
      ...r.links.map((l) => `link ${l}`),
      ...r.rules.map((x) => `rule ${x}`),
      ...r.addresses.map((a) => `address ${a}`),
    )
  } catch (e) {
    errors.push((e as Error).message)
  }
  return { removed, errors }
}

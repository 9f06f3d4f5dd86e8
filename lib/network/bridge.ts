// Network: Docker-style networks. This file is the bridge driver (a bridge, its NAT and isolation
// rules, an IPAM network, endpoints wired to the bridge, Docker's modes and embedded name
// resolution); Network.create, open and list also hand out the macvlan and overlay drivers'
// networks (lib/network/macvlan.ts, overlay.ts), peers through lib/network/driver.ts. State the
// kernel cannot hold goes through lib/network/records.ts.
import { randomBytes } from 'node:crypto'
import { Bridge } from '../bridge'
import { NetnsKitError, invalidArg } from '../errors'
import { FileStore, Ipam, type Allocation, type IpamStore } from '../ipam'
import { handleOf } from '../kernel/handles'
import { run, runOne, type Op } from '../kernel/rtnl'
import { NatRule } from '../nat'
import { Namespace, defaultNamespace } from '../namespace'
import { checkBool } from '../validate'
import { noIpv6 } from '../veth'
import { checkConnectOptions, checkCreateOptions, type ConnectOptions, type NetworkCreateOptions } from './bridge-options'
import { forgetNetwork, restoreResolvers, startResolver, stopResolver } from './dns'
import { DriverNetwork } from './driver'
import { Endpoint } from './endpoint'
import { gc, type GcReport } from './gc'
import { listNetworks, openNetwork, type AnyNetwork, type NetworkLookupOptions } from './lookup'
import { MacvlanNetwork, type MacvlanNetworkOptions } from './macvlan'
import { randomMac, macForIp } from './mac'
import { bridgeAlias, deleteLinkWithAlias, deleteRules, deleteVeth, linkAlias } from './owned'
import { OverlayNetwork, type OverlayNetworkOptions } from './overlay'
import type { OverlayAgent } from './overlay-agent'
import { driverOf, identity, nsAlive, recordsIn, type BridgeNetworkRecord, type EndpointRecord, type NetworkRecords, type PortRecord } from './records'

function prefixLen(cidr: string): number { return Number(cidr.split('/')[1]) }

/**
 * A Docker-style network in a host namespace: a bridge with the gateway address, masquerading
 * and isolation rules (NatRule), an IPAM network, and the endpoints connected to it.
 *
 * Docker's network modes, each one call:
 * - bridge: `await network.connect(ns)` (a veth, the address, the default route, ports);
 * - host: `await Network.host()`: the host's own namespace, no new interface;
 * - none: `await Network.none()`: a new namespace with only loopback up;
 * - container: `await Network.container(endpointOrPidOrNamespace)`: share another's namespace.
 *
 * Name resolution: on a network created with DNS (the default except for createDefault()),
 * each connected container gets a resolver on 127.0.0.11:53 inside its namespace that answers
 * the names and aliases of the network's containers (A and AAAA) and forwards other names,
 * from the host namespace, to `dns.upstream`. The resolvers run inside this process (with
 * sockets opened in the containers' namespaces): they live as long as the process. A
 * runtime should keep one long-lived process per host for its networks (as dockerd does),
 * or call `network.restoreDns()` after a restart to serve the endpoints already connected.
 */
export class Network extends DriverNetwork<Endpoint> {
  readonly driver = 'bridge' as const
  readonly id: string
  readonly namespace: Namespace
  readonly ipRange: string | undefined
  readonly ipv6: { subnet: string; gateway: string } | undefined
  readonly bridge: Bridge
  readonly mtu: number | undefined
  readonly masquerade: boolean
  readonly icc: boolean
  readonly internal: boolean
  /** The embedded resolver serves this network's containers. */
  readonly dns: boolean
  /** Where the embedded resolver forwards other names; undefined: the host's /etc/resolv.conf nameservers. */
  readonly upstream: readonly string[] | undefined
  readonly store: IpamStore
  readonly #ipam: Ipam
  readonly #records: NetworkRecords
  readonly #local = new Map<string, Endpoint>()

  private constructor(ns: Namespace, store: IpamStore, rec: BridgeNetworkRecord, bridge: Bridge) {
    super(rec)
    this.id = rec.id
    this.namespace = ns
    this.ipRange = rec.ipRange
    this.ipv6 = rec.ipv6
    this.bridge = bridge
    this.mtu = rec.mtu
    this.masquerade = rec.masquerade
    this.icc = rec.icc
    this.internal = rec.internal
    this.dns = rec.dns
    this.upstream = rec.upstream && Object.freeze([...rec.upstream])
    this.store = store
    this.#ipam = new Ipam({ store })
    this.#records = recordsIn(store)
  }

  /**
   * `docker network create [--subnet S] [--gateway G] [--ip-range R] [--internal] [--ipv6 --subnet S6]
   * [-o com.docker.network.bridge.name=B] [-o com.docker.network.bridge.enable_icc=false]
   * [-o com.docker.network.driver.mtu=M] NAME`: the bridge (up, with a fixed MAC and the
   * gateway addresses), masquerading (unless internal), isolation, and the records. A failure
   * half-way removes what was made.
   */
  static create(opts: NetworkCreateOptions): Promise<Network>
  /** `docker network create -d macvlan -o parent=P -o macvlan_mode=M --subnet S --gateway G NAME`: see MacvlanNetwork.create. */
  static create(opts: MacvlanNetworkOptions & { driver: 'macvlan' }): Promise<MacvlanNetwork>
  /** `docker network create -d overlay --subnet S NAME` across the hosts of the agent's etcd: see OverlayNetwork.create. */
  static create(opts: OverlayNetworkOptions & { driver: 'overlay' }): Promise<OverlayNetwork>
  static async create(opts: NetworkCreateOptions | (MacvlanNetworkOptions & { driver: 'macvlan' }) | (OverlayNetworkOptions & { driver: 'overlay' })):
    Promise<AnyNetwork> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const driver = opts.driver
    if (driver === 'macvlan') return MacvlanNetwork.create(opts)
    if (driver === 'overlay') return OverlayNetwork.create(opts)
    if (driver !== undefined && driver !== 'bridge') throw invalidArg('opts.driver', driver, "must be 'bridge', 'macvlan' or 'overlay'")
    return Network.#createBridge(opts)
  }

  static async #createBridge(opts: NetworkCreateOptions): Promise<Network> {
    const o = checkCreateOptions(opts)
    const { name } = o
    const bridgeName = o.bridgeName ?? `br-${randomBytes(6).toString('hex')}`
    const ns = await defaultNamespace(opts.namespace)
    const store = opts.store ?? new FileStore()
    const ipam = new Ipam({ store })
    const records = recordsIn(store)
    if (await records.getNetwork(name)) throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network named '${name}' exists`)

    const undo: (() => Promise<unknown>)[] = []
    try {
      const ipamNet = await ipam.createNetwork(name, { subnet: opts.subnet, gateway: opts.gateway, ipRange: opts.ipRange, ipv6: opts.ipv6, namespace: ns })
      undo.push(() => ipam.deleteNetwork(name, { force: true }))
      const v4 = ipamNet.pools.find((p) => p.family === 4)
      const v6 = ipamNet.pools.find((p) => p.family === 6)
      if (!v4) throw invalidArg('opts.subnet', opts.subnet, 'must be an IPv4 subnet (IPv6 goes in opts.ipv6)')
      const bridge = await Bridge.create({ name: bridgeName, namespace: ns, mtu: o.mtu, mac: randomMac(), up: true })
      undo.push(() => runOne({ ns, op: 'link.delete', index: bridge.index, ignoreMissing: true }))
      await run([
        { ns, op: 'link.set', index: bridge.index, alias: bridgeAlias(name), object: bridgeName },
        { ns, op: 'addr.add', index: bridge.index, address: v4.gateway, prefixLength: prefixLen(v4.subnet), object: `${v4.gateway} on ${bridgeName}` },
        ...(v6 ? [{ ns, op: 'addr.add' as const, index: bridge.index, address: v6.gateway, prefixLength: prefixLen(v6.subnet), nodad: true, object: `${v6.gateway} on ${bridgeName}` }] : []),
      ])
      const rules: string[] = []
      undo.push(() => deleteRules(ns, rules))
      if (o.masquerade && !o.internal) {
        rules.push((await NatRule.masquerade({ namespace: ns, source: v4.subnet, notOutInterface: bridgeName })).id)
        if (v6) rules.push((await NatRule.masquerade({ namespace: ns, source: v6.subnet, notOutInterface: bridgeName })).id)
      }
      rules.push((await NatRule.isolate({ namespace: ns, interface: bridgeName, icc: o.icc, internal: o.internal })).id)
      const rec: BridgeNetworkRecord = {
        name, id: ipamNet.id, bridge: bridgeName, subnet: v4.subnet, gateway: v4.gateway, ipRange: v4.ipRange,
        ipv6: v6 ? { subnet: v6.subnet, gateway: v6.gateway } : undefined, mtu: o.mtu, masquerade: o.masquerade, icc: o.icc, internal: o.internal,
        dns: o.dns, upstream: o.upstream, host: identity(ns), rules, created: ipamNet.created,
      }
      await records.createNetwork(rec)
      return new Network(ns, store, rec, bridge)
    } catch (e) {
      for (const f of undo.reverse()) await f().catch(() => {})
      throw e
    }
  }

  /**
   * Docker's default network in one call (what dockerd makes at start): named 'bridge',
   * 172.17.0.0/16 with gateway 172.17.0.1 on the bridge `nk0` (pass bridgeName for another),
   * masquerade on, inter-container communication on, and no embedded DNS (containers on
   * the default bridge do not resolve each other's names).
   */
  static async createDefault(opts: { namespace?: Namespace; store?: IpamStore; bridgeName?: string; mtu?: number } = {}): Promise<Network> {
    return Network.create({ name: 'bridge', subnet: '172.17.0.0/16', gateway: '172.17.0.1', bridgeName: opts.bridgeName ?? 'nk0', mtu: opts.mtu, namespace: opts.namespace, store: opts.store, dns: false })
  }

  /**
   * An existing network by name (`docker network inspect NAME`); ERR_NETNS_KIT_NO_NETWORK when
   * there is none in that namespace. A network of another driver than `driver` (default
   * 'bridge') is ERR_NETNS_KIT_WRONG_DRIVER; overlay networks are found through `agent`.
   */
  static open(name: string, opts?: NetworkLookupOptions & { driver?: 'bridge' }): Promise<Network>
  static open(name: string, opts: NetworkLookupOptions & { driver: 'macvlan' }): Promise<MacvlanNetwork>
  static open(name: string, opts: NetworkLookupOptions & { driver: 'overlay'; agent: OverlayAgent }): Promise<OverlayNetwork>
  static open(name: string, opts: NetworkLookupOptions & { driver: 'all' }): Promise<AnyNetwork>
  static async open(name: string, opts: NetworkLookupOptions = {}): Promise<AnyNetwork> {
    return openNetwork(name, opts, async (ns, store, rec) => new Network(ns, store, rec, await Bridge.open(rec.bridge, { namespace: ns })))
  }


  /**
   * `docker network ls`: the networks of the namespace, by name: the bridge driver's, or those of
   * `driver` ('all': every driver's; overlay networks through `agent`).
   */
  static list(opts?: NetworkLookupOptions & { driver?: 'bridge' }): Promise<Network[]>
  static list(opts: NetworkLookupOptions & { driver: 'macvlan' }): Promise<MacvlanNetwork[]>
  static list(opts: NetworkLookupOptions & { driver: 'overlay'; agent: OverlayAgent }): Promise<OverlayNetwork[]>
  static list(opts: NetworkLookupOptions & { driver: 'all' }): Promise<AnyNetwork[]>
  static async list(opts: NetworkLookupOptions = {}): Promise<AnyNetwork[]> {
    return listNetworks(opts, async (ns, store, rec) => new Network(ns, store, rec, await Bridge.open(rec.bridge, { namespace: ns })))
  }

  /** `--network host`: the host's own namespace (the current one, or `namespace`); nothing is created. */
  static async host(opts: { namespace?: Namespace } = {}): Promise<Namespace> {
    return defaultNamespace(opts.namespace)
  }

  /** `--network none`: a new named namespace (`ip netns add NAME`) with only loopback, up. */
  static async none(name?: string): Promise<Namespace> {
    return Namespace.create(name ?? `nk-${randomBytes(4).toString('hex')}`, { loopback: true })
  }

  /**
   * `--network container:X`: the namespace of an endpoint's container, of a process (pid), or
   * the given namespace itself: a second container there shares its interfaces and addresses.
   */
  static async container(target: Endpoint | Namespace | number): Promise<Namespace> {
    if (target instanceof Endpoint) return target.namespace
    if (target instanceof Namespace) return target
    if (typeof target === 'number') return Namespace.fromPid(target)
    throw invalidArg('target', target, 'must be an Endpoint, a Namespace or a pid', 'ERR_INVALID_ARG_TYPE')
  }

  /** `docker network inspect`: the configuration and the endpoints (as recorded). */
  async inspect(): Promise<{ name: string; id: string; bridge: string; subnet: string; gateway: string; ipRange?: string; ipv6?: { subnet: string; gateway: string };
    mtu?: number; masquerade: boolean; icc: boolean; internal: boolean; dns: boolean; endpoints: { name: string; ip: string; ip6?: string; mac: string; ports: PortRecord[] }[] }> {
    const eps = await this.#records.listEndpoints(this.name)
    return {
      name: this.name, id: this.id, bridge: this.bridge.name, subnet: this.subnet, gateway: this.gateway, ipRange: this.ipRange, ipv6: this.ipv6,
      mtu: this.mtu, masquerade: this.masquerade, icc: this.icc, internal: this.internal, dns: this.dns,
      endpoints: eps.filter((e) => e.networkId === this.id).map((e) => ({ name: e.name, ip: e.ip, ip6: e.ip6, mac: e.mac, ports: e.ports })),
    }
  }

  /**
   * `docker network connect [--ip IP] [--alias A] NETWORK CONTAINER` (and `docker run -p/-P`):
   * an address from IPAM, a veth whose peer is born as `ifname` inside `ns` and whose host end
   * is on the bridge, up, with the alias `netns-kit:<network>:<id>`, the address, the default
   * route (one trip to the native layer), then the port mappings and the resolver. All or
   * nothing: a failure removes what was made and gives the address back.
   */
  async connect(ns: Namespace, opts: ConnectOptions = {}): Promise<Endpoint> {
    if (!(ns instanceof Namespace)) throw invalidArg('ns', ns, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
    handleOf(ns) // closed or deleted: refused before anything is made
    const o = checkConnectOptions(opts, this.name, this.ipv6 !== undefined)
    const id = randomBytes(6).toString('hex')
    const name = o.name ?? `ep-${id}`
    const { ifname } = o
    if (ns.equals(this.namespace)) throw invalidArg('ns', ns.name ?? ns.path, "is the network's host namespace: use Network.host() for host networking")
    if ((await this.#records.listEndpoints(this.name)).some((e) => e.name === name && e.networkId === this.id)) {
      throw new NetnsKitError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint named '${name}' is connected to the network '${this.name}'`)
    }

    const host = this.namespace
    const hostIf = `veth${id.slice(0, 7)}`
    const undo: (() => Promise<unknown>)[] = []
    try {
      undo.push(() => this.#ipam.releaseOwner(this.name, id))
      const a4 = await this.#ipam.allocate(this.name, { owner: id, ip: o.ip, family: 4 })
      let a6: Allocation | undefined
      if (this.ipv6) a6 = await this.#ipam.allocate(this.name, { owner: id, ip: o.ip6, family: 6 })
      const mac = o.mac ?? macForIp(a4.address)
      const rec: EndpointRecord = {
        id, network: this.name, networkId: this.id, name, ip: a4.address, ip6: a6?.address, mac, ifname, hostIf, aliases: o.aliases, hostname: o.hostname,
        ns: identity(ns), state: 'connecting', pid: process.pid, ports: [], rules: [],
      }
      // Recorded before the kernel changes: a crash from here on leaves something gc() finds.
      undo.push(() => this.#records.deleteEndpoint(this.name, id))
      await this.#records.putEndpoint(rec)
      undo.push(() => runOne({ ns: host, op: 'link.delete', name: hostIf, ignoreMissing: true }))
      await run(this.#wiring(ns, rec, a4, a6))

      undo.push(() => deleteRules(host, rec.rules))
      // Every mapping in one nf_tables batch: all published or none.
      const published = await NatRule.publishMany(o.publish.map((p) => ({ namespace: host, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: a4.address, containerPort: p.containerPort })))
      published.forEach((r, i) => {
        const p = o.publish[i]!
        rec.rules.push(r.id)
        rec.ports.push({ protocol: p.protocol, hostIp: p.hostIp ?? '0.0.0.0', hostPort: r.hostPort!, containerPort: p.containerPort })
      })

      if (this.dns) {
        undo.push(() => stopResolver(this.id, id))
        await startResolver(this, this.#records, ns, rec)
      }
      rec.state = 'connected'
      await this.#records.putEndpoint(rec)
      const ep = new Endpoint(this, ns, rec)
      this.#local.set(id, ep)
      return ep
    } catch (e) {
      for (const f of undo.reverse()) await f().catch(() => {})
      throw e
    }
  }

  /** The one trip that wires a container: the veth, its port flags, the addresses, the default routes. */
  #wiring(ns: Namespace, rec: EndpointRecord, a4: Allocation, a6: Allocation | undefined): Op[] {
    const host = this.namespace
    const { hostIf, ifname } = rec
    return [
      {
        ns: host, op: 'link.create', kind: 'veth', name: hostIf, mtu: this.mtu, master: this.bridge.index, object: hostIf,
        peer: { name: ifname, mtu: this.mtu, mac: rec.mac, target: ns },
      },
      // The bridge port carries no IPv6 of its own (IPv6 is still bridged): no link-local address,
      // route and multicast state per port, which made each new port cost more than the last.
      noIpv6(host, hostIf),
      // The kernel ignores IFLA_IFALIAS in a creating RTM_NEWLINK: set it (and port isolation) next.
      // Hairpin mode, as Docker sets it: where br_netfilter is on, the answer to a container reaching
      // its own published port is bridged back out the port it came in on.
      { ns: host, op: 'link.set', name: hostIf, alias: linkAlias(this.name, rec.id), hairpin: true, ...(this.icc ? {} : { isolated: true }), object: `${hostIf} (port of ${this.bridge.name})` },
      // Up once isolated (icc=false): no moment where the port forwards to the others.
      { ns: host, op: 'link.set', name: hostIf, up: true, object: hostIf },
      // On an IPv4-only network the container's interface has no IPv6 either (Docker's choice):
      // no link-local address, DAD or MLD reports flooded to every port of the bridge.
      ...(a6 ? [] : [noIpv6(ns, ifname)]),
      { ns, op: 'link.set', name: ifname, up: true, object: ifname },
      { ns, op: 'addr.add', linkName: ifname, address: a4.address, prefixLength: a4.prefixLength, object: `${a4.address}/${a4.prefixLength} on ${ifname}` },
      ...(a6 ? [{ ns, op: 'addr.add' as const, linkName: ifname, address: a6.address, prefixLength: a6.prefixLength, nodad: true, object: `${a6.address}/${a6.prefixLength} on ${ifname}` }] : []),
      { ns, op: 'route.add', family: 4, dstLength: 0, gateway: a4.gateway, object: `default via ${a4.gateway}` },
      ...(a6 ? [{ ns, op: 'route.add' as const, family: 6 as const, dstLength: 0, gateway: a6.gateway, object: `default via ${a6.gateway}` }] : []),
    ]
  }

  /**
   * Starts the embedded resolvers for endpoints connected by another process (or before a
   * restart) whose namespaces are still there. Returns how many it started.
   */
  async restoreDns(): Promise<number> {
    return this.dns ? restoreResolvers(this, this.#records) : 0
  }

  /**
   * `docker network disconnect NETWORK CONTAINER`: removes the endpoint's published ports (and
   * their UDP conntrack entries), its veth, its resolver, its address and its record.
   * Idempotent.
   */
  async disconnect(endpoint: Endpoint): Promise<void> {
    if (!(endpoint instanceof Endpoint)) throw invalidArg('endpoint', endpoint, 'must be an Endpoint', 'ERR_INVALID_ARG_TYPE')
    if (endpoint.network.id !== this.id) throw invalidArg('endpoint', String(endpoint), `is not an endpoint of the network '${this.name}'`)
    const rec = await this.#records.getEndpoint(this.name, endpoint.id)
    await this.#teardown(rec ?? { id: endpoint.id, hostIf: endpoint.hostInterface, rules: [] })
    this.#local.delete(endpoint.id)
  }

  async #teardown(rec: Pick<EndpointRecord, 'id' | 'hostIf' | 'rules'>): Promise<void> {
    await deleteRules(this.namespace, rec.rules)
    await deleteVeth(this.namespace, rec.hostIf, linkAlias(this.name, rec.id))
    await stopResolver(this.id, rec.id)
    await this.#ipam.releaseOwner(this.name, rec.id)
    await this.#records.deleteEndpoint(this.name, rec.id)
  }

  /**
   * The endpoints connected to this network (as recorded, by any process). Those connected
   * by this Network object come back as the same objects; for the others, the namespace is
   * opened by path (close() it when done). Endpoints whose namespace is gone are left out
   * (Network.gc() removes them).
   */
  async endpoints(): Promise<Endpoint[]> {
    const out: Endpoint[] = []
    for (const r of await this.#records.listEndpoints(this.name)) {
      if (r.networkId !== this.id || r.state !== 'connected') continue
      const mine = this.#local.get(r.id)
      if (mine) { out.push(mine); continue }
      if (!nsAlive(r.ns)) continue
      const ns = await Namespace.open(r.ns.path).catch(() => undefined)
      if (ns) out.push(new Endpoint(this, ns, r))
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  /**
   * `docker network rm NAME`: refused (ERR_NETNS_KIT_NETWORK_IN_USE) while endpoints are
   * connected unless `force` (which disconnects them first); then removes the rules, the bridge
   * and the records this network made. Idempotent.
   */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    const force = checkBool(opts?.force, 'opts.force') ?? false
    const rec = await this.#records.getNetwork(this.name)
    if (!rec || rec.id !== this.id || driverOf(rec) !== 'bridge') return
    const eps = (await this.#records.listEndpoints(this.name)).filter((e) => e.networkId === this.id)
    if (eps.length && !force) {
      throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_IN_USE', `the network '${this.name}' has ${eps.length} endpoint(s) connected (${eps.slice(0, 3).map((e) => e.name).join(', ')}${eps.length > 3 ? ', ...' : ''}): disconnect them or remove with { force: true }`)
    }
    for (const e of eps) await this.#teardown(e)
    const b = rec as BridgeNetworkRecord
    await deleteRules(this.namespace, b.rules)
    await deleteLinkWithAlias(this.namespace, b.bridge, bridgeAlias(this.name))
    await this.#ipam.deleteNetwork(this.name, { force: true })
    await this.#records.deleteNetwork(this.name)
    forgetNetwork(this.id)
    this.#local.clear()
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.remove({ force: true }) }

  /**
   * `docker network prune`-like repair after a crash, in the host namespace: removes endpoints
   * whose namespace is gone (its path missing or naming another inode) or whose connect died
   * half-way (its process is gone), links carrying netns-kit's alias that no live endpoint
   * uses, published mappings to addresses no longer allocated, and allocations whose endpoint
   * is gone. Reports what it removed. Bridge networks only: the other drivers keep no endpoint records.
   */
  static async gc(opts: { namespace?: Namespace; store?: IpamStore } = {}): Promise<GcReport> {
    return gc(await defaultNamespace(opts?.namespace), opts?.store ?? new FileStore())
  }

  override toString(): string { return `Network(${this.name} ${this.subnet} on ${this.bridge.name})` }
}

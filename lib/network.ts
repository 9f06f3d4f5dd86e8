// Network: Docker-style networks (a bridge, its NAT and isolation rules, an IPAM network) and
// endpoints (a container namespace wired to the bridge), with Docker's modes and its embedded
// name resolution. State the kernel cannot hold lives in the IPAM store next to the addresses.
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import { Bridge } from './bridge'
import { NetnsKitError, invalidArg } from './errors'
import { handleOf } from './internal'
import { Ipam, FileStore, checkNetworkName, updateRecord, type IpamStore, type Allocation } from './ipam'
import { pidAlive } from './ipam/file-store'
import { Namespace, defaultNamespace } from './namespace'
import { NatRule, type NatProtocol } from './natrule'
import { run, runOne, listLinks, type Op } from './rtnl'
import { noIpv6 } from './veth'
import { checkBool, checkIfName, checkIp, checkMac, checkMtu, checkPort } from './validate'
import { hostsFile, hostnameFile, planResolvConf, checkHostName, EMBEDDED_RESOLVER } from './container-files'
import { DnsRecords, Resolver } from './dns'
import { normaliseName } from './dns/records'
import type { NativeLink } from './native/binding'
import { MacvlanNetwork, type MacvlanNetworkOptions } from './macvlan-network'
import { OverlayNetwork, type OverlayNetworkOptions } from './overlay/network'

/** What `docker network create` takes. */
export interface NetworkCreateOptions {
  /** 'bridge' (the default): a bridge on this host. 'macvlan' and 'overlay' take their own options (below). */
  driver?: 'bridge'
  name: string
  /** The namespace playing the host (where the bridge and the rules go); the current one when absent. */
  namespace?: Namespace
  /** Without one, a free one is chosen (172.17-31.0.0/16, then 192.168.x.0/24) that overlaps no route. */
  subnet?: string
  gateway?: string
  ipRange?: string
  /** Default `br-` and 12 hex digits, as Docker. */
  bridgeName?: string
  mtu?: number
  /** Masquerade traffic from the subnet leaving through another interface (default true; never for internal). */
  masquerade?: boolean
  /** Inter-container communication (default true); false isolates the bridge's ports from each other. */
  icc?: boolean
  /** No traffic in or out of the network, only between its containers (default false). */
  internal?: boolean
  ipv6?: { subnet: string; gateway?: string }
  /** Where the network, its endpoints and addresses are recorded (default a FileStore under /run/netns-kit). */
  store?: IpamStore
  /**
   * The embedded resolver (127.0.0.11 in each container): on by default for user-defined networks,
   * `false` for none (as Docker's default bridge). `upstream`: where other names go (default the
   * nameservers of the host's /etc/resolv.conf), queried from the host namespace.
   */
  dns?: false | { upstream?: string[] }
}

export interface PublishSpec {
  protocol?: NatProtocol
  hostIp?: string
  /** Absent: a free port (docker -P). */
  hostPort?: number
  containerPort: number
}

export interface ConnectOptions {
  /** The container's name on the network (resolvable by the other containers); default `ep-<id>`. */
  name?: string
  ip?: string
  ip6?: string
  mac?: string
  /** The interface's name inside the container (default 'eth0'). */
  ifname?: string
  aliases?: string[]
  hostname?: string
  publish?: PublishSpec[]
}

/** What Network.gc() removed. */
export interface GcReport {
  /** Endpoints whose namespace was gone (or whose connect died half-way): `network/name`. */
  endpoints: string[]
  /** Links carrying netns-kit's alias that no live endpoint uses. */
  links: string[]
  /** Published mappings to addresses no longer allocated (`tcp 8080 -> 172.18.0.2:80`). */
  rules: string[]
  /** IPAM allocations whose owner (endpoint) was gone: `network/address`. */
  addresses: string[]
}

interface NsIdentity { path: string; dev: string; ino: string }

interface NetworkRecord {
  name: string
  /** The IPAM network id: a network created again under the same name is another network. */
  id: string
  bridge: string
  subnet: string
  gateway: string
  ipRange?: string
  ipv6?: { subnet: string; gateway: string }
  mtu?: number
  masquerade: boolean
  icc: boolean
  internal: boolean
  dns: boolean
  upstream?: string[]
  host: NsIdentity
  /** NatRule ids (masquerade, isolation) this network owns. */
  rules: string[]
  created: string
}

interface PortRecord { protocol: string; hostIp: string; hostPort: number; containerPort: number }

interface EndpointRecord {
  id: string
  network: string
  networkId: string
  name: string
  ip: string
  ip6?: string
  mac: string
  ifname: string
  hostIf: string
  aliases: string[]
  hostname?: string
  ns: NsIdentity
  /** 'connecting' until every step took effect; `pid` is the process doing it. */
  state: 'connecting' | 'connected'
  pid: number
  ports: PortRecord[]
  /** NatRule ids of the published ports. */
  rules: string[]
}

const netKey = (name: string) => `network.${name}`
const epPrefix = (name: string) => `endpoint.${name}.`
const epKey = (name: string, id: string) => `endpoint.${name}.${id}`
const ALIAS = 'netns-kit:'
const linkAlias = (network: string, id: string) => `${ALIAS}${network}:${id}`

function identity(ns: Namespace): NsIdentity {
  const h = handleOf(ns)
  return { path: ns.path, dev: String(h.dev), ino: String(h.ino) }
}

function sameNs(a: NsIdentity, ns: Namespace): boolean {
  const h = handleOf(ns)
  return a.dev === String(h.dev) && a.ino === String(h.ino)
}

/** The namespace recorded is still there: its path exists and names the same inode. */
function nsAlive(n: NsIdentity): boolean {
  try {
    const st = fs.statSync(n.path, { bigint: true })
    return String(st.ino) === n.ino && String(st.dev) === n.dev
  } catch {
    return false
  }
}


/** A locally administered unicast MAC, random (bridges: a fixed MAC that does not follow its ports). */
function randomMac(): string {
  const b = randomBytes(6)
  b[0] = (b[0]! & 0xfe) | 0x02
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** Docker's container MAC: 02:42 and the IPv4 address. */
function macFromIp(ip: string): string {
  return ['02', '42', ...ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0'))].join(':')
}

function prefixLen(cidr: string): number { return Number(cidr.split('/')[1]) }

/** The nameservers of the host's /etc/resolv.conf (the default upstreams of the embedded resolver). */
function hostResolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8')
  } catch {
    return ''
  }
}

/** The embedded resolvers this process runs: one record set per network, one resolver per endpoint. */
const dnsState = new Map<string, { records: DnsRecords; resolvers: Map<string, Resolver> }>()

function dnsOf(networkId: string): { records: DnsRecords; resolvers: Map<string, Resolver> } {
  let s = dnsState.get(networkId)
  if (!s) dnsState.set(networkId, (s = { records: new DnsRecords(), resolvers: new Map() }))
  return s
}

function dnsNames(r: EndpointRecord): string[] {
  const names = [r.name, ...r.aliases, ...(r.hostname ? [r.hostname] : [])]
  return [...new Set(names.map((n) => n.toLowerCase()))]
}

async function listRecords<T>(store: IpamStore, prefix: string): Promise<T[]> {
  return (await store.list(prefix)).map((e) => e.value as T)
}

async function deleteRecord(store: IpamStore, key: string): Promise<void> {
  await updateRecord(store, key, (cur) => (cur ? { result: undefined, delete: true } : { result: undefined }))
}

/** Deletes the NatRules of `ids` in `ns` (those still there). */
async function deleteRules(ns: Namespace, ids: readonly string[]): Promise<string[]> {
  if (!ids.length) return []
  const gone: string[] = []
  for (const r of await NatRule.list({ namespace: ns })) {
    if (ids.includes(r.id)) {
      await r.delete()
      gone.push(String(r))
    }
  }
  return gone
}

/**
 * Deletes the host end of an endpoint's veth (and so its peer), only if it still carries our
 * alias; or, for a connect that died between creating the veth and naming it (`bridge`), a veth
 * of that name without an alias on that bridge.
 */
async function deleteVeth(ns: Namespace, hostIf: string, alias: string, bridge?: number): Promise<boolean> {
  const l = await runOne({ ns, op: 'link.get', name: hostIf, object: hostIf }).catch(() => null) as NativeLink | null
  if (!l) return false
  const unnamed = bridge !== undefined && l.alias === '' && l.kind === 'veth' && l.master === bridge
  if (l.alias !== alias && !unnamed) return false
  await runOne({ ns, op: 'link.delete', index: l.index, ignoreMissing: true, object: hostIf })
  return true
}

function checkPublishList(v: unknown): (PublishSpec & { protocol: NatProtocol })[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) throw invalidArg('opts.publish', v, 'must be an array of { protocol?, hostIp?, hostPort?, containerPort }', 'ERR_INVALID_ARG_TYPE')
  return v.map((p: PublishSpec, i) => {
    const arg = `opts.publish[${i}]`
    if (!p || typeof p !== 'object') throw invalidArg(arg, p, 'must be an object { protocol?, hostIp?, hostPort?, containerPort }', 'ERR_INVALID_ARG_TYPE')
    const protocol: NatProtocol = p.protocol ?? 'tcp'
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw invalidArg(`${arg}.protocol`, p.protocol, "must be 'tcp', 'udp' or 'sctp'")
    const containerPort = checkPort(p.containerPort, `${arg}.containerPort`)
    const hostPort = p.hostPort === undefined ? undefined : checkPort(p.hostPort, `${arg}.hostPort`)
    if (p.hostIp !== undefined) checkIp(p.hostIp, `${arg}.hostIp`)
    return { protocol, containerPort, hostPort, hostIp: p.hostIp }
  })
}

/**
 * A container's attachment to a network: its interface (`ifname` inside `namespace`), address,
 * MAC, gateway and published ports, and the files a runtime bind-mounts into the container.
 */
export class Endpoint {
  readonly network: Network
  readonly namespace: Namespace
  readonly id: string
  readonly name: string
  readonly ip: string
  readonly ip6: string | undefined
  readonly mac: string
  readonly gateway: string
  readonly ifname: string
  readonly aliases: readonly string[]
  readonly hostname: string
  /** The host end of the veth, on the bridge. */
  readonly hostInterface: string
  readonly ports: readonly { protocol: string; hostIp: string; hostPort: number; containerPort: number }[]

  /** @internal */
  constructor(network: Network, namespace: Namespace, r: EndpointRecord) {
    this.network = network
    this.namespace = namespace
    this.id = r.id
    this.name = r.name
    this.ip = r.ip
    this.ip6 = r.ip6
    this.mac = r.mac
    this.gateway = network.gateway
    this.ifname = r.ifname
    this.aliases = Object.freeze([...r.aliases])
    this.hostname = r.hostname ?? r.name
    this.hostInterface = r.hostIf
    this.ports = Object.freeze(r.ports.map((p) => ({ ...p })))
  }

  /** The content of the container's /etc/hosts (localhost lines, its own name, hostname and aliases). */
  hostsFile(): string {
    const names = [this.name, ...this.aliases].filter((n) => n !== this.hostname)
    return hostsFile({ hostname: this.hostname, addresses: [this.ip, ...(this.ip6 ? [this.ip6] : [])], aliases: names, ipv6: true })
  }

  /** The content of the container's /etc/hostname. */
  hostnameFile(): string {
    return hostnameFile(this.hostname)
  }

  /**
   * The content of the container's /etc/resolv.conf (`docker run --dns --dns-search --dns-opt`):
   * on a network with the embedded resolver, `nameserver 127.0.0.11` (and `options ndots:0`);
   * else the given servers, or the host's minus loopback ones.
   */
  resolvConf(opts: { dns?: string[]; search?: string[]; options?: string[] } = {}): string {
    const net = this.network
    const upstream = net.dns && net.upstream ? net.upstream.map((s) => s.replace(/^\[([^\]]+)\](:\d+)?$/, '$1').replace(/^([0-9.]+):\d+$/, '$1')) : undefined
    return planResolvConf({
      host: upstream ? undefined : hostResolvConf(), nameservers: opts.dns ?? upstream, search: opts.search, options: opts.options,
      fallback: upstream ? [] : undefined,
      resolver: this.network.dns ? EMBEDDED_RESOLVER : false, ipv6: this.ip6 !== undefined,
    }).content
  }

  /** `docker network disconnect`: same as network.disconnect(this). */
  async disconnect(): Promise<void> { await this.network.disconnect(this) }

  toString(): string { return `Endpoint(${this.network.name}/${this.name} ${this.ip})` }
}

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
export class Network {
  readonly name: string
  readonly id: string
  readonly namespace: Namespace
  readonly subnet: string
  readonly gateway: string
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
  readonly #local = new Map<string, Endpoint>()

  private constructor(ns: Namespace, store: IpamStore, rec: NetworkRecord, bridge: Bridge) {
    this.name = rec.name
    this.id = rec.id
    this.namespace = ns
    this.subnet = rec.subnet
    this.gateway = rec.gateway
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
    Promise<Network | MacvlanNetwork | OverlayNetwork> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const driver = opts.driver
    if (driver === 'macvlan') return MacvlanNetwork.create(opts)
    if (driver === 'overlay') return OverlayNetwork.create(opts)
    if (driver !== undefined && driver !== 'bridge') throw invalidArg('opts.driver', driver, "must be 'bridge', 'macvlan' or 'overlay'")
    return Network.#createBridge(opts)
  }

  static async #createBridge(opts: NetworkCreateOptions): Promise<Network> {
    const name = checkNetworkName(opts.name, 'opts.name')
    const bridgeName = opts.bridgeName === undefined ? `br-${randomBytes(6).toString('hex')}` : checkIfName(opts.bridgeName, 'opts.bridgeName')
    const mtu = opts.mtu === undefined ? undefined : checkMtu(opts.mtu, 'opts.mtu')
    const masquerade = checkBool(opts.masquerade, 'opts.masquerade') ?? true
    const icc = checkBool(opts.icc, 'opts.icc') ?? true
    const internal = checkBool(opts.internal, 'opts.internal') ?? false
    let dns = true
    let upstream: string[] | undefined
    if (opts.dns === false) dns = false
    else if (opts.dns !== undefined) {
      if (!opts.dns || typeof opts.dns !== 'object') throw invalidArg('opts.dns', opts.dns, 'must be false or { upstream?: string[] }', 'ERR_INVALID_ARG_TYPE')
      if (opts.dns.upstream !== undefined) {
        if (!Array.isArray(opts.dns.upstream)) throw invalidArg('opts.dns.upstream', opts.dns.upstream, 'must be an array of addresses', 'ERR_INVALID_ARG_TYPE')
        upstream = opts.dns.upstream.map((s, i) => {
          if (typeof s !== 'string' || !/^(\[[0-9a-fA-F:.]+\](:\d+)?|[0-9.]+(:\d+)?|[0-9a-fA-F:]+)$/.test(s)) throw invalidArg(`opts.dns.upstream[${i}]`, s, "must be 'IP', 'IP:PORT' or '[IPv6]:PORT'")
          return s
        })
      }
    }
    const ns = await defaultNamespace(opts.namespace)
    const store = opts.store ?? new FileStore()
    const ipam = new Ipam({ store })
    if (await store.get(netKey(name))) throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network named '${name}' exists`)

    const undo: (() => Promise<unknown>)[] = []
    const rollback = async () => { for (const f of undo.reverse()) await f().catch(() => {}) }
    try {
      const ipamNet = await ipam.createNetwork(name, { subnet: opts.subnet, gateway: opts.gateway, ipRange: opts.ipRange, ipv6: opts.ipv6, namespace: ns })
      undo.push(() => ipam.deleteNetwork(name, { force: true }))
      const v4 = ipamNet.pools.find((p) => p.family === 4)
      const v6 = ipamNet.pools.find((p) => p.family === 6)
      if (!v4) throw invalidArg('opts.subnet', opts.subnet, 'must be an IPv4 subnet (IPv6 goes in opts.ipv6)')
      const bridge = await Bridge.create({ name: bridgeName, namespace: ns, mtu, mac: randomMac(), up: true })
      undo.push(() => runOne({ ns, op: 'link.delete', index: bridge.index, ignoreMissing: true }))
      await run([
        { ns, op: 'link.set', index: bridge.index, alias: `${ALIAS}${name}`, object: bridgeName },
        { ns, op: 'addr.add', index: bridge.index, address: v4.gateway, prefixLength: prefixLen(v4.subnet), object: `${v4.gateway} on ${bridgeName}` },
        ...(v6 ? [{ ns, op: 'addr.add' as const, index: bridge.index, address: v6.gateway, prefixLength: prefixLen(v6.subnet), nodad: true, object: `${v6.gateway} on ${bridgeName}` }] : []),
      ])
      const rules: string[] = []
      undo.push(() => deleteRules(ns, rules))
      if (masquerade && !internal) {
        rules.push((await NatRule.masquerade({ namespace: ns, source: v4.subnet, notOutInterface: bridgeName })).id)
        if (v6) rules.push((await NatRule.masquerade({ namespace: ns, source: v6.subnet, notOutInterface: bridgeName })).id)
      }
      rules.push((await NatRule.isolate({ namespace: ns, interface: bridgeName, icc, internal })).id)
      const rec: NetworkRecord = {
        name, id: ipamNet.id, bridge: bridgeName, subnet: v4.subnet, gateway: v4.gateway, ipRange: v4.ipRange,
        ipv6: v6 ? { subnet: v6.subnet, gateway: v6.gateway } : undefined, mtu, masquerade, icc, internal, dns, upstream,
        host: identity(ns), rules, created: ipamNet.created,
      }
      await updateRecord(store, netKey(name), (cur) => {
        if (cur) throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network named '${name}' exists`)
        return { result: undefined, set: rec }
      })
      return new Network(ns, store, rec, bridge)
    } catch (e) {
      await rollback()
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

  /** An existing network by name (`docker network inspect NAME`); ERR_NETNS_KIT_NO_NETWORK when there is none in that namespace. */
  static async open(name: string, opts: { namespace?: Namespace; store?: IpamStore } = {}): Promise<Network> {
    checkNetworkName(name)
    const ns = await defaultNamespace(opts.namespace)
    const store = opts.store ?? new FileStore()
    const rec = (await store.get(netKey(name)))?.value as NetworkRecord | undefined
    if (!rec || !sameNs(rec.host, ns)) throw new NetnsKitError('ERR_NETNS_KIT_NO_NETWORK', `no network named '${name}' in ${ns.name ?? ns.path}`)
    return new Network(ns, store, rec, await Bridge.open(rec.bridge, { namespace: ns }))
  }

  /** `docker network ls`: the networks of the namespace, by name. */
  static async list(opts: { namespace?: Namespace; store?: IpamStore } = {}): Promise<Network[]> {
    const ns = await defaultNamespace(opts.namespace)
    const store = opts.store ?? new FileStore()
    const out: Network[] = []
    for (const rec of await listRecords<NetworkRecord>(store, 'network.')) {
      if (!sameNs(rec.host, ns)) continue
      const bridge = await Bridge.open(rec.bridge, { namespace: ns }).catch(() => undefined)
      if (bridge) out.push(new Network(ns, store, rec, bridge))
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
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
    const eps = await listRecords<EndpointRecord>(this.store, epPrefix(this.name))
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
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const id = randomBytes(6).toString('hex')
    const name = opts.name === undefined ? `ep-${id}` : normaliseName(checkHostName(opts.name, 'opts.name', 63), 'opts.name')
    const ifname = opts.ifname === undefined ? 'eth0' : checkIfName(opts.ifname, 'opts.ifname')
    if (opts.ip !== undefined && checkIp(opts.ip, 'opts.ip') !== 4) throw invalidArg('opts.ip', opts.ip, 'must be an IPv4 address (IPv6 goes in opts.ip6)')
    if (opts.ip6 !== undefined && checkIp(opts.ip6, 'opts.ip6') !== 6) throw invalidArg('opts.ip6', opts.ip6, 'must be an IPv6 address')
    if (opts.ip6 !== undefined && !this.ipv6) throw invalidArg('opts.ip6', opts.ip6, `cannot be given: the network '${this.name}' has no IPv6 subnet`)
    const macIn = opts.mac === undefined ? undefined : checkMac(opts.mac, 'opts.mac')
    if (opts.aliases !== undefined && !Array.isArray(opts.aliases)) throw invalidArg('opts.aliases', opts.aliases, 'must be an array of names', 'ERR_INVALID_ARG_TYPE')
    const aliases = (opts.aliases ?? []).map((a, i) => normaliseName(a, `opts.aliases[${i}]`))
    const hostname = opts.hostname === undefined ? undefined : checkHostName(opts.hostname, 'opts.hostname', 64)
    const publish = checkPublishList(opts.publish)
    if (ns.equals(this.namespace)) throw invalidArg('ns', ns.name ?? ns.path, "is the network's host namespace: use Network.host() for host networking")
    if ((await listRecords<EndpointRecord>(this.store, epPrefix(this.name))).some((e) => e.name === name && e.networkId === this.id)) {
      throw new NetnsKitError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint named '${name}' is connected to the network '${this.name}'`)
    }

    const host = this.namespace
    const hostIf = `veth${id.slice(0, 7)}`
    const alias = linkAlias(this.name, id)
    const undo: (() => Promise<unknown>)[] = []
    const rollback = async () => { for (const f of undo.reverse()) await f().catch(() => {}) }
    try {
      undo.push(() => this.#ipam.releaseOwner(this.name, id))
      const a4 = await this.#ipam.allocate(this.name, { owner: id, ip: opts.ip, family: 4 })
      let a6: Allocation | undefined
      if (this.ipv6) a6 = await this.#ipam.allocate(this.name, { owner: id, ip: opts.ip6, family: 6 })
      const mac = macIn ?? macFromIp(a4.address)
      const rec: EndpointRecord = {
        id, network: this.name, networkId: this.id, name, ip: a4.address, ip6: a6?.address, mac, ifname, hostIf, aliases, hostname,
        ns: identity(ns), state: 'connecting', pid: process.pid, ports: [], rules: [],
      }
      // Recorded before the kernel changes: a crash from here on leaves something gc() finds.
      undo.push(() => deleteRecord(this.store, epKey(this.name, id)))
      await updateRecord(this.store, epKey(this.name, id), () => ({ result: undefined, set: rec }))

      const ops: Op[] = [
        {
          ns: host, op: 'link.create', kind: 'veth', name: hostIf, mtu: this.mtu, master: this.bridge.index, object: hostIf,
          peer: { name: ifname, mtu: this.mtu, mac, target: handleOf(ns) },
        },
        // The bridge port carries no IPv6 of its own (IPv6 is still bridged): no link-local address,
        // route and multicast state per port, which made each new port cost more than the last.
        noIpv6(host, hostIf),
        // The kernel ignores IFLA_IFALIAS in a creating RTM_NEWLINK: set it (and port isolation) next.
        // Hairpin mode, as Docker sets it: where br_netfilter is on, the answer to a container reaching
        // its own published port is bridged back out the port it came in on.
        { ns: host, op: 'link.set', name: hostIf, alias, hairpin: true, ...(this.icc ? {} : { isolated: true }), object: `${hostIf} (port of ${this.bridge.name})` },
        // Up once isolated (icc=false): no moment where the port forwards to the others.
        { ns: host, op: 'link.set', name: hostIf, up: true, object: hostIf },
        // On an IPv4-only network the container's interface has no IPv6 either (Docker's choice):
        // no link-local address, DAD or MLD reports flooded to every port of the bridge.
        ...(a6 ? [] : [noIpv6(ns, ifname)]),
        { ns, op: 'link.set', name: ifname, up: true, object: ifname },
        { ns, op: 'addr.add', linkName: ifname, address: a4.address, prefixLength: a4.prefixLength, object: `${a4.address}/${a4.prefixLength} on ${ifname}` },
        ...(a6 ? [{ ns, op: 'addr.add' as const, linkName: ifname, address: a6.address, prefixLength: a6.prefixLength, nodad: true, object: `${a6.address}/${a6.prefixLength} on ${ifname}` }] : []),
        { ns, op: 'route.add', family: 4, dstLength: 0, gateway: a4.gateway, object: `default via ${a4.gateway}` },
        ...(a6 ? [{ ns, op: 'route.add' as const, family: 6, dstLength: 0, gateway: a6.gateway, object: `default via ${a6.gateway}` }] : []),
      ]
      undo.push(() => runOne({ ns: host, op: 'link.delete', name: hostIf, ignoreMissing: true }))
      await run(ops)

      const ports: PortRecord[] = []
      undo.push(() => deleteRules(host, rec.rules))
      // Every mapping in one nf_tables batch: all published or none.
      const published = await NatRule.publishMany(publish.map((p) => ({ namespace: host, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: a4.address, containerPort: p.containerPort })))
      published.forEach((r, i) => {
        const p = publish[i]!
        rec.rules.push(r.id)
        ports.push({ protocol: p.protocol, hostIp: p.hostIp ?? '0.0.0.0', hostPort: r.hostPort!, containerPort: p.containerPort })
      })
      rec.ports = ports

      if (this.dns) {
        undo.push(() => this.#stopResolver(id))
        await this.#startResolver(ns, rec)
      }
      rec.state = 'connected'
      await updateRecord(this.store, epKey(this.name, id), () => ({ result: undefined, set: rec }))
      const ep = new Endpoint(this, ns, rec)
      this.#local.set(id, ep)
      return ep
    } catch (e) {
      await rollback()
      throw e
    }
  }

  async #startResolver(ns: Namespace, rec: EndpointRecord): Promise<void> {
    const state = dnsOf(this.id)
    // The names of every endpoint of the network, also those other processes connected.
    for (const r of await listRecords<EndpointRecord>(this.store, epPrefix(this.name))) {
      if (r.networkId === this.id) state.records.set(r.id, { names: dnsNames(r), addresses: [r.ip, ...(r.ip6 ? [r.ip6] : [])] })
    }
    state.records.set(rec.id, { names: dnsNames(rec), addresses: [rec.ip, ...(rec.ip6 ? [rec.ip6] : [])] })
    // Given upstreams (even none) are used as given; only without them the host's resolv.conf is read.
    const servers = this.upstream ? [...this.upstream] : planResolvConf({ host: hostResolvConf(), resolver: true, fallback: [] }).upstreams
    const resolver = await Resolver.start({
      namespace: ns, records: state.records,
      upstream: this.internal || !servers.length ? undefined : { servers, namespace: this.namespace },
    })
    resolver.unref()
    state.resolvers.set(rec.id, resolver)
  }

  async #stopResolver(id: string): Promise<void> {
    const state = dnsState.get(this.id)
    if (!state) return
    state.records.delete(id)
    const r = state.resolvers.get(id)
    state.resolvers.delete(id)
    await r?.close()
  }

  /**
   * Starts the embedded resolvers for endpoints connected by another process (or before a
   * restart) whose namespaces are still there. Returns how many it started.
   */
  async restoreDns(): Promise<number> {
    if (!this.dns) return 0
    const state = dnsOf(this.id)
    let n = 0
    for (const r of await listRecords<EndpointRecord>(this.store, epPrefix(this.name))) {
      if (r.networkId !== this.id || r.state !== 'connected' || state.resolvers.has(r.id) || !nsAlive(r.ns)) continue
      const ns = await Namespace.open(r.ns.path)
      await this.#startResolver(ns, r)
      n++
    }
    return n
  }

  /**
   * `docker network disconnect NETWORK CONTAINER`: removes the endpoint's published ports (and
   * their UDP conntrack entries), its veth, its resolver, its address and its record.
   * Idempotent.
   */
  async disconnect(endpoint: Endpoint): Promise<void> {
    if (!(endpoint instanceof Endpoint)) throw invalidArg('endpoint', endpoint, 'must be an Endpoint', 'ERR_INVALID_ARG_TYPE')
    if (endpoint.network.id !== this.id) throw invalidArg('endpoint', String(endpoint), `is not an endpoint of the network '${this.name}'`)
    const rec = (await this.store.get(epKey(this.name, endpoint.id)))?.value as EndpointRecord | undefined
    await this.#teardown(rec ?? { id: endpoint.id, hostIf: endpoint.hostInterface, rules: [] })
    this.#local.delete(endpoint.id)
  }

  async #teardown(rec: Pick<EndpointRecord, 'id' | 'hostIf' | 'rules'>): Promise<void> {
    await deleteRules(this.namespace, rec.rules)
    await deleteVeth(this.namespace, rec.hostIf, linkAlias(this.name, rec.id))
    await this.#stopResolver(rec.id)
    await this.#ipam.releaseOwner(this.name, rec.id)
    await deleteRecord(this.store, epKey(this.name, rec.id))
  }

  /**
   * The endpoints connected to this network (as recorded, by any process). Those connected
   * by this Network object come back as the same objects; for the others, the namespace is
   * opened by path (close() it when done). Endpoints whose namespace is gone are left out
   * (Network.gc() removes them).
   */
  async endpoints(): Promise<Endpoint[]> {
    const out: Endpoint[] = []
    for (const r of await listRecords<EndpointRecord>(this.store, epPrefix(this.name))) {
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
    const rec = (await this.store.get(netKey(this.name)))?.value as NetworkRecord | undefined
    if (!rec || rec.id !== this.id) return
    const eps = (await listRecords<EndpointRecord>(this.store, epPrefix(this.name))).filter((e) => e.networkId === this.id)
    if (eps.length && !force) {
      throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_IN_USE', `the network '${this.name}' has ${eps.length} endpoint(s) connected (${eps.slice(0, 3).map((e) => e.name).join(', ')}${eps.length > 3 ? ', ...' : ''}): disconnect them or remove with { force: true }`)
    }
    for (const e of eps) await this.#teardown(e)
    await deleteRules(this.namespace, rec.rules)
    const br = await runOne({ ns: this.namespace, op: 'link.get', name: rec.bridge }).catch(() => null) as NativeLink | null
    if (br && br.alias === `${ALIAS}${this.name}`) await runOne({ ns: this.namespace, op: 'link.delete', index: br.index, ignoreMissing: true, object: rec.bridge })
    await this.#ipam.deleteNetwork(this.name, { force: true })
    await deleteRecord(this.store, netKey(this.name))
    dnsState.delete(this.id)
    this.#local.clear()
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.remove({ force: true }) }

  /**
   * `docker network prune`-like repair after a crash, in the host namespace: removes endpoints
   * whose namespace is gone (its path missing or naming another inode) or whose connect died
   * half-way (its process is gone), links carrying netns-kit's alias that no live endpoint
   * uses, published mappings to addresses no longer allocated, and allocations whose endpoint
   * is gone. Reports what it removed.
   */
  static async gc(opts: { namespace?: Namespace; store?: IpamStore } = {}): Promise<GcReport> {
    const ns = await defaultNamespace(opts.namespace)
    const store = opts.store ?? new FileStore()
    const ipam = new Ipam({ store })
    const report: GcReport = { endpoints: [], links: [], rules: [], addresses: [] }
    const nets = (await listRecords<NetworkRecord>(store, 'network.')).filter((n) => sameNs(n.host, ns))
    const live = new Set<string>()
    for (const n of nets) {
      for (const e of await listRecords<EndpointRecord>(store, epPrefix(n.name))) {
        const stale = e.networkId !== n.id || !nsAlive(e.ns) || (e.state === 'connecting' && e.pid !== process.pid && !pidAlive(e.pid))
        if (!stale) { live.add(e.id); continue }
        await deleteRules(ns, e.rules)
        const br = e.state === 'connecting' ? ((await runOne({ ns, op: 'link.get', name: n.bridge }).catch(() => null)) as NativeLink | null)?.index : undefined
        if (await deleteVeth(ns, e.hostIf, linkAlias(n.name, e.id), br)) report.links.push(e.hostIf)
        const st = dnsState.get(n.id)
        if (st) { st.records.delete(e.id); const r = st.resolvers.get(e.id); st.resolvers.delete(e.id); await r?.close() }
        await deleteRecord(store, epKey(n.name, e.id))
        report.endpoints.push(`${n.name}/${e.name}`)
      }
    }
    // Links of ours without a live endpoint (a crash between the veth and the record's removal).
    const names = new Set(nets.map((n) => n.name))
    for (const l of await listLinks(ns)) {
      if (!l.alias.startsWith(ALIAS)) continue
      const parts = l.alias.slice(ALIAS.length).split(':')
      if (parts.length !== 2 || !names.has(parts[0]!) || live.has(parts[1]!)) continue
      await runOne({ ns, op: 'link.delete', index: l.index, ignoreMissing: true, object: l.name })
      report.links.push(l.name)
    }
    // Addresses whose owner is gone, then mappings to addresses nobody holds.
    const allocated = new Set<string>()
    for (const n of nets) {
      for (const a of await ipam.allocations(n.name).catch(() => [])) {
        if (live.has(a.owner)) { allocated.add(a.address); continue }
        await ipam.release(n.name, a.address)
        report.addresses.push(`${n.name}/${a.address}`)
      }
    }
    const bridges = new Set(nets.map((n) => n.bridge))
    for (const r of await NatRule.list({ namespace: ns })) {
      if (r.kind !== 'publish' || !bridges.has(r.interface!) || allocated.has(r.containerIp!)) continue
      await r.delete()
      report.rules.push(String(r))
    }
    return report
  }

  toString(): string { return `Network(${this.name} ${this.subnet} on ${this.bridge.name})` }
}


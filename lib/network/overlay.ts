// Docker's overlay driver: a network across hosts. On each host a bridge plus a vxlan device,
// containers attached by veths; the network and its endpoints (with their addresses) recorded in a
// NetworkStore every host shares (the agent's EtcdStore, by default), intent first and result last;
// membership through the OverlayAgent of each host. Found by Network.open and list through the
// agent (the definitions live in etcd). There are no published ports or embedded DNS for this
// driver (connect options for them are refused as unsupported).
import { randomBytes } from 'node:crypto'
import { Bridge } from '../bridge'
import { NetnsKitError, invalidArg } from '../errors'
import { checkNetworkName, type NetworkRecord, type NetworkStore } from '../ipam'
import { formatIp, parsePrefix } from '../ipam/ip'
import { withDeadline } from '../ipam/etcd-client'
import { Link } from '../link'
import { NatRule } from '../nat'
import type { Namespace } from '../namespace'
import { checkBool, checkMtu, checkPort, checkVni } from '../validate'
import { VethPair } from '../veth'
import { Vxlan } from '../vxlan'
import { DriverNetwork, NetworkEndpoint, checkConnectOptions, containerIfname, type ConnectOptionsBase, type EndpointFields } from './driver'
import { macForIp } from './mac'
import { linkAlias } from './owned'
import type { OverlayAgent, OverlayEndpointRecord } from './overlay-agent'
import { identity, sleep } from './state'
import { disconnectSequence } from './teardown'
import { bridgeFull } from './bridge-connect'

/** What etcd holds about an overlay network (key `PREFIX overlay/networks/NAME`). */
export interface OverlayNetworkDefinition {
  name: string
  subnet: string
  gateway: string
  vni: number
  port: number
  created: string
}

export interface OverlayNetworkOptions {
  /** Letters, digits, '_', '.', '-'. The same name on every host means the same network. */
  name: string
  /** The agent of this host (it gives the etcd client, the host namespace and the VTEP address). */
  agent: OverlayAgent
  /** Where the network and its endpoints are recorded: a store every host shares (default: the agent's EtcdStore, in its etcd). */
  store?: NetworkStore
  /** IPv4 subnet, required when the network is new; must match the stored one otherwise. */
  subnet?: string
  /** Default: the subnet's first address. Every host's bridge carries it (an anycast gateway). */
  gateway?: string
  /** VXLAN network identifier; default: the lowest free one from 4096 up. */
  vni?: number
  /** VXLAN UDP port (default 4789). */
  port?: number
  /** Masquerade traffic leaving the overlay through this host (default true). */
  masquerade?: boolean
}

export type OverlayConnectOptions = ConnectOptionsBase

/** One container on an overlay network (on this host). */
export class OverlayEndpoint extends NetworkEndpoint {
  readonly network: OverlayNetwork
  /** The host end of the veth (in the host namespace, a port of the network's bridge). */
  declare readonly hostInterface: string

  /** @internal */
  constructor(network: OverlayNetwork, f: EndpointFields & { hostInterface: string }) {
    super(f)
    this.network = network
  }

  /** @deprecated The same as hostInterface (the name every driver's endpoint has). */
  get hostIf(): string {
    return this.hostInterface
  }
}

/** VXLAN over IPv4: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) bytes. */
export const VXLAN_OVERHEAD_IPV4 = 50

const FIRST_VNI = 4096

/**
 * A Docker-style overlay network spanning the hosts whose agents share one etcd. On each host:
 * a bridge `nkbVNI` with the gateway address, a vxlan device `nkxVNI` (learning off, proxy ARP,
 * UDP port 4789) attached to it, and a masquerade rule for the subnet (not out of the bridge).
 * Containers get a veth whose MTU is the underlay's less the 50 bytes of VXLAN over IPv4, an
 * address from IPAM in etcd (a transaction per allocation: never one address on two hosts), and
 * a default route via the gateway of their own host. The agent announces each endpoint under its
 * lease and programs the FDB and neighbour entries of the other hosts' endpoints.
 */
export class OverlayNetwork extends DriverNetwork<OverlayEndpoint> {
  readonly driver = 'overlay' as const
  readonly vni: number
  readonly port: number
  /** The MTU of the bridge, the vxlan device and the containers' interfaces. */
  readonly mtu: number
  readonly agent: OverlayAgent
  /** The namespace playing this host. */
  readonly namespace: Namespace
  readonly bridge: Bridge
  readonly vxlan: Vxlan
  readonly masquerade: NatRule | undefined
  /** Where the network and its endpoints are recorded (the agent's store unless another was given). */
  readonly store: NetworkStore
  /** The network's id in the store (the same on every host). */
  readonly id: string
  readonly #prefixLength: number

  private constructor(f: {
    def: OverlayNetworkDefinition
    rec: NetworkRecord
    mtu: number
    agent: OverlayAgent
    bridge: Bridge
    vxlan: Vxlan
    masquerade?: NatRule
    store: NetworkStore
  }) {
    super(f.def)
    this.id = f.rec.id
    this.vni = f.def.vni
    this.port = f.def.port
    this.mtu = f.mtu
    this.agent = f.agent
    this.namespace = f.agent.namespace
    this.bridge = f.bridge
    this.vxlan = f.vxlan
    this.masquerade = f.masquerade
    this.store = f.store
    this.#prefixLength = parsePrefix(f.def.subnet).prefixLength
  }

  /**
   * Creates the network in etcd if it is new (`docker network create -d overlay --subnet S NAME`),
   * or joins the existing one, and sets it up on this host: `ip link add nkbVNI type bridge`,
   * `ip addr add GATEWAY/LEN dev nkbVNI`, `ip link add nkxVNI type vxlan id VNI local VTEP dstport
   * 4789 nolearning proxy`, `ip link set nkxVNI master nkbVNI`, `nft add rule ... masquerade`.
   * Objects already there (an agent restarted) are taken over. Etcd unreachable:
   * ERR_NETNS_KIT_STORE_UNAVAILABLE, before the kernel is touched.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad options (name, agent, a subnet that is not an IPv4 prefix of length 30 at most, VNI, port, masquerade; no subnet for a network that is new; a gateway the store refuses), before the kernel is touched.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_EXISTS` when the network exists with another subnet or VNI, or the name belongs to a network of another driver in the store; `ERR_NETNS_KIT_VNI_IN_USE` for a given VNI another overlay network has; `ERR_NETNS_KIT_SUBNET_OVERLAP` for a subnet overlapping another network's in the store; `ERR_NETNS_KIT_STORE_CONFLICT` when the definition kept changing under concurrent creates; `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable, no answer within 3 s) or `ERR_NETNS_KIT_STORE` (another etcd failure); the store's own errors (`ERR_NETNS_KIT_STORE*`, `ERR_NETNS_KIT_CLOSED`); `ERR_NETNS_KIT_STOPPED` when the agent is stopped.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). What this call made on this host is removed; the definition in etcd stays.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async create(opts: OverlayNetworkOptions): Promise<OverlayNetwork> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const name = checkNetworkName(opts.name, 'opts.name')
    const agent = opts.agent
    if (!agent || typeof agent.announce !== 'function') throw invalidArg('opts.agent', agent, 'must be an OverlayAgent', 'ERR_INVALID_ARG_TYPE')
    let subnet: string | undefined
    if (opts.subnet !== undefined) {
      const p = parsePrefix(opts.subnet, 'opts.subnet')
      if (p.family !== 4) throw invalidArg('opts.subnet', opts.subnet, 'must be an IPv4 prefix (IPv6 overlays are not supported yet)')
      if (p.prefixLength > 30) throw invalidArg('opts.subnet', opts.subnet, 'must have a prefix length of at most 30')
      subnet = `${formatIp({ family: 4, value: p.network })}/${p.prefixLength}`
    }
    const vni = opts.vni === undefined ? undefined : checkVni(opts.vni, 'opts.vni')
    const port = opts.port === undefined ? 4789 : checkPort(opts.port, 'opts.port')
    const masq = checkBool(opts.masquerade, 'opts.masquerade') ?? true

    // 1. etcd: the definition and the network's record, before anything touches the kernel.
    const store = opts.store ?? agent.store
    const def = await defineNetwork(agent, store, { name, subnet, gateway: opts.gateway, vni, port })
    const rec = await storeNetwork(store, def)

    // 2. This host's kernel: bridge, vxlan, masquerade; all rolled back on failure.
    const ns = agent.namespace
    const brName = `nkb${def.vni}`
    const vxName = `nkx${def.vni}`
    const made: (() => Promise<void>)[] = []
    try {
      const names = new Set((await ns.links()).map((l) => l.name))
      let vxlan: Vxlan
      if (names.has(vxName)) {
        vxlan = await Vxlan.open(vxName, { namespace: ns })
      } else {
        const device = agent.device
        const underMtu = device === undefined ? 1500 : (await (device instanceof Link ? device : await ns.link(device)).info()).mtu
        vxlan = await Vxlan.create({
          name: vxName,
          namespace: ns,
          vni: def.vni,
          local: agent.address,
          device,
          port: def.port,
          learning: false,
          proxy: true,
          mtu: underMtu - VXLAN_OVERHEAD_IPV4,
        })
        made.push(() => vxlan.delete())
      }
      const mtu = (await vxlan.info()).mtu
      let bridge: Bridge
      if (names.has(brName)) {
        bridge = await Bridge.open(brName, { namespace: ns })
      } else {
        bridge = await Bridge.create({ name: brName, namespace: ns, mtu, up: true })
        made.push(() => bridge.delete())
        await bridge.setAlias(`netns-kit:overlay:${name}`)
      }
      const gwCidr = `${def.gateway}/${parsePrefix(def.subnet).prefixLength}`
      if (!(await bridge.addresses()).some((a) => a.address === def.gateway)) await bridge.addAddress(gwCidr)
      const info = await vxlan.info()
      if (info.master !== bridge.index) await bridge.attach(vxlan)
      if (!info.up) await vxlan.up()
      let masquerade: NatRule | undefined
      if (masq) {
        const existing = (await NatRule.list({ namespace: ns })).find((r) => r.kind === 'masquerade' && r.source === def.subnet && r.notOutInterface === brName)
        masquerade = existing ?? (await NatRule.masquerade({ namespace: ns, source: def.subnet, notOutInterface: brName }))
      }
      const net = new OverlayNetwork({ def, rec, mtu, agent, bridge, vxlan, masquerade, store })
      await agent.attach(name, vxlan)
      return net
    } catch (e) {
      for (const undo of made.reverse()) await undo().catch(() => {})
      throw e
    }
  }

  /**
   * `docker network connect`: the intent recorded in the store (the address claimed, in etcd
   * for every host), a veth from this host's bridge into `ns` (MTU lowered for VXLAN), a default
   * route via the gateway, the endpoint announced under the agent's lease, and the record
   * `connected` last. A failure half-way removes the veth and gives the address back.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input (namespace, ifname, MAC, an address outside the subnet), before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_UNSUPPORTED` for an option only the bridge driver has; `ERR_NETNS_KIT_IFNAME_IN_USE` for a given ifname the container already has; the store's refusals: `ERR_NETNS_KIT_NO_NETWORK`, `ERR_NETNS_KIT_NETWORK_NOT_READY`, `ERR_NETNS_KIT_IP_IN_USE`, `ERR_NETNS_KIT_IP_RESERVED`, `ERR_NETNS_KIT_POOL_EXHAUSTED`, `ERR_NETNS_KIT_IFNAME_IN_USE`, `ERR_NETNS_KIT_ENDPOINT_EXISTS`, store errors (`ERR_NETNS_KIT_STORE*`); `ERR_NETNS_KIT_NETWORK_FULL` when its bridge has 1,023 ports (the kernel's EXFULL is the `cause`); `ERR_NETNS_KIT_STOPPED` when the agent is stopped; `ERR_NETNS_KIT_CLOSED` or `ERR_NETNS_KIT_NO_NAMESPACE` for a closed or deleted namespace.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async connect(ns: Namespace, opts: OverlayConnectOptions = {}): Promise<OverlayEndpoint> {
    const { ifname: given, mac: mac0, ip } = checkConnectOptions('overlay', ns, opts, this.subnet)
    checkMtu(this.mtu)
    const id = randomBytes(6).toString('hex')
    const hostIf = `nkv${id.slice(0, 10)}`
    const { endpoint: rec } = await this.store.beginConnect(this.id, {
      id,
      name: `ep-${id}`,
      ns: identity(ns),
      host: identity(this.namespace),
      ...(await containerIfname(ns, given)),
      hostIf,
      addresses: [{ family: 4, ip }],
      ...(mac0 !== undefined ? { mac: mac0 } : {}),
    })
    const alloc = rec.addresses[0]!
    const ifname = rec.ifname
    const mac = mac0 ?? macForIp(alloc.address)
    let veth: VethPair | undefined
    let announced = false
    try {
      // IPv4 only: no IPv6 on either end (as Network.connect on an IPv4-only network), so no
      // link-local DAD or MLD multicast is flooded over the bridge and the vxlan to every host.
      veth = await VethPair.create({
        name: hostIf,
        namespace: this.namespace,
        mtu: this.mtu,
        master: this.bridge,
        up: true,
        ipv6: false,
        peer: { name: ifname, namespace: ns, mac, up: true, ipv6: false },
      }).catch((e: unknown) => {
        throw bridgeFull(e, this.name, this.bridge.name)
      })
      await veth.host.setAlias(linkAlias(this.name, id))
      await veth.peer.addAddress(`${alloc.address}/${alloc.prefixLength}`)
      if (rec.gateway4) await ns.routes.replace({ to: 'default', via: alloc.gateway })
      announced = true
      await this.agent.announce({ network: this.name, id, ip: alloc.address, mac, hostIf })
      await this.store.finishConnect(id, { mac })
    } catch (e) {
      if (announced) await this.agent.withdraw(this.name, id).catch(() => {})
      await veth?.delete().catch(() => {})
      await this.store.abortConnect(id).catch(() => {})
      throw e
    }
    return new OverlayEndpoint(this, {
      namespace: ns,
      id,
      ip: alloc.address,
      prefixLength: alloc.prefixLength,
      mac,
      gateway: alloc.gateway,
      ifname,
      hostInterface: hostIf,
    })
  }

  /**
   * `docker network disconnect`: withdraws the endpoint, removes its veth, gives its address back; idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an endpoint that is not one of this network on this host.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_BUSY` while another live process connects or disconnects it (after waiting); withdrawing it from etcd: `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable, no answer within 3 s) or `ERR_NETNS_KIT_STORE` (another etcd failure); store errors (`ERR_NETNS_KIT_STORE*`, `ERR_NETNS_KIT_WRONG_STATE`, `ERR_NETNS_KIT_NOT_OWNER`). An endpoint already gone is not an error, nor is a veth already gone.
   * @throws {NetlinkError} when the kernel refuses to move another endpoint's default route to it (the container's other networks).
   */
  async disconnect(ep: OverlayEndpoint): Promise<void> {
    if (!(ep instanceof OverlayEndpoint) || ep.network !== this)
      throw invalidArg('endpoint', ep, `must be an endpoint of ${this.name} on this host`, 'ERR_INVALID_ARG_TYPE')
    await disconnectSequence(this.store, ep.id, async () => {
      await this.agent.withdraw(this.name, ep.id)
      await this.namespace.link(ep.hostInterface).then(
        (l) => l.delete(),
        () => {},
      )
    })
  }

  /**
   * Every endpoint of the network, on every host (as this host's agent sees etcd).
   * @throws Nothing: it reads the agent's memory (possibly stale while etcd is unreachable).
   */
  endpoints(): OverlayEndpointRecord[] {
    return this.agent.records(this.name)
  }

  /**
   * Removes this host's part (bridge, vxlan, masquerade); the network stays in etcd for the other hosts.
   * @throws {NetlinkError} when the kernel refuses to delete the masquerade rule (a bridge or vxlan device already gone is not an error). The agent has stopped programming the network by then.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async leave(): Promise<void> {
    this.agent.detach(this.name)
    await this.masquerade?.delete()
    await this.vxlan.delete().catch(() => {})
    await this.bridge.delete().catch(() => {})
  }

  get prefixLength(): number {
    return this.#prefixLength
  }

  /**
   * The network as this host has joined it (its bridge and vxlan device are there), from its
   * definition in etcd, programmed by `agent` from now on. ERR_NETNS_KIT_NO_NETWORK when there is
   * no such network or this host has not joined it.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE` or `ERR_INVALID_ARG_TYPE` for a bad name or no agent.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NO_NETWORK` when there is no such network or this host has not joined it; reading etcd: `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable, no answer within 3 s) or `ERR_NETNS_KIT_STORE` (another etcd failure); `ERR_NETNS_KIT_NETWORK_EXISTS` when the name belongs to a network of another driver in the store, `ERR_NETNS_KIT_STORE_CONFLICT`, store errors (`ERR_NETNS_KIT_STORE*`); `ERR_NETNS_KIT_STOPPED` when the agent is stopped.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async open(name: string, opts: { agent: OverlayAgent; store?: NetworkStore }): Promise<OverlayNetwork> {
    checkNetworkName(name)
    const agent = opts?.agent
    if (!agent || typeof agent.announce !== 'function') throw invalidArg('opts.agent', agent, 'must be an OverlayAgent', 'ERR_INVALID_ARG_TYPE')
    const cur = await withDeadline(agent.client.get(definitionKey(agent, name)).string(), 3000, 'etcd', `read network ${name}`)
    const net = cur === null ? undefined : await OverlayNetwork.#joined(agent, JSON.parse(cur) as OverlayNetworkDefinition, opts.store)
    if (!net) throw new NetnsKitError('ERR_NETNS_KIT_NO_NETWORK', `no overlay network named '${name}' on the host ${agent.hostId}`)
    return net
  }

  /**
   * Every overlay network defined in the agent's etcd that this host has joined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` without an agent.
   * @throws {NetnsKitError} reading etcd: `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable, no answer within 3 s) or `ERR_NETNS_KIT_STORE` (another etcd failure); `ERR_NETNS_KIT_NETWORK_EXISTS` when a name belongs to a network of another driver in the store, `ERR_NETNS_KIT_STORE_CONFLICT`, store errors (`ERR_NETNS_KIT_STORE*`); `ERR_NETNS_KIT_STOPPED` when the agent is stopped.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async list(opts: { agent: OverlayAgent; store?: NetworkStore }): Promise<OverlayNetwork[]> {
    const agent = opts?.agent
    if (!agent || typeof agent.announce !== 'function') throw invalidArg('opts.agent', agent, 'must be an OverlayAgent', 'ERR_INVALID_ARG_TYPE')
    const all = await withDeadline(agent.client.getAll().prefix(definitionKey(agent, '')).strings(), 3000, 'etcd', 'list networks')
    const out: OverlayNetwork[] = []
    for (const v of Object.values(all)) {
      const n = await OverlayNetwork.#joined(agent, JSON.parse(v) as OverlayNetworkDefinition, opts.store)
      if (n) out.push(n)
    }
    return out
  }

  /** The network `def` as this host has joined it, or undefined when its bridge or vxlan device is not here. */
  static async #joined(agent: OverlayAgent, def: OverlayNetworkDefinition, given?: NetworkStore): Promise<OverlayNetwork | undefined> {
    const ns = agent.namespace
    const names = new Set((await ns.links()).map((l) => l.name))
    if (!names.has(`nkb${def.vni}`) || !names.has(`nkx${def.vni}`)) return undefined
    const [bridge, vxlan] = await Promise.all([Bridge.open(`nkb${def.vni}`, { namespace: ns }), Vxlan.open(`nkx${def.vni}`, { namespace: ns })])
    const mtu = (await vxlan.info()).mtu
    const masquerade = (await NatRule.list({ namespace: ns })).find(
      (r) => r.kind === 'masquerade' && r.source === def.subnet && r.notOutInterface === bridge.name,
    )
    const store = given ?? agent.store
    const net = new OverlayNetwork({ def, rec: await storeNetwork(store, def), mtu, agent, bridge, vxlan, masquerade, store })
    await agent.attach(def.name, vxlan)
    return net
  }
}

function definitionKey(agent: OverlayAgent, name: string): string {
  return `${agent.prefix}overlay/networks/${name}`
}

/**
 * The network's record in the store (host null: one network for every host), made when it is
 * not there yet; ERR_NETNS_KIT_NETWORK_EXISTS when the name belongs to another network there.
 */
async function storeNetwork(store: NetworkStore, def: { name: string; subnet: string; gateway: string }): Promise<NetworkRecord> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const cur = await store.networkByName(null, def.name)
    if (cur) {
      if (cur.driver !== 'overlay' || cur.pools[0]?.subnet !== def.subnet) {
        throw new NetnsKitError(
          'ERR_NETNS_KIT_NETWORK_EXISTS',
          `a ${cur.driver} network named '${def.name}' exists in the store${cur.pools[0] ? ` with the subnet ${cur.pools[0].subnet}` : ''}`,
        )
      }
      if (cur.state === 'ready') return cur
      await sleep(20) // another host is between the two steps below
      continue
    }
    try {
      // No kernel work between the intent and its result.
      const begun = await store.beginCreateNetwork({
        name: def.name,
        driver: 'overlay',
        host: null,
        pools: [{ subnet: def.subnet, gateway: def.gateway }],
      })
      return await store.finishCreateNetwork(begun.id)
    } catch (e) {
      if ((e as NetnsKitError).code !== 'ERR_NETNS_KIT_NETWORK_EXISTS') throw e
    }
  }
  throw new NetnsKitError('ERR_NETNS_KIT_STORE_CONFLICT', `overlay network '${def.name}' kept changing in the store`)
}

/** Reads or creates the network's definition (with its VNI reserved in the same transaction) and IPAM's network. */
async function defineNetwork(
  agent: OverlayAgent,
  store: NetworkStore,
  o: { name: string; subnet?: string; gateway?: string; vni?: number; port: number },
): Promise<OverlayNetworkDefinition> {
  const c = agent.client
  const key = definitionKey(agent, o.name)
  const vniKey = (v: number) => `${agent.prefix}overlay/vnis/${v}`
  const call = <T>(p: Promise<T>, what: string) => withDeadline(p, 3000, 'etcd', what)
  for (let attempt = 0; attempt < 20; attempt++) {
    const cur = await call(c.get(key).string(), `read network ${o.name}`)
    let def: OverlayNetworkDefinition
    if (cur !== null) {
      def = JSON.parse(cur) as OverlayNetworkDefinition
      if (o.subnet !== undefined && o.subnet !== def.subnet) {
        throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_EXISTS', `overlay network '${o.name}' exists with subnet ${def.subnet}, not ${o.subnet}`)
      }
      if (o.vni !== undefined && o.vni !== def.vni)
        throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_EXISTS', `overlay network '${o.name}' exists with VNI ${def.vni}, not ${o.vni}`)
    } else {
      if (o.subnet === undefined) throw invalidArg('opts.subnet', o.subnet, `is required: there is no overlay network '${o.name}' yet`)
      let vni = o.vni
      if (vni === undefined) {
        const used = new Set(
          (await call(c.getAll().prefix(`${agent.prefix}overlay/vnis/`).keys(), 'list VNIs')).map((k) => Number(k.slice(k.lastIndexOf('/') + 1))),
        )
        vni = FIRST_VNI
        while (used.has(vni)) vni++
      }
      const p = parsePrefix(o.subnet)
      const gateway = o.gateway === undefined ? formatIp({ family: 4, value: p.network + 1n }) : o.gateway
      def = { name: o.name, subnet: o.subnet, gateway, vni, port: o.port, created: new Date().toISOString() }
      // The store validates the gateway and refuses a subnet overlapping another network's.
      await storeNetwork(store, def)
      const r = await call(
        c
          .if(key, 'Create', '==', 0)
          .and(vniKey(vni), 'Create', '==', 0)
          .then(c.put(key).value(JSON.stringify(def)), c.put(vniKey(vni)).value(o.name))
          .commit(),
        `create network ${o.name}`,
      )
      if (!r.succeeded) {
        if (o.vni !== undefined && (await call(c.get(key).string(), 'read network')) === null) {
          throw new NetnsKitError('ERR_NETNS_KIT_VNI_IN_USE', `VNI ${o.vni} is taken by another overlay network`)
        }
        continue
      }
    }
    return def
  }
  throw new NetnsKitError('ERR_NETNS_KIT_STORE_CONFLICT', `overlay network '${o.name}' kept changing while being defined`)
}

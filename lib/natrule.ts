// NatRule: masquerade, published ports (docker run -p / -P) and isolation between networks, as
// nftables rules and map elements in netns-kit's own tables (lib/nft/ruleset.ts), sent over
// nf_tables netlink in one atomic batch per change. Nothing else in the ruleset is touched.
import { randomBytes } from 'node:crypto'
import * as net from 'node:net'
import { native, type NftElement, type NftExpr, type NftMsg, type NativeRoute } from './native/binding'
import { handleOf } from './internal'
import { NetlinkError, NetnsKitError, invalidArg, outOfRange } from './errors'
import { defaultNamespace, type Namespace } from './namespace'
import { checkIfName, checkPort, parseCidr } from './validate'
import { conntrack } from './conntrack'
import {
  L4PROTO, addrMatch, comment, commentOf, ifMatch, ifnameBytes, ifnameString, ipBytes, ipString, nfproto,
  padded, portBytes, verdict, type L4Name, ctStatusDnat,
} from './nft/expr'
import { HAIRPIN_SETS, MAPS, TABLE, TAG, applyBatch, skeleton, tableExists, type MapDef } from './nft/ruleset'
import { Bridge } from './bridge'
import { getLink, listAddrs, listRoutes, run } from './rtnl'

export type NatProtocol = 'tcp' | 'udp' | 'sctp'

export interface MasqueradeOptions {
  /** The namespace playing the host (where the NAT happens); the current one when absent. */
  namespace?: Namespace
  /** Source prefix to masquerade, IPv4 or IPv6 ('172.18.0.0/16'). */
  source: string
  /** Only traffic leaving through this interface (`oifname "eth0"`). */
  outInterface?: string
  /** Only traffic not leaving through this interface (`oifname != "br0"`, Docker's form). */
  notOutInterface?: string
}

export interface PublishOptions {
  namespace?: Namespace
  protocol: NatProtocol
  /** The host address to publish on; every local address of the namespace when absent (never wider). */
  hostIp?: string
  /** A port or an inclusive range; a free port from net.ipv4.ip_local_port_range when absent (docker -P). */
  hostPort?: number | [number, number]
  containerIp: string
  /** A port, or a range of the same size as hostPort's. */
  containerPort: number | [number, number]
  /** Also publish on 127.0.0.1 (IPv4 only; sets route_localnet on the one interface that leads to the container). */
  localhost?: boolean
}

export interface IsolateOptions {
  namespace?: Namespace
  /** The network's bridge. */
  interface: string
  /** Inter-container communication on this bridge (Docker's icc); false drops traffic between its ports. */
  icc?: boolean
  /** No path in or out of the bridge other than between its own ports (Docker's --internal). */
  internal?: boolean
}

type Kind = 'masquerade' | 'publish' | 'isolate'
type NatFields = Partial<Omit<NatRule, 'delete' | 'toString'>> & { kind: Kind; id: string; namespace: Namespace; family: 4 | 6 }

interface RuleRef { family: 'inet' | 'bridge'; chain: string; handle: bigint }
interface ElemRef { map: string; key: Buffer }

const MAX_RANGE = 65535

/**
 * One NAT or filter rule netns-kit owns: a masquerade, a published port (or range), or the
 * isolation of a network. Read back from the kernel by NatRule.list(); delete() removes exactly
 * what this rule added.
 */
export class NatRule {
  readonly kind: Kind
  readonly id: string
  readonly namespace: Namespace
  readonly family: 4 | 6
  /** masquerade */
  readonly source?: string
  readonly outInterface?: string
  readonly notOutInterface?: string
  /** publish */
  readonly protocol?: NatProtocol
  readonly hostIp?: string
  /** The host port actually given (chosen when none was asked for, like docker -P); the first of a range. */
  readonly hostPort?: number
  readonly hostPortEnd?: number
  readonly containerIp?: string
  readonly containerPort?: number
  readonly containerPortEnd?: number
  readonly localhost?: boolean
  /** The interface that leads to containerIp (publish), or the isolated bridge (isolate). */
  readonly interface?: string
  /** isolate */
  readonly icc?: boolean
  readonly internal?: boolean
  /** @internal route_localnet on `interface` was turned on by netns-kit (publish with localhost). */
  readonly ownsRouteLocalnet?: boolean

  readonly #rules: RuleRef[]
  readonly #elems: ElemRef[]
  #deleted = false

  /** @internal */
  static build(fields: NatFields, rules: RuleRef[], elems: ElemRef[]): NatRule { return new NatRule(fields, rules, elems) }

  private constructor(fields: NatFields, rules: RuleRef[], elems: ElemRef[]) {
    Object.assign(this, Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)))
    this.kind = fields.kind
    this.id = fields.id
    this.namespace = fields.namespace
    this.family = fields.family
    this.#rules = rules
    this.#elems = elems
  }

  /**
   * `nft add rule inet netns-kit postrouting ip saddr SOURCE oifname != "IF" masquerade`:
   * traffic from `source` leaves with the address of the interface it goes out through.
   * Turns net.ipv4.ip_forward (or net.ipv6.conf.all.forwarding) on in that namespace only.
   */
  static async masquerade(opts: MasqueradeOptions): Promise<NatRule> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const src = parseCidr(opts.source, 'opts.source')
    if (opts.outInterface !== undefined && opts.notOutInterface !== undefined) {
      throw invalidArg('opts', opts, 'takes outInterface or notOutInterface, not both')
    }
    const out = opts.outInterface === undefined ? undefined : checkIfName(opts.outInterface, 'opts.outInterface')
    const notOut = opts.notOutInterface === undefined ? undefined : checkIfName(opts.notOutInterface, 'opts.notOutInterface')
    const ns = await defaultNamespace(opts.namespace)
    const id = newId()
    const exprs = masqueradeExprs(src.family, networkAddress(src.address, src.prefixLength), src.prefixLength, out, notOut)
    await enableForwarding(ns, src.family)
    const rule: NftMsg = { op: 'newrule', family: 'inet', table: TABLE, chain: 'postrouting', exprs, userdata: comment(`${TAG} masquerade ${id}`) }
    const handles = await change(ns, [rule], `masquerade ${opts.source}`)
    return NatRule.build({ kind: 'masquerade', id, namespace: ns, family: src.family, source: `${networkAddress(src.address, src.prefixLength)}/${src.prefixLength}`, outInterface: out, notOutInterface: notOut },
      [{ family: 'inet', chain: 'postrouting', handle: handles[handles.length - 1]! }], [])
  }

  /**
   * `docker run -p [HOSTIP:]HOSTPORT:CONTAINERPORT/PROTO`: one element per port in a DNAT map
   * (`dnat to ip daddr . meta l4proto . th dport map @pub4`), looked up only for packets addressed
   * to a local address of the namespace (and to hostIp when given). Reachable from other machines
   * through the host, from the host itself, from containers on the same bridge (hairpin), and
   * through 127.0.0.1 only with `localhost: true`.
   */
  static async publish(opts: PublishOptions): Promise<NatRule> {
    const spec = checkPublish(opts)
    const ns = await defaultNamespace(opts.namespace)
    const id = newId()
    const lo = MAPS.find((m) => m.loopback)!
    const maps = spec.loopbackOnly ? [lo] : mapsFor(spec.family, spec.hostIp)

    // Which host ports: the port or range asked for; or candidates, tried in turn, for docker -P
    // (a free port of ip_local_port_range) and -p 8000-8010:80 (a free port of that range).
    const choose = !spec.hostPort || (spec.hostPort[0] !== spec.hostPort[1] && spec.containerPort[0] === spec.containerPort[1])
    // The lookups go out together (each is a trip to a namespace thread, they run side by side):
    // the routes, then the link, that lead to the container; forwarding; our table and the local
    // addresses a collision check needs, then that check of the port asked for. Nothing is
    // changed before the interface is known.
    const fwdKey = forwardingKey(spec.family)
    const forwarding = settled(ns.sysctl.get(fwdKey))
    const routes = listRoutes(ns, spec.family)  // which link leads to the container; IPv4's local addresses
    routes.catch(() => {})
    const probe = settled(probeTable(ns, spec.family, routes))
    const firstCheck = choose ? undefined : settled(probe.then((p) => checkCollisions(ns, spec, spec.hostPort!, unwrap(p))))
    const { dev: ifname, subnet } = await egressInterface(ns, spec.containerIp, spec.family, routes)
    let hostRanges: [number, number][]
    if (choose) hostRanges = await freePorts(ns, spec, 8, spec.hostPort, unwrap(await probe))
    else hostRanges = [spec.hostPort!]
    const candidates = hostRanges.length > 1 || !spec.hostPort || spec.hostPort[0] !== spec.hostPort[1]
    if (unwrap(await forwarding) !== '1') await ns.sysctl.set(fwdKey, 1)
    const known = unwrap(await probe)
    // route_localnet on the one interface leading to the container, never on all/default. It is
    // netns-kit's (and goes off again with the last localhost mapping through it) if we turned it on.
    let routeLocalnetSetHere = false
    let ownsRouteLocalnet = false
    if (spec.localhost) {
      routeLocalnetSetHere = await ensureRouteLocalnet(ns, ifname)
      ownsRouteLocalnet = routeLocalnetSetHere ||
        (await readAll(ns)).some((r) => r.kind === 'publish' && r.localhost && r.interface === ifname && r.ownsRouteLocalnet)
    }
    const targetMaps = spec.localhost && !spec.loopbackOnly ? [...maps, lo] : maps

    let lastErr: unknown
    for (const [n, hostRange] of hostRanges.entries()) {
      const note = `${TAG} publish ${id} ${ifname}${spec.localhost ? ' lo' : ''}${ownsRouteLocalnet ? ' rl' : ''}`
      const built = mappingElements(spec, targetMaps, hostRange, note)
      const elems = built.map((b) => b.ref)
      const msgs: NftMsg[] = [...groupByMap(built).values(), hairpinMessage(spec.family, ifname, subnet)]
      try {
        // Collisions with other maps (a wildcard and an address on the same port) are checked first;
        // the kernel refuses a duplicate key in the same map (NLM_F_EXCL), also between processes.
        if (n === 0 && firstCheck) unwrap(await firstCheck)
        else await checkCollisions(ns, spec, hostRange, known)
        await change(ns, msgs, `publish ${spec.protocol} ${spec.hostIp ?? '*'}:${fmtRange(hostRange)}`, known.exists)
      } catch (e) {
        // Taken (by another map, or by another process just now: the kernel's EEXIST): the next
        // candidate if there are candidates, else the caller's error.
        const taken = (e instanceof NetnsKitError && e.code === 'ERR_NETNS_KIT_PORT_ALLOCATED') || (e as NetlinkError).code === 'EEXIST'
        lastErr = taken ? portAllocated(spec, hostRange) : e
        if (taken && candidates) continue
        if (routeLocalnetSetHere) await setRouteLocalnet(ns, ifname, false).catch(() => {})
        throw lastErr
      }
      if (spec.protocol === 'udp') {
        // Flows that reached the host port before it was published would keep bypassing the DNAT.
        await clearUdpConntrack(ns, spec.family, spec.hostIp, hostRange)
      }
      return NatRule.build({
        kind: 'publish', id, namespace: ns, family: spec.family, protocol: spec.protocol, hostIp: spec.loopbackOnly ? '127.0.0.1' : spec.hostIp,
        hostPort: hostRange[0], hostPortEnd: hostRange[1] !== hostRange[0] ? hostRange[1] : undefined,
        containerIp: spec.containerIp, containerPort: spec.containerPort[0],
        containerPortEnd: spec.containerPort[1] !== spec.containerPort[0] ? spec.containerPort[1] : undefined,
        localhost: spec.localhost, interface: ifname, ownsRouteLocalnet,
      }, [], elems)
    }
    if (routeLocalnetSetHere) await setRouteLocalnet(ns, ifname, false).catch(() => {})
    throw lastErr ?? new NetnsKitError('ERR_NETNS_KIT_NO_FREE_PORT', 'no free host port')
  }

  /**
   * Several `docker run -p` mappings in ONE atomic nf_tables batch (what a container with many
   * ports needs): all of them are published, or none. Each mapping is its own NatRule (its own
   * id, deleted on its own). Mappings without hostPort get a free port (-P), distinct from the
   * others of the batch. Mappings with `localhost`, a loopback hostIp or host port ranges are
   * published one by one with publish() (still all or nothing: the ones made are deleted again).
   */
  static async publishMany(list: PublishOptions[]): Promise<NatRule[]> {
    if (!Array.isArray(list)) throw invalidArg('list', list, 'must be an array of publish options', 'ERR_INVALID_ARG_TYPE')
    const specs = list.map((o) => checkPublish(o))
    if (!specs.length) return []
    const namespaces = await Promise.all(list.map((o) => defaultNamespace(o.namespace)))
    const ns = namespaces[0]!
    if (namespaces.some((n) => !n.equals(ns))) throw invalidArg('list', list, 'must publish in one namespace')
    const simple = (sp: PublishSpec) => !sp.localhost && !sp.loopbackOnly && (!sp.hostPort || sp.hostPort[0] === sp.hostPort[1]) && sp.containerPort[0] === sp.containerPort[1]
    if (!specs.every(simple)) {
      const done: NatRule[] = []
      try {
        for (const o of list) done.push(await NatRule.publish(o))
      } catch (e) {
        for (const r of done) await r.delete().catch(() => {})
        throw e
      }
      return done
    }
    const egress = new Map<string, { dev: string; subnet: { first: string; last: string } }>()
    for (const sp of specs) {
      const k = `${sp.family}/${sp.containerIp}`
      if (!egress.has(k)) egress.set(k, await egressInterface(ns, sp.containerIp, sp.family))
    }
    for (const f of new Set(specs.map((sp) => sp.family))) await enableForwarding(ns, f)
    let lastErr: unknown
    for (let attempt = 0; attempt < 8; attempt++) {
      // Host ports: the given ones, and for -P a free one not taken by the batch either.
      const chosen: number[] = []
      const inBatch = new Set(specs.filter((sp) => sp.hostPort).map((sp) => `${sp.protocol}/${sp.hostPort![0]}`))
      for (const sp of specs) {
        if (sp.hostPort) { chosen.push(sp.hostPort[0]); continue }
        const cands = (await freePorts(ns, sp, 64)).map((r) => r[0]).filter((p) => !inBatch.has(`${sp.protocol}/${p}`))
        if (!cands.length) throw new NetnsKitError('ERR_NETNS_KIT_NO_FREE_PORT', `no free ${sp.protocol} port`)
        chosen.push(cands[0]!)
        inBatch.add(`${sp.protocol}/${cands[0]}`)
      }
      const ids = specs.map(() => newId())
      const built = specs.map((sp, i) => mappingElements(sp, mapsFor(sp.family, sp.hostIp), [chosen[i]!, chosen[i]!],
        `${TAG} publish ${ids[i]} ${egress.get(`${sp.family}/${sp.containerIp}`)!.dev}`))
      const elemsOf: ElemRef[][] = built.map((b) => b.map((x) => x.ref))
      const byMap = groupByMap(built.flat())
      const hairpin = new Map<string, NftMsg>()
      for (const sp of specs) {
        const { dev: ifname, subnet } = egress.get(`${sp.family}/${sp.containerIp}`)!
        if (!hairpin.has(`${sp.family}/${ifname}`)) hairpin.set(`${sp.family}/${ifname}`, hairpinMessage(sp.family, ifname, subnet))
      }
      // Which mapping is taken: another map publishing the port (ours to check), or the same key in
      // the same map (the kernel's NLM_F_EXCL refuses the batch; the maps are read to find which).
      let taken: number | undefined
      for (const [i, sp] of specs.entries()) {
        try {
          await checkCollisions(ns, sp, [chosen[i]!, chosen[i]!])
        } catch (e) {
          if (!(e instanceof NetnsKitError && e.code === 'ERR_NETNS_KIT_PORT_ALLOCATED')) throw e
          taken = i
          break
        }
      }
      if (taken === undefined) {
        try {
          await change(ns, [...byMap.values(), ...hairpin.values()], `publish ${specs.length} mapping(s)`)
        } catch (e) {
          if ((e as NetlinkError).code !== 'EEXIST') throw e
          lastErr = e
          taken = await firstTaken(ns, elemsOf)
          if (taken === undefined) continue
        }
      }
      if (taken !== undefined) {
        lastErr = portAllocated(specs[taken]!, [chosen[taken]!, chosen[taken]!])
        if (specs[taken]!.hostPort) throw lastErr
        continue
      }
      for (const [i, sp] of specs.entries()) {
        if (sp.protocol === 'udp') await clearUdpConntrack(ns, sp.family, sp.hostIp, [chosen[i]!, chosen[i]!])
      }
      return specs.map((sp, i) => NatRule.build({
        kind: 'publish', id: ids[i]!, namespace: ns, family: sp.family, protocol: sp.protocol, hostIp: sp.hostIp, hostPort: chosen[i]!,
        containerIp: sp.containerIp, containerPort: sp.containerPort[0], localhost: false, interface: egress.get(`${sp.family}/${sp.containerIp}`)!.dev, ownsRouteLocalnet: false,
      }, [], elemsOf[i]!))
    }
    throw lastErr ?? new NetnsKitError('ERR_NETNS_KIT_NO_FREE_PORT', 'no free host port')
  }

  /**
   * Docker's network isolation for the bridge `interface`: no traffic between it and any other
   * interface except answers to connections it started and its published ports (DOCKER-ISOLATION,
   * and no direct routing to container addresses from outside); with `internal`, nothing in or
   * out at all; with `icc: false`, no traffic between its own ports either: the kernel's bridge
   * port isolation (`bridge link set dev PORT isolated on`) on every port of the bridge, which
   * needs no br_netfilter; isolated ports still reach the host through the bridge itself. Ports
   * attached later must be attached with `{ isolated: true }` (Network.connect does).
   */
  static async isolate(opts: IsolateOptions): Promise<NatRule> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const ifname = checkIfName(opts.interface, 'opts.interface')
    if (opts.icc !== undefined && typeof opts.icc !== 'boolean') throw invalidArg('opts.icc', opts.icc, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    if (opts.internal !== undefined && typeof opts.internal !== 'boolean') throw invalidArg('opts.internal', opts.internal, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    const icc = opts.icc !== false
    const internal = opts.internal === true
    const ns = await defaultNamespace(opts.namespace)
    // icc: false works on the bridge's ports, so the interface must be a bridge (checked first).
    const bridge = icc ? undefined : await Bridge.open(ifname, { namespace: ns })
    const id = newId()
    const ud = comment(`${TAG} isolate ${id} ${ifname}${internal ? ' internal' : ''}${icc ? '' : ' noicc'}`)
    const rule = (exprs: NftExpr[]): NftMsg => ({ op: 'newrule', family: 'inet', table: TABLE, chain: 'forward', exprs, userdata: ud })
    const msgs: NftMsg[] = isolateExprs(ifname, internal).map(rule)
    const chains: RuleRef['chain'][] = msgs.map(() => 'forward')
    const handles = await change(ns, msgs, `isolate ${ifname}`)
    const rules: RuleRef[] = handles.slice(handles.length - msgs.length).map((h, i) => ({ family: 'inet', chain: chains[i]!, handle: h! }))
    if (bridge) {
      try {
        await setPortsIsolated(bridge, true)
      } catch (e) {
        await deleteRules(ns, rules).catch(() => {})
        await tidy(ns).catch(() => {})
        throw e
      }
    }
    return NatRule.build({ kind: 'isolate', id, namespace: ns, family: 4, interface: ifname, icc, internal }, rules, [])
  }

  /** Every rule and mapping netns-kit owns in the namespace, decoded from the kernel (`nft list table inet netns-kit`). */
  static async list(opts: { namespace?: Namespace } = {}): Promise<NatRule[]> {
    const ns = await defaultNamespace(opts.namespace)
    return readAll(ns)
  }

  /**
   * Foreign base chains that can drop what netns-kit forwards: chains of other tables on the
   * forward hook with policy drop. netns-kit never changes them; traffic it publishes or
   * masquerades is dropped there unless their owner accepts it (for example with
   * `ct status dnat accept` and `iifname "BRIDGE" accept` in that chain).
   */
  static async conflicts(opts: { namespace?: Namespace } = {}): Promise<{ family: string; table: string; chain: string; hook: string; policy: string }[]> {
    const ns = await defaultNamespace(opts.namespace)
    const chains = (await native().nftList(handleOf(ns), { what: 'chains' })) as { family: string; table: string; name: string; hook?: string; policy?: string }[]
    return chains
      .filter((c) => c.table !== TABLE && c.hook === 'forward' && c.policy === 'drop')
      .map((c) => ({ family: c.family, table: c.table, chain: c.name, hook: c.hook!, policy: c.policy! }))
  }

  /** Removes exactly what this rule added; idempotent. When netns-kit's last rule goes, its tables go. */
  async delete(): Promise<void> {
    if (this.#deleted) return
    const ns = this.namespace
    let held: Promise<boolean> | undefined
    if (this.kind === 'publish') {
      // Only elements still carrying this rule's id: never another owner's (looked up by key,
      // every map at once, along with the look tidy() needs: one round of trips).
      held = tableHeld(ns)
      held.catch(() => {})
      const gone: ElemRef[] = []
      const maps = [...new Set(this.#elems.map((e) => e.map))]
      const mine = maps.map((map) => this.#elems.filter((e) => e.map === map))
      const found = await Promise.all(mine.map((elems, m) => findElements(ns, maps[m]!, elems.map((e) => e.key))))
      found.forEach((list, m) => list.forEach((el, i) => {
        const c = parseComment(commentOf(el?.userdata))
        if (c?.kind === 'publish' && c.id === this.id) gone.push(mine[m]![i]!)
      }))
      const byMap = new Map<string, Buffer[]>()
      for (const e of gone) byMap.set(e.map, [...(byMap.get(e.map) ?? []), e.key])
      const msgs: NftMsg[] = [...byMap].map(([set, keys]) => ({ op: 'delsetelem', family: 'inet', table: TABLE, set, elements: keys.map((key) => ({ key })) }))
      if (msgs.length) await applyBatch(ns, msgs, `unpublish ${this.protocol} ${this.hostPort}`)
      if (this.protocol === 'udp') {
        const range: [number, number] = [this.hostPort!, this.hostPortEnd ?? this.hostPort!]
        await clearUdpConntrack(ns, this.family, this.hostIp, range)
      }
      if (this.localhost && this.ownsRouteLocalnet) {
        const still = (await readAll(ns)).some((r) => r.kind === 'publish' && r.localhost && r.interface === this.interface)
        if (!still) await setRouteLocalnet(ns, this.interface!, false).catch(() => {})
      }
    } else {
      await deleteRules(ns, this.#rules)
      if (this.kind === 'isolate' && this.icc === false) {
        const bridge = await Bridge.open(this.interface!, { namespace: ns }).catch(() => undefined)
        if (bridge) await setPortsIsolated(bridge, false)
      }
    }
    this.#deleted = true
    await tidy(ns, held)
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.delete() }

  toString(): string {
    switch (this.kind) {
      case 'masquerade': return `NatRule(masquerade ${this.source}${this.outInterface ? ` oif ${this.outInterface}` : ''}${this.notOutInterface ? ` oif != ${this.notOutInterface}` : ''})`
      case 'publish': return `NatRule(publish ${this.protocol} ${this.hostIp ?? '*'}:${this.hostPort}${this.hostPortEnd ? `-${this.hostPortEnd}` : ''} -> ${this.containerIp}:${this.containerPort}${this.containerPortEnd ? `-${this.containerPortEnd}` : ''})`
      default: return `NatRule(isolate ${this.interface}${this.internal ? ' internal' : ''}${this.icc === false ? ' icc=false' : ''})`
    }
  }
}

// --- rule expressions (exported for the golden tests) -------------------------------------

/** `ip saddr NET/LEN [oifname [!=] IF] masquerade` (ip6 for family 6). */
export function masqueradeExprs(family: 4 | 6, network: string, prefixLength: number, out?: string, notOut?: string): NftExpr[] {
  return [
    ...nfproto(family),
    ...addrMatch(family, 'saddr', network, prefixLength),
    ...(out ? ifMatch('oifname', out) : notOut ? ifMatch('oifname', notOut, 'neq') : []),
    { type: 'masq' },
  ]
}

/**
 * The forward-chain rules isolating bridge `ifname`: `oifname IF ct status dnat accept` and
 * `oifname IF iifname != IF drop`; internal: `iifname IF oifname != IF drop` and the reverse.
 */
export function isolateExprs(ifname: string, internal: boolean): NftExpr[][] {
  return internal
    ? [
        [...ifMatch('iifname', ifname), ...ifMatch('oifname', ifname, 'neq'), verdict('drop')],
        [...ifMatch('oifname', ifname), ...ifMatch('iifname', ifname, 'neq'), verdict('drop')],
      ]
    : [
        [...ifMatch('oifname', ifname), ...ctStatusDnat(), verdict('accept')],
        [...ifMatch('oifname', ifname), ...ifMatch('iifname', ifname, 'neq'), verdict('drop')],
      ]
}

// --- input ----------------------------------------------------------------------------

interface PublishSpec {
  protocol: NatProtocol
  family: 4 | 6
  hostIp?: string
  hostPort?: [number, number]
  containerIp: string
  containerPort: [number, number]
  localhost: boolean
  /** hostIp was a loopback address: published on 127.0.0.0/8 only. */
  loopbackOnly: boolean
}

function checkRange(v: unknown, arg: string): [number, number] {
  if (typeof v === 'number') { const p = checkPort(v, arg); return [p, p] }
  if (!Array.isArray(v) || v.length !== 2) throw invalidArg(arg, v, 'must be a port or a [first, last] range', 'ERR_INVALID_ARG_TYPE')
  const a = checkPort(v[0], `${arg}[0]`), b = checkPort(v[1], `${arg}[1]`)
  if (a > b) throw invalidArg(arg, v, 'must not be a reversed range')
  if (b - a + 1 > MAX_RANGE) throw outOfRange(arg, `at most ${MAX_RANGE} ports`, v)
  return [a, b]
}

function checkPublish(opts: PublishOptions): PublishSpec {
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  if (!Object.hasOwn(L4PROTO, opts.protocol as string)) throw invalidArg('opts.protocol', opts.protocol, "must be 'tcp', 'udp' or 'sctp'")
  const family = net.isIP(typeof opts.containerIp === 'string' ? opts.containerIp : '') as 0 | 4 | 6
  if (family === 0) throw invalidArg('opts.containerIp', opts.containerIp, 'must be an IPv4 or IPv6 address')
  if (opts.hostIp !== undefined) {
    const hf = net.isIP(typeof opts.hostIp === 'string' ? opts.hostIp : '')
    if (hf === 0) throw invalidArg('opts.hostIp', opts.hostIp, 'must be an IPv4 or IPv6 address')
    if (hf !== family) throw invalidArg('opts.hostIp', opts.hostIp, `must be of the same family as containerIp (${opts.containerIp})`)
    if (opts.hostIp === '0.0.0.0' || opts.hostIp === '::') throw invalidArg('opts.hostIp', opts.hostIp, 'must be a specific address: leave it out to publish on every local address')
    if (hf === 6 && isLoopback(opts.hostIp)) throw invalidArg('opts.hostIp', opts.hostIp, 'must not be ::1: the kernel never routes IPv6 loopback traffic to another interface')
  }
  if (opts.localhost !== undefined && typeof opts.localhost !== 'boolean') throw invalidArg('opts.localhost', opts.localhost, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  if (opts.localhost === true && family !== 4) throw invalidArg('opts.localhost', true, 'is only possible for IPv4 (the kernel never routes ::1 off the host)')
  const containerPort = checkRange(opts.containerPort, 'opts.containerPort')
  const hostPort = opts.hostPort === undefined ? undefined : checkRange(opts.hostPort, 'opts.hostPort')
  const cLen = containerPort[1] - containerPort[0]
  if (cLen > 0) {
    if (!hostPort) throw invalidArg('opts.hostPort', opts.hostPort, 'must be a range of the same size when containerPort is a range')
    if (hostPort[1] - hostPort[0] !== cLen) throw invalidArg('opts.hostPort', opts.hostPort, `must be a range of the same size as containerPort (${cLen + 1} ports)`)
  }
  // docker -p 127.0.0.1:HOST:CONT: the loopback only (any 127.0.0.0/8 address of the namespace).
  const loopbackOnly = opts.hostIp !== undefined && isLoopback(opts.hostIp)
  return {
    protocol: opts.protocol, family, hostIp: loopbackOnly ? undefined : opts.hostIp, hostPort, containerIp: opts.containerIp, containerPort,
    localhost: opts.localhost === true || loopbackOnly, loopbackOnly,
  }
}

function isLoopback(ip: string): boolean {
  return net.isIPv4(ip) ? ip.startsWith('127.') : ipBytes(ip).equals(ipBytes('::1'))
}

// --- helpers --------------------------------------------------------------------------

function newId(): string { return randomBytes(4).toString('hex') }

function fmtRange(r: [number, number]): string { return r[0] === r[1] ? String(r[0]) : `${r[0]}-${r[1]}` }

function networkAddress(address: string, prefixLength: number): string {
  const b = ipBytes(address)
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8))
    b[i]! &= (0xff << (8 - bits)) & 0xff
  }
  return ipString(b)
}

function mapsFor(family: 4 | 6, hostIp: string | undefined): MapDef[] {
  return MAPS.filter((m) => m.family === family && !m.loopback && m.byAddress === (hostIp !== undefined))
}

function elementKey(m: MapDef, protocol: NatProtocol, port: number, hostIp: string | undefined): Buffer {
  const parts: Buffer[] = []
  if (m.byAddress) parts.push(ipBytes(hostIp!))
  parts.push(padded(Buffer.from([L4PROTO[protocol]])), padded(portBytes(port)))
  return Buffer.concat(parts)
}

/**
 * The map elements of one mapping: one per host port of `hostRange` and map, keyed by (address,)
 * protocol and port, mapping to the container address and port (ports of a range pair up one
 * to one), each with the owner comment `note`.
 */
function mappingElements(spec: PublishSpec, maps: MapDef[], hostRange: [number, number], note: string): { ref: ElemRef; element: NftElement }[] {
  const out: { ref: ElemRef; element: NftElement }[] = []
  const userdata = comment(note)
  for (const m of maps) {
    for (let i = 0; i <= hostRange[1] - hostRange[0]; i++) {
      const key = elementKey(m, spec.protocol, hostRange[0] + i, spec.hostIp)
      const cport = spec.containerPort[0] === spec.containerPort[1] ? spec.containerPort[0] : spec.containerPort[0] + i
      out.push({ ref: { map: m.name, key }, element: { key, data: Buffer.concat([ipBytes(spec.containerIp), padded(portBytes(cport))]), userdata } })
    }
  }
  return out
}

/** One exclusive NEWSETELEM message per map (the kernel refuses a key that is already there). */
function groupByMap(built: { ref: ElemRef; element: NftElement }[]): Map<string, NftMsg & { op: 'newsetelem' }> {
  const byMap = new Map<string, NftMsg & { op: 'newsetelem' }>()
  for (const { ref, element } of built) {
    const msg = byMap.get(ref.map) ?? { op: 'newsetelem', family: 'inet', table: TABLE, set: ref.map, elements: [], exclusive: true }
    msg.elements.push(element)
    byMap.set(ref.map, msg)
  }
  return byMap
}

/**
 * Hairpin: DNAT'd traffic from the subnet behind `ifname` going back into it is masqueraded, so
 * containers reach published ports (their own too) through the host's addresses.
 */
function hairpinMessage(family: 4 | 6, ifname: string, subnet: { first: string; last: string }): NftMsg {
  return { op: 'newsetelem', family: 'inet', table: TABLE, set: HAIRPIN_SETS[family],
    elements: [{ key: Buffer.concat([ifnameBytes(ifname), ipBytes(subnet.first)]), keyEnd: Buffer.concat([ifnameBytes(ifname), ipBytes(subnet.last)]), userdata: comment(`${TAG} hairpin`) }] }
}

function portAllocated(spec: PublishSpec, r: [number, number]): NetnsKitError {
  return new NetnsKitError('ERR_NETNS_KIT_PORT_ALLOCATED',
    `${spec.loopbackOnly ? '127.0.0.1' : spec.hostIp ?? (spec.family === 4 ? '0.0.0.0' : '[::]')}:${fmtRange(r)}/${spec.protocol} is already published`)
}

/**
 * The interface the namespace routes `ip` through (longest prefix of the main table), and that prefix.
 * Reads the routes and then only the one link they name: dumping every link cost a time that grew
 * with the number of containers on the host (bench/results.md).
 */
async function egressInterface(ns: Namespace, ip: string, family: 4 | 6, routesOf?: Promise<NativeRoute[]>): Promise<{ dev: string; subnet: { first: string; last: string } }> {
  const routes = await (routesOf ?? listRoutes(ns, family))
  let best: { len: number; oif: number; addr: string } | undefined
  for (const r of routes) {
    if (!r.oif || r.dstLength === 0 || r.type !== RTN_UNICAST || r.table !== RT_TABLE_MAIN) continue
    if (networkAddress(ip, r.dstLength) !== networkAddress(r.dst, r.dstLength)) continue
    if (!best || r.dstLength > best.len) best = { len: r.dstLength, oif: r.oif, addr: r.dst }
  }
  const dev = best && (await getLink(ns, best.oif).catch(() => undefined))?.name
  if (!best || !dev) {
    throw new NetnsKitError('ERR_NETNS_KIT_NO_ROUTE', `no interface in ${ns.name ?? ns.path} leads to ${ip}: add the container's network (bridge address) first`)
  }
  return { dev, subnet: { first: networkAddress(best.addr, best.len), last: lastAddress(best.addr, best.len) } }
}

const RTN_UNICAST = 1
const RT_TABLE_MAIN = 254

function lastAddress(address: string, prefixLength: number): string {
  const b = ipBytes(address)
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8))
    b[i]! |= 0xff >> bits
  }
  return ipString(b)
}

/**
 * Removes the conntrack entries of UDP flows to the host ports (by the HOST address and port,
 * never the container's), so a flow that started before a change does not keep its old path.
 */
async function clearUdpConntrack(ns: Namespace, family: 4 | 6, hostIp: string | undefined, r: [number, number]): Promise<void> {
  for (let port = r[0]; port <= r[1]; port++) {
    await conntrack.delete(ns, { family, protocol: 'udp', origDstPort: port, ...(hostIp ? { origDst: hostIp } : {}) })
  }
}

function forwardingKey(family: 4 | 6): string {
  return family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'
}

async function enableForwarding(ns: Namespace, family: 4 | 6): Promise<void> {
  const key = forwardingKey(family)
  if ((await ns.sysctl.get(key)) !== '1') await ns.sysctl.set(key, 1)
}

/** A promise that never rejects (its outcome is read later with unwrap): lookups started early. */
type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }
function settled<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))
}
function unwrap<T>(s: Settled<T>): T {
  if (!s.ok) throw s.error
  return s.value
}

async function setRouteLocalnet(ns: Namespace, ifname: string, on: boolean): Promise<void> {
  await ns.sysctl.set(`net.ipv4.conf.${ifname.replace(/\./g, '/')}.route_localnet`, on ? 1 : 0)
}

/** Sets route_localnet on `ifname` (never on all/default); true if this call turned it on. */
async function ensureRouteLocalnet(ns: Namespace, ifname: string): Promise<boolean> {
  const key = `net.ipv4.conf.${ifname.replace(/\./g, '/')}.route_localnet`
  if ((await ns.sysctl.get(key)) === '1') return false
  await ns.sysctl.set(key, 1)
  return true
}

interface DecodedElement { key: Buffer; keyEnd?: Buffer; data?: Buffer; userdata?: Buffer }

async function listElements(ns: Namespace, set: string): Promise<DecodedElement[]> {
  return (await native().nftList(handleOf(ns), { what: 'elements', family: 'inet', table: TABLE, set })) as DecodedElement[]
}

/** The elements of `set` with these keys (null where none): one lookup each, whatever the set's size. */
async function findElements(ns: Namespace, set: string, keys: Buffer[]): Promise<(DecodedElement | null)[]> {
  if (!keys.length) return []
  return (await native().nftList(handleOf(ns), { what: 'elements', family: 'inet', table: TABLE, set, keys })) as (DecodedElement | null)[]
}

/**
 * The local addresses of `family` a specific-address map can hold keys for. An address dump of
 * that family only: ns.addresses() also dumps every link for the names, a cost that grew with the
 * number of containers on the host (bench/results.md).
 */
async function localAddresses(ns: Namespace, family: 4 | 6, routesOf?: Promise<NativeRoute[]>): Promise<string[]> {
  if (family === 4) {
    // IPv4: the routes of table local, one per address (also on a link that is down): the
    // addresses without an address dump, which walks every interface (a cost per publish that
    // grew with the number of containers). A route dump walks the routing tables only.
    return (await (routesOf ?? listRoutes(ns, 4))).filter((r) => r.table === RT_TABLE_LOCAL && r.type === RTN_LOCAL && r.dstLength === 32 && !isLoopback(r.dst)).map((r) => r.dst)
  }
  // IPv6: an address dump (a tentative address has no local route yet).
  return (await listAddrs(ns, 0, family)).filter((a) => a.family === family && !isLoopback(a.address) && a.scope !== RT_SCOPE_LINK).map((a) => a.address)
}

const RTN_LOCAL = 2
const RT_TABLE_LOCAL = 255

const RT_SCOPE_LINK = 253

/** Keys a mapping of `port` would have in map `m` (one per local address for an address map). */
function keysFor(m: MapDef, protocol: NatProtocol, port: number, addresses: string[]): Buffer[] {
  return m.byAddress ? addresses.map((a) => elementKey(m, protocol, port, a)) : [elementKey(m, protocol, port, undefined)]
}

/** The index of the first list of elements of which one key is already in its map (looked up by key). */
async function firstTaken(ns: Namespace, elemsOf: ElemRef[][]): Promise<number | undefined> {
  for (const [i, elems] of elemsOf.entries()) {
    for (const map of new Set(elems.map((e) => e.map))) {
      const found = await findElements(ns, map, elems.filter((e) => e.map === map).map((e) => e.key))
      if (found.some((e) => e !== null)) return i
    }
  }
  return undefined
}

/** Which maps a publish must not collide with: a wildcard's and an address's on the same port. */
function collisionMaps(spec: PublishSpec): MapDef[] {
  if (spec.loopbackOnly) return []
  const maps = mapsFor(spec.family, spec.hostIp)
  return MAPS.filter((m) => m.family === spec.family && !m.loopback && !maps.includes(m))
}

/**
 * Whether our table is there and the local addresses of the family (the keys an address map can
 * hold), looked up at once; what the collision check and the choice of a free port go by.
 */
interface Probe { exists: boolean; addrs: string[] }
async function probeTable(ns: Namespace, family: 4 | 6, routesOf?: Promise<NativeRoute[]>): Promise<Probe> {
  const [exists, addrs] = await Promise.all([tableExists(ns, 'inet'), localAddresses(ns, family, routesOf)])
  return { exists, addrs }
}

/** Fails with ERR_NETNS_KIT_PORT_ALLOCATED when another map already publishes one of these ports. */
async function checkCollisions(ns: Namespace, spec: PublishSpec, r: [number, number], probe?: Probe): Promise<void> {
  const { exists, addrs } = probe ?? (await probeTable(ns, spec.family))
  if (!exists) return
  // The same map is the kernel's job (NLM_F_EXCL); a wildcard and an address on the same port are
  // ours: looked up key by key (the wildcard's key, or one key per local address), every map at once.
  const found = await Promise.all(collisionMaps(spec).map((m) => {
    const keys: Buffer[] = []
    for (let port = r[0]; port <= r[1]; port++) keys.push(...keysFor(m, spec.protocol, port, addrs))
    return findElements(ns, m.name, keys)
  }))
  if (found.some((list) => list.some((e) => e !== null))) throw portAllocated(spec, r)
}

/**
 * Candidate host ports for -P: random picks from net.ipv4.ip_local_port_range (or `within`) that
 * no map holds for this protocol, each checked by key lookups (the kernel's NLM_F_EXCL settles races).
 */
async function freePorts(ns: Namespace, spec: PublishSpec, tries: number, within?: [number, number], probe?: Probe): Promise<[number, number][]> {
  let lo: number, hi: number
  if (within) [lo, hi] = within
  else {
    const range = (await ns.sysctl.get('net.ipv4.ip_local_port_range')).trim().split(/\s+/).map(Number)
    lo = range[0] ?? 32768
    hi = range[1] ?? 60999
  }
  const size = hi - lo + 1
  const { exists, addrs } = probe ?? (await probeTable(ns, spec.family))
  const family = MAPS.filter((m) => m.family === spec.family)
  const out: [number, number][] = []
  const start = Math.floor(Math.random() * size)
  for (let done = 0; done < size && out.length < tries; done += tries) {
    const candidates: number[] = []
    for (let i = done; i < Math.min(size, done + tries); i++) candidates.push(lo + ((start + i) % size))
    const taken = new Set<number>()
    if (exists) {
      await Promise.all(family.map(async (m) => {
        const keys = candidates.map((p) => keysFor(m, spec.protocol, p, addrs))
        const found = await findElements(ns, m.name, keys.flat())
        let k = 0
        keys.forEach((ks, i) => { for (let j = 0; j < ks.length; j++, k++) if (found[k]) taken.add(candidates[i]!) })
      }))
    }
    for (const p of candidates) if (!taken.has(p) && out.length < tries) out.push([p, p])
  }
  if (!out.length) throw new NetnsKitError('ERR_NETNS_KIT_NO_FREE_PORT', `no free ${spec.protocol} port in ${lo}-${hi}`)
  return out
}

/** Applies a change, creating the skeleton in the same atomic batch when the table is missing. */
async function change(ns: Namespace, msgs: NftMsg[], what: string, exists?: boolean): Promise<(bigint | null)[]> {
  if (exists ?? (await tableExists(ns, 'inet'))) {
    try {
      return await applyBatch(ns, msgs, what)
    } catch (e) {
      // Known from an earlier look, but gone since (another process tidied it): with the skeleton.
      if (exists === undefined || (e as NetlinkError).code !== 'ENOENT' || (await tableExists(ns, 'inet'))) throw e
    }
  }
  try {
    return await applyBatch(ns, [...skeleton(), ...msgs], what)
  } catch (e) {
    // Another process created the table between our look and our batch: go again without it.
    if ((e as NetlinkError).code === 'EEXIST' && (await tableExists(ns, 'inet'))) return applyBatch(ns, msgs, what)
    throw e
  }
}

/** Bridge port isolation on every current port of `bridge`, in one trip. */
async function setPortsIsolated(bridge: Bridge, isolated: boolean): Promise<void> {
  const ports = await bridge.ports()
  if (ports.length) await run(ports.map((p) => ({ ns: bridge.namespace, op: 'link.set' as const, index: p.index, isolated, object: `${p.name} (port of ${bridge.name})` })))
}

async function deleteRules(ns: Namespace, rules: RuleRef[]): Promise<void> {
  if (!rules.length) return
  // Only rules that are still there (idempotent delete; a vanished handle is not an error).
  const present = new Set<string>()
  for (const family of new Set(rules.map((r) => r.family))) {
    if (!(await tableExists(ns, family))) continue
    const list = (await native().nftList(handleOf(ns), { what: 'rules', family, table: TABLE })) as { chain: string; handle: bigint }[]
    for (const r of list) present.add(`${family}/${r.chain}/${r.handle}`)
  }
  const msgs: NftMsg[] = rules
    .filter((r) => present.has(`${r.family}/${r.chain}/${r.handle}`))
    .map((r) => ({ op: 'delrule', family: r.family, table: TABLE, chain: r.chain, handle: r.handle }))
  if (msgs.length) await applyBatch(ns, msgs, 'delete rules')
}

/** Removes netns-kit's tables once nothing of ours is left in them (and stale hairpin elements). */
async function tidy(ns: Namespace, held?: Promise<boolean>): Promise<void> {
  // While a masquerade or isolation rule remains (a network's lifetime), nothing can go: a
  // look at the few rules' comments is enough, and deleting a mapping stays cheap however many
  // there are. Otherwise the maps are read, to drop the table with its last element (and stale
  // hairpin entries).
  if (await (held ?? tableHeld(ns))) return
  if (!(await tableExists(ns, 'inet'))) return
  const all = await readAll(ns)
  const msgs: NftMsg[] = []
  {
    if (all.length === 0) {
      msgs.push({ op: 'deltable', family: 'inet', name: TABLE })
    } else {
      for (const family of [4, 6] as const) {
        const used = new Set(all.filter((r) => r.kind === 'publish' && r.family === family).map((r) => r.interface!))
        const set = HAIRPIN_SETS[family]
        const stale = (await listElements(ns, set)).filter((e) => !used.has(ifnameString(e.key.subarray(0, 16))))
        if (stale.length) msgs.push({ op: 'delsetelem', family: 'inet', table: TABLE, set, elements: stale.map((e) => ({ key: e.key, keyEnd: e.keyEnd })) })
      }
    }
  }
  if (msgs.length) await applyBatch(ns, msgs, 'tidy netns-kit tables').catch(() => {})
}


/**
 * True while a masquerade or isolation rule of ours is in the table (so the table stays): the
 * rules listed without their expressions, one trip. False also when there is no table.
 */
async function tableHeld(ns: Namespace): Promise<boolean> {
  const rules = await native().nftList(handleOf(ns), { what: 'rules', family: 'inet', table: TABLE, brief: true })
  return rules.some((r) => { const k = parseComment(commentOf(r.userdata))?.kind; return k === 'masquerade' || k === 'isolate' })
}

// --- reading back ---------------------------------------------------------------------

interface ParsedComment { kind: string; id: string; rest: string[] }

function parseComment(c: string | undefined): ParsedComment | undefined {
  if (!c) return undefined
  const parts = c.split(' ')
  if (parts[0] !== TAG || parts.length < 3) return undefined
  return { kind: parts[1]!, id: parts[2]!, rest: parts.slice(3) }
}

interface DecodedRule { family: 'inet' | 'bridge'; chain: string; handle: bigint; exprs: NftExpr[]; userdata?: Buffer }

async function readAll(ns: Namespace): Promise<NatRule[]> {
  const out: NatRule[] = []
  const make = (f: NatFields, rules: RuleRef[], elems: ElemRef[]) => NatRule.build(f, rules, elems)
  const rules: DecodedRule[] = []
  for (const family of ['inet'] as const) {
    if (!(await tableExists(ns, family))) continue
    const list = (await native().nftList(handleOf(ns), { what: 'rules', family, table: TABLE })) as Omit<DecodedRule, 'family'>[]
    rules.push(...list.map((r) => ({ ...r, family })))
  }
  // Masquerade: one rule each, decoded from its expressions.
  for (const r of rules) {
    const c = parseComment(commentOf(r.userdata))
    if (c?.kind !== 'masquerade') continue
    const d = decodeMasquerade(r.exprs)
    if (!d) continue
    out.push(make({ kind: 'masquerade', id: c.id, namespace: ns, family: d.family, source: d.source, outInterface: d.out, notOutInterface: d.notOut },
      [{ family: r.family, chain: r.chain, handle: r.handle }], []))
  }
  // Isolation: the rules sharing an id.
  const iso = new Map<string, DecodedRule[]>()
  for (const r of rules) {
    const c = parseComment(commentOf(r.userdata))
    if (c?.kind === 'isolate') iso.set(c.id, [...(iso.get(c.id) ?? []), r])
  }
  for (const [id, rs] of iso) {
    const inet = rs.filter((r) => r.family === 'inet')
    const ifname = inet.map((r) => firstIfname(r.exprs)).find(Boolean)
    if (!ifname) continue
    const internal = inet.some((r) => isIifThenDrop(r.exprs))
    const icc = !rs.some((r) => parseComment(commentOf(r.userdata))?.rest.includes('noicc'))
    out.push(make({ kind: 'isolate', id, namespace: ns, family: 4, interface: ifname, internal, icc },
      rs.map((r) => ({ family: r.family, chain: r.chain, handle: r.handle })), []))
  }
  // Published ports: elements grouped by their owner id.
  if (await tableExists(ns, 'inet')) {
    const groups = new Map<string, { m: MapDef; e: DecodedElement; lo: boolean; rl: boolean; ifname: string }[]>()
    for (const m of MAPS) {
      for (const e of await listElements(ns, m.name)) {
        const c = parseComment(commentOf(e.userdata))
        if (c?.kind !== 'publish') continue
        groups.set(c.id, [...(groups.get(c.id) ?? []), { m, e, lo: c.rest.includes('lo'), rl: c.rest.includes('rl'), ifname: c.rest[0] ?? '' }])
      }
    }
    for (const [id, els] of groups) {
      const main = els.filter((x) => !x.m.loopback)
      const use = main.length ? main : els
      const first = use[0]!
      const fam = first.m.family
      const alen = fam === 4 ? 4 : 16
      const off = first.m.byAddress ? alen : 0
      const protoNum = first.e.key[off]!
      const protocol = (Object.entries(L4PROTO).find(([, v]) => v === protoNum)?.[0] ?? String(protoNum)) as NatProtocol
      const ports = use.map((x) => ({ host: x.e.key.readUInt16BE(off + 4), cport: x.e.data!.readUInt16BE(alen), cip: ipString(x.e.data!.subarray(0, alen)) }))
        .sort((a, b) => a.host - b.host)
      const hostIp = first.m.byAddress ? ipString(first.e.key.subarray(0, alen)) : first.m.loopback ? '127.0.0.1' : undefined
      const hp = ports[0]!, hl = ports[ports.length - 1]!
      out.push(make({
        kind: 'publish', id, namespace: ns, family: fam, protocol, hostIp,
        hostPort: hp.host, hostPortEnd: hl.host !== hp.host ? hl.host : undefined,
        containerIp: hp.cip, containerPort: hp.cport, containerPortEnd: hl.cport !== hp.cport ? hl.cport : undefined,
        localhost: els.some((x) => x.lo), interface: first.ifname, ownsRouteLocalnet: els.some((x) => x.rl),
      }, [], els.map((x) => ({ map: x.m.name, key: x.e.key }))))
    }
  }
  return out
}

function decodeMasquerade(exprs: NftExpr[]): { family: 4 | 6; source: string; out?: string; notOut?: string } | undefined {
  let family: 4 | 6 | undefined
  let source: string | undefined
  let out: string | undefined, notOut: string | undefined
  for (let i = 0; i < exprs.length; i++) {
    const e = exprs[i] as Record<string, unknown>
    const next = exprs[i + 1] as Record<string, unknown> | undefined
    if (e.type === 'meta' && e.key === 'nfproto' && next?.type === 'cmp') {
      family = (next.data as Buffer)[0] === 10 ? 6 : 4
      i++
    } else if (e.type === 'payload' && e.base === 'network' && family) {
      const len = e.len as number
      let mask: Buffer | undefined
      let j = i + 1
      if ((exprs[j] as Record<string, unknown>)?.type === 'bitwise') { mask = (exprs[j] as { mask: Buffer }).mask; j++ }
      const cmp = exprs[j] as { type: string; data: Buffer } | undefined
      if (cmp?.type !== 'cmp') return undefined
      const full = Buffer.alloc(family === 4 ? 4 : 16)
      cmp.data.copy(full)
      let prefix = len * 8
      if (mask) prefix = [...mask].reduce((n, b) => n + popcount(b), 0)
      source = `${ipString(full)}/${prefix}`
      i = j
    } else if (e.type === 'meta' && e.key === 'oifname' && next?.type === 'cmp') {
      const name = ifnameString(next.data as Buffer)
      if (next.op === 'neq') notOut = name; else out = name
      i++
    }
  }
  if (!family || !source) return undefined
  return { family, source, out, notOut }
}

function popcount(b: number): number { let n = 0; while (b) { n += b & 1; b >>= 1 } return n }

function firstIfname(exprs: NftExpr[]): string | undefined {
  for (let i = 0; i + 1 < exprs.length; i++) {
    const e = exprs[i] as Record<string, unknown>
    const n = exprs[i + 1] as Record<string, unknown>
    if (e.type === 'meta' && (e.key === 'iifname' || e.key === 'oifname') && n.type === 'cmp' && n.op === 'eq') return ifnameString(n.data as Buffer)
  }
  return undefined
}

function isIifThenDrop(exprs: NftExpr[]): boolean {
  const e = exprs[0] as Record<string, unknown> | undefined
  const last = exprs[exprs.length - 1] as { type: string; verdict?: { code: string } } | undefined
  return e?.type === 'meta' && e.key === 'iifname' && last?.verdict?.code === 'drop'
}

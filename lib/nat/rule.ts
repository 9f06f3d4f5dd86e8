// NatRule: masquerade, published ports (docker run -p / -P) and isolation between networks, as
// nftables rules and map elements in netns-kit's own table (lib/nat/ruleset.ts), sent over
// nf_tables netlink in one atomic batch per change. Nothing else in the ruleset is touched.
// Published ports: lib/nat/publish.ts; reading rules back: lib/nat/decode.ts.
import { randomBytes } from 'node:crypto'
import { Bridge } from '../bridge'
import { invalidArg } from '../errors'
import type { NftExpr, NftMsg } from '../kernel/binding'
import { nftApply, nftList } from '../kernel/nft'
import { run } from '../kernel/rtnl'
import { prefixBounds } from '../ipam/ip'
import { defaultNamespace, type Namespace } from '../namespace'
import { checkIfName, parseCidr } from '../validate'
import { turn } from '../turn'
import { DECODE_SLICE, interfacesInUse, readOwned } from './decode'
import { addrMatch, comment, ifMatch, nfproto } from './expr'
import { addMessages, destroyMessages, isolateNote, isolationElements, ownedRefs } from './isolate'
import { enableForwarding } from './host'
import { repairLocalnet } from './localnet'
import { checkPublish } from './ports'
import { publish, unpublish, type PublishHints } from './publish'
import { ISO, TABLE, TAG, change, deleteRules, tidy } from './ruleset'
import type { ElemRef, IsolateOptions, MasqueradeOptions, NatFields, NatKind, NatProtocol, OwnedRule, PublishOptions, RuleRef } from './types'

/**
 * One NAT or filter rule netns-kit owns: a masquerade, a published port (or range), or the
 * isolation of a network. Read back from the kernel by NatRule.list(); delete() removes exactly
 * what this rule added.
 */
export class NatRule {
  readonly kind: NatKind
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
  static build(r: OwnedRule): NatRule {
    return new NatRule(r)
  }

  private constructor({ fields, rules, elems }: OwnedRule) {
    // Field by field (every field is an own property from its declaration): NatRule.list() makes
    // one per mapping, and Object.entries/fromEntries/assign cost ~10 us each.
    this.kind = fields.kind
    this.id = fields.id
    this.namespace = fields.namespace
    this.family = fields.family
    this.source = fields.source
    this.outInterface = fields.outInterface
    this.notOutInterface = fields.notOutInterface
    this.protocol = fields.protocol
    this.hostIp = fields.hostIp
    this.hostPort = fields.hostPort
    this.hostPortEnd = fields.hostPortEnd
    this.containerIp = fields.containerIp
    this.containerPort = fields.containerPort
    this.containerPortEnd = fields.containerPortEnd
    this.localhost = fields.localhost
    this.interface = fields.interface
    this.icc = fields.icc
    this.internal = fields.internal
    this.ownsRouteLocalnet = fields.ownsRouteLocalnet
    this.#rules = rules
    this.#elems = elems
  }

  /**
   * `nft add rule inet netns-kit postrouting ip saddr SOURCE oifname != "IF" masquerade`:
   * traffic from `source` leaves with the address of the interface it goes out through.
   * Turns net.ipv4.ip_forward (or net.ipv6.conf.all.forwarding) on in that namespace only.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a port of 0 or above 65535, a reversed range, ranges of different sizes, a bad CIDR or address, an unknown protocol, mixed families).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). The batch is atomic: nothing is applied.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
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
    const network = prefixBounds(src.address, src.prefixLength).first
    const exprs = masqueradeExprs(src.family, network, src.prefixLength, out, notOut)
    await enableForwarding(ns, src.family)
    const rule: NftMsg = { op: 'newrule', family: 'inet', table: TABLE, chain: 'postrouting', exprs, userdata: comment(`${TAG} masquerade ${id}`) }
    const handles = await change(ns, [rule], `masquerade ${opts.source}`)
    return NatRule.build({
      fields: {
        kind: 'masquerade',
        id,
        namespace: ns,
        family: src.family,
        source: `${network}/${src.prefixLength}`,
        outInterface: out,
        notOutInterface: notOut,
      },
      rules: [{ family: 'inet', chain: 'postrouting', handle: handles[handles.length - 1]! }],
      elems: [],
    })
  }

  /**
   * `docker run -p [HOSTIP:]HOSTPORT:CONTAINERPORT/PROTO`: one element per port in a DNAT map
   * (`dnat to ip daddr . meta l4proto . th dport map @pub4`), looked up only for packets addressed
   * to a local address of the namespace (and to hostIp when given). Reachable from other machines
   * through the host, from the host itself, from containers on the same bridge (hairpin), and
   * through 127.0.0.1 only with `localhost: true`. The same as publishMany([opts]).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a port of 0 or above 65535, a reversed range, ranges of different sizes, a bad CIDR or address, an unknown protocol, mixed families).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_PORT_ALLOCATED` when the host address, port and protocol are published already; `ERR_NETNS_KIT_NO_FREE_PORT` when `-P` finds no free port; `ERR_NETNS_KIT_NO_ROUTE` when no interface leads to `containerIp`.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). The batch is atomic: nothing is applied.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async publish(opts: PublishOptions): Promise<NatRule> {
    return (await NatRule.publishMany([opts]))[0]!
  }

  /**
   * Several `docker run -p` mappings in ONE atomic nf_tables batch (what a container with many
   * ports needs): all of them are published, or none. Each mapping is its own NatRule (its own
   * id, deleted on its own). Mappings without hostPort get a free port (-P), distinct from the
   * others of the batch.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a port of 0 or above 65535, a reversed range, ranges of different sizes, a bad CIDR or address, an unknown protocol, mixed families).
   * @throws {NetnsKitError} as publish(); one failing mapping publishes none.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async publishMany(list: PublishOptions[]): Promise<NatRule[]> {
    return NatRule.publishWith(list, {})
  }

  /** @internal publishMany with what the caller knows already (Network.connect: the bridge, forwarding). */
  static async publishWith(list: PublishOptions[], hints: PublishHints): Promise<NatRule[]> {
    if (!Array.isArray(list)) throw invalidArg('list', list, 'must be an array of publish options', 'ERR_INVALID_ARG_TYPE')
    const specs = list.map((o) => checkPublish(o))
    if (!specs.length) return []
    const namespaces = await Promise.all(list.map((o) => defaultNamespace(o.namespace)))
    const ns = namespaces[0]!
    if (namespaces.some((n) => !n.equals(ns))) throw invalidArg('list', list, 'must publish in one namespace')
    return (await publish(ns, specs, hints)).map((r) => NatRule.build(r))
  }

  /**
   * Docker's network isolation for the bridge `interface`: no traffic into it from any other
   * interface except answers to connections it started and its published ports (DOCKER-ISOLATION,
   * and no direct routing to container addresses from outside); with `internal`, nothing in or
   * out at all, published ports included; with `icc: false`, no traffic between its own ports
   * either: at layer 2 the kernel's bridge port isolation (`bridge link set dev PORT isolated on`)
   * on every port of the bridge, which needs no br_netfilter, and at layer 3 a drop of what
   * enters and leaves the bridge (a container routing to another through the gateway), except
   * published ports; isolated ports still reach the host. Ports attached later must be attached
   * with `{ isolated: true }` (Network.connect does).
   *
   * It is a few elements of the isolation sets (`nft add element inet netns-kit bridges { "br0" }`
   * ...), looked up by the forward chain's fixed rules: drops only, so the isolation of every
   * bridge holds whatever order bridges were isolated in. A bridge is isolated once (EEXIST).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (an interface name that is not one).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when the bridge is isolated already. The batch is atomic: nothing is applied.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async isolate(opts: IsolateOptions): Promise<NatRule> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const ifname = checkIfName(opts.interface, 'opts.interface')
    if (opts.icc !== undefined && typeof opts.icc !== 'boolean') throw invalidArg('opts.icc', opts.icc, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    if (opts.internal !== undefined && typeof opts.internal !== 'boolean')
      throw invalidArg('opts.internal', opts.internal, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    const icc = opts.icc !== false
    const internal = opts.internal === true
    const ns = await defaultNamespace(opts.namespace)
    // icc: false works on the bridge's ports, so the interface must be a bridge (checked first).
    const bridge = icc ? undefined : await Bridge.open(ifname, { namespace: ns })
    const id = newId()
    const elems = isolationElements(ifname, internal, icc, isolateNote(id, ifname, internal, icc))
    await change(ns, addMessages(elems, [ISO.bridges]), `isolate ${ifname}`)
    const refs: ElemRef[] = elems.map((e) => ({ map: e.set, key: e.element.key! }))
    if (bridge) {
      try {
        await setPortsIsolated(bridge, true)
      } catch (e) {
        await nftApply(ns, destroyMessages(elems.map((x) => ({ family: x.family, set: x.set, key: x.element.key! }))), `isolate ${ifname} (undo)`).catch(
          () => {},
        )
        await tidy(ns, () => interfacesInUse(ns)).catch(() => {})
        throw e
      }
    }
    return NatRule.build({ fields: { kind: 'isolate', id, namespace: ns, family: 4, interface: ifname, icc, internal }, rules: [], elems: refs })
  }

  /**
   * Every rule and mapping netns-kit owns in the namespace, decoded from the kernel (`nft list table inet netns-kit`).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async list(opts: { namespace?: Namespace } = {}): Promise<NatRule[]> {
    const ns = await defaultNamespace(opts?.namespace)
    const owned = await readOwned(ns)
    const out: NatRule[] = []
    for (let i = 0; i < owned.length; i++) {
      if (i && i % DECODE_SLICE === 0) await turn() // a turn of the event loop between slices
      out.push(NatRule.build(owned[i]!))
    }
    return out
  }

  /**
   * Repair after a crash, for what NatRule keeps in the kernel alone: turns route_localnet off
   * (and drops netns-kit's record of it) on every interface where netns-kit turned it on and no
   * localhost mapping needs it any more (a publish killed half-way), then removes our tables if
   * nothing of ours is left. Returns those interfaces. Network.gc() does this too.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel. (a `namespace` that is not a Namespace).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async gc(opts: { namespace?: Namespace } = {}): Promise<{ routeLocalnet: string[] }> {
    const ns = await defaultNamespace(opts?.namespace)
    const routeLocalnet = await repairLocalnet(ns)
    await tidy(ns, () => interfacesInUse(ns))
    return { routeLocalnet }
  }

  /**
   * Foreign base chains that can drop what netns-kit forwards: chains of other tables on the
   * forward hook with policy drop. netns-kit never changes them; traffic it publishes or
   * masquerades is dropped there unless their owner accepts it (for example with
   * `ct status dnat accept` and `iifname "BRIDGE" accept` in that chain).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async conflicts(opts: { namespace?: Namespace } = {}): Promise<{ family: string; table: string; chain: string; hook: string; policy: string }[]> {
    const ns = await defaultNamespace(opts?.namespace)
    const chains = await nftList(ns, { what: 'chains' })
    return chains
      .filter((c) => c.table !== TABLE && c.hook === 'forward' && c.policy === 'drop')
      .map((c) => ({ family: c.family, table: c.table, chain: c.name, hook: c.hook!, policy: c.policy! }))
  }

  /**
   * Removes netns-kit's table when nothing of netns-kit's is left in it, else the hairpin
   * elements no published port uses: what delete() does after the last rule, for a process
   * killed in between (Network.gc() calls it). `nft delete table inet netns-kit` once empty.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async tidy(opts: { namespace?: Namespace } = {}): Promise<void> {
    const ns = await defaultNamespace(opts?.namespace)
    await tidy(ns, () => interfacesInUse(ns))
  }

  /**
   * Removes exactly what this rule added; idempotent. When netns-kit's last rule goes, its tables go.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`) (a rule already gone is not an error: delete() is idempotent).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async delete(): Promise<void> {
    if (this.#deleted) return
    const ns = this.namespace
    if (this.kind === 'publish') {
      await unpublish(ns, this as NatFields, this.#elems)
      this.#deleted = true
      return
    }
    await deleteRules(ns, this.#rules)
    if (this.kind === 'isolate') {
      const mine = await ownedRefs(ns, this.#elems, 'isolate', this.id)
      if (mine.length)
        await nftApply(ns, destroyMessages(mine.map((e) => ({ family: 'inet' as const, set: e.map, key: e.key, keyEnd: e.keyEnd }))), `delete ${String(this)}`)
    }
    if (this.kind === 'isolate' && this.icc === false) {
      const bridge = await Bridge.open(this.interface!, { namespace: ns }).catch(() => undefined)
      if (bridge) await setPortsIsolated(bridge, false)
    }
    this.#deleted = true
    await tidy(ns, () => interfacesInUse(ns))
  }

  /**
   * Releases what it owns at the end of an `await using` scope; safe to call twice.
   * @throws As delete().
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.delete()
  }

  /**
   * A short label for logs and messages.
   * @throws Nothing: it only reads this object's fields.
   */
  toString(): string {
    switch (this.kind) {
      case 'masquerade':
        return `NatRule(masquerade ${this.source}${this.outInterface ? ` oif ${this.outInterface}` : ''}${this.notOutInterface ? ` oif != ${this.notOutInterface}` : ''})`
      case 'publish':
        return `NatRule(publish ${this.protocol} ${this.hostIp ?? '*'}:${this.hostPort}${this.hostPortEnd ? `-${this.hostPortEnd}` : ''} -> ${this.containerIp}:${this.containerPort}${this.containerPortEnd ? `-${this.containerPortEnd}` : ''})`
      default:
        return `NatRule(isolate ${this.interface}${this.internal ? ' internal' : ''}${this.icc === false ? ' icc=false' : ''})`
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

function newId(): string {
  return randomBytes(4).toString('hex')
}

/** Bridge port isolation on every current port of `bridge`, in one trip. */
async function setPortsIsolated(bridge: Bridge, isolated: boolean): Promise<void> {
  const ports = await bridge.ports()
  if (ports.length)
    await run(ports.map((p) => ({ ns: bridge.namespace, op: 'link.set' as const, index: p.index, isolated, object: `${p.name} (port of ${bridge.name})` })))
}

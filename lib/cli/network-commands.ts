// `netns-kit network create|ls|inspect|rm|prune|connect|disconnect`, `ps`, `gc`, `check`: each
// a thin layer over the public API (Network, Namespace), printing a table or --json.
import { isIP } from 'node:net'
import { Namespace, Network, type Endpoint } from '../index'
import { parseCreateOpts, parsePort, str, strs, type Options, type Parsed } from './args'
import { CliError, json, portText, table, UsageError, type Io } from './output'

export interface Context {
  io: Io
  json: boolean
}

export interface Command {
  /** The synopsis after `netns-kit ` (`network create [OPTIONS] NAME`). */
  usage: string
  summary: string
  /** One line per option for --help. */
  help: string[]
  options: Options
  /** Returns the exit status. */
  run(p: Parsed, ctx: Context): Promise<number>
}

/** The JSON (and table) shape of a network. */
export function networkJson(n: Network): Record<string, unknown> {
  return {
    name: n.name,
    id: n.id,
    driver: n.driver,
    bridge: n.bridge.name,
    subnet: n.subnet,
    gateway: n.gateway,
    ...(n.ipRange ? { ipRange: n.ipRange } : {}),
    ...(n.ipv6 ? { ipv6: n.ipv6 } : {}),
    ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
    masquerade: n.masquerade,
    icc: n.icc,
    internal: n.internal,
    dns: n.dns,
    ...(n.bridge.index === 0 ? { bridgeGone: true } : {}),
  }
}

/** A namespace as people name it: its name under /run/netns, else its path. */
export function nsLabel(ns: Namespace): string {
  return ns.name ?? ns.path
}

/** The JSON shape of an endpoint (connect, ps). */
export function endpointJson(ep: Endpoint, namespace?: string): Record<string, unknown> {
  return {
    network: ep.network.name,
    name: ep.name,
    namespace: namespace ?? nsLabel(ep.namespace),
    ifname: ep.ifname,
    ip: ep.ip,
    ...(ep.ip6 ? { ip6: ep.ip6 } : {}),
    mac: ep.mac,
    gateway: ep.gateway,
    hostInterface: ep.hostInterface,
    ...(ep.aliases.length ? { aliases: [...ep.aliases] } : {}),
    ports: ep.ports.map((p) => ({ ...p })),
  }
}

function need(p: Parsed, n: number, what: string): string[] {
  if (p.positionals.length < n) throw new UsageError(`${what} ${n === 1 ? 'is' : 'are'} required`)
  return p.positionals
}

function exactly(p: Parsed, n: number, what: string): string[] {
  const a = need(p, n, what)
  if (a.length > n) throw new UsageError(`unexpected argument '${a[n]}'`)
  return a
}

/** A namespace given on the command line: a name under /run/netns, a path, or a pid. */
export async function openTarget(target: string): Promise<Namespace> {
  if (/^\d+$/.test(target)) return Namespace.fromPid(Number(target))
  return Namespace.open(target)
}

const create: Command = {
  usage: 'network create [OPTIONS] NAME',
  summary: 'Create a bridge network',
  help: [
    '--subnet S        IPv4 subnet (and, with --ipv6, an IPv6 one); default: a free one',
    '--gateway G       gateway address (one per family)',
    '--ip-range R      allocate container addresses from this sub-range',
    '--internal        no traffic in or out of the network, only between its containers',
    '--ipv6            dual stack (needs an IPv6 --subnet)',
    '-o, --opt K=V     icc=false | mtu=M | bridge-name=B | masquerade=false',
    '-d, --driver D    bridge (the only driver the CLI creates)',
  ],
  options: {
    subnet: { type: 'string', multiple: true },
    gateway: { type: 'string', multiple: true },
    'ip-range': { type: 'string', multiple: true },
    internal: { type: 'boolean' },
    ipv6: { type: 'boolean' },
    opt: { type: 'string', short: 'o', multiple: true },
    driver: { type: 'string', short: 'd' },
  },
  async run(p, ctx) {
    const [name] = exactly(p, 1, 'a network name')
    const driver = str(p.values.driver)
    if (driver !== undefined && driver !== 'bridge') throw new UsageError(`the driver '${driver}' cannot be created from the CLI (only bridge)`)
    const byFamily = (list: string[], what: string) => {
      const v4: string[] = []
      const v6: string[] = []
      for (const s of list) (s.includes(':') ? v6 : v4).push(s)
      if (v4.length > 1 || v6.length > 1) throw new UsageError(`at most one IPv4 and one IPv6 ${what}`)
      return { v4: v4[0], v6: v6[0] }
    }
    const subnet = byFamily(strs(p.values.subnet), '--subnet')
    const gateway = byFamily(strs(p.values.gateway), '--gateway')
    const range = byFamily(strs(p.values['ip-range']), '--ip-range')
    if (range.v6) throw new UsageError('an IPv6 --ip-range is not supported')
    if ((subnet.v6 || gateway.v6) && !p.values.ipv6) throw new UsageError('an IPv6 --subnet or --gateway needs --ipv6')
    if (p.values.ipv6 && !subnet.v6) throw new UsageError('--ipv6 needs an IPv6 --subnet (there is no default IPv6 pool)')
    const o = parseCreateOpts(strs(p.values.opt))
    const net = await Network.create({
      name: name!,
      subnet: subnet.v4,
      gateway: gateway.v4,
      ipRange: range.v4,
      internal: p.values.internal === true,
      ...(subnet.v6 ? { ipv6: { subnet: subnet.v6, ...(gateway.v6 ? { gateway: gateway.v6 } : {}) } } : {}),
      ...(o.icc !== undefined ? { icc: o.icc } : {}),
      ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
      ...(o.bridgeName !== undefined ? { bridgeName: o.bridgeName } : {}),
      ...(o.masquerade !== undefined ? { masquerade: o.masquerade } : {}),
    })
    ctx.io.out(ctx.json ? json(networkJson(net)) : `${net.name}\n`)
    return 0
  },
}

const ls: Command = {
  usage: 'network ls',
  summary: 'List networks',
  help: [],
  options: {},
  async run(p, ctx) {
    exactly(p, 0, '')
    const nets = await Network.list()
    if (ctx.json) ctx.io.out(json(nets.map(networkJson)))
    else {
      ctx.io.out(
        table(
          ['NAME', 'DRIVER', 'BRIDGE', 'SUBNET', 'GATEWAY', 'FLAGS'],
          nets.map((n) => [
            n.name,
            n.driver,
            n.bridge.index === 0 ? `${n.bridge.name} (gone)` : n.bridge.name,
            [n.subnet, n.ipv6?.subnet].filter(Boolean).join(','),
            [n.gateway, n.ipv6?.gateway].filter(Boolean).join(','),
            [n.internal ? 'internal' : '', n.icc ? '' : 'icc=false', n.masquerade ? '' : 'masquerade=false', n.dns ? 'dns' : ''].filter(Boolean).join(',') ||
              '-',
          ]),
        ),
      )
    }
    return 0
  },
}

const inspect: Command = {
  usage: 'network inspect NAME...',
  summary: 'Show networks in detail (JSON), with their endpoints',
  help: [],
  options: {},
  async run(p, ctx) {
    const names = need(p, 1, 'a network name')
    const out: unknown[] = []
    for (const name of names) {
      const net = await Network.open(name)
      out.push({ ...networkJson(net), ...(await net.inspect()), driver: net.driver })
    }
    ctx.io.out(json(out))
    return 0
  },
}

const rm: Command = {
  usage: 'network rm [-f] NAME...',
  summary: 'Remove networks (-f: disconnect their endpoints first)',
  help: ['-f, --force       disconnect the endpoints still connected, then remove'],
  options: { force: { type: 'boolean', short: 'f' } },
  async run(p, ctx) {
    const names = need(p, 1, 'a network name')
    const removed: string[] = []
    let firstError: unknown
    for (const name of names) {
      try {
        const net = await Network.open(name)
        await net.remove({ force: p.values.force === true })
        removed.push(name)
        if (!ctx.json) ctx.io.out(`${name}\n`)
      } catch (e) {
        // docker network rm carries on with the other names and fails at the end.
        if (names.length === 1) throw e
        firstError ??= e
        ctx.io.err(`netns-kit network rm: ${(e as { code?: string }).code ?? 'ERR_UNKNOWN'}: ${(e as Error).message}\n`)
      }
    }
    if (ctx.json) ctx.io.out(json({ removed }))
    if (firstError) throw firstError
    return 0
  },
}

const prune: Command = {
  usage: 'network prune [-f]',
  summary: "Remove every network without endpoints (not the default network 'bridge')",
  help: ['-f, --force       accepted for docker compatibility (netns-kit never asks)'],
  options: { force: { type: 'boolean', short: 'f' } },
  async run(p, ctx) {
    exactly(p, 0, '')
    const removed: string[] = []
    for (const net of await Network.list()) {
      if (net.name === 'bridge') continue
      if ((await net.inspect()).endpoints.length) continue
      try {
        await net.remove()
        removed.push(net.name)
      } catch (e) {
        // Someone connected to it since we looked: it is in use, leave it.
        if ((e as { code?: string }).code !== 'ERR_NETNS_KIT_NETWORK_IN_USE') throw e
      }
    }
    if (ctx.json) ctx.io.out(json({ removed }))
    else if (removed.length) ctx.io.out(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join('')}`)
    return 0
  },
}

/** The endpoint name a namespace gets by default: its own name when that is a valid host name. */
export function defaultEndpointName(ns: Namespace): string | undefined {
  return ns.name && /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(ns.name) ? ns.name : undefined
}

const connect: Command = {
  usage: 'network connect [OPTIONS] NETWORK NAMESPACE|PID',
  summary: "Connect a namespace (a name under /run/netns, a path, or a process's pid) to a network",
  help: [
    '--ip IP           the IPv4 address (default: the next free one)',
    '--ip6 IP          the IPv6 address on a dual-stack network',
    '--alias A         another name the network resolves to this endpoint (repeatable)',
    '--name N          the endpoint name (default: the namespace name)',
    '-p, --publish P   [IP:][HOSTPORT:]PORT[/PROTO] (repeatable; no HOSTPORT: a free one)',
  ],
  options: {
    ip: { type: 'string' },
    ip6: { type: 'string' },
    alias: { type: 'string', multiple: true },
    name: { type: 'string' },
    publish: { type: 'string', short: 'p', multiple: true },
  },
  async run(p, ctx) {
    const [netName, target] = exactly(p, 2, 'NETWORK and NAMESPACE')
    const publish = strs(p.values.publish).map(parsePort)
    const ip = str(p.values.ip)
    if (ip !== undefined && isIP(ip) !== 4) throw new UsageError(`--ip '${ip}' is not an IPv4 address`)
    const net = await Network.open(netName!)
    const ns = await openTarget(target!)
    try {
      // A namespace made by `ip netns add` has loopback down; containers have it up (and the
      // embedded resolver listens on 127.0.0.11 there).
      const lo = await ns.link('lo')
      if (!(await lo.info()).up) await lo.up()
      const name = str(p.values.name) ?? defaultEndpointName(ns)
      const ep = await net.connect(ns, {
        ...(name ? { name } : {}),
        ...(ip ? { ip } : {}),
        ...(p.values.ip6 ? { ip6: str(p.values.ip6) } : {}),
        aliases: strs(p.values.alias),
        publish,
      })
      ctx.io.out(ctx.json ? json(endpointJson(ep, nsLabel(ns))) : `${ep.name}\n`)
    } finally {
      await ns.close()
    }
    return 0
  },
}

/** The endpoint of `net` named `what`, else the one in the namespace `what` names. */
async function findEndpoint(net: Network, what: string): Promise<Endpoint | undefined> {
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(what) && what.length <= 63) {
    const ep = await net.endpoint({ name: what })
    if (ep) return ep
  }
  const ns = await openTarget(what).catch(() => undefined)
  if (!ns) return undefined
  try {
    const eps = await net.endpoints()
    const hit = eps.find((e) => e.namespace.equals(ns))
    for (const e of eps) if (e !== hit) await e.namespace.close()
    return hit
  } finally {
    await ns.close()
  }
}

const disconnect: Command = {
  usage: 'network disconnect NETWORK ENDPOINT|NAMESPACE|PID',
  summary: 'Disconnect an endpoint (by its name, or by its namespace) from a network',
  help: [],
  options: {},
  async run(p, ctx) {
    const [netName, what] = exactly(p, 2, 'NETWORK and ENDPOINT')
    const net = await Network.open(netName!)
    const ep = await findEndpoint(net, what!)
    if (!ep) throw new CliError('ERR_NETNS_KIT_NO_ENDPOINT', `no endpoint '${what}' on the network '${net.name}'`)
    try {
      await net.disconnect(ep)
    } finally {
      await ep.namespace.close().catch(() => {})
    }
    ctx.io.out(ctx.json ? json({ network: net.name, disconnected: ep.name }) : `${ep.name}\n`)
    return 0
  },
}

const ps: Command = {
  usage: 'ps',
  summary: 'List endpoints with their addresses and published ports',
  help: [],
  options: {},
  async run(p, ctx) {
    exactly(p, 0, '')
    const rows: Record<string, unknown>[] = []
    for (const net of await Network.list()) {
      for (const ep of await net.endpoints()) {
        rows.push(endpointJson(ep))
        await ep.namespace.close()
      }
    }
    if (ctx.json) ctx.io.out(json(rows))
    else {
      ctx.io.out(
        table(
          ['NETWORK', 'ENDPOINT', 'NAMESPACE', 'IP', 'PORTS'],
          rows.map((r) => [
            String(r.network),
            String(r.name),
            String(r.namespace),
            [r.ip, r.ip6].filter(Boolean).join(','),
            (r.ports as Endpoint['ports']).map(portText).join(', ') || '-',
          ]),
        ),
      )
    }
    return 0
  },
}

const gc: Command = {
  usage: 'gc',
  summary: "Repair after crashes: finish or undo dead processes' work, remove endpoints whose namespace is gone",
  help: [],
  options: {},
  async run(p, ctx) {
    exactly(p, 0, '')
    const report = await Network.gc()
    if (ctx.json) ctx.io.out(json(report))
    else {
      const lines = Object.entries(report)
        .filter(([, v]) => Array.isArray(v) && v.length)
        .map(([k, v]) => `${k}: ${(v as string[]).join(', ')}`)
      ctx.io.out(lines.length ? lines.map((l) => `${l}\n`).join('') : 'nothing to collect\n')
    }
    return 0
  },
}

export const NETWORK_COMMANDS: Record<string, Command> = { create, ls, inspect, rm, prune, connect, disconnect }
export const TOP_COMMANDS: Record<string, Command> = { ps, gc }

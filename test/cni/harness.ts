// CNI conformance harness: runs one network scenario through a plugin (or a chain of them) the
// way a runtime does, inside a private sandbox host, and returns a normalised report of what the
// plugin did: its results and errors, the container's interface, addresses and routes, the host
// side, reachability (ping, TCP through a published port, masquerading), and what is left after
// DEL. compareReports() lists the differences that matter between two plugins on one scenario.
//
//   const ref = await conformanceReport(REFERENCE, scenario)
//   const ours = await conformanceReport(netnsKitPlugin(dir), scenario)
//   compareReports(ref, ours)   // [] when they behave alike
//
// Witnesses are the kernel's own tools, run inside the sandbox: ip -j, nft -j, ping, socat.
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { CniRuntime, type Attachment, type ChainOutcome, type CniError, type ConfList, type PluginRun } from './runtime'
import { HostSandbox } from './sandbox'

/** One network, as an administrator would describe it to any bridge-style plugin. */
export interface Scenario {
  /** The network's name (conflist name). */
  network: string
  cniVersion: string
  bridge: string
  subnet: string
  gateway?: string
  rangeStart?: string
  rangeEnd?: string
  routes?: { dst: string; gw?: string }[]
  mtu?: number
  isGateway?: boolean
  ipMasq?: boolean
  hairpinMode?: boolean
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] }
  /** Published on the first container (the portMappings capability). */
  portMappings?: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp'; hostIP?: string }[]
}

/** A plugin (or chain) under test: where its executables are, and how it spells a scenario. */
export interface PluginUnderTest {
  label: string
  pluginDirs: string[]
  conflist(s: Scenario): ConfList
  /** Extra environment for every execution. */
  env?: Record<string, string>
}

/** The reference plugins of containernetworking-plugins: bridge + host-local, then portmap. */
export const REFERENCE: PluginUnderTest = {
  label: 'reference (bridge + host-local + portmap)',
  pluginDirs: ['/usr/lib/cni'],
  conflist(s) {
    const range: Record<string, string> = { subnet: s.subnet }
    if (s.gateway) range.gateway = s.gateway
    if (s.rangeStart) range.rangeStart = s.rangeStart
    if (s.rangeEnd) range.rangeEnd = s.rangeEnd
    return {
      cniVersion: s.cniVersion,
      name: s.network,
      plugins: [
        {
          type: 'bridge',
          bridge: s.bridge,
          ...opt({ isGateway: s.isGateway, ipMasq: s.ipMasq, hairpinMode: s.hairpinMode, mtu: s.mtu, dns: s.dns }),
          ipam: { type: 'host-local', ranges: [[range]], ...opt({ routes: s.routes }) },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }
  },
}

function opt(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

// --- the report ---------------------------------------------------------------------------

export interface CallSummary {
  ok: boolean
  code?: number
  msg?: string
  problems: string[]
}

/** An ADD result with names that differ per run replaced by roles. */
export interface ResultShape {
  cniVersion: unknown
  keys: string[]
  interfaces: { role: 'bridge' | 'host-veth' | 'container' | string; mac: boolean; mtu?: number; sandbox: boolean }[]
  ips: { address: string; gateway?: string; interface?: string; version?: string }[]
  routes: { dst: string; gw?: string }[]
  dns: unknown
}

export interface ContainerView {
  exists: boolean
  kind?: string
  mtu?: number
  up?: boolean
  /** The MAC in the result is the interface's. */
  macMatchesResult?: boolean
  addresses: string[]
  ipv6LinkLocal: boolean
  routes: string[]
  otherLinks: string[]
}

export interface HostView {
  bridge: { exists: boolean; up?: boolean; mtu?: number; addresses: string[] }
  /** The container's host-side interface (found by its peer index). */
  hostVeth: { exists: boolean; master?: string; hairpin?: boolean; mtu?: number; up?: boolean; inResult?: boolean }
  ipForward: string
}

export interface ConformanceReport {
  plugin: string
  scenario: Scenario
  versions: Record<string, string[]>
  add: CallSummary
  addSecond: CallSummary
  /** ADD again for the same (container, ifname) without DEL: the spec wants an error. */
  addAgain: CallSummary
  result?: ResultShape
  /** Result fields that disagree with the kernel. */
  consistency: string[]
  container: ContainerView
  host: HostView
  check: CallSummary
  reach: Record<string, boolean | string>
  del: { first: CallSummary; repeat: CallSummary; netnsGone: CallSummary; withoutPrevResult: CallSummary }
  /** Links left inside the first container's namespace after DEL (besides lo). */
  containerAfterDel: string[]
  leftovers: { attachment: string[]; network: string[] }
  /** Processes the sandbox's teardown had to kill. */
  leaked: string[]
  /** Every way an output strayed from the spec. */
  problems: string[]
  /** The raw ADD result (first container), for the record. */
  rawResult?: Record<string, any>
  runs: PluginRun[]
}

function summary(o: ChainOutcome): CallSummary {
  return { ok: o.ok, ...(o.error ? { code: o.error.code, msg: o.error.msg } : {}), problems: o.problems }
}

const cid = () => randomBytes(32).toString('hex')

function shapeOf(r: Record<string, any>, s: Scenario, netns: string): ResultShape {
  const roles: string[] = (r.interfaces ?? []).map((f: any) =>
    f.sandbox ? (f.sandbox === netns ? 'container' : `sandbox ${f.sandbox}`) : f.name === s.bridge ? 'bridge' : 'host-veth',
  )
  return {
    cniVersion: r.cniVersion,
    keys: Object.keys(r).sort(),
    interfaces: (r.interfaces ?? []).map((f: any, i: number) => ({
      role: roles[i]!,
      mac: typeof f.mac === 'string',
      ...(f.mtu !== undefined ? { mtu: f.mtu } : {}),
      sandbox: !!f.sandbox,
    })),
    ips: (r.ips ?? []).map(
      (a: any) =>
        opt({
          address: a.address,
          gateway: a.gateway,
          interface: a.interface === undefined ? undefined : (roles[a.interface] ?? `#${a.interface}`),
          version: a.version,
        }) as ResultShape['ips'][number],
    ),
    routes: (r.routes ?? []).map((x: any) => opt({ dst: x.dst, gw: x.gw }) as { dst: string; gw?: string }),
    dns: r.dns,
  }
}

function routeText(r: any): string {
  return [
    r.dst,
    r.gateway ? `via ${r.gateway}` : '',
    r.dev ? `dev ${r.dev}` : '',
    r.scope && r.scope !== 'global' ? `scope ${r.scope}` : '',
    r.prefsrc ? `src ${r.prefsrc}` : '',
  ]
    .filter(Boolean)
    .join(' ')
}

async function containerView(sb: HostSandbox, ns: string, ifname: string, result?: Record<string, any>): Promise<ContainerView> {
  const links = await sb.ipj('-n', ns, 'link', 'show')
  const l = links.find((x: any) => x.ifname === ifname)
  const otherLinks = links.filter((x: any) => x.ifname !== ifname && x.ifname !== 'lo').map((x: any) => x.ifname)
  if (!l) return { exists: false, addresses: [], ipv6LinkLocal: false, routes: [], otherLinks }
  const [a] = await sb.ipj('-n', ns, 'addr', 'show', 'dev', ifname)
  const addrs = (a?.addr_info ?? []) as any[]
  const routes = [...(await sb.ipj('-n', ns, '-4', 'route', 'show')), ...(await sb.ipj('-n', ns, '-6', 'route', 'show'))]
    .filter((r: any) => !String(r.dst).startsWith('fe80') && r.dst !== 'multicast' && !String(r.dst).startsWith('ff00'))
    .map(routeText)
  const resultMac = result?.interfaces?.find((f: any) => f.name === ifname && f.sandbox)?.mac
  return {
    exists: true,
    kind: l.linkinfo?.info_kind,
    mtu: l.mtu,
    up: (l.flags as string[]).includes('UP'),
    ...(result ? { macMatchesResult: resultMac === l.address } : {}),
    addresses: addrs.filter((x) => x.scope !== 'link').map((x) => `${x.local}/${x.prefixlen}`),
    ipv6LinkLocal: addrs.some((x) => x.family === 'inet6' && x.scope === 'link'),
    routes: routes.sort(),
    otherLinks,
  }
}

async function hostView(sb: HostSandbox, s: Scenario, ns: string, ifname: string, result?: Record<string, any>): Promise<HostView> {
  const links = await sb.ipj('link', 'show')
  const br = links.find((x: any) => x.ifname === s.bridge)
  const brAddrs = br
    ? ((await sb.ipj('addr', 'show', 'dev', s.bridge))[0]?.addr_info ?? []).filter((x: any) => x.scope !== 'link').map((x: any) => `${x.local}/${x.prefixlen}`)
    : []
  // The host end of the container's veth: the link whose index is the container interface's peer.
  const inner = (await sb.ipj('-n', ns, 'link', 'show')).find((x: any) => x.ifname === ifname)
  const hv = inner ? links.find((x: any) => x.ifindex === inner.link_index) : undefined
  const ipForward = (await sb.run('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim()
  return {
    bridge: { exists: !!br, ...(br ? { up: (br.flags as string[]).includes('UP'), mtu: br.mtu } : {}), addresses: brAddrs },
    hostVeth: hv
      ? {
          exists: true,
          master: hv.master,
          hairpin: hv.linkinfo?.info_slave_data?.hairpin,
          mtu: hv.mtu,
          up: (hv.flags as string[]).includes('UP'),
          ...(result ? { inResult: (result.interfaces ?? []).some((f: any) => f.name === hv.ifname && !f.sandbox) } : {}),
        }
      : { exists: false },
    ipForward,
  }
}

/** Result fields that the kernel contradicts (addresses, routes, interface names and MACs). */
function consistency(r: Record<string, any> | undefined, c: ContainerView, ifname: string, netns: string): string[] {
  if (!r) return []
  const out: string[] = []
  for (const a of r.ips ?? []) {
    const f = r.interfaces?.[a.interface]
    if (f && f.sandbox === netns && f.name === ifname && !c.addresses.includes(a.address)) out.push(`result address ${a.address} is not on ${ifname}`)
  }
  for (const rt of r.routes ?? []) {
    const dst = rt.dst === '0.0.0.0/0' || rt.dst === '::/0' ? 'default' : rt.dst
    if (!c.routes.some((x) => x.startsWith(`${dst} `))) out.push(`result route ${rt.dst} is not in the container`)
  }
  if (c.macMatchesResult === false) out.push("the container interface's MAC differs from the result's")
  if (!(r.interfaces ?? []).some((f: any) => f.name === ifname && f.sandbox === netns)) out.push(`no interface ${ifname} with sandbox ${netns} in the result`)
  return out
}

/** The sandbox host's state that a plugin may change: links, addresses, routes, nftables (iptables-nft included), files, processes. */
async function snapshot(sb: HostSandbox, stateDirs: string[]): Promise<string[]> {
  const items: string[] = []
  for (const l of await sb.ipj('link', 'show')) items.push(`link ${l.ifname} ${l.linkinfo?.info_kind ?? ''}${l.master ? ` master ${l.master}` : ''}`.trim())
  for (const a of await sb.ipj('addr', 'show')) {
    for (const x of a.addr_info ?? []) if (x.scope !== 'link') items.push(`address ${a.ifname} ${x.local}/${x.prefixlen}`)
  }
  for (const fam of ['-4', '-6'])
    for (const r of await sb.ipj(fam, 'route', 'show', 'table', 'all')) if (r.table !== 'local') items.push(`route ${routeText(r)}`)
  const nft = JSON.parse(await sb.run('nft', ['-j', 'list', 'ruleset'])).nftables as any[]
  for (const o of nft) {
    if (o.table) items.push(`nft table ${o.table.family} ${o.table.name}`)
    else if (o.chain) items.push(`nft chain ${o.chain.family} ${o.chain.table} ${o.chain.name}`)
    // Counters change with traffic: a rule is the same rule whatever it counted.
    else if (o.rule)
      items.push(
        `nft rule ${o.rule.family} ${o.rule.table} ${o.rule.chain} ${JSON.stringify(o.rule.expr).replace(/"counter":\{[^}]*\}/g, '"counter":{}')}${o.rule.comment ? ` /* ${o.rule.comment} */` : ''}`,
      )
    else if (o.set || o.map) {
      const s = o.set ?? o.map
      items.push(`nft ${o.set ? 'set' : 'map'} ${s.family} ${s.table} ${s.name}`)
      for (const e of s.elem ?? []) items.push(`nft element ${s.family} ${s.table} ${s.name} ${JSON.stringify(e)}`)
    }
  }
  for (const d of stateDirs) {
    const walk = (rel: string): void => {
      const p = sb.inside(path.join(d, rel))
      let ents: fs.Dirent[]
      try {
        ents = fs.readdirSync(p, { withFileTypes: true })
      } catch {
        return
      }
      for (const e of ents) {
        const r = path.join(rel, e.name)
        if (e.isDirectory()) {
          walk(r)
          continue
        }
        let content = ''
        try {
          const st = fs.statSync(path.join(p, e.name))
          if (st.size < 512) content = fs.readFileSync(path.join(p, e.name), 'utf8').replace(/\s+/g, ' ').trim()
        } catch {
          /* gone */
        }
        items.push(`file ${path.join(d, r)}${content ? `: ${content}` : ''}`)
      }
    }
    walk('')
  }
  for (const p of sb.processesInside([])) items.push(`process ${p.comm}`)
  return items
}

/** Startswith-free multiset difference: what `after` has that `before` had not. */
function added(before: string[], after: string[]): string[] {
  const left = new Map<string, number>()
  for (const b of before) left.set(b, (left.get(b) ?? 0) + 1)
  const out: string[] = []
  for (const a of after) {
    const n = left.get(a) ?? 0
    if (n > 0) left.set(a, n - 1)
    else out.push(a)
  }
  return out
}

/** A listener inside the named namespace `ns` answering every TCP connection on `port` with `reply`. */
function listen(sb: HostSandbox, ns: string, port: number, reply: string): void {
  sb.spawn('ip', ['netns', 'exec', ns, 'socat', `TCP-LISTEN:${port},reuseaddr,fork`, `SYSTEM:echo ${reply}`], { stdio: 'ignore' })
}

/** A listener that answers with the address the connection came from (the masquerading witness). */
function listenPeer(sb: HostSandbox, ns: string, port: number): void {
  sb.spawn('ip', ['netns', 'exec', ns, 'socat', `TCP-LISTEN:${port},reuseaddr,fork`, 'SYSTEM:echo $SOCAT_PEERADDR'], { stdio: 'ignore' })
}

async function waitListening(sb: HostSandbox, ns: string, port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await sb.exec('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`])
    if (r.stdout.trim()) return
    await new Promise((res) => setTimeout(res, 100))
  }
  throw new Error(`nothing listens on ${ns}:${port}`)
}

/** A probe is false only when it fails twice (one lost first packet under load is not a finding). */
async function twice(probe: () => Promise<boolean>): Promise<boolean> {
  return (await probe()) || (await probe())
}

export interface ReportOptions {
  /** State directories of the plugin (file leftovers are looked for there and in /var/lib/cni). */
  stateDirs?: string[]
}

/**
 * Runs `scenario` through `plugin` in a fresh sandbox host and reports what it did. The sandbox
 * is always torn down. Two containers (c1 with the port mappings, c2), an outside namespace on
 * the host's "LAN" (192.0.2.0/24).
 */
export async function conformanceReport(plugin: PluginUnderTest, s: Scenario, opts: ReportOptions = {}): Promise<ConformanceReport> {
  const sb = await HostSandbox.start({ prefix: 'nk-conf-' })
  try {
    const rt = new CniRuntime(sb, plugin.pluginDirs, plugin.env)
    const list = plugin.conflist(s)
    const stateDirs = ['/var/lib/cni', '/run/netns-kit', ...(opts.stateDirs ?? [])]
    const out = await sb.outside()
    await sb.sh('ip netns add c1 && ip netns add c2 && ip -n c1 link set lo up && ip -n c2 link set lo up')
    const before = await snapshot(sb, stateDirs)

    const versions: Record<string, string[]> = {}
    for (const p of list.plugins) versions[p.type] = (await rt.version(p.type, s.cniVersion)).result?.supportedVersions ?? []

    const a1: Attachment = {
      containerId: cid(),
      netns: '/run/netns/c1',
      ifname: 'eth0',
      args: 'IgnoreUnknown=1;K8S_POD_NAME=c1',
      capabilityArgs: { portMappings: s.portMappings ?? [] },
    }
    const a2: Attachment = {
      containerId: cid(),
      netns: '/run/netns/c2',
      ifname: 'eth0',
      args: 'IgnoreUnknown=1;K8S_POD_NAME=c2',
      capabilityArgs: { portMappings: [] },
    }
    const add1 = await rt.add(list, a1)
    const add2 = await rt.add(list, a2)
    const again = await rt.add(list, a1)
    const r1 = add1.result
    const container = await containerView(sb, 'c1', 'eth0', r1)
    const host = await hostView(sb, s, 'c1', 'eth0', r1)
    const check = r1 ? await rt.check(list, a1, r1) : { ok: false, runs: [], problems: [], error: { code: -1, msg: 'no ADD result' } as CniError }

    // Reachability, with witnesses in the namespaces.
    const ip1 = String(r1?.ips?.[0]?.address ?? '').split('/')[0]!
    const ip2 = String(add2.result?.ips?.[0]?.address ?? '').split('/')[0]!
    const gw = String(r1?.ips?.[0]?.gateway ?? s.gateway ?? '')
    const reach: Record<string, boolean | string> = {}
    if (ip1) {
      reach['c1 -> gateway (ping)'] = gw ? await twice(() => sb.ping('c1', gw)) : false
      reach['c2 -> c1 (ping)'] = ip2 ? await twice(() => sb.ping('c2', ip1)) : false
      reach['host -> c1 (ping)'] = await twice(() => sb.ping(undefined, ip1))
      reach['c1 -> outside (ping)'] = await twice(() => sb.ping('c1', out.ip))
      listenPeer(sb, out.name, 9000)
      await waitListening(sb, out.name, 9000)
      reach['c1 -> outside: source seen'] = (await sb.tcp('c1', out.ip, 9000, '')).trim().replace(ip1, '<c1>')
      for (const m of s.portMappings ?? []) {
        if (m.protocol !== 'tcp') continue
        listen(sb, 'c1', m.containerPort, 'hello-c1')
        await waitListening(sb, 'c1', m.containerPort)
        const ok = async (from: string | undefined, addr: string) => await twice(async () => (await sb.tcp(from, addr, m.hostPort)).includes('hello-c1'))
        reach[`outside -> host:${m.hostPort} (published)`] = await ok(out.name, out.hostIp)
        reach[`host -> own address:${m.hostPort} (published)`] = await ok(undefined, out.hostIp)
        reach[`c2 -> host:${m.hostPort} (published)`] = ip2 ? await ok('c2', out.hostIp) : false
        reach[`c1 -> host:${m.hostPort} (own published port, hairpin)`] = await ok('c1', out.hostIp)
      }
    }
    // The listeners go before DEL, as a container's processes do.
    await sb.exec('sh', ['-c', 'for n in c1 c2 outside; do ip netns pids $n | xargs -r kill -9; done'])

    const del1 = await rt.del(list, a1, r1)
    const del1Again = await rt.del(list, a1, r1)
    const containerAfterDel = (await sb.ipj('-n', 'c1', 'link', 'show')).map((l: any) => l.ifname).filter((n: string) => n !== 'lo')
    // The runtime lost the namespace (the container died and its netns was removed first).
    await sb.run('ip', ['netns', 'del', 'c2'])
    const del2 = await rt.del(list, a2, add2.result)
    // And a DEL from a runtime that lost its result cache, for an attachment already gone.
    const delNoPrev = await rt.del(list, { ...a2, netns: undefined })

    const after = await snapshot(sb, stateDirs)
    const left = added(before, after)
    const ids = [a1.containerId, a2.containerId]
    // Allocation cursors (host-local's last_reserved_ip, netns-kit's "cursor") name an address
    // without holding it: network state, not a leftover of the attachment.
    const cursorless = (x: string) => x.replace(/"cursor": "[^"]*"/g, '"cursor": "<cursor>"').replace(/(last_reserved_ip\.\d+): \S+/, '$1: <cursor>')
    // The address itself (or as a /32), not a prefix starting with it ('10.89.4.128/25' is a range).
    const mentions = (x: string, ip: string) => !!ip && new RegExp(`(?<![\\d.])${ip.replace(/\./g, '\\.')}(?![\\d.]|/(?!32\\b))`).test(x)
    const perAttachment = (item: string): boolean => {
      const x = cursorless(item)
      return mentions(x, ip1) || mentions(x, ip2) || ids.some((i) => x.includes(i) || x.includes(i.slice(0, 12))) || /^link veth/.test(x) || /^process /.test(x)
    }
    const report: ConformanceReport = {
      plugin: plugin.label,
      scenario: s,
      versions,
      add: summary(add1),
      addSecond: summary(add2),
      addAgain: summary(again),
      result: r1 ? shapeOf(r1, s, a1.netns!) : undefined,
      consistency: consistency(r1, container, 'eth0', a1.netns!),
      container,
      host,
      check: summary(check),
      reach,
      del: { first: summary(del1), repeat: summary(del1Again), netnsGone: summary(del2), withoutPrevResult: summary(delNoPrev) },
      containerAfterDel,
      leftovers: { attachment: left.filter(perAttachment), network: left.filter((x) => !perAttachment(x)) },
      leaked: [],
      problems: rt.log.flatMap((r) => r.problems.map((p) => `${r.type} ${r.command}: ${p}`)),
      rawResult: r1,
      runs: rt.log,
    }
    await sb.close()
    report.leaked = sb.leaked
    return report
  } finally {
    await sb.close()
  }
}

// --- the comparator -------------------------------------------------------------------------

export interface Difference {
  aspect: 'result' | 'errors' | 'interface' | 'addresses' | 'routes' | 'host' | 'reachability' | 'check' | 'del' | 'leftovers' | 'spec'
  what: string
  reference: unknown
  candidate: unknown
}

const j = (v: unknown) => JSON.stringify(v)

/**
 * The differences that matter between two plugins' reports on one scenario: result shape and
 * values, errors, the container's interface, addresses and routes, the host side, reachability,
 * CHECK and DEL outcomes, per-attachment leftovers, spec violations. Names that differ per run
 * (veth names, MACs, container ids) are already normalised away; network-level leftovers (the
 * bridge, a plugin's own tables and state files) are implementation details and compared only
 * as links.
 */
export function compareReports(ref: ConformanceReport, cand: ConformanceReport): Difference[] {
  const d: Difference[] = []
  const cmp = (aspect: Difference['aspect'], what: string, a: unknown, b: unknown) => {
    if (j(a) !== j(b)) d.push({ aspect, what, reference: a, candidate: b })
  }
  const call = (what: string, a: CallSummary, b: CallSummary) => {
    cmp(what.startsWith('DEL') ? 'del' : what.startsWith('CHECK') ? 'check' : 'errors', `${what} succeeds`, a.ok, b.ok)
  }
  call('ADD', ref.add, cand.add)
  call('ADD of a second container', ref.addSecond, cand.addSecond)
  call('ADD again without DEL', ref.addAgain, cand.addAgain)
  if (ref.result && cand.result) {
    cmp('result', 'cniVersion', ref.result.cniVersion, cand.result.cniVersion)
    cmp('result', 'top-level keys', ref.result.keys, cand.result.keys)
    cmp('result', 'interfaces (role, mac, mtu, sandbox)', ref.result.interfaces, cand.result.interfaces)
    cmp('result', 'ips', ref.result.ips, cand.result.ips)
    cmp('result', 'routes', ref.result.routes, cand.result.routes)
    cmp('result', 'dns', ref.result.dns, cand.result.dns)
  } else cmp('result', 'ADD result present', !!ref.result, !!cand.result)
  cmp('result', 'result agrees with the kernel', ref.consistency, cand.consistency)
  const rc = ref.container
  const cc = cand.container
  cmp('interface', 'container interface exists', rc.exists, cc.exists)
  cmp('interface', 'kind', rc.kind, cc.kind)
  cmp('interface', 'mtu', rc.mtu, cc.mtu)
  cmp('interface', 'up', rc.up, cc.up)
  cmp('interface', 'other links in the container', rc.otherLinks, cc.otherLinks)
  cmp('addresses', 'container addresses', rc.addresses, cc.addresses)
  cmp('addresses', 'IPv6 link-local on the container interface', rc.ipv6LinkLocal, cc.ipv6LinkLocal)
  cmp('routes', 'container routes', rc.routes, cc.routes)
  cmp('host', 'bridge', ref.host.bridge, cand.host.bridge)
  cmp('host', 'host-side interface', ref.host.hostVeth, cand.host.hostVeth)
  cmp('host', 'net.ipv4.ip_forward', ref.host.ipForward, cand.host.ipForward)
  call('CHECK', ref.check, cand.check)
  for (const k of new Set([...Object.keys(ref.reach), ...Object.keys(cand.reach)])) cmp('reachability', k, ref.reach[k], cand.reach[k])
  call('DEL', ref.del.first, cand.del.first)
  call('DEL repeated', ref.del.repeat, cand.del.repeat)
  call('DEL after the namespace is gone', ref.del.netnsGone, cand.del.netnsGone)
  call('DEL without prevResult or CNI_NETNS', ref.del.withoutPrevResult, cand.del.withoutPrevResult)
  cmp('del', 'links left in the container after DEL', ref.containerAfterDel, cand.containerAfterDel)
  cmp('leftovers', 'per-attachment leftovers after DEL', ref.leftovers.attachment, cand.leftovers.attachment)
  const links = (r: ConformanceReport) => r.leftovers.network.filter((x) => x.startsWith('link ')).sort()
  cmp('leftovers', 'links left after DEL', links(ref), links(cand))
  cmp('leftovers', 'processes left', ref.leaked, cand.leaked)
  cmp('spec', 'spec violations in outputs', ref.problems, cand.problems)
  return d
}

/** One line per difference, for assertion messages and the record. */
export function formatDifferences(d: Difference[]): string {
  return d.map((x) => `[${x.aspect}] ${x.what}: reference ${j(x.reference)}, candidate ${j(x.candidate)}`).join('\n')
}

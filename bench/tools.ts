// The rows of the container benchmark: netns-kit and the tools users would pick instead. Each tool
// gets a fresh Env (bench/common.ts), may prepare its network untimed (the bridge, masquerade), then
// wires containers 0..n-1 one after another (timed) and tears them all down (timed).
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Bridge, Namespace, NatRule, NETNS_RUN_DIR, Network, VethPair, type Endpoint } from '../lib'
import { run } from '../lib/kernel/rtnl'
import {
  CONTAINER_PORT,
  GATEWAY,
  PREFIX,
  SUBNET,
  cmd,
  containerIp,
  hostPort,
  inNs,
  plainNetwork,
  track,
  trackNetwork,
  untrackNetwork,
  verify,
  verifyDns,
  type Env,
} from './common'

export interface OwnTiming {
  ms: number
  phases?: Record<string, number>
}

export interface Tool {
  key: string
  label: string
  /** Slow tools are skipped above --slow-max containers. */
  slow?: boolean
  /** Why the tool cannot run here (missing binary), or undefined. */
  unavailable(): Promise<string | undefined>
  /** Untimed: what exists once per network before any container. */
  network(env: Env): Promise<void>
  /**
   * Resolves to the tool's own measurement in ms when it times itself (pyroute2: without the
   * interpreter's start; the C floor: with its phases).
   */
  setupAll(env: Env, n: number): Promise<void | number | OwnTiming>
  teardownAll(env: Env, n: number): Promise<void | number | OwnTiming>
  /** Whether the teardown leaves the kernel removing host-side veths in the background. */
  backgroundTeardown?: boolean
  /** Published ports checked by traffic (false for netns + veth only, which has none). */
  published?: boolean
  /** The event loop's delay is recorded while it wires (netns-kit's rows). */
  eventLoop?: boolean
  /** Its own check of the wiring (default: ping and the published port, bench/common.ts verify). */
  verify?(env: Env, n: number): Promise<void>
  /** Untimed, after the teardown, also when a run failed: what network() made besides namespaces. */
  dispose?(env: Env): Promise<void>
  note?: string
}

const exists = (p: string) => fs.existsSync(p)
const which = async (bin: string) => (await cmd('sh', ['-c', `command -v ${bin}`], { allowFail: true })).code === 0

// --- netns-kit: the user path ---------------------------------------------------------

/** At most `k` of fn(0..n-1) at a time (a runtime starting containers in parallel). */
export async function pool(n: number, k: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      await fn(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(k, n) }, worker))
}

/** How many containers the user path wires (and tears down) at once. */
export const USER_CONCURRENCY = 8

interface UserState {
  net: Network
  wired: ({ ns: Namespace; ep: Endpoint } | undefined)[]
}
const userState = new WeakMap<Env, UserState>()

/** The network of the user path: Network.create with the defaults (default store, embedded DNS on). */
async function userNetwork(env: Env): Promise<void> {
  const net = trackNetwork(await Network.create({ name: env.hostName, namespace: env.host, subnet: SUBNET, gateway: GATEWAY }))
  userState.set(env, { net, wired: [] })
}

/**
 * Container `i` as a runtime wires it: its namespace (`ip netns add`), then Network.connect with
 * a name (resolvable by the others) and one published port, everything else the defaults.
 */
export async function connectUser(env: Env, net: Network, i: number): Promise<{ ns: Namespace; ep: Endpoint }> {
  const ns = track(await Namespace.create(env.ctr(i)))
  const ep = await net.connect(ns, { name: `c${i}`, publish: [{ hostPort: hostPort(i), containerPort: CONTAINER_PORT }] })
  env.ips[i] = ep.ip
  return { ns, ep }
}

function userTool(key: string, label: string, order: 'disconnect-first' | 'namespace-first', note: string, slow?: boolean): Tool {
  return {
    key,
    label,
    note,
    slow,
    backgroundTeardown: true,
    eventLoop: true,
    async unavailable() {
      return undefined
    },
    network: userNetwork,
    async setupAll(env, n) {
      const st = userState.get(env)!
      await pool(n, USER_CONCURRENCY, async (i) => {
        st.wired[i] = await connectUser(env, st.net, i)
      })
    },
    async verify(env, n) {
      await verify(env, n)
      await verifyDns(env, n)
    },
    async teardownAll(env, n) {
      const st = userState.get(env)!
      await pool(n, USER_CONCURRENCY, async (i) => {
        const w = st.wired[i]!
        if (order === 'disconnect-first') {
          await st.net.disconnect(w.ep)
          await w.ns.delete()
        } else {
          await w.ns.delete()
          await st.net.disconnect(w.ep)
        }
        st.wired[i] = undefined
      })
    },
    async dispose(env) {
      const st = userState.get(env)
      if (st) await untrackNetwork(st.net)
    },
  }
}

export const netnsKitUser = userTool(
  'netns-kit',
  'netns-kit user path (Network.connect, 8 at a time)',
  'disconnect-first',
  'Namespace.create + Network.connect(ns, { name, publish: [one port] }) on a network made with the defaults (default store, embedded DNS on), 8 containers at a time; ' +
    'checked also by a DNS query (the last container resolves the first by name through 127.0.0.11); teardown: network.disconnect(ep) then namespace delete, 8 at a time',
)

export const netnsKitUserNsFirst = userTool(
  'netns-kit-nsfirst',
  'netns-kit user path, namespace deleted before disconnect',
  'namespace-first',
  'as the user path, but the teardown deletes the namespace first, then disconnects (the other order); up to --slow-max containers',
  true,
)

// --- netns-kit: the primitives ----------------------------------------------------------

interface NkState {
  bridge: Bridge
  wired: { ns: Namespace; rule: NatRule }[]
}
const nkState = new WeakMap<Env, NkState>()

/**
 * Wires container `i` on the host's network with netns-kit's primitives: the namespace (lo up
 * in the same call), a veth whose peer is created inside it as eth0 with master + up in the
 * same message, the address and default route in one pipelined trip, and the published port
 * (one map element). No store, no DNS.
 */
export async function wireNetnsKit(env: Env, bridge: Bridge, i: number): Promise<{ ns: Namespace; rule: NatRule }> {
  const ip = containerIp(i)
  const ns = track(await Namespace.create(env.ctr(i)))
  // As Network.connect wires an IPv4-only network: no IPv6 on the bridge port nor (Docker's
  // choice) on the container's interface, set in the same trip before they come up.
  const pair = await VethPair.create({
    name: env.veth(i),
    namespace: env.host,
    master: bridge,
    up: true,
    ipv6: false,
    peer: { name: 'eth0', namespace: ns, up: true, ipv6: false },
  })
  await run([
    { ns, op: 'addr.add', index: pair.peer.index, address: ip, prefixLength: PREFIX, object: `${ip} on eth0` },
    { ns, op: 'route.add', family: 4, dstLength: 0, gateway: GATEWAY, object: `default via ${GATEWAY}` },
  ])
  const rule = await NatRule.publish({ namespace: env.host, protocol: 'tcp', hostPort: hostPort(i), containerIp: ip, containerPort: CONTAINER_PORT })
  return { ns, rule }
}

export const netnsKit: Tool = {
  key: 'netns-kit-prim',
  label: 'netns-kit primitives (one at a time, no store, no DNS)',
  backgroundTeardown: true,
  eventLoop: true,
  note: 'Namespace.create + VethPair.create (peer in the namespace, master+up, no IPv6 on either end as Network.connect on an IPv4-only network) + addr/route in one trip + NatRule.publish, one container after another; teardown: delete the namespace, then the mapping',
  async unavailable() {
    return undefined
  },
  async network(env) {
    const bridge = await Bridge.create({ name: 'br0', namespace: env.host, up: true })
    await bridge.addAddress(`${GATEWAY}/${PREFIX}`)
    await NatRule.masquerade({ namespace: env.host, source: SUBNET, notOutInterface: 'br0' })
    nkState.set(env, { bridge, wired: [] })
  },
  async setupAll(env, n) {
    const st = nkState.get(env)!
    for (let i = 0; i < n; i++) st.wired.push(await wireNetnsKit(env, st.bridge, i))
  },
  async teardownAll(env) {
    const st = nkState.get(env)!
    for (const w of st.wired.splice(0)) {
      await w.ns.delete()
      await w.rule.delete()
    }
  },
}

// --- the C floor: the same kernel work as the user path, from C, pipelined ---------------

export const FLOOR_BIN = path.join(__dirname, 'build', 'floor')
/** The link group of the floor's host veths in its second variant (deleted in one RTM_DELLINK). */
const FLOOR_GROUP = 0x6e6b

async function floorRun(env: Env, n: number, mode: 'setup' | 'teardown', group: number): Promise<OwnTiming> {
  let lines = ''
  for (let i = 0; i < n; i++) lines += `${env.ctr(i)} ${env.veth(i)} ${containerIp(i)} ${hostPort(i)}\n`
  const r = await cmd(
    FLOOR_BIN,
    [
      mode,
      '--host',
      `${NETNS_RUN_DIR}/${env.hostName}`,
      '--netns-dir',
      NETNS_RUN_DIR,
      '--bridge',
      'br0',
      '--gateway',
      GATEWAY,
      '--prefix',
      String(PREFIX),
      '--port',
      String(CONTAINER_PORT),
      '--group',
      String(group),
    ],
    { input: lines },
  )
  return JSON.parse(r.stdout) as OwnTiming
}

function cFloor(key: string, label: string, group: number, note: string): Tool {
  return {
    key,
    label,
    note,
    backgroundTeardown: true,
    async unavailable() {
      return exists(FLOOR_BIN) ? undefined : `${FLOOR_BIN} not built (bench/setup.sh compiles bench/floor.c with cc)`
    },
    // netns-kit's own table (the maps the elements go into), as a network's masquerade makes it.
    async network(env) {
      const bridge = await Bridge.create({ name: 'br0', namespace: env.host, up: true })
      await bridge.addAddress(`${GATEWAY}/${PREFIX}`)
      await NatRule.masquerade({ namespace: env.host, source: SUBNET, notOutInterface: 'br0' })
    },
    async setupAll(env, n) {
      return floorRun(env, n, 'setup', group)
    },
    async teardownAll(env, n) {
      return floorRun(env, n, 'teardown', group)
    },
  }
}

const floorNote =
  'bench/floor.c: the messages and sysctl writes of Network.connect (namespace as ip netns add with lo up; veth created with its peer in the namespace, master, MAC; ' +
  'disable_ipv6 on both ends; alias, hairpin, up; eth0 up, address, default route; the pub4any and hairpin4 elements in one nf_tables batch per container), ' +
  'no lookups, no store, no DNS, pipelined over all containers; timed inside the process'
export const cFloorTool = cFloor(
  'c-floor',
  'C floor (same kernel work, pipelined)',
  0,
  `${floorNote}; teardown: one DELSETELEM batch per container, one RTM_DELLINK per veth, umount + unlink of each namespace`,
)
export const cFloorGroup = cFloor(
  'c-floor-group',
  'C floor, veths deleted by link group',
  FLOOR_GROUP,
  `the same setup with IFLA_GROUP in each veth's create message; teardown: the DELSETELEM batches, ONE RTM_DELLINK of the link group (one RCU grace period for all), umount + unlink`,
)

// --- netns + veth only (the old "kernel floor") -----------------------------------------

export const kernelFloor: Tool = {
  key: 'netns-veth',
  label: 'netns + veth only, one ip -batch (not the same work)',
  published: false,
  backgroundTeardown: true,
  note: 'ip -batch: netns add + link add type veth peer netns, nothing else (no master, up, addresses, routes, NAT, sysctls); checked by the links, not by traffic; teardown: netns del (the kernel removes the veths in the background)',
  async unavailable() {
    return (await which('ip')) ? undefined : 'ip not found'
  },
  async network(env) {
    await plainNetwork(env, { nat: false })
  },
  async setupAll(env, n) {
    let b = ''
    for (let i = 0; i < n; i++) b += `netns add ${env.ctr(i)}\nlink add ${env.veth(i)} type veth peer name eth0 netns ${env.ctr(i)}\n`
    await inNs(env.hostName, 'ip', ['-batch', '-'], { input: b })
  },
  async teardownAll(env, n) {
    let b = ''
    for (let i = 0; i < n; i++) b += `netns del ${env.ctr(i)}\n`
    await cmd('ip', ['-batch', '-'], { input: b })
  },
}

// --- (a) ip and nft, once per step ----------------------------------------------------

const handles = new WeakMap<Env, string[]>()

export const ipPerStep: Tool = {
  key: 'ip-step',
  label: 'ip/nft per step',
  slow: true,
  note: 'one ip or nft process per step, as tutorials do (ip netns add; ip -n HOST link add/set; ip -n CTR addr/link/route; ip netns exec HOST nft add rule); teardown: nft delete rule, ip link del, ip netns del',
  async unavailable() {
    return (await which('ip')) && (await which('nft')) ? undefined : 'ip or nft not found'
  },
  async network(env) {
    await plainNetwork(env, { nat: true })
    handles.set(env, [])
  },
  async setupAll(env, n) {
    const hs = handles.get(env)!
    const H = env.hostName
    for (let i = 0; i < n; i++) {
      const C = env.ctr(i),
        V = env.veth(i),
        ip = containerIp(i)
      await cmd('ip', ['netns', 'add', C])
      await cmd('ip', ['-n', H, 'link', 'add', V, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', C])
      await cmd('ip', ['-n', H, 'link', 'set', V, 'master', 'br0'])
      await cmd('ip', ['-n', H, 'link', 'set', V, 'up'])
      await cmd('ip', ['-n', C, 'addr', 'add', `${ip}/${PREFIX}`, 'dev', 'eth0'])
      await cmd('ip', ['-n', C, 'link', 'set', 'eth0', 'up'])
      await cmd('ip', ['-n', C, 'link', 'set', 'lo', 'up'])
      await cmd('ip', ['-n', C, 'route', 'add', 'default', 'via', GATEWAY])
      const r = await cmd('ip', [
        'netns',
        'exec',
        H,
        'nft',
        '--echo',
        '--handle',
        'add',
        'rule',
        'ip',
        'nkbench',
        'prerouting',
        'fib',
        'daddr',
        'type',
        'local',
        'tcp',
        'dport',
        String(hostPort(i)),
        'dnat',
        'to',
        `${ip}:${CONTAINER_PORT}`,
      ])
      const m = /# handle (\d+)/.exec(r.stdout)
      if (!m) throw new Error(`nft did not echo a handle: ${r.stdout}`)
      hs.push(m[1]!)
    }
  },
  async teardownAll(env, n) {
    const hs = handles.get(env)!
    for (let i = 0; i < n; i++) {
      await cmd('ip', ['netns', 'exec', env.hostName, 'nft', 'delete', 'rule', 'ip', 'nkbench', 'prerouting', 'handle', hs[i]!])
      await cmd('ip', ['-n', env.hostName, 'link', 'del', env.veth(i)])
      await cmd('ip', ['netns', 'del', env.ctr(i)])
    }
  },
}

// --- (b) ip -batch and one nft -f -----------------------------------------------------

export const ipBatch: Tool = {
  key: 'ip-batch',
  label: 'ip -batch + nft -f',
  note: 'one ip -batch in the host (netns add, veth with peer in the namespace, master, up), one ip -n CTR -batch per container (address, links up, route), one nft -f for every port; teardown: one nft -f, one ip -batch (link del, netns del)',
  async unavailable() {
    return (await which('ip')) && (await which('nft')) ? undefined : 'ip or nft not found'
  },
  async network(env) {
    await plainNetwork(env, { nat: true })
  },
  async setupAll(env, n) {
    let b = ''
    for (let i = 0; i < n; i++) b += `netns add ${env.ctr(i)}\nlink add ${env.veth(i)} master br0 up type veth peer name eth0 netns ${env.ctr(i)}\n`
    await inNs(env.hostName, 'ip', ['-batch', '-'], { input: b })
    let rules = ''
    for (let i = 0; i < n; i++) {
      await cmd('ip', ['-n', env.ctr(i), '-batch', '-'], {
        input: `addr add ${containerIp(i)}/${PREFIX} dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via ${GATEWAY}\n`,
      })
      rules += `add rule ip nkbench prerouting fib daddr type local tcp dport ${hostPort(i)} dnat to ${containerIp(i)}:${CONTAINER_PORT}\n`
    }
    await inNs(env.hostName, 'nft', ['-f', '-'], { input: rules })
  },
  async teardownAll(env, n) {
    await inNs(env.hostName, 'nft', ['-f', '-'], { input: 'flush chain ip nkbench prerouting\n' })
    let b = ''
    for (let i = 0; i < n; i++) b += `link del ${env.veth(i)}\nnetns del ${env.ctr(i)}\n`
    await inNs(env.hostName, 'ip', ['-batch', '-'], { input: b })
  },
}

// --- (e) pyroute2 ---------------------------------------------------------------------

const PY = '/usr/bin/python3'
const PY_SCRIPT = path.join(__dirname, 'pyroute2_wire.py')

function pyJob(env: Env, n: number, mode: 'setup' | 'teardown'): string {
  const containers = Array.from({ length: n }, (_, i) => ({ ns: env.ctr(i), veth: env.veth(i), ip: containerIp(i), port: hostPort(i) }))
  return JSON.stringify({ mode, bridge: 'br0', gateway: GATEWAY, prefix: PREFIX, containers })
}

async function pyRun(env: Env, n: number, mode: 'setup' | 'teardown'): Promise<number> {
  const r = await inNs(env.hostName, PY, [PY_SCRIPT], { input: pyJob(env, n, mode) })
  return (JSON.parse(r.stdout) as { seconds: number }).seconds * 1000
}

export const pyroute2: Tool = {
  key: 'pyroute2',
  label: 'pyroute2 (one Python process)',
  note: 'bench/pyroute2_wire.py: netns.create, veth with peer in the namespace, master+up, addr/links/route through a socket opened inside (pushns), one nft -f for the ports; timed inside the Python process (its start and imports, about 0.2 s, not counted; CPU includes them); teardown: link del + netns.remove',
  async unavailable() {
    if (!exists(PY)) return `${PY} not found`
    const r = await cmd(PY, ['-c', 'import pyroute2'], { allowFail: true })
    return r.code === 0 ? undefined : 'python3-pyroute2 not installed (bench/setup.sh installs it)'
  },
  async network(env) {
    await plainNetwork(env, { nat: true })
  },
  async setupAll(env, n) {
    return pyRun(env, n, 'setup')
  },
  async teardownAll(env, n) {
    return pyRun(env, n, 'teardown')
  },
}

// --- (c) CNI bridge + host-local + portmap --------------------------------------------

const CNI_PATH = '/usr/lib/cni'
interface CniCtx {
  results: string[]
  conf: Record<string, unknown>
}
const cniCtx = new WeakMap<Env, CniCtx>()

function cniEnv(cmdName: 'ADD' | 'DEL', env: Env, i: number, ifname: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    CNI_COMMAND: cmdName,
    CNI_CONTAINERID: `nkbench${env.ctr(i).replace(/[^a-z0-9]/g, '')}`,
    CNI_NETNS: `/run/netns/${env.ctr(i)}`,
    CNI_IFNAME: ifname,
    CNI_PATH,
  }
}

async function cniPlugin(env: Env, i: number, type: string, cmdName: 'ADD' | 'DEL', ifname: string, conf: Record<string, unknown>): Promise<string> {
  const r = await inNs(env.hostName, path.join(CNI_PATH, type), [], { input: JSON.stringify(conf), env: cniEnv(cmdName, env, i, ifname) })
  return r.stdout
}

export const cni: Tool = {
  key: 'cni',
  label: 'CNI bridge + host-local + portmap',
  slow: true,
  note: "plugins exec'd as a runtime does (loopback for lo, bridge with host-local IPAM and ipMasq, portmap chained with prevResult and runtimeConfig.portMappings); the runtime's ip netns add/del counted; DEL in reverse order",
  async unavailable() {
    for (const p of ['bridge', 'host-local', 'portmap', 'loopback'])
      if (!exists(path.join(CNI_PATH, p))) return `${CNI_PATH}/${p} missing (containernetworking-plugins)`
    return (await which('iptables')) ? undefined : 'iptables not found (the CNI plugins 1.1 program NAT through it)'
  },
  async network(env) {
    await env.host.sysctl.set('net.ipv4.ip_forward', 1)
    cniCtx.set(env, {
      results: [],
      conf: {
        cniVersion: '1.0.0',
        name: 'nkbench',
        bridge: {
          type: 'bridge',
          bridge: 'br0',
          isGateway: true,
          ipMasq: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET, gateway: GATEWAY }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(env.tmp, 'ipam') },
        },
      },
    })
  },
  async setupAll(env, n) {
    const ctx = cniCtx.get(env)!
    const base = { cniVersion: '1.0.0', name: 'nkbench' }
    for (let i = 0; i < n; i++) {
      await cmd('ip', ['netns', 'add', env.ctr(i)])
      await cniPlugin(env, i, 'loopback', 'ADD', 'lo', { ...base, type: 'loopback' })
      const res = await cniPlugin(env, i, 'bridge', 'ADD', 'eth0', { ...base, ...(ctx.conf.bridge as object) })
      const prev = JSON.parse(res) as { ips: { address: string }[] }
      env.ips[i] = prev.ips[0]!.address.split('/')[0]!
      await cniPlugin(env, i, 'portmap', 'ADD', 'eth0', {
        ...base,
        type: 'portmap',
        capabilities: { portMappings: true },
        runtimeConfig: { portMappings: [{ hostPort: hostPort(i), containerPort: CONTAINER_PORT, protocol: 'tcp' }] },
        prevResult: prev,
      })
      ctx.results[i] = res
    }
  },
  async teardownAll(env, n) {
    const ctx = cniCtx.get(env)!
    const base = { cniVersion: '1.0.0', name: 'nkbench' }
    for (let i = 0; i < n; i++) {
      const prev = JSON.parse(ctx.results[i]!)
      await cniPlugin(env, i, 'portmap', 'DEL', 'eth0', {
        ...base,
        type: 'portmap',
        capabilities: { portMappings: true },
        runtimeConfig: { portMappings: [{ hostPort: hostPort(i), containerPort: CONTAINER_PORT, protocol: 'tcp' }] },
        prevResult: prev,
      })
      await cniPlugin(env, i, 'bridge', 'DEL', 'eth0', { ...base, ...(ctx.conf.bridge as object), prevResult: prev })
      await cniPlugin(env, i, 'loopback', 'DEL', 'lo', { ...base, type: 'loopback' })
      await cmd('ip', ['netns', 'del', env.ctr(i)])
    }
  },
}

// --- (d) netavark ---------------------------------------------------------------------

const NETAVARK = ['/usr/lib/podman/netavark', '/usr/libexec/podman/netavark', '/usr/bin/netavark'].find(exists) ?? 'netavark'

function netavarkJob(env: Env, i: number): string {
  return JSON.stringify({
    container_id: Buffer.from(env.ctr(i)).toString('hex').padEnd(64, '0').slice(0, 64),
    container_name: env.ctr(i),
    port_mappings: [{ host_ip: '', container_port: CONTAINER_PORT, host_port: hostPort(i), range: 1, protocol: 'tcp' }],
    networks: { nkbench: { static_ips: [containerIp(i)], interface_name: 'eth0' } },
    network_info: {
      nkbench: {
        name: 'nkbench',
        id: 'b'.repeat(64),
        driver: 'bridge',
        network_interface: 'br0',
        subnets: [{ subnet: SUBNET, gateway: GATEWAY }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        ipam_options: { driver: 'host-local' },
      },
    },
  })
}

export const netavark: Tool = {
  key: 'netavark',
  label: 'netavark',
  slow: true,
  note: "netavark --config TMP setup|teardown /run/netns/CTR < json (static IPs as podman passes them, one port mapping, dns off); firewall driver iptables (netavark 1.4 has no nftables driver); the runtime's ip netns add/del counted",
  async unavailable() {
    if (!exists(NETAVARK)) return 'netavark not installed (bench/setup.sh installs it)'
    return (await which('iptables')) ? undefined : 'iptables not found (netavark 1.4 programs NAT through it)'
  },
  async network(env) {
    fs.mkdirSync(path.join(env.tmp, 'netavark'), { recursive: true })
  },
  async setupAll(env, n) {
    const conf = path.join(env.tmp, 'netavark')
    for (let i = 0; i < n; i++) {
      await cmd('ip', ['netns', 'add', env.ctr(i)])
      await inNs(env.hostName, NETAVARK, ['--config', conf, 'setup', `/run/netns/${env.ctr(i)}`], { input: netavarkJob(env, i) })
    }
  },
  async teardownAll(env, n) {
    const conf = path.join(env.tmp, 'netavark')
    for (let i = 0; i < n; i++) {
      await inNs(env.hostName, NETAVARK, ['--config', conf, 'teardown', `/run/netns/${env.ctr(i)}`], { input: netavarkJob(env, i) })
      await cmd('ip', ['netns', 'del', env.ctr(i)])
    }
  },
}

export const TOOLS: Tool[] = [netnsKitUser, netnsKit, cFloorTool, cFloorGroup, ipBatch, pyroute2, ipPerStep, netavark, cni, kernelFloor, netnsKitUserNsFirst]

// `npm run bench`: netns-kit's user path (Network.connect) and primitives side by side with the C floor
// (bench/floor.c: the same kernel work), ip, ip -batch, pyroute2, netavark and the CNI plugins (issues 6
// and 18, design.md §6), in throwaway namespaces only. See bench/README.md for what each part measures.
//
//   npm run bench                       N = 50,200,1000, 3 runs, 10,000 ports, connects to 1,000; writes bench/results.{md,json}
//   npm run bench -- --quick            N = 20, 1 run, 500 ports, short iperf, connects to 200; writes nothing unless --out
//   npm run bench -- --n 50,200 --runs 5 --tools netns-kit,c-floor,ip-batch --parts containers,ports,datapath,connect
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Bridge, Namespace, NatRule, VethPair } from '../lib'
import {
  CONTAINER_PORT,
  HOST_EXT_IP,
  RUN_ID,
  cleanupAll,
  cmd,
  containerIp,
  cpuSeconds,
  destroyEnv,
  inNs,
  installExitCleanup,
  makeEnv,
  median,
  nsName,
  sleep,
  verify,
  waitHostClean,
  type Env,
  removeNamespaces,
  settle,
  track,
} from './common'
import { TOOLS, netnsKit, wireNetnsKit, ipBatch, type Tool } from './tools'
import { rootSnapshot, rootDiff } from './root-guard'
import { connectBench, connectDefaults, connectJson, connectReport, type ConnectResult } from '../scripts/bench-connect'

/** The 1-minute load average when the run started: a busy machine makes every figure noise. */
const LOAD_AT_START = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]

// --- options --------------------------------------------------------------------------

interface Options {
  ns: number[]
  runs: number
  tools: string[]
  parts: string[]
  ports: number
  slowMax: number
  iperfSeconds: number
  connSeconds: number
  out?: string
  quick: boolean
  connectN?: number
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick')
  const o: Options = {
    ns: quick ? [20] : [50, 200, 1000],
    runs: quick ? 1 : 3,
    tools: TOOLS.map((t) => t.key),
    parts: ['containers', 'ports', 'datapath', 'connect'],
    ports: quick ? 500 : 10_000,
    slowMax: 200,
    iperfSeconds: quick ? 2 : 4,
    connSeconds: quick ? 2 : 3,
    out: quick ? undefined : path.join(__dirname, 'results'),
    quick,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!,
      v = argv[i + 1]
    const num = () => {
      const x = Number(v)
      if (!Number.isFinite(x) || x < 0) throw new Error(`${a} needs a number`)
      i++
      return x
    }
    switch (a) {
      case '--quick':
        break
      case '--n':
        o.ns = v!
          .split(',')
          .map(Number)
          .filter((x) => x > 0)
        i++
        break
      case '--runs':
        o.runs = Math.max(1, num())
        break
      case '--tools':
        o.tools = v!.split(',')
        i++
        break
      case '--parts':
        o.parts = v!.split(',')
        i++
        break
      case '--ports':
        o.ports = num()
        break
      case '--connect-n':
        o.connectN = num()
        break
      case '--slow-max':
        o.slowMax = num()
        break
      case '--iperf-seconds':
        o.iperfSeconds = num()
        break
      case '--conn-seconds':
        o.connSeconds = num()
        break
      case '--out':
        o.out = path.resolve(v!)
        i++
        break
      case '--no-write':
        o.out = undefined
        break
      default:
        throw new Error(`unknown option ${a} (see the head of bench/run.ts)`)
    }
  }
  const unknown = o.tools.filter((k) => !TOOLS.some((t) => t.key === k))
  if (unknown.length) throw new Error(`unknown tool(s) ${unknown.join(', ')}: ${TOOLS.map((t) => t.key).join(', ')}`)
  return o
}

// --- part 1: containers ---------------------------------------------------------------

interface RunFigures {
  setupMs: number
  teardownMs: number
  cpuSetupMs: number
  cpuTeardownMs: number
  /** The kernel's background removal of host-side veths after a namespace-deleting teardown. */
  backgroundMs?: number
  /** Where a tool that times itself spent it (the C floor), ms. */
  setupPhases?: Record<string, number>
  teardownPhases?: Record<string, number>
  eventLoop?: { maxMs: number; p99Ms: number; meanMs: number }
}
interface Row {
  tool: string
  label: string
  n: number
  status: 'ok' | 'skipped' | 'failed'
  why?: string
  runs: RunFigures[]
}

const ms = (t0: number) => performance.now() - t0
const cpuMs = (a: ReturnType<typeof cpuSeconds>, b: ReturnType<typeof cpuSeconds>) => (b.self - a.self + b.children - a.children) * 1000

async function verifyFloor(env: Env, n: number): Promise<void> {
  for (const i of [...new Set([0, n >> 1, n - 1])]) {
    const l = JSON.parse((await cmd('ip', ['-j', '-n', env.ctr(i), 'link', 'show', 'eth0'])).stdout) as { link_type: string }[]
    if (l.length !== 1) throw new Error(`container ${i} has no eth0`)
  }
  const host = JSON.parse((await cmd('ip', ['-j', '-n', env.hostName, 'link', 'show', 'type', 'veth'])).stdout) as unknown[]
  if (host.length !== n + 1) throw new Error(`the host has ${host.length - 1} container veths, not ${n}`)
}

const perCtr = (p: Record<string, number>, n: number) =>
  Object.entries(p)
    .map(([k, v]) => `${k} ${(v / n).toFixed(3)}`)
    .join(', ') + ' ms'

async function oneRun(tool: Tool, n: number): Promise<RunFigures> {
  const env = await makeEnv(tool.key)
  try {
    await tool.network(env)
    const baseline = (await env.host.links()).length
    const h = tool.eventLoop ? monitorEventLoopDelay({ resolution: 1 }) : undefined
    h?.enable()
    const c0 = cpuSeconds()
    const t0 = performance.now()
    const ownSetup = await tool.setupAll(env, n)
    const setupMs = typeof ownSetup === 'number' ? ownSetup : ownSetup ? ownSetup.ms : ms(t0)
    const c1 = cpuSeconds()
    h?.disable()
    if (tool.verify) await tool.verify(env, n)
    else if (tool.published === false) await verifyFloor(env, n)
    else await verify(env, n)
    const c2 = cpuSeconds()
    const t2 = performance.now()
    const ownTeardown = await tool.teardownAll(env, n)
    const teardownMs = typeof ownTeardown === 'number' ? ownTeardown : ownTeardown ? ownTeardown.ms : ms(t2)
    const c3 = cpuSeconds()
    const backgroundMs = tool.backgroundTeardown ? await waitHostClean(env, baseline) : undefined
    return {
      setupMs,
      teardownMs,
      cpuSetupMs: cpuMs(c0, c1),
      cpuTeardownMs: cpuMs(c2, c3),
      backgroundMs,
      setupPhases: typeof ownSetup === 'object' ? ownSetup.phases : undefined,
      teardownPhases: typeof ownTeardown === 'object' ? ownTeardown.phases : undefined,
      eventLoop: h ? { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6 } : undefined,
    }
  } finally {
    await tool.dispose?.(env).catch(() => {})
    await destroyEnv(env, n)
  }
}

/** Seconds waited for a quiet machine between runs and parts (settle()), and how many waits gave up, reported with the run. */
let settledS = 0
let busyStarts = 0
async function quietly(log: (s: string) => void): Promise<void> {
  // At most 20 s a wait, and once 10 minutes are spent (a machine busy with others' work), 2 s.
  const s = await settle(settledS > 600 ? 2000 : 20_000)
  settledS += s.ms / 1000
  if (!s.quiet) {
    busyStarts++
    log(`  (the machine was still busy after ${(s.ms / 1000).toFixed(0)} s: measured anyway)`)
  }
}

async function containers(o: Options, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = []
  for (const n of o.ns) {
    for (const tool of TOOLS.filter((t) => o.tools.includes(t.key))) {
      const row: Row = { tool: tool.key, label: tool.label, n, status: 'ok', runs: [] }
      rows.push(row)
      const missing = await tool.unavailable()
      if (missing) {
        Object.assign(row, { status: 'skipped', why: missing })
        log(`  ${tool.key} N=${n}: skipped: ${missing}`)
        continue
      }
      if (tool.slow && n > o.slowMax) {
        Object.assign(row, { status: 'skipped', why: `N > --slow-max ${o.slowMax} (about ${Math.round(n * 0.3)} s a run)` })
        log(`  ${tool.key} N=${n}: skipped (N > --slow-max ${o.slowMax})`)
        continue
      }
      // Large N: fewer runs, so that a full run stays near ten minutes.
      const runs = n >= 1000 ? Math.min(o.runs, 1) : o.runs
      for (let r = 0; r < runs; r++) {
        try {
          const f = await oneRun(tool, n)
          row.runs.push(f)
          log(
            `  ${tool.key} N=${n} run ${r + 1}/${runs}: setup ${(f.setupMs / n).toFixed(2)} ms/ctr, teardown ${(f.teardownMs / n).toFixed(2)} ms/ctr` +
              `${f.backgroundMs !== undefined ? ` (+${f.backgroundMs.toFixed(0)} ms kernel background)` : ''}, cpu ${((f.cpuSetupMs + f.cpuTeardownMs) / n).toFixed(2)} ms/ctr` +
              `${f.eventLoop ? `, event loop max ${f.eventLoop.maxMs.toFixed(1)} ms` : ''}` +
              `${f.setupPhases ? `\n    setup per container: ${perCtr(f.setupPhases, n)}` : ''}${f.teardownPhases ? `\n    teardown per container: ${perCtr(f.teardownPhases, n)}` : ''}`,
          )
        } catch (e) {
          Object.assign(row, { status: 'failed', why: (e as Error).message.split('\n')[0]!.slice(0, 300) })
          log(`  ${tool.key} N=${n}: FAILED: ${row.why}`)
          break
        }
        // The next run starts on a quiet machine: the kernel's tear-down of this run's
        // namespaces (seconds of CPU at N=1000) is not charged to it.
        await quietly(log)
      }
    }
  }
  return rows
}

// --- part 2: published ports at scale ---------------------------------------------------

function startIn(ns: string, file: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
}

async function waitLine(p: ChildProcess, re: RegExp, timeoutMs = 5000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let buf = ''
    const t = setTimeout(() => reject(new Error(`no '${re}' from the helper: ${buf}`)), timeoutMs)
    p.stdout!.on('data', (d) => {
      buf += d
      if (re.test(buf)) {
        clearTimeout(t)
        resolve()
      }
    })
    p.on('exit', (c) => {
      clearTimeout(t)
      reject(new Error(`helper exited ${c}: ${buf}`))
    })
  })
}

const CONNRATE = path.join(__dirname, 'connrate.js')

/** New connections per second from the outside namespace to HOST_EXT_IP:port, served in container `ctr`. */
async function connRate(env: Env, ctr: string, ip: string, port: number, seconds: number): Promise<{ rate: number; ok: number; failed: number }> {
  const server = startIn(ctr, process.execPath, [CONNRATE, 'server', ip, String(CONTAINER_PORT)])
  try {
    await waitLine(server, /ready/)
    const r = await cmd('ip', ['netns', 'exec', env.extName, process.execPath, CONNRATE, 'client', HOST_EXT_IP, String(port), String(seconds), '8'])
    return JSON.parse(r.stdout) as { rate: number; ok: number; failed: number }
  } finally {
    server.kill('SIGTERM')
  }
}

/** Measures a and b three times each, alternating (the machine's load drifts), and keeps the median rate of each. */
async function alternate(
  a: () => ReturnType<typeof connRate>,
  b: () => ReturnType<typeof connRate>,
): Promise<[{ rate: number; ok: number }, { rate: number; ok: number }]> {
  const ra: { rate: number; ok: number }[] = [],
    rb: { rate: number; ok: number }[] = []
  for (let i = 0; i < 3; i++) {
    ra.push(await a())
    rb.push(await b())
  }
  const pick = (xs: { rate: number; ok: number }[]) => ({ rate: median(xs.map((x) => x.rate)), ok: Math.min(...xs.map((x) => x.ok)) })
  return [pick(ra), pick(rb)]
}

interface PortsResult {
  k: number
  netnsKit: {
    firstMs: number
    first100MedianMs: number
    last100MedianMs: number
    lastMs: number
    totalS: number
    samples: { k: number; ms: number }[]
    connPerSecLast: number
    connPerSecFirst: number
    deleteFewMs: number
    deleteManyMs: number
  }
  ruleChain: { addFirstMs: number; addLastMs: number; bulkLoadS: number; connPerSecLast: number; connPerSecFirst: number }
  ratios: { netnsKitLastOverFirst: number; chainLastOverFirst: number; connNetnsKitOverChain: number }
}

const PORT_BASE = 30000

async function ports(o: Options, log: (s: string) => void): Promise<PortsResult> {
  const K = o.ports
  if (PORT_BASE + K > 65535) throw new Error('--ports at most 35535')
  // netns-kit: one NatRule.publish call per mapping.
  const env = await makeEnv('ports-nk')
  const chainEnv = await makeEnv('ports-chain')
  try {
    await netnsKit.network(env)
    await wireNetnsKit(env, await Bridge.open('br0', { namespace: env.host }), 0)
    const ip = containerIp(0)
    // Removing one mapping while few exist, and (below) while K exist.
    const probe = await NatRule.publish({ namespace: env.host, protocol: 'tcp', hostPort: PORT_BASE, containerIp: ip, containerPort: CONTAINER_PORT })
    let td = performance.now()
    await probe.delete()
    const deleteFewMs = ms(td)
    const times: number[] = []
    let lastRule: NatRule | undefined
    const t0 = performance.now()
    for (let k = 1; k <= K; k++) {
      const t = performance.now()
      lastRule = await NatRule.publish({ namespace: env.host, protocol: 'tcp', hostPort: PORT_BASE + k, containerIp: ip, containerPort: CONTAINER_PORT })
      times.push(performance.now() - t)
      if (k % 2000 === 0) log(`  netns-kit: ${k} mappings, the last took ${times[k - 1]!.toFixed(2)} ms`)
    }
    const totalS = ms(t0) / 1000
    td = performance.now()
    await lastRule!.delete()
    const deleteManyMs = ms(td)
    log(`  netns-kit: NatRule.delete() ${deleteFewMs.toFixed(2)} ms with 2 mappings, ${deleteManyMs.toFixed(2)} ms with ${K + 1}`)
    await NatRule.publish({ namespace: env.host, protocol: 'tcp', hostPort: PORT_BASE + K, containerIp: ip, containerPort: CONTAINER_PORT })
    const [nkLast, nkFirst] = await alternate(
      () => connRate(env, env.ctr(0), ip, PORT_BASE + K, o.connSeconds),
      () => connRate(env, env.ctr(0), ip, PORT_BASE + 1, o.connSeconds),
    )
    if (nkLast.ok === 0) throw new Error(`no connection reached the container through port ${PORT_BASE + K}`)
    log(`  netns-kit: ${nkLast.rate.toFixed(0)} new connections/s to the ${K}th mapping, ${nkFirst.rate.toFixed(0)} to the 1st`)
    const step = Math.max(1, Math.floor(K / 100))
    const samples = times.map((v, i) => ({ k: i + 1, ms: +v.toFixed(3) })).filter((s) => s.k % step === 0 || s.k === 1)

    // The same number of mappings as a chain of per-port rules (what Docker, CNI and netavark produce).
    await ipBatch.network(chainEnv)
    await ipBatch.setupAll(chainEnv, 1)
    const rule = (p: number) => `add rule ip nkbench prerouting fib daddr type local tcp dport ${p} dnat to ${ip}:${CONTAINER_PORT}\n`
    await inNs(chainEnv.hostName, 'nft', ['-f', '-'], { input: 'flush chain ip nkbench prerouting\n' })
    let t = performance.now()
    await inNs(chainEnv.hostName, 'nft', ['-f', '-'], { input: rule(PORT_BASE + 1) })
    const addFirstMs = ms(t)
    let bulk = ''
    for (let k = 2; k < K; k++) bulk += rule(PORT_BASE + k)
    t = performance.now()
    if (bulk) await inNs(chainEnv.hostName, 'nft', ['-f', '-'], { input: bulk })
    const bulkLoadS = ms(t) / 1000
    t = performance.now()
    await inNs(chainEnv.hostName, 'nft', ['-f', '-'], { input: rule(PORT_BASE + K) })
    const addLastMs = ms(t)
    const [chLast, chFirst] = await alternate(
      () => connRate(chainEnv, chainEnv.ctr(0), ip, PORT_BASE + K, o.connSeconds),
      () => connRate(chainEnv, chainEnv.ctr(0), ip, PORT_BASE + 1, o.connSeconds),
    )
    if (chLast.ok === 0) throw new Error(`no connection reached the container through the rule chain, port ${PORT_BASE + K}`)
    log(
      `  rule chain: nft add rule ${addFirstMs.toFixed(1)} ms as the 1st, ${addLastMs.toFixed(1)} ms as the ${K}th; ${chLast.rate.toFixed(0)} connections/s to the last, ${chFirst.rate.toFixed(0)} to the 1st`,
    )
    const med = (a: number[]) => median(a.length ? a : [NaN])
    const r: PortsResult = {
      k: K,
      netnsKit: {
        firstMs: times[0]!,
        first100MedianMs: med(times.slice(0, 100)),
        last100MedianMs: med(times.slice(-100)),
        lastMs: times[K - 1]!,
        totalS,
        samples,
        connPerSecLast: nkLast.rate,
        connPerSecFirst: nkFirst.rate,
        deleteFewMs,
        deleteManyMs,
      },
      ruleChain: { addFirstMs, addLastMs, bulkLoadS, connPerSecLast: chLast.rate, connPerSecFirst: chFirst.rate },
      ratios: {
        netnsKitLastOverFirst: med(times.slice(-100)) / med(times.slice(0, 100)),
        chainLastOverFirst: addLastMs / addFirstMs,
        connNetnsKitOverChain: nkLast.rate / chLast.rate,
      },
    }
    return r
  } finally {
    await destroyEnv(env, 1)
    await destroyEnv(chainEnv, 1)
  }
}

// --- part 4: the data path --------------------------------------------------------------

interface DataPath {
  seconds: number
  repeats: number
  plainVethGbps: number
  bridgeNoNftGbps: number
  containerToContainerGbps: number
  outsideRoutedGbps: number
  outsidePublishedGbps: number
}

async function iperf(serverNs: string, bind: string, port: number, clientNs: string, target: string, targetPort: number, seconds: number): Promise<number> {
  const server = startIn(serverNs, 'iperf3', ['-s', '-1', '--forceflush', '-B', bind, '-p', String(port)])
  try {
    await waitLine(server, /Server listening/)
    const r = await cmd('ip', ['netns', 'exec', clientNs, 'iperf3', '-c', target, '-p', String(targetPort), '-t', String(seconds), '-J'])
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }
    return j.end.sum_received.bits_per_second / 1e9
  } finally {
    server.kill('SIGTERM')
  }
}

async function datapath(o: Options, log: (s: string) => void): Promise<DataPath> {
  if ((await cmd('sh', ['-c', 'command -v iperf3'], { allowFail: true })).code !== 0) throw new Error('iperf3 not installed')
  const env = await makeEnv('iperf')
  const bare = await makeEnv('iperf-bare')
  const pa = nsName('pa'),
    pb = nsName('pb')
  try {
    // netns-kit: two containers on its bridge, masquerade, one published port.
    await netnsKit.network(env)
    const br = await Bridge.open('br0', { namespace: env.host })
    await wireNetnsKit(env, br, 0)
    await wireNetnsKit(env, br, 1)
    const c0 = containerIp(0),
      c1 = containerIp(1)
    void c1
    await NatRule.publish({ namespace: env.host, protocol: 'tcp', hostPort: 15201, containerIp: c0, containerPort: 5201 })
    await env.ext.routes.add({ to: '10.200.0.0/16', via: HOST_EXT_IP })
    // The same bridge with no nftables at all (what the kernel's bridge costs by itself).
    const bareBr = await Bridge.create({ name: 'br0', namespace: bare.host, up: true })
    for (const i of [0, 1]) {
      const ns = track(await Namespace.create(bare.ctr(i)))
      const pair = await VethPair.create({
        name: bare.veth(i),
        namespace: bare.host,
        master: bareBr,
        up: true,
        peer: { name: 'eth0', namespace: ns, up: true },
      })
      await pair.peer.addAddress(`${containerIp(i)}/16`)
    }
    // The plain veth: two namespaces joined back to back, no bridge, no NAT.
    const A = track(await Namespace.create(pa)),
      B = track(await Namespace.create(pb))
    const pair = await VethPair.create({ name: 'eth0', namespace: A, up: true, peer: { name: 'eth0', namespace: B, up: true } })
    await pair.host.addAddress('10.254.0.1/24')
    await pair.peer.addAddress('10.254.0.2/24')
    const s = o.iperfSeconds
    const paths: [keyof DataPath, string, () => Promise<number>][] = [
      ['plainVethGbps', 'plain veth', () => iperf(pa, '10.254.0.1', 5201, pb, '10.254.0.1', 5201, s)],
      ['bridgeNoNftGbps', 'container -> container, bridge without nftables', () => iperf(bare.ctr(0), c0, 5201, bare.ctr(1), c0, 5201, s)],
      ['containerToContainerGbps', 'container -> container (netns-kit)', () => iperf(env.ctr(0), c0, 5201, env.ctr(1), c0, 5201, s)],
      ['outsideRoutedGbps', 'outside -> container, routed (no NAT)', () => iperf(env.ctr(0), c0, 5201, env.extName, c0, 5201, s)],
      ['outsidePublishedGbps', 'outside -> published port (DNAT)', () => iperf(env.ctr(0), c0, 5201, env.extName, HOST_EXT_IP, 15201, s)],
    ]
    const repeats = o.quick ? 1 : 3
    const got = new Map<string, number[]>()
    for (let r = 0; r < repeats; r++) {
      for (const [k, , f] of paths) got.set(k, [...(got.get(k) ?? []), await f()])
    }
    const out = { seconds: s, repeats } as DataPath
    for (const [k, label] of paths) {
      const v = median(got.get(k)!)
      ;(out as unknown as Record<string, number>)[k] = v
      log(
        `  ${label}: ${v.toFixed(2)} Gbit/s (${got
          .get(k)!
          .map((x) => x.toFixed(1))
          .join(', ')})`,
      )
    }
    return out
  } finally {
    await destroyEnv(env, 2)
    await destroyEnv(bare, 2)
    await removeNamespaces([pa, pb])
  }
}

// --- output -----------------------------------------------------------------------------

interface Summary {
  tool: string
  label: string
  n: number
  status: string
  why?: string
  runs: number
  setup?: [number, number, number]
  teardown?: [number, number, number]
  cpu?: number
  background?: number
  eventLoopMaxMs?: number
  eventLoopP99Ms?: number
  eventLoopMeanMs?: number
  phases?: string
}

function summarize(rows: Row[]): Summary[] {
  return rows.map((r) => {
    const s: Summary = { tool: r.tool, label: r.label, n: r.n, status: r.status, why: r.why, runs: r.runs.length }
    if (r.runs.length) {
      const per = (f: (x: RunFigures) => number) => {
        const v = r.runs.map(f).map((x) => x / r.n)
        return [median(v), Math.min(...v), Math.max(...v)] as [number, number, number]
      }
      s.setup = per((x) => x.setupMs)
      s.teardown = per((x) => x.teardownMs)
      s.cpu = median(r.runs.map((x) => (x.cpuSetupMs + x.cpuTeardownMs) / r.n))
      const bg = r.runs.map((x) => x.backgroundMs).filter((x): x is number => x !== undefined)
      if (bg.length) s.background = median(bg) / r.n
      // A tool's own phases (the C floor), per container, median over the runs.
      const ph = (pick: (x: RunFigures) => Record<string, number> | undefined) => {
        const keys = Object.keys(r.runs.map(pick).find(Boolean) ?? {})
        return keys.map((k) => `${k} ${(median(r.runs.map((x) => pick(x)?.[k] ?? NaN).filter(Number.isFinite)) / r.n).toFixed(3)}`).join(', ')
      }
      if (r.runs.some((x) => x.setupPhases)) s.phases = `setup: ${ph((x) => x.setupPhases)}; teardown: ${ph((x) => x.teardownPhases)} (ms per container)`
      // The worst run's figures (largest max).
      const worst = r.runs
        .map((x) => x.eventLoop)
        .filter((x): x is NonNullable<RunFigures['eventLoop']> => x !== undefined)
        .sort((a, b) => b.maxMs - a.maxMs)[0]
      if (worst) {
        s.eventLoopMaxMs = worst.maxMs
        s.eventLoopP99Ms = worst.p99Ms
        s.eventLoopMeanMs = worst.meanMs
      }
    }
    return s
  })
}

const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
const fr = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(2)}x`)

interface ReportExtra {
  rootOk: string
  started: string
  seconds: number
  errors: string[]
  idleEl: string
  connect?: ConnectResult
}

const USER = 'netns-kit',
  FLOOR = 'c-floor',
  FLOOR_GROUP = 'c-floor-group'

/** The targets of issue 18 (and issue 12's connect figures), as measured in this run. */
function targets(o: Options, sums: Summary[], c: ConnectResult | undefined): string[] {
  const at = (tool: string, n: number) => sums.find((s) => s.tool === tool && s.n === n && s.setup)
  const rows: [string, string, boolean | undefined][] = []
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : 'missed')
  for (const n of o.ns) {
    const nk = at(USER, n)
    if (!nk) continue
    const vs = (tool: string, want: number, what: string) => {
      const t = at(tool, n)
      if (t)
        rows.push([
          `N=${n} setup ${want}x faster than ${what}`,
          `${fr(t.setup![0] / nk.setup![0])} (${f2(t.setup![0])} vs ${f2(nk.setup![0])} ms)`,
          t.setup![0] / nk.setup![0] >= want,
        ])
    }
    vs('ip-batch', 4, 'ip -batch + nft -f')
    vs('netavark', 50, 'netavark')
    vs('cni', 80, 'CNI')
    const fl = at(FLOOR, n)
    if (fl)
      rows.push([
        `N=${n} setup within 2x of the C floor`,
        `${fr(nk.setup![0] / fl.setup![0])} (${f2(nk.setup![0])} vs ${f2(fl.setup![0])} ms)`,
        nk.setup![0] / fl.setup![0] <= 2,
      ])
    if (n === 200) {
      rows.push([`N=200 teardown under 2 ms per container`, `${f2(nk.teardown![0])} ms`, nk.teardown![0] < 2])
      const ib = at('ip-batch', n)
      if (ib) rows.push([`N=200 teardown 15x better than ip -batch`, `${fr(ib.teardown![0] / nk.teardown![0])}`, ib.teardown![0] / nk.teardown![0] >= 15])
    }
  }
  if (o.ns.length > 1) {
    const lo = Math.min(...o.ns),
      hi = Math.max(...o.ns)
    const a = at(USER, lo),
      b = at(USER, hi)
    if (a && b) {
      rows.push([`per-container setup at N=${hi} within 1.2x of N=${lo}`, fr(b.setup![0] / a.setup![0]), b.setup![0] / a.setup![0] <= 1.2])
      rows.push([`per-container teardown at N=${hi} within 1.2x of N=${lo}`, fr(b.teardown![0] / a.teardown![0]), b.teardown![0] / a.teardown![0] <= 1.2])
    }
  }
  const el = sums.filter((s) => s.tool === USER && s.eventLoopMaxMs !== undefined).sort((x, y) => y.n - x.n)[0]
  if (el)
    rows.push([
      `event loop: longest delay while wiring N=${el.n} under 5 ms`,
      `${f2(el.eventLoopMaxMs)} ms (99th percentile ${f2(el.eventLoopP99Ms)} ms)`,
      el.eventLoopMaxMs! < 5,
    ])
  if (c) {
    for (const s of c.series.filter((x) => x.store === 'default')) {
      const mode = s.mode === 'seq' ? 'sequential' : `${c.options.concurrency} at a time`
      rows.push([
        `connect ${mode}, default store + DNS: last/first at ${s.n} endpoints <= 1.2`,
        fr(s.connect.last / s.connect.first),
        s.connect.last / s.connect.first <= 1.2,
      ])
      const m = c.series.find((x) => x.store === 'memory' && x.mode === s.mode)
      if (m)
        rows.push([
          `connect ${mode}: default store within 1.5x of MemoryStore (last ${Math.min(50, s.n >> 2)})`,
          fr(s.connect.last / m.connect.last),
          s.connect.last / m.connect.last <= 1.5,
        ])
    }
    for (const st of c.natDelete?.states ?? []) {
      const t = st.state === 'held' ? 'masquerade present' : 'no masquerade'
      rows.push([
        `NatRule.delete of the ${c.natDelete!.mappings}th as cheap as the 2nd (from publish(), ${t})`,
        fr(st.fromPublish.last / st.fromPublish.second),
        st.fromPublish.last / st.fromPublish.second <= 1.2,
      ])
      rows.push([
        `NatRule.delete of the ${c.natDelete!.mappings}th as cheap as the 2nd (from list(), ${t})`,
        fr(st.fromList.last / st.fromList.second),
        st.fromList.last / st.fromList.second <= 1.2,
      ])
    }
    if (c.disconnect)
      rows.push([
        `disconnect with ${c.disconnect.others} other mappings within 1.2x of none`,
        fr(c.disconnect.many.disconnect / c.disconnect.none.disconnect),
        c.disconnect.many.disconnect / c.disconnect.none.disconnect <= 1.2,
      ])
  }
  if (!rows.length) return []
  return [
    '## Targets (issue 18, issue 12), as measured in this run',
    '',
    '| target | measured | |',
    '|---|---|---|',
    ...rows.map(([t, m, ok]) => `| ${t} | ${m} | ${verdict(ok)} |`),
    '',
  ]
}

function report(o: Options, sums: Summary[], portsR: PortsResult | undefined, dp: DataPath | undefined, extra: ReportExtra): string {
  const L: string[] = []
  L.push(`# netns-kit benchmark results`, '')
  L.push(
    `Run ${extra.started}, ${extra.seconds.toFixed(0)} s, on ${process.platform} ${fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, ${
      fs
        .readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('processor')).length
    } CPUs, node ${process.version}. Load average at the start: ${LOAD_AT_START}.`,
  )
  L.push(
    `Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`${o.quick ? ' (quick mode)' : ''}. Runs per N: ${o.runs} (1 at N >= 1000); each run and part starts on a quiet machine (CPUs under 15% busy for 1 s; ${settledS.toFixed(0)} s waited in all${busyStarts ? `; ${busyStarts} started on a machine still busy after the wait` : ''}). Root namespace unchanged: ${extra.rootOk}. Library: ${require.resolve('../lib').includes(`${path.sep}dist${path.sep}`) ? 'dist/ (compiled, as installed from npm; bench/use-dist.cjs), the companion started from it' : 'lib/ (TypeScript sources through tsx; the companion too)'}.`,
    '',
  )
  L.push(
    'Per container, milliseconds: median [min–max] over the runs. CPU: this process (all threads) plus its waited-for children (the tools), setup + teardown.',
  )
  L.push(
    '"x C floor": the row\'s time over the C floor\'s (bench/floor.c: the same kernel work as Network.connect, pipelined), setup / teardown against the floor deleting each veth / teardown against the floor deleting the link group. ' +
      '"x netns-kit": the row\'s time over the netns-kit user path\'s (how many times faster the user path is), setup / teardown.',
    '',
  )
  L.push(...targets(o, sums, extra.connect))
  for (const n of o.ns) {
    const at = sums.filter((s) => s.n === n)
    if (!at.length) continue
    const nk = at.find((s) => s.tool === USER && s.setup)
    const fl = at.find((s) => s.tool === FLOOR && s.setup)
    const fg = at.find((s) => s.tool === FLOOR_GROUP && s.setup)
    L.push(`## N = ${n}`, '')
    L.push(
      '| tool | setup ms/ctr | teardown ms/ctr | CPU ms/ctr | x C floor (setup / teardown / teardown vs group delete) | x netns-kit (setup / teardown) | note |',
      '|---|---|---|---|---|---|---|',
    )
    for (const s of at) {
      if (!s.setup) {
        L.push(`| ${s.label} | – | – | – | – | – | ${s.status}: ${s.why ?? ''} |`)
        continue
      }
      const floor = fl ? `${fr(s.setup[0] / fl.setup![0])} / ${fr(s.teardown![0] / fl.teardown![0])} / ${fg ? fr(s.teardown![0] / fg.teardown![0]) : '–'}` : '–'
      const user = nk && s.tool !== USER ? `${fr(s.setup[0] / nk.setup![0])} / ${fr(s.teardown![0] / nk.teardown![0])}` : s.tool === USER ? '1x' : '–'
      const note = [
        s.background !== undefined ? `kernel still removing links after teardown returns: +${f2(s.background)} ms/ctr` : '',
        s.eventLoopMaxMs !== undefined ? `event loop max ${f2(s.eventLoopMaxMs)} ms, p99 ${f2(s.eventLoopP99Ms)} ms` : '',
        s.phases ?? '',
      ]
        .filter(Boolean)
        .join('; ')
      L.push(
        `| ${s.label} | ${f2(s.setup[0])} [${f2(s.setup[1])}–${f2(s.setup[2])}] | ${f2(s.teardown![0])} [${f2(s.teardown![1])}–${f2(s.teardown![2])}] | ${f2(s.cpu)} | ${floor} | ${user} | ${note} |`,
      )
    }
    L.push('')
  }
  if (o.ns.length > 1) {
    const lo = Math.min(...o.ns),
      hi = Math.max(...o.ns)
    L.push(`## Scaling: per-container time at N=${hi} over N=${lo}`, '')
    L.push('| tool | setup | teardown |', '|---|---|---|')
    for (const t of TOOLS) {
      const a = sums.find((s) => s.tool === t.key && s.n === lo),
        b = sums.find((s) => s.tool === t.key && s.n === hi)
      if (a?.setup && b?.setup) L.push(`| ${t.label} | ${fr(b.setup[0] / a.setup[0])} | ${fr(b.teardown![0] / a.teardown![0])} |`)
    }
    L.push('')
  }
  const elRows = sums.filter((s) => s.eventLoopMaxMs !== undefined)
  if (elRows.length) {
    L.push(
      '## Event loop while netns-kit wires the containers',
      '',
      `perf_hooks.monitorEventLoopDelay (1 ms resolution), the worst run at each N. ${extra.idleEl}`,
      '',
    )
    L.push('| row | N | max ms | 99th percentile ms | mean ms |', '|---|---|---|---|---|')
    for (const s of elRows) L.push(`| ${s.label} | ${s.n} | ${f2(s.eventLoopMaxMs)} | ${f2(s.eventLoopP99Ms)} | ${f2(s.eventLoopMeanMs)} |`)
    L.push('')
  }
  if (portsR) {
    const p = portsR
    L.push(`## Published ports at scale (k up to ${p.k})`, '')
    L.push('| | 1st | ' + `${p.k}th | ${p.k}th / 1st |`, '|---|---|---|---|')
    L.push(
      `| netns-kit NatRule.publish, one per call (median of the first / last 100, ms) | ${f2(p.netnsKit.first100MedianMs)} | ${f2(p.netnsKit.last100MedianMs)} | ${fr(p.ratios.netnsKitLastOverFirst)} |`,
    )
    L.push(
      `| per-port rule chain, one \`nft add rule\` (ms) | ${f2(p.ruleChain.addFirstMs)} | ${f2(p.ruleChain.addLastMs)} | ${fr(p.ratios.chainLastOverFirst)} |`,
    )
    L.push(
      `| netns-kit NatRule.delete() of one mapping, with 2 / ${p.k + 1} present (ms) | ${f2(p.netnsKit.deleteFewMs)} | ${f2(p.netnsKit.deleteManyMs)} | ${fr(p.netnsKit.deleteManyMs / p.netnsKit.deleteFewMs)} |`,
    )
    L.push(
      `| new TCP connections/s to that mapping, netns-kit (map element) | ${p.netnsKit.connPerSecFirst.toFixed(0)} | ${p.netnsKit.connPerSecLast.toFixed(0)} | ${fr(p.netnsKit.connPerSecLast / p.netnsKit.connPerSecFirst)} |`,
    )
    L.push(
      `| new TCP connections/s to that mapping, rule chain | ${p.ruleChain.connPerSecFirst.toFixed(0)} | ${p.ruleChain.connPerSecLast.toFixed(0)} | ${fr(p.ruleChain.connPerSecLast / p.ruleChain.connPerSecFirst)} |`,
    )
    L.push(
      '',
      `netns-kit: ${p.k} mappings in ${p.netnsKit.totalS.toFixed(1)} s (the very first call, which creates the tables: ${f2(p.netnsKit.firstMs)} ms; the ${p.k}th: ${f2(p.netnsKit.lastMs)} ms). Connections/s to the ${p.k}th mapping, netns-kit over the rule chain: ${fr(p.ratios.connNetnsKitOverChain)}. The chain's ${p.k - 2} middle rules were loaded in one nft -f (${p.ruleChain.bulkLoadS.toFixed(1)} s).`,
      '',
    )
  }
  if (dp) {
    L.push(`## Data path (iperf3, ${dp.seconds} s each, median of ${dp.repeats}, Gbit/s)`, '')
    L.push('| path | Gbit/s | vs plain veth |', '|---|---|---|')
    L.push(`| plain veth, no bridge, no NAT | ${dp.plainVethGbps.toFixed(2)} | 1x |`)
    L.push(`| container -> container, the same bridge with no nftables | ${dp.bridgeNoNftGbps.toFixed(2)} | ${fr(dp.bridgeNoNftGbps / dp.plainVethGbps)} |`)
    L.push(`| container -> container (netns-kit, bridge) | ${dp.containerToContainerGbps.toFixed(2)} | ${fr(dp.containerToContainerGbps / dp.plainVethGbps)} |`)
    L.push(`| outside -> container, routed through the host (no NAT) | ${dp.outsideRoutedGbps.toFixed(2)} | ${fr(dp.outsideRoutedGbps / dp.plainVethGbps)} |`)
    L.push(`| outside -> published port (netns-kit DNAT map) | ${dp.outsidePublishedGbps.toFixed(2)} | ${fr(dp.outsidePublishedGbps / dp.plainVethGbps)} |`, '')
  }
  if (extra.connect) L.push('## The user path as the network grows (npm run bench:connect)', '', connectReport(extra.connect))
  L.push('## What each row does', '')
  for (const t of TOOLS) L.push(`- **${t.label}**: ${t.note ?? ''}`)
  if (extra.errors.length) L.push('', '## Errors', '', ...extra.errors.map((e) => `- ${e}`))
  return L.join('\n') + '\n'
}

// --- main -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  if (process.getuid?.() !== 0) throw new Error('the benchmark creates network namespaces: run it as root')
  installExitCleanup()
  const started = new Date().toISOString()
  const T0 = performance.now()
  const log = (s: string) => console.log(s)
  const before = rootSnapshot()
  const errors: string[] = []
  // What the machine alone does to the event loop (other work on its cores, timers, GC): 3 s idle.
  const idle = monitorEventLoopDelay({ resolution: 1 })
  idle.enable()
  await sleep(3000)
  idle.disable()
  const idleEl = `Idle baseline in the same process (3 s, nothing running): max ${(idle.max / 1e6).toFixed(1)} ms, 99th percentile ${(idle.percentile(99) / 1e6).toFixed(2)} ms, mean ${(idle.mean / 1e6).toFixed(2)} ms.`
  log(idleEl)
  let rows: Row[] = [],
    portsR: PortsResult | undefined,
    dp: DataPath | undefined,
    connect: ConnectResult | undefined
  try {
    if (o.parts.includes('containers')) {
      log(`[1] containers: N = ${o.ns.join(', ')}`)
      rows = await containers(o, log)
    }
    if (o.parts.includes('ports')) {
      await quietly(log)
      log(`[2] published ports: ${o.ports}`)
      try {
        portsR = await ports(o, log)
      } catch (e) {
        errors.push(`ports: ${(e as Error).message}`)
        log(`  FAILED: ${(e as Error).message}`)
      }
    }
    if (o.parts.includes('datapath')) {
      await quietly(log)
      log('[4] data path (iperf3)')
      try {
        dp = await datapath(o, log)
      } catch (e) {
        errors.push(`data path: ${(e as Error).message}`)
        log(`  FAILED: ${(e as Error).message}`)
      }
    }
    if (o.parts.includes('connect')) {
      await quietly(log)
      const co = connectDefaults(o.quick)
      if (o.connectN) co.n = o.connectN
      log(`[5] the user path as the network grows (bench:connect): n = ${co.n}, ${co.mappings} mappings, ${co.others} other mappings`)
      connect = await connectBench(co, log)
      errors.push(...connect.errors.map((e) => `connect: ${e}`))
    }
  } finally {
    await cleanupAll()
  }
  await sleep(200)
  const diff = rootDiff(before, rootSnapshot())
  const rootOk = diff.length ? `NO (${diff.join('; ')})` : 'yes'
  const sums = summarize(rows)
  const md = report(o, sums, portsR, dp, { rootOk, started, seconds: ms(T0) / 1000, errors, idleEl, connect })
  console.log('\n' + md)
  if (o.out) {
    fs.writeFileSync(`${o.out}.md`, md)
    fs.writeFileSync(
      `${o.out}.json`,
      JSON.stringify(
        {
          started,
          options: o,
          runId: RUN_ID,
          rootNamespaceUnchanged: diff.length === 0,
          rootDiff: diff,
          containers: rows,
          summary: sums,
          ports: portsR,
          datapath: dp,
          connect: connect && connectJson(connect),
          errors,
        },
        null,
        1,
      ) + '\n',
    )
    console.log(`written: ${o.out}.md, ${o.out}.json`)
  }
  if (diff.length) process.exitCode = 1
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  async (e) => {
    console.error(e)
    await cleanupAll().catch(() => {})
    process.exit(1)
  },
)

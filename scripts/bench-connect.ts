// `npm run bench:connect`: what the path runtimes call costs as the network grows (issues 12, 18).
//
//   1. connects   Network.connect up to --n endpoints (default 1,000), one after another and 8 at a
//                 time, with the default store and DNS on, and with a MemoryStore and dns: false:
//                 the median of the first and the last 50 connects (and of the disconnects that
//                 follow: the first ones run with every endpoint still there), last/first, and the
//                 default store over MemoryStore.
//   2. nat-delete NatRule.delete() of the 2nd and of the --mappings-th (10,000) mapping, the object
//                 from publish() and from NatRule.list(), with a masquerade rule in the table (a
//                 network's lifetime) and without one.
//   3. disconnect Network.disconnect of a container with one published port, with no other mapping
//                 and with --others (5,000) other mappings.
//
//   npm run bench:connect                           # everything, as the full run does (~10 min today)
//   npm run bench:connect -- --quick                # n = 200, 1,000 mappings, 1,000 others
//   npm run bench:connect -- --parts connects --n 500 --modes seq
//   npm run bench:connect -- --out /tmp/c           # also writes /tmp/c.md and /tmp/c.json
//
// Everything happens in throwaway namespaces (bench/common.ts: a "host" per experiment), removed on
// every exit path; run as root, ideally through `sh bench/private.sh` (the npm script does), which
// gives the default store a tmpfs of its own. Numbers from a shared machine are noise: compare the
// rows of one run, not runs.
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import { Bridge, MemoryStore, Namespace, NatRule, Network, type Endpoint } from '../lib'
import {
  CONTAINER_PORT,
  GATEWAY,
  PREFIX,
  SUBNET,
  cleanupAll,
  containerIp,
  destroyEnv,
  installExitCleanup,
  makeEnv,
  median,
  removeNamespaces,
  settle,
  track,
  trackNetwork,
  untrackNetwork,
} from '../bench/common'
import { pool } from '../bench/tools'

export interface ConnectOptions {
  n: number
  concurrency: number
  modes: ('seq' | 'conc')[]
  mappings: number
  others: number
  reps: number
  parts: string[]
  publish: boolean
}

export const connectDefaults = (quick: boolean): ConnectOptions => ({
  n: quick ? 200 : 1000,
  concurrency: 8,
  modes: ['seq', 'conc'],
  mappings: quick ? 1000 : 10_000,
  others: quick ? 1000 : 5000,
  reps: 7,
  parts: ['connects', 'nat-delete', 'disconnect'],
  publish: false,
})

const ms = (t0: number) => performance.now() - t0
const WINDOW = 50

/** A full garbage collection now (the flag --expose-gc, set at run time): keeps one call's garbage out of the next call's time. */
v8.setFlagsFromString('--expose-gc')
const collectGarbage = vm.runInNewContext('gc') as () => void
/** How long the nat-delete part waits after its forced collection (see there). */
const SETTLE_MS = 200
async function settledHeap(): Promise<void> {
  collectGarbage()
  await new Promise((r) => setTimeout(r, SETTLE_MS))
}
const firstLast = (xs: number[]) => {
  const w = Math.min(WINDOW, Math.max(1, Math.floor(xs.length / 4)))
  return { first: median(xs.slice(0, w)), last: median(xs.slice(-w)), window: w }
}

// --- 1. connects --------------------------------------------------------------------------

export interface ConnectSeries {
  store: 'default' | 'memory'
  mode: 'seq' | 'conc'
  n: number
  /** Wall time of all connects, and of all disconnects (s). */
  totalS: number
  disconnectTotalS: number
  connect: { first: number; last: number; window: number; max: number }
  disconnect: { first: number; last: number; window: number; max: number }
  /** Every connect's time in ms, by start order (every 10th kept in the JSON). */
  samples: number[]
}

async function series(store: 'default' | 'memory', mode: 'seq' | 'conc', o: ConnectOptions, log: (s: string) => void): Promise<ConnectSeries> {
  const env = await makeEnv(`conn-${store}-${mode}`)
  const n = o.n
  try {
    const net = trackNetwork(
      await Network.create({
        name: env.hostName,
        namespace: env.host,
        subnet: SUBNET,
        gateway: GATEWAY,
        ...(store === 'memory' ? { store: new MemoryStore(), dns: false as const } : {}),
      }),
    )
    const c: number[] = new Array(n),
      d: number[] = new Array(n)
    const eps: { ns: Namespace; ep: Endpoint }[] = new Array(n)
    const k = mode === 'seq' ? 1 : o.concurrency
    const t0 = performance.now()
    await pool(n, k, async (i) => {
      const ns = track(await Namespace.create(env.ctr(i)))
      const t = performance.now()
      const ep = await net.connect(ns, { name: `c${i}`, ...(o.publish ? { publish: [{ hostPort: 20000 + i, containerPort: CONTAINER_PORT }] } : {}) })
      c[i] = ms(t)
      eps[i] = { ns, ep }
      if ((i + 1) % 200 === 0) log(`    ${store}/${mode}: ${i + 1} connected, the last took ${c[i]!.toFixed(1)} ms`)
    })
    const totalS = ms(t0) / 1000
    const t1 = performance.now()
    await pool(n, k, async (i) => {
      const t = performance.now()
      await net.disconnect(eps[i]!.ep)
      d[i] = ms(t)
    })
    const disconnectTotalS = ms(t1) / 1000
    await removeNamespaces(Array.from({ length: n }, (_, i) => env.ctr(i)))
    await untrackNetwork(net)
    const fc = firstLast(c),
      fd = firstLast(d)
    const r: ConnectSeries = {
      store,
      mode,
      n,
      totalS,
      disconnectTotalS,
      connect: { ...fc, max: Math.max(...c) },
      disconnect: { ...fd, max: Math.max(...d) },
      samples: c.map((x) => +x.toFixed(3)),
    }
    log(
      `  ${store === 'default' ? 'default store, DNS on' : 'MemoryStore, dns off '} ${mode === 'seq' ? 'sequential' : `${o.concurrency} at a time`}: connect first ${fc.window} ${fc.first.toFixed(2)} ms, last ${fc.window} ${fc.last.toFixed(2)} ms (x${(fc.last / fc.first).toFixed(2)}); ` +
        `disconnect first ${fd.first.toFixed(2)} ms, last ${fd.last.toFixed(2)} ms; ${n} connects in ${totalS.toFixed(1)} s, disconnects in ${disconnectTotalS.toFixed(1)} s`,
    )
    return r
  } finally {
    await destroyEnv(env, n)
  }
}

// --- 2. NatRule.delete ----------------------------------------------------------------------

export interface NatDeleteResult {
  mappings: number
  reps: number
  /** Per table state: held (a masquerade rule is there) or bare (none). Medians of `reps`, ms. */
  states: {
    state: 'held' | 'bare'
    fromPublish: { second: number; last: number }
    fromList: { second: number; last: number }
    listMs: { second: number; last: number }
  }[]
}

const NAT_BASE = 30000

async function natDelete(o: ConnectOptions, log: (s: string) => void): Promise<NatDeleteResult> {
  const K = o.mappings
  if (NAT_BASE + K > 65535) throw new Error('--mappings at most 35535')
  const out: NatDeleteResult = { mappings: K, reps: o.reps, states: [] }
  for (const state of ['held', 'bare'] as const) {
    // Two host namespaces side by side, one with 2 mappings and one with K, measured in turns
    // (which goes first alternates): this VM's drift over a run (the same delete varies 1-5 ms
    // from one minute to the next) lands on both alike, instead of on whichever was measured later.
    const small = await makeEnv(`natdel-${state}-2`)
    const big = await makeEnv(`natdel-${state}-${K}`)
    try {
      const ip = containerIp(0)
      const tables = [
        { env: small, port: NAT_BASE + 1 },
        { env: big, port: NAT_BASE + K - 1 },
      ]
      for (const { env } of tables) {
        const br = await Bridge.create({ name: 'br0', namespace: env.host, up: true })
        await br.addAddress(`${GATEWAY}/${PREFIX}`)
        if (state === 'held') await NatRule.masquerade({ namespace: env.host, source: SUBNET, notOutInterface: 'br0' })
      }
      const pub = (ns: Namespace, port: number) =>
        NatRule.publish({ namespace: ns, protocol: 'tcp', hostPort: port, containerIp: ip, containerPort: CONTAINER_PORT })
      // The small table: the 1st (the 2nd is the one measured). The big one: up to K - 1 in batches
      // (publishMany: one nf_tables batch each); the K-th is the one measured.
      await pub(small.host, NAT_BASE)
      for (let p = NAT_BASE; p < NAT_BASE + K - 1; p += 500) {
        const ports = Array.from({ length: Math.min(500, NAT_BASE + K - 1 - p) }, (_, j) => p + j)
        await NatRule.publishMany(
          ports.map((hostPort) => ({ namespace: big.host, protocol: 'tcp' as const, hostPort, containerIp: ip, containerPort: CONTAINER_PORT })),
        )
      }
      // Deletes the measured mapping R times in each table (published again before each): the
      // objects from publish(), then those from list(). A full collection before each timed delete,
      // then a pause of SETTLE_MS: list() makes objects for every mapping (~25 MB at 10,000), and
      // on 2 cores what follows their collection (the collector's concurrent sweeping, the memory
      // returned) ran under the timed delete. A probe (21 deletes each, medians, the same trips):
      // no pause, 3-5 ms more in the first trip after a list() of 10,000; 20 ms, 1.94 vs 2.38 ms
      // (the three concurrent listings slower); 200 ms, 2.26 vs 2.24. The list() itself is measured
      // apart (`listMs`).
      const a: number[][] = [[], []],
        b: number[][] = [[], []],
        l: number[][] = [[], []]
      for (let r = 0; r < o.reps; r++) {
        for (const i of r % 2 ? [1, 0] : [0, 1]) {
          const { env, port } = tables[i]!
          const rule = await pub(env.host, port)
          await settledHeap()
          const t = performance.now()
          await rule.delete()
          a[i]!.push(ms(t))
        }
      }
      for (let r = 0; r < o.reps; r++) {
        for (const i of r % 2 ? [1, 0] : [0, 1]) {
          const { env, port } = tables[i]!
          await pub(env.host, port)
          let t = performance.now()
          const listed = (await NatRule.list({ namespace: env.host })).find((x) => x.kind === 'publish' && x.hostPort === port)
          l[i]!.push(ms(t))
          if (!listed) throw new Error(`NatRule.list() has no mapping on port ${port}`)
          await settledHeap()
          t = performance.now()
          await listed.delete()
          b[i]!.push(ms(t))
        }
      }
      const s = {
        state,
        fromPublish: { second: median(a[0]!), last: median(a[1]!) },
        fromList: { second: median(b[0]!), last: median(b[1]!) },
        listMs: { second: median(l[0]!), last: median(l[1]!) },
      }
      out.states.push(s)
      log(
        `  NatRule.delete, ${state === 'held' ? 'masquerade rule present' : 'no masquerade rule'}: from publish() ${s.fromPublish.second.toFixed(2)} ms (2nd) vs ${s.fromPublish.last.toFixed(2)} ms (${K}th); ` +
          `from list() ${s.fromList.second.toFixed(2)} vs ${s.fromList.last.toFixed(2)} ms; list() itself ${s.listMs.second.toFixed(1)} vs ${s.listMs.last.toFixed(1)} ms`,
      )
    } finally {
      await destroyEnv(big, 1)
      await destroyEnv(small, 1)
    }
  }
  return out
}

// --- 3. disconnect with other mappings -------------------------------------------------------

export interface DisconnectResult {
  others: number
  reps: number
  none: { connect: number; disconnect: number }
  many: { connect: number; disconnect: number }
}

async function disconnectScaling(o: ConnectOptions, log: (s: string) => void): Promise<DisconnectResult> {
  const env = await makeEnv('disc')
  try {
    const net = trackNetwork(await Network.create({ name: env.hostName, namespace: env.host, subnet: SUBNET, gateway: GATEWAY }))
    const a = track(await Namespace.create(env.ctr(0)))
    const epA = await net.connect(a, { name: 'a', publish: [{ hostPort: 20000, containerPort: CONTAINER_PORT }] })
    const b = track(await Namespace.create(env.ctr(1)))
    const round = async () => {
      const c: number[] = [],
        d: number[] = []
      for (let r = 0; r < o.reps; r++) {
        let t = performance.now()
        const ep = await net.connect(b, { name: 'b', publish: [{ hostPort: 20001, containerPort: CONTAINER_PORT }] })
        c.push(ms(t))
        t = performance.now()
        await net.disconnect(ep)
        d.push(ms(t))
      }
      return { connect: median(c), disconnect: median(d) }
    }
    const none = await round()
    // Other mappings: to the first container's address (as its ports would be).
    for (let p = 0; p < o.others; p += 500) {
      const count = Math.min(500, o.others - p)
      await NatRule.publishMany(
        Array.from({ length: count }, (_, j) => ({
          namespace: env.host,
          protocol: 'tcp' as const,
          hostPort: 40000 + p + j,
          containerIp: epA.ip,
          containerPort: CONTAINER_PORT,
        })),
      )
    }
    const many = await round()
    log(
      `  disconnect of a container with one port: ${none.disconnect.toFixed(2)} ms with no other mapping, ${many.disconnect.toFixed(2)} ms with ${o.others} (x${(many.disconnect / none.disconnect).toFixed(2)}); ` +
        `its connect ${none.connect.toFixed(2)} vs ${many.connect.toFixed(2)} ms`,
    )
    await net.disconnect(epA)
    await untrackNetwork(net)
    return { others: o.others, reps: o.reps, none, many }
  } finally {
    await destroyEnv(env, 2)
  }
}

// --- the whole part -------------------------------------------------------------------------

export interface ConnectResult {
  options: ConnectOptions
  series: ConnectSeries[]
  natDelete?: NatDeleteResult
  disconnect?: DisconnectResult
  errors: string[]
  /** Seconds spent waiting for a quiet machine before the measurements (bench/common.ts settle()). */
  settled?: number
  /** Measurements started on a machine still busy after the wait (settle() gave up). */
  busyStarts?: number
}

export async function connectBench(o: ConnectOptions, log: (s: string) => void): Promise<ConnectResult> {
  const res: ConnectResult = { options: o, series: [], errors: [] }
  const attempt = async (what: string, f: () => Promise<void>) => {
    try {
      await f()
    } catch (e) {
      res.errors.push(`${what}: ${(e as Error).message.split('\n')[0]}`)
      log(`  ${what} FAILED: ${(e as Error).message}`)
    }
  }
  // Each measurement starts on a quiet machine: the kernel's tear-down of the namespaces deleted
  // before it (1,000 after a series) is not charged to its first calls.
  const quiet = async (what: string) => {
    const s = await settle()
    res.settled = (res.settled ?? 0) + s.ms / 1000
    if (!s.quiet) {
      res.busyStarts = (res.busyStarts ?? 0) + 1
      log(`  (the machine was still busy after ${(s.ms / 1000).toFixed(0)} s before ${what}: measured anyway)`)
    }
  }
  if (o.parts.includes('connects')) {
    for (const mode of o.modes) {
      for (const store of ['default', 'memory'] as const)
        await attempt(`connects ${store}/${mode}`, async () => {
          await quiet(`connects ${store}/${mode}`)
          res.series.push(await series(store, mode, o, log))
        })
    }
  }
  if (o.parts.includes('nat-delete'))
    await attempt('nat-delete', async () => {
      await quiet('nat-delete')
      res.natDelete = await natDelete(o, log)
    })
  if (o.parts.includes('disconnect'))
    await attempt('disconnect', async () => {
      await quiet('disconnect')
      res.disconnect = await disconnectScaling(o, log)
    })
  return res
}

const f2 = (x: number) => (!Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
const fx = (x: number) => (!Number.isFinite(x) ? '–' : `${x.toFixed(2)}x`)

export function connectReport(r: ConnectResult): string {
  const L: string[] = []
  const o = r.options
  if (r.series.length) {
    L.push(`### Network.connect as the network grows to ${o.n} endpoints`, '')
    L.push(
      `Latency of each connect (and disconnect), ms: median of the first and of the last ${Math.min(WINDOW, Math.floor(o.n / 4))} started ` +
        `(8 at a time, a call's latency includes waiting for the 7 others). "vs MemoryStore": the default store with DNS over a MemoryStore with dns: false, same mode. ` +
        `"wall/ctr": all connects' (disconnects') wall time over n.${o.publish ? ' Each connect publishes one port.' : ' No published ports.'}`,
      '',
    )
    L.push(
      '| store | mode | connect first | connect last | last / first | vs MemoryStore (last) | wall/ctr | disconnect first (all others there) | disconnect last | wall/ctr |',
      '|---|---|---|---|---|---|---|---|---|---|',
    )
    for (const s of r.series) {
      const mem = r.series.find((x) => x.store === 'memory' && x.mode === s.mode)
      const vs = s.store === 'default' && mem ? fx(s.connect.last / mem.connect.last) : ''
      L.push(
        `| ${s.store === 'default' ? 'default store, DNS on' : 'MemoryStore, dns off'} | ${s.mode === 'seq' ? 'sequential' : `${o.concurrency} at a time`} | ${f2(s.connect.first)} | ${f2(s.connect.last)} | ${fx(s.connect.last / s.connect.first)} | ${vs} | ${f2((s.totalS * 1000) / s.n)} | ${f2(s.disconnect.first)} | ${f2(s.disconnect.last)} | ${f2((s.disconnectTotalS * 1000) / s.n)} |`,
      )
    }
    L.push('')
  }
  if (r.natDelete) {
    const d = r.natDelete
    L.push(`### NatRule.delete() of the 2nd and of the ${d.mappings}th mapping (median of ${d.reps}, ms)`, '')
    L.push(`| table | object from | 2nd | ${d.mappings}th | ratio |`, '|---|---|---|---|---|')
    for (const s of d.states) {
      const t = s.state === 'held' ? 'masquerade rule present' : 'no masquerade rule'
      L.push(`| ${t} | publish() | ${f2(s.fromPublish.second)} | ${f2(s.fromPublish.last)} | ${fx(s.fromPublish.last / s.fromPublish.second)} |`)
      L.push(`| ${t} | NatRule.list() | ${f2(s.fromList.second)} | ${f2(s.fromList.last)} | ${fx(s.fromList.last / s.fromList.second)} |`)
      L.push(`| ${t} | (NatRule.list() itself) | ${f2(s.listMs.second)} | ${f2(s.listMs.last)} | ${fx(s.listMs.last / s.listMs.second)} |`)
    }
    L.push('')
  }
  if (r.disconnect) {
    const d = r.disconnect
    L.push(`### Network.disconnect of a container with one published port (median of ${d.reps}, ms)`, '')
    L.push(`| | no other mapping | ${d.others} other mappings | ratio |`, '|---|---|---|---|')
    L.push(`| disconnect | ${f2(d.none.disconnect)} | ${f2(d.many.disconnect)} | ${fx(d.many.disconnect / d.none.disconnect)} |`)
    L.push(`| connect (the same container, before) | ${f2(d.none.connect)} | ${f2(d.many.connect)} | ${fx(d.many.connect / d.none.connect)} |`, '')
  }
  if (r.settled !== undefined)
    L.push(
      `Each measurement started on a quiet machine (its CPUs under 15% busy for 1 s: the kernel done tearing down the namespaces before it); waited ${r.settled.toFixed(0)} s in all` +
        `${r.busyStarts ? `; ${r.busyStarts} started on a machine still busy after 60 s` : ''}.`,
      '',
    )
  if (r.errors.length) L.push('Errors:', '', ...r.errors.map((e) => `- ${e}`), '')
  return L.join('\n')
}

/** The JSON without every sample (every 10th connect kept). */
export function connectJson(r: ConnectResult): unknown {
  return { ...r, series: r.series.map((s) => ({ ...s, samples: s.samples.filter((_, i) => i % 10 === 0) })) }
}

function parse(argv: string[]): { o: ConnectOptions; out?: string } {
  const o = connectDefaults(argv.includes('--quick'))
  let out: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!,
      v = argv[i + 1]
    const num = () => {
      const x = Number(v)
      if (!Number.isInteger(x) || x < 1) throw new Error(`${a} needs a positive integer`)
      i++
      return x
    }
    switch (a) {
      case '--quick':
        break
      case '--n':
        o.n = num()
        break
      case '--concurrency':
        o.concurrency = num()
        break
      case '--mappings':
        o.mappings = num()
        break
      case '--others':
        o.others = num()
        break
      case '--reps':
        o.reps = num()
        break
      case '--modes':
        o.modes = v!.split(',') as ConnectOptions['modes']
        i++
        break
      case '--parts':
        o.parts = v!.split(',')
        i++
        break
      case '--publish':
        o.publish = true
        break
      case '--out':
        out = path.resolve(v!)
        i++
        break
      default:
        // A bare number: --n (the old `npm run bench:connect -- N`).
        if (/^\d+$/.test(a)) {
          o.n = Number(a)
          break
        }
        throw new Error(`unknown option ${a} (see the head of scripts/bench-connect.ts)`)
    }
  }
  return { o, out }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark creates network namespaces: run it as root')
  const { o, out } = parse(process.argv.slice(2))
  installExitCleanup()
  const t0 = performance.now()
  console.log(`bench:connect: n = ${o.n}, modes ${o.modes.join(',')}, ${o.mappings} mappings, ${o.others} others, parts ${o.parts.join(',')}`)
  try {
    const r = await connectBench(o, (s) => console.log(s))
    const md = connectReport(r)
    console.log('\n' + md + `\n(${(ms(t0) / 1000).toFixed(0)} s)`)
    if (out) {
      fs.writeFileSync(`${out}.md`, md)
      fs.writeFileSync(`${out}.json`, JSON.stringify(connectJson(r), null, 1) + '\n')
      console.log(`written: ${out}.md, ${out}.json`)
    }
    if (r.errors.length) process.exitCode = 1
  } finally {
    await cleanupAll()
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    async (e) => {
      console.error(e)
      await cleanupAll().catch(() => {})
      process.exit(1)
    },
  )
}

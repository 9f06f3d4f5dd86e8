// Where the user path's time goes (issue 18): N containers wired one after another with
// Namespace.create + Network.connect (default store, DNS on, one published port), then each
// disconnected and its namespace deleted, in a throwaway host. Nothing in lib/ is changed: the
// addon's functions, the store's methods and the DNS classes are wrapped here and every call is
// timed, then each connect's and disconnect's wall time is split by what was running.
//
//   sh bench/private.sh npx tsx bench/user-phases.ts [N=300] [--json FILE]
//   sh bench/private.sh node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/user-phases.ts 300
//                                   (then: npx tsx bench/cpuprofile-top.ts /tmp/prof/*.cpuprofile)
//
// Categories (a moment counts for the innermost call running then; calls that overlap, such as
// lookups sent side by side, count for the one started last):
//   store          the store's get/list/transact/compareAndSwap (default store: files under a lock)
//   dns            DnsRecords.set/delete (the resolver's record set), Resolver.start/close
//   companion      requests to the companion process (prepare: ports held and the resolver listening; sync)
//   ns             addon createNamespace/deleteNamespace (unshare + bind mount / umount + unlink)
//   rtnl change    addon rtnl() trips that change something (link.create/set, addr, route, sysctl ops)
//   rtnl lookup    addon rtnl() trips that only read (link.get, dumps)
//   link delete    addon rtnl() with link.delete, and linkUnregister (the veth's delete, resolved at
//                  the kernel's RTM_DELLINK notification, lib/kernel/rtnl.ts unregisterLinks)
//   nft batch      addon nft(): one atomic nf_tables batch
//   nft lookup     addon nftList(): tables, rules, elements (by key, or whole maps)
//   sysctl         addon sysctlGet/sysctlSet
//   socket         addon openSocket (the resolver's sockets in the container)
//   other          nothing of the above running: JavaScript on the event loop and promise hops
import * as fs from 'node:fs'
import { DnsRecords, Namespace, Network, Resolver, type Endpoint } from '../lib'
import { Companion } from '../lib/companion/client'
import { native } from '../lib/kernel/binding'
import { CONTAINER_PORT, GATEWAY, SUBNET, cleanupAll, hostPort, installExitCleanup, makeEnv, median, track, trackNetwork, untrackNetwork } from './common'

type Cat = 'store' | 'dns' | 'companion' | 'ns' | 'rtnl change' | 'rtnl lookup' | 'link delete' | 'nft batch' | 'nft lookup' | 'sysctl' | 'socket' | 'other'
const CATS: Cat[] = ['store', 'dns', 'companion', 'ns', 'rtnl change', 'rtnl lookup', 'link delete', 'nft batch', 'nft lookup', 'sysctl', 'socket', 'other']

interface Span {
  cat: Cat
  what: string
  t0: number
  t1: number
}
let spans: Span[] | undefined
/** Store records returned as arrays (list()) during the current operation (what grows with the network). */
let listed = 0

function timed<A extends unknown[], R>(cat: Cat | ((...a: A) => Cat), what: string | ((...a: A) => string), f: (...a: A) => R): (...a: A) => R {
  return function (this: unknown, ...a: A): R {
    const rec = spans
    const t0 = performance.now()
    const r = f.apply(this, a)
    const c = typeof cat === 'function' ? cat(...a) : cat
    const w = typeof what === 'function' ? what(...a) : what
    if (r instanceof Promise) {
      return r.finally(() => {
        rec?.push({ cat: c, what: w, t0, t1: performance.now() })
      }) as R
    }
    rec?.push({ cat: c, what: w, t0, t1: performance.now() })
    return r
  }
}

function instrument(store: object): void {
  const nb = native() as unknown as Record<string, (...a: unknown[]) => unknown>
  const wrap = (name: string, cat: Cat | ((...a: unknown[]) => Cat), what?: (...a: unknown[]) => string) => {
    const f = nb[name]!.bind(nb)
    nb[name] = timed(cat, what ?? name, f)
  }
  wrap('createNamespace', 'ns')
  wrap('deleteNamespace', 'ns')
  wrap('sysctlGet', 'sysctl', (_ns, k) => `sysctl get ${String(k)}`)
  wrap('sysctlSet', 'sysctl', (_ns, k) => `sysctl set ${String(k)}`)
  wrap('openSocket', 'socket')
  wrap('nft', 'nft batch', (_ns, msgs) => `nft batch ${(msgs as { op: string; set?: string }[]).map((m) => `${m.op}${m.set ? ` ${m.set}` : ''}`).join(', ')}`)
  wrap('nftList', 'nft lookup', (_ns, q) => {
    const x = q as { what: string; set?: string; keys?: unknown[]; brief?: boolean }
    return `nft list ${x.what}${x.set ? ` ${x.set}` : ''}${x.keys ? ' by key' : x.what === 'elements' ? ' (whole map)' : ''}${x.brief ? ' brief' : ''}`
  })
  wrap('linkUnregister', 'link delete', () => 'linkUnregister')
  const READS = new Set(['link.get', 'link.list', 'addr.list', 'route.list', 'neigh.list', 'route.get'])
  wrap(
    'rtnl',
    (ops) => {
      const o = ops as { op: string }[]
      if (o.some((x) => x.op === 'link.delete')) return 'link delete'
      return o.every((x) => READS.has(x.op)) ? 'rtnl lookup' : 'rtnl change'
    },
    (ops) => `rtnl ${(ops as { op: string }[]).map((x) => x.op).join(', ')}`,
  )
  // The store: whatever class the default is, every method of its prototype (a FileStore's get, list,
  // transact, compareAndSwap; another store's own); arrays returned count as records read.
  const proto = Object.getPrototypeOf(store) as Record<string, (...a: unknown[]) => unknown>
  for (const m of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, m)
    if (m === 'constructor' || !d || typeof d.value !== 'function') continue
    const f = d.value as (...a: unknown[]) => unknown
    proto[m] = timed('store', `store.${m}`, function (this: unknown, ...a: unknown[]) {
      const r = f.apply(this, a)
      const count = (x: unknown) => {
        if (Array.isArray(x)) listed += x.length
        return x
      }
      return r instanceof Promise ? r.then(count) : count(r)
    })
  }
  const dr = DnsRecords.prototype as unknown as Record<string, (...a: unknown[]) => unknown>
  for (const m of ['set', 'delete']) dr[m] = timed('dns', `DnsRecords.${m}`, dr[m]!)
  const rs = Resolver as unknown as Record<string, (...a: unknown[]) => unknown>
  rs.start = timed('dns', 'Resolver.start', rs.start!.bind(Resolver))
  const rp = Resolver.prototype as unknown as Record<string, (...a: unknown[]) => unknown>
  rp.close = timed('dns', 'Resolver.close', rp.close!)
  const cp = Companion.prototype as unknown as Record<string, (...a: unknown[]) => unknown>
  for (const m of ['prepare', 'sync', 'ensure']) cp[m] = timed('companion', `companion.${m}`, cp[m]!)
}

/** Splits [t0, t1] among the categories: each moment goes to the innermost (latest started) span running. */
function split(all: Span[], t0: number, t1: number): Record<Cat, number> {
  const out = Object.fromEntries(CATS.map((c) => [c, 0])) as Record<Cat, number>
  const ev: { t: number; s: Span; start: boolean }[] = []
  for (const s of all) {
    ev.push({ t: Math.max(s.t0, t0), s, start: true })
    ev.push({ t: Math.min(s.t1, t1), s, start: false })
  }
  ev.sort((a, b) => a.t - b.t || (a.start ? 1 : -1))
  const active: Span[] = []
  let last = t0
  for (const e of ev) {
    const top = active[active.length - 1]
    out[top ? top.cat : 'other'] += e.t - last
    last = e.t
    if (e.start) active.push(e.s)
    else active.splice(active.lastIndexOf(e.s), 1)
  }
  out.other += t1 - last
  return out
}

interface OpTrace {
  wall: number
  by: Record<Cat, number>
  calls: Record<string, number>
  listed: number
  slowest: { what: string; ms: number }[]
}

async function traced(f: () => Promise<unknown>): Promise<OpTrace> {
  spans = []
  listed = 0
  const t0 = performance.now()
  await f()
  const t1 = performance.now()
  const mine = spans
  spans = undefined
  const calls: Record<string, number> = {}
  for (const s of mine) calls[s.what] = (calls[s.what] ?? 0) + 1
  const slowest = [...mine]
    .sort((a, b) => b.t1 - b.t0 - (a.t1 - a.t0))
    .slice(0, 3)
    .map((s) => ({ what: s.what, ms: +(s.t1 - s.t0).toFixed(3) }))
  return { wall: t1 - t0, by: split(mine, t0, t1), calls, listed, slowest }
}

function table(title: string, traces: OpTrace[], w: number): string {
  const first = traces.slice(0, w),
    last = traces.slice(-w)
  const med = (xs: OpTrace[], f: (t: OpTrace) => number) => median(xs.map(f))
  const L = [
    `${title}: ${traces.length} calls; median ms of the first ${w} and of the last ${w}`,
    '',
    '| phase | first | last | last - first |',
    '|---|---|---|---|',
  ]
  L.push(
    `| **wall** | ${med(first, (t) => t.wall).toFixed(2)} | ${med(last, (t) => t.wall).toFixed(2)} | ${(med(last, (t) => t.wall) - med(first, (t) => t.wall)).toFixed(2)} |`,
  )
  for (const c of CATS) {
    const a = med(first, (t) => t.by[c]),
      b = med(last, (t) => t.by[c])
    if (a < 0.005 && b < 0.005) continue
    L.push(`| ${c} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(b - a).toFixed(2)} |`)
  }
  L.push(`| (store records read by list()) | ${med(first, (t) => t.listed)} | ${med(last, (t) => t.listed)} | |`)
  L.push('', 'Calls per operation (the last one):', '')
  const lastOne = traces[traces.length - 1]!
  for (const [k, v] of Object.entries(lastOne.calls).sort((a, b) => b[1] - a[1])) L.push(`- ${v} x ${k}`)
  L.push('', `Slowest calls in the last one: ${lastOne.slowest.map((s) => `${s.what} ${s.ms} ms`).join('; ')}`, '')
  return L.join('\n')
}

async function main(): Promise<void> {
  const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 300)
  const jsonAt = process.argv.indexOf('--json')
  installExitCleanup()
  const env = await makeEnv('uphases')
  try {
    const net = trackNetwork(await Network.create({ name: env.hostName, namespace: env.host, subnet: SUBNET, gateway: GATEWAY }))
    instrument(net.store)
    const conn: OpTrace[] = [],
      disc: OpTrace[] = [],
      nsc: OpTrace[] = [],
      nsd: OpTrace[] = []
    const wired: { ns: Namespace; ep: Endpoint }[] = []
    for (let i = 0; i < n; i++) {
      let ns!: Namespace
      nsc.push(
        await traced(async () => {
          ns = track(await Namespace.create(env.ctr(i)))
        }),
      )
      let ep!: Endpoint
      conn.push(
        await traced(async () => {
          ep = await net.connect(ns, { name: `c${i}`, publish: [{ hostPort: hostPort(i), containerPort: CONTAINER_PORT }] })
        }),
      )
      wired.push({ ns, ep })
      if ((i + 1) % 100 === 0) console.error(`${i + 1} connected (last: ${conn[i]!.wall.toFixed(1)} ms)`)
    }
    for (const w of wired) {
      disc.push(await traced(() => net.disconnect(w.ep)))
      nsd.push(await traced(() => w.ns.delete()))
    }
    const w = Math.min(50, Math.max(1, n >> 2))
    const out = [
      `# The user path, phase by phase (N = ${n}, one after another, default store, DNS on, one published port)`,
      '',
      table('Namespace.create', nsc, w),
      table('Network.connect', conn, w),
      table('Network.disconnect (the first ones run with every other endpoint still there)', disc, w),
      table('Namespace.delete', nsd, w),
    ].join('\n')
    console.log(out)
    if (jsonAt > 0) fs.writeFileSync(process.argv[jsonAt + 1]!, JSON.stringify({ n, connect: conn, disconnect: disc, nsCreate: nsc, nsDelete: nsd }, null, 1))
    await untrackNetwork(net)
  } finally {
    await cleanupAll()
  }
}

void main().catch(async (e) => {
  console.error(e)
  await cleanupAll().catch(() => {})
  process.exit(1)
})

// How Network.connect's cost grows with the network (issue 12, input 7): N containers connected one
// after another (default 1,000) with the default store and DNS on, then the same with a MemoryStore
// and dns: false; prints the median of the first and of the last 50 connects, last/first, and the
// default store over MemoryStore. Run as root, ideally in a private namespace and /run
// (`/work/tools/sandbox npx tsx scripts/bench-connect-growth.ts [N]`): everything happens in
// throwaway namespaces, removed at the end. NK_BENCH_STORE_DIR: a SqliteStore there instead of
// /run/netns-kit/state.db. (The bench branch's `npm run bench:connect -- --parts connects` measures
// the same, and 8 at a time.)
import * as fs from 'node:fs'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'
import { MemoryStore, Namespace, Network, SqliteStore, type NetworkStore } from '../lib'

const N = Math.max(100, Number(process.argv[2] ?? 1000))
const W = 50
const tag = randomBytes(2).toString('hex')

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function series(label: string, host: Namespace, cs: Namespace[], opts: { store?: NetworkStore; dns: boolean; subnet: string }): Promise<{ first: number; last: number }> {
  const net = await Network.create({ name: `growth-${tag}-${opts.dns ? 'd' : 'm'}`, namespace: host, subnet: opts.subnet, ...(opts.store ? { store: opts.store } : {}), ...(opts.dns ? {} : { dns: false as const }) })
  const t: number[] = []
  try {
    for (const [i, c] of cs.entries()) {
      const t0 = performance.now()
      await net.connect(c, { name: `c${i}` })
      t.push(performance.now() - t0)
      if ((i + 1) % 250 === 0) console.log(`  ${label}: ${i + 1} connected, the last took ${t[i]!.toFixed(2)} ms`)
    }
  } finally {
    await net.remove({ force: true })
  }
  const first = median(t.slice(0, W))
  const last = median(t.slice(-W))
  console.log(`${label}: first ${W} median ${first.toFixed(2)} ms, last ${W} median ${last.toFixed(2)} ms, last/first ${(last / first).toFixed(2)}`)
  return { first, last }
}

async function main(): Promise<void> {
  const dir = process.env.NK_BENCH_STORE_DIR ? fs.mkdtempSync(path.join(process.env.NK_BENCH_STORE_DIR, 'nk-growth-')) : undefined
  const store = dir ? new SqliteStore({ path: path.join(dir, 'state.db') }) : undefined
  const host = await Namespace.create(`nk-g${tag}`)
  const cs: Namespace[] = []
  try {
    for (let i = 0; i < N; i++) cs.push(await Namespace.create(`nk-g${tag}-${i}`))
    console.log(`${N} sequential connects; store: ${dir ? `SqliteStore in ${dir}` : 'the default (SqliteStore on /run/netns-kit/state.db)'}`)
    const d = await series('default store, DNS on', host, cs, { store, dns: true, subnet: '10.77.0.0/16' })
    const m = await series('MemoryStore, dns off', host, cs, { store: new MemoryStore(), dns: false, subnet: '10.78.0.0/16' })
    console.log(`default/MemoryStore: first ${(d.first / m.first).toFixed(2)}x, last ${(d.last / m.last).toFixed(2)}x`)
  } finally {
    for (const c of cs) await c.delete().catch(() => {})
    await host.delete().catch(() => {})
    await store?.close()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})

// Measures Network.connect + disconnect for one container (`npm run bench:connect [-- N]`).
// Everything happens in throwaway namespaces (a host and a container, random nk-xxxxxx names)
// with the default store (the SqliteStore on /run/netns-kit/state.db, or one in
// NK_BENCH_STORE_DIR); all of it is removed at the end.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'
import { MemoryStore, Namespace, Network, SqliteStore, type NetworkStore } from '../lib'

const N = Math.max(50, Number(process.argv[2] ?? 100))
const name = () => `nk-${randomBytes(3).toString('hex')}`

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  return `median ${med.toFixed(2)} ms  min ${s[0]!.toFixed(2)} ms  max ${s[s.length - 1]!.toFixed(2)} ms  p90 ${s[Math.floor(s.length * 0.9)]!.toFixed(2)} ms`
}

async function main(): Promise<void> {
  // The default store (/run/netns-kit is tmpfs on a normal Linux host), unless NK_BENCH_STORE_DIR
  // names another place for a SqliteStore of its own (a disk, to see fsync).
  const tmp = process.env.NK_BENCH_STORE_DIR ? fs.mkdtempSync(path.join(process.env.NK_BENCH_STORE_DIR, 'nk-bench-')) : undefined
  const store: NetworkStore | undefined = tmp ? new SqliteStore({ path: path.join(tmp, 'state.db') }) : undefined
  console.log(`store: ${tmp ? `SqliteStore in ${tmp}` : 'the default (SqliteStore on /run/netns-kit/state.db)'}`)
  const host = await Namespace.create(name())
  const container = await Namespace.create(name())
  try {
    const plain = await Network.create({ name: 'bench', namespace: host, store, subnet: '172.22.0.0/16', dns: false })
    const withPort = await Network.create({ name: 'bench-p', namespace: host, store, subnet: '172.23.0.0/16', dns: false })
    const run = async (net: Network, opts: Parameters<Network['connect']>[1]) => {
      const c: number[] = [], d: number[] = []
      for (let i = 0; i < N + 5; i++) {
        const t0 = process.hrtime.bigint()
        const ep = await net.connect(container, opts)
        const t1 = process.hrtime.bigint()
        await net.disconnect(ep)
        const t2 = process.hrtime.bigint()
        if (i >= 5) { c.push(Number(t1 - t0) / 1e6); d.push(Number(t2 - t1) / 1e6) } // 5 warm-up rounds
      }
      return { c, d }
    }
    console.log(`Network.connect / disconnect, ${N} rounds each (after 5 warm-up rounds), one container`)
    const a = await run(plain, {})
    console.log(`connect (veth, address, route):       ${stats(a.c)}`)
    console.log(`disconnect:                           ${stats(a.d)}`)
    const b = await run(withPort, { publish: [{ hostPort: 8080, containerPort: 80 }] })
    console.log(`connect with one published port:      ${stats(b.c)}`)
    console.log(`disconnect with one published port:   ${stats(b.d)}`)
    // The same with the store in memory: what is left is the kernel work (and the JS around it).
    const mem = await Network.create({ name: 'bench-m', namespace: host, store: new MemoryStore(), subnet: '172.24.0.0/16', dns: false })
    const m = await run(mem, {})
    console.log(`connect, MemoryStore:                 ${stats(m.c)}`)
    console.log(`disconnect, MemoryStore:              ${stats(m.d)}`)
    await plain.remove({ force: true })
    await withPort.remove({ force: true })
    await mem.remove({ force: true })
  } finally {
    await container.delete().catch(() => {})
    await host.delete().catch(() => {})
    await store?.close()
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})

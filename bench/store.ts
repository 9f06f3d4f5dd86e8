// `npm run bench:store`: the SQLite state store on its own (issue 12). No kernel, no root; the
// database goes in a temporary folder on tmpfs when /dev/shm exists (as /run/netns-kit is).
//
//   1. flatness: connect (begin + finish), disconnect (begin + finish), name lookups and a network's record with 0, 1,000
//      and 10,000 endpoints already recorded: the median per call should not grow with the count;
//   2. contention: 4 processes (by default) each running connect/disconnect cycles on one network
//      while this process runs its own and measures its event loop (perf_hooks.monitorEventLoopDelay).
//
//   npm run bench:store                               sizes 0,1000,10000; 4 processes x 300 cycles
//   npm run bench:store -- --sizes 0,1000 --procs 4 --cycles 100 --samples 100
import { fork, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { SqliteStore } from '../lib/ipam/sqlite-store'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '0,1000,10000' },
    samples: { type: 'string', default: '200' },
    procs: { type: 'string', default: '4' },
    cycles: { type: 'string', default: '300' },
    think: { type: 'string', default: '2' },
  },
})
const sizes = values.sizes!.split(',').map(Number)
const samples = Number(values.samples)
const procs = Number(values.procs)
const cycles = Number(values.cycles)
const think = Number(values.think)

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN
}
const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
/** Time this thread spent runnable but waiting for a CPU (second field of schedstat, ns). */
const runQueueMs = () => {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6
  } catch {
    return 0
  }
}
let ino = 4026700000
const ns = () => ({ dev: '4', ino: String(ino++) })

async function flatness(dir: string): Promise<void> {
  console.log('\n1. per call, by endpoints already recorded (median of', samples, 'calls)')
  console.log('   endpoints   connect (begin+finish)   disconnect (begin+finish)   endpointByName   resolve (2 per alias)   network (its record)')
  const store = new SqliteStore({ path: path.join(dir, 'flat.db'), importFileStore: false })
  const n = await store.beginCreateNetwork({ name: 'flat', driver: 'bridge', host: { dev: '4', ino: '1' }, pools: [{ subnet: '10.0.0.0/14' }] })
  await store.finishCreateNetwork(n.id)
  let have = 0
  for (const size of sizes) {
    for (; have < size; have++) {
      const r = await store.beginConnect(n.id, {
        name: `bg-${have}`,
        aliases: [`alias-${have >> 1}`],
        ns: ns(),
        addresses: [{ family: 4 }],
        ports: [{ containerPort: 80 }],
      })
      await store.finishConnect(r.endpoint.id, { rules: [`rule-${have}`] })
    }
    Object.assign(store.stats, { calls: 0, totalSyncMs: 0, maxSyncMs: 0, busyRetries: 0 })
    const conn: number[] = []
    const disc: number[] = []
    const byName: number[] = []
    const res: number[] = []
    const netRead: number[] = []
    for (let i = 0; i < samples; i++) {
      let t = performance.now()
      const r = await store.beginConnect(n.id, { name: `s-${size}-${i}`, ns: ns(), addresses: [{ family: 4 }], ports: [{ containerPort: 80 }] })
      await store.finishConnect(r.endpoint.id, { rules: [`r-${size}-${i}`] })
      conn.push(performance.now() - t)
      t = performance.now()
      await store.endpointByName(n.id, `bg-${i % Math.max(1, have)}`)
      byName.push(performance.now() - t)
      t = performance.now()
      await store.resolve(n.id, `alias-${(i % Math.max(1, have)) >> 1}`)
      res.push(performance.now() - t)
      t = performance.now()
      await store.network(n.id)
      netRead.push(performance.now() - t)
      t = performance.now()
      await store.beginDisconnect(r.endpoint.id)
      await store.finishDisconnect(r.endpoint.id)
      disc.push(performance.now() - t)
    }
    console.log(
      `   ${String(size).padStart(9)}   ${us(median(conn)).padStart(22)}   ${us(median(disc)).padStart(25)}   ${us(median(byName)).padStart(14)}   ${us(median(res)).padStart(21)}   ${us(median(netRead)).padStart(20)}`,
    )
  }
  console.log(
    `   (alone, at ${have} endpoints: longest SQLite call ${store.stats.maxSyncMs.toFixed(2)} ms, mean ${(store.stats.totalSyncMs / store.stats.calls).toFixed(3)} ms)`,
  )
  await store.close()
}

async function contention(dir: string): Promise<void> {
  console.log(
    `\n2. ${procs} other processes x ${cycles} connect/disconnect cycles (${think} ms of "kernel work" between begin and finish), and this one doing the same`,
  )
  const db = path.join(dir, 'contend.db')
  const store = new SqliteStore({ path: db, importFileStore: false, busyTimeoutMs: 60000 })
  const n = await store.beginCreateNetwork({ name: 'c', driver: 'bridge', host: { dev: '4', ino: '1' }, pools: [{ subnet: '10.4.0.0/16' }] })
  await store.finishCreateNetwork(n.id)
  const worker = path.join(__dirname, '..', 'test', 'fixtures', 'store-worker.ts')
  const kids: ChildProcess[] = Array.from({ length: procs }, (_, i) =>
    fork(worker, ['loop', db, n.id, String(cycles), `w${i}`, String(think)], {
      execArgv: ['--require', 'tsx/cjs'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  const next = <T>(c: ChildProcess) =>
    new Promise<T>((resolve, reject) => {
      c.once('message', (m: T & { fatal?: string }) => (m.fatal ? reject(new Error(m.fatal)) : resolve(m)))
      c.once('exit', (code) => reject(new Error(`worker exited ${code}`)))
    })
  await Promise.all(kids.map((k) => next(k)))
  const done = kids.map((k) => next<{ times: number[] }>(k))
  Object.assign(store.stats, { calls: 0, totalSyncMs: 0, maxSyncMs: 0, busyRetries: 0 })
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  const t0 = performance.now()
  for (const k of kids) k.send('go')
  const mine: number[] = []
  const waits: number[] = []
  for (let i = 0; i < cycles; i++) {
    const t = performance.now()
    const q = runQueueMs()
    const r = await store.beginConnect(n.id, { name: `main-${i}`, ns: ns(), addresses: [{ family: 4 }] })
    if (think) await sleep(think)
    await store.finishConnect(r.endpoint.id)
    await store.beginDisconnect(r.endpoint.id)
    if (think) await sleep(think)
    await store.finishDisconnect(r.endpoint.id)
    mine.push(performance.now() - t - 2 * think)
    waits.push(runQueueMs() - q)
  }
  const theirs = (await Promise.all(done)).flatMap((d) => d.times)
  const wall = performance.now() - t0
  h.disable()
  const all = [...mine, ...theirs]
  console.log(
    `   cycles: ${all.length} in ${(wall / 1000).toFixed(2)} s (${Math.round((all.length * 4) / (wall / 1000))} transactions/s across ${procs + 1} processes)`,
  )
  console.log(
    `   one cycle (4 transactions, without the think time): median ${median(all).toFixed(2)} ms, p99 ${pct(all, 99).toFixed(2)} ms, max ${Math.max(...all).toFixed(2)} ms`,
  )
  console.log(
    `   this process's event loop while contending: max ${(h.max / 1e6).toFixed(2)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(2)} ms, p50 ${(h.percentile(50) / 1e6).toFixed(2)} ms`,
  )
  const st = store.stats
  console.log(
    `   of which SQLite calls (this process): ${st.calls}, longest ${st.maxSyncMs.toFixed(2)} ms, mean ${(st.totalSyncMs / st.calls).toFixed(3)} ms, busy retries ${st.busyRetries}`,
  )
  console.log(
    `   time this process waited for a CPU (run queue, /proc/thread-self/schedstat): total ${waits.reduce((a, b) => a + b, 0).toFixed(0)} ms, longest in one cycle ${Math.max(...waits).toFixed(1)} ms`,
  )
  console.log(`   (the event-loop figure includes the OS not running this process: ${procs + 1} processes share ${os.cpus().length} cores)`)
  const left = await store.endpoints(n.id)
  console.log(`   endpoints left: ${left.length} (expected 0); intents left: ${(await store.intents()).length}`)
  await store.close()
}

async function main(): Promise<void> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()
  const dir = fs.mkdtempSync(path.join(base, 'nk-bench-store-'))
  console.log(`SqliteStore bench: node ${process.version}, ${os.cpus().length} cores, database in ${dir}`)
  try {
    await flatness(dir)
    await contention(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

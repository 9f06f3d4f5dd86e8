import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import { Namespace, VethPair } from '../../lib'
import { native } from '../../lib/kernel/binding'
import { Sandbox, ipj } from '../helpers'

interface Task {
  tid: string
  comm: string
  netns: string
}

function tasks(): Task[] {
  const out: Task[] = []
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      out.push({
        tid,
        comm: fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
        netns: fs.readlinkSync(`/proc/self/task/${tid}/ns/net`),
      })
    } catch {
      /* thread ended while we looked */
    }
  }
  return out
}

describe('namespace threads (design §2)', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it("calls setns only on the addon's own threads, which always come home", async () => {
    const home = fs.readlinkSync('/proc/self/ns/net')
    const namespaces = await Promise.all([sb.ns(), sb.ns(), sb.ns(), sb.ns()])
    const foreign: Task[] = []
    let samples = 0
    let stop = false
    const sampler = (async () => {
      while (!stop) {
        for (const t of tasks()) if (t.comm !== 'nk-netns' && t.netns !== home) foreign.push(t)
        samples++
        await new Promise((r) => setImmediate(r))
      }
    })()
    // Work that makes the threads enter other namespaces many times: sysctls are opened
    // inside each namespace, sockets are opened inside new namespaces, namespaces are made.
    const work: Promise<unknown>[] = []
    for (let i = 0; i < 50; i++) {
      const ns = namespaces[i % namespaces.length]!
      work.push(ns.sysctl.get('net.ipv4.ip_forward'))
      work.push(fs.promises.readFile('/proc/self/status')) // the libuv pool at work meanwhile
    }
    work.push(sb.ns(), sb.ns())
    await Promise.all(work)
    stop = true
    await sampler
    assert.ok(samples > 0)
    assert.deepEqual(foreign, [], 'no thread but nk-netns was ever seen outside the home namespace')
    assert.equal(fs.readlinkSync('/proc/thread-self/ns/net'), home, 'the main thread stayed home')
    const t = native().threads()
    assert.ok(t.threads >= 1)
    assert.equal(t.discarded, 0)
    assert.equal(`net:[${t.homeIno}]`, home)
    assert.equal(t.callerIno, t.homeIno)
    const mine = tasks().filter((x) => x.comm === 'nk-netns')
    assert.equal(mine.length, t.threads)
    for (const x of mine) assert.equal(x.netns, home, 'idle workers are home')
  })

  it('keeps the event loop free while the kernel works', async () => {
    const ns = await sb.ns()
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const t0 = Date.now()
    for (let i = 0; i < 20; i++) {
      await VethPair.create({ name: `a${i}`, namespace: ns, peer: { name: `b${i}` } })
    }
    await Promise.all((await ns.links()).filter((l) => l.name.startsWith('a')).map((l) => l.delete()))
    clearInterval(timer)
    const elapsed = Date.now() - t0
    // Each deletion waits for an RCU grace period inside the kernel; the timer must have
    // kept running meanwhile (a blocked loop would tick about once).
    assert.ok(ticks > Math.min(10, elapsed / 4), `ticks=${ticks} elapsed=${elapsed}ms`)
  })

  it('resumes the callers of trips that finished together one per turn of the loop (lib/turn.ts)', async () => {
    // The addon settles every finished job in one callback: 8 trips in flight whose callers each
    // have 2 ms of work after them held the loop 16 ms at once. Each caller now runs in a turn
    // of its own, a timer firing between any two.
    const ns = await sb.ns()
    let ticks = 0
    let t: NodeJS.Timeout | undefined
    const arm = () => {
      t = setTimeout(() => {
        ticks++
        arm()
      }, 0)
    }
    arm()
    const seen: number[] = []
    try {
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            await ns.sysctl.get('net.ipv4.ip_forward')
            seen.push(ticks)
            const end = performance.now() + 2
            while (performance.now() < end);
          }),
        )
      }
    } finally {
      clearTimeout(t)
    }
    assert.equal(seen.length, 24)
    assert.equal(new Set(seen).size, seen.length, `a timer ran between any two callers (ticks seen: ${seen.join(' ')})`)
  })
})

describe('dumps', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('reads multi-part dumps whole (hundreds of links and addresses)', async () => {
    const ns = await sb.ns()
    const n = 150
    const batch: Promise<VethPair>[] = []
    for (let i = 0; i < n; i++) batch.push(VethPair.create({ name: `a${i}`, namespace: ns, peer: { name: `b${i}` } }))
    const pairs = await Promise.all(batch)
    await Promise.all(pairs.map((p, i) => p.host.addAddress(`10.${Math.floor(i / 200)}.${i % 200}.1/24`)))
    const links = await ns.links()
    assert.equal(links.length, 2 * n + 1)
    const w = await ipj(ns, 'link')
    assert.deepEqual(
      links.map((l) => l.index).sort((a, b) => a - b),
      w.map((l) => l.ifindex).sort((a: number, b: number) => a - b),
    )
    const addrs = (await ns.addresses()).filter((a) => a.family === 4 && a.ifname.startsWith('a'))
    assert.equal(addrs.length, n)
    const routes = await ns.routes.list({ table: 0 })
    assert.ok(routes.length >= n)
  })

  it('never returns a partial dump while links change underneath', async () => {
    const ns = await sb.ns()
    const stable = 60
    for (let i = 0; i < stable; i++) await VethPair.create({ name: `s${i}`, namespace: ns, peer: { name: `t${i}` } })
    let stop = false
    const churn = (async () => {
      let i = 0
      while (!stop) {
        const p = await VethPair.create({ name: `c${i % 4}`, namespace: ns, peer: { name: `d${i % 4}` } })
        await p.delete()
        i++
      }
    })()
    // A second handle on the same namespace: its own socket, so dumps and changes interleave.
    const other = await Namespace.open(ns.name!)
    try {
      for (let k = 0; k < 30; k++) {
        const names = new Set((await other.links()).map((l) => l.name))
        for (let i = 0; i < stable; i++) assert.ok(names.has(`s${i}`) && names.has(`t${i}`), `dump ${k} lost s${i}/t${i}`)
      }
    } finally {
      stop = true
      await churn
      await other.close()
    }
  })
})

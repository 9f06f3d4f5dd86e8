// ns.watch(): rtnetlink notifications in throwaway namespaces. The changes are made with `ip`
// (an independent tool), so the events are checked against what iproute2 did and `ip -j` shows.
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Namespace, type NamespaceWatch, type WatchEvent } from '../../lib'
import { Sandbox, ipj, sh } from '../helpers'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const fdCount = () => fs.readdirSync('/proc/self/fd').length

/** Collects a watch's events in the background; waitFor() resolves once a predicate holds. */
class Collector {
  readonly events: WatchEvent[] = []
  error: unknown
  readonly done: Promise<void>
  constructor(readonly w: NamespaceWatch) {
    this.done = (async () => {
      try {
        for await (const ev of w) this.events.push(ev)
      } catch (e) {
        this.error = e
      }
    })()
  }
  async waitFor<T>(what: string, find: (evs: WatchEvent[]) => T | undefined, ms = 10000): Promise<T> {
    const end = Date.now() + ms
    for (;;) {
      const found = find(this.events)
      if (found !== undefined && found !== false) return found
      if (this.error) throw this.error
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; saw: ${this.events.map(brief).join(', ')}`)
      await sleep(20)
    }
  }
}

type Group = 'link' | 'address' | 'route' | 'neighbour'
type Ev<G extends Group> = Extract<WatchEvent, { group: G }>
/** The first `type` event of `group` that satisfies `pred`. */
function findEv<G extends Group>(evs: WatchEvent[], type: 'new' | 'del', group: G, pred: (e: Ev<G>) => boolean = () => true): Ev<G> | undefined {
  return evs.find((e): e is Ev<G> => e.type === type && 'group' in e && e.group === group && pred(e as Ev<G>))
}

function brief(e: WatchEvent): string {
  if (e.type === 'overrun' || e.type === 'synced') return e.type
  const what = e.group === 'link' ? e.link.name : e.group === 'address' ? e.address.cidr : e.group === 'route' ? e.route.to : (e.neighbour?.ip ?? e.fdb?.mac)
  return `${e.type} ${e.group} ${what}${e.resync ? ' (resync)' : ''}`
}

const ip = (ns: Namespace, ...args: string[]) => sh('ip', ['-n', ns.name!, ...args])

describe('ns.watch(): rtnetlink notifications', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  // A watch keeps the process alive (as fs.watch does): close every one, even when a test fails.
  const watches: NamespaceWatch[] = []
  const track = (w: NamespaceWatch) => {
    watches.push(w)
    return w
  }
  afterEach(async () => {
    for (const w of watches.splice(0)) w.close()
    await sb.cleanup()
  })

  it("yields a veth's creation and deletion (both ends), as ip -j shows them", async () => {
    const ns = await sb.ns()
    const w = track(ns.watch({ groups: ['link'] }))
    await w.ready
    const c = new Collector(w)
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    const created = await c.waitFor('both ends created', (evs) => {
      const a = evs.find((e) => e.type === 'new' && e.group === 'link' && e.link.name === 'wa0')
      const b = evs.find((e) => e.type === 'new' && e.group === 'link' && e.link.name === 'wb0')
      return a && b ? [a, b] : undefined
    })
    const [witness] = await ipj(ns, 'link', 'show', 'wa0')
    const a = created[0] as Extract<WatchEvent, { group: 'link' }>
    assert.equal(a.link.index, witness.ifindex)
    assert.equal(a.link.kind, 'veth')
    assert.equal(a.link.mac, witness.address)
    assert.equal(a.resync, undefined)
    await ip(ns, 'link', 'del', 'wa0')
    await c.waitFor(
      'both ends deleted',
      (evs) => ['wa0', 'wb0'].every((n) => evs.some((e) => e.type === 'del' && e.group === 'link' && e.link.name === n)) || undefined,
    )
    assert.deepEqual(
      (await ipj(ns, 'link', 'show', 'type', 'veth')).filter((l) => l.ifname),
      [],
    )
    w.close()
    await c.done
  })

  it('yields address add and delete (v4, v6) and route add and delete, with device names', async () => {
    const ns = await sb.ns()
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    await ip(ns, 'link', 'set', 'wa0', 'up')
    await ip(ns, 'link', 'set', 'wb0', 'up')
    const w = track(ns.watch({ groups: ['address', 'route'] })) // no 'link': names come from a dump and hidden link events
    await w.ready
    const c = new Collector(w)
    await ip(ns, 'addr', 'add', '10.77.0.1/24', 'dev', 'wa0')
    await ip(ns, 'addr', 'add', 'fd77::1/64', 'dev', 'wa0', 'nodad')
    const v4 = await c.waitFor('the IPv4 address', (evs) => findEv(evs, 'new', 'address', (e) => e.address.cidr === '10.77.0.1/24'))
    assert.equal(v4.group === 'address' && v4.address.ifname, 'wa0')
    await c.waitFor('the IPv6 address', (evs) => findEv(evs, 'new', 'address', (e) => e.address.cidr === 'fd77::1/64' && e.address.nodad))
    // The kernel's own route for the prefix comes too.
    await c.waitFor('the connected route', (evs) => findEv(evs, 'new', 'route', (e) => e.route.to === '10.77.0.0/24' && e.route.dev === 'wa0'))
    await ip(ns, 'route', 'add', '10.88.0.0/16', 'via', '10.77.0.2', 'dev', 'wa0', 'metric', '50')
    const r = await c.waitFor('the route', (evs) => findEv(evs, 'new', 'route', (e) => e.route.to === '10.88.0.0/16'))
    assert.ok(r.group === 'route')
    assert.deepEqual([r.route.via, r.route.dev, r.route.metric, r.route.table, r.route.protocol], ['10.77.0.2', 'wa0', 50, 254, 'boot'])
    await ip(ns, 'route', 'del', '10.88.0.0/16', 'via', '10.77.0.2')
    await c.waitFor('the route deletion', (evs) => findEv(evs, 'del', 'route', (e) => e.route.to === '10.88.0.0/16'))
    await ip(ns, 'addr', 'del', '10.77.0.1/24', 'dev', 'wa0')
    await c.waitFor('the address deletion', (evs) => findEv(evs, 'del', 'address', (e) => e.address.cidr === '10.77.0.1/24'))
    assert.ok(
      c.events.every((e) => e.type !== 'overrun' && !(e.type === 'new' && e.group === 'link')),
      'no link events asked for, no overrun',
    )
    w.close()
    await c.done
  })

  it('yields neighbour and FDB entries', async () => {
    const ns = await sb.ns()
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    await ip(ns, 'link', 'add', 'br0', 'type', 'bridge')
    await ip(ns, 'link', 'set', 'wb0', 'master', 'br0')
    const w = track(ns.watch({ groups: ['neighbour'] }))
    await w.ready
    const c = new Collector(w)
    await ip(ns, 'neigh', 'add', '10.77.0.9', 'lladdr', '02:00:00:00:77:09', 'dev', 'wa0', 'nud', 'permanent')
    const n = await c.waitFor('the neighbour', (evs) => findEv(evs, 'new', 'neighbour', (e) => e.neighbour?.ip === '10.77.0.9'))
    assert.ok(n.group === 'neighbour')
    assert.deepEqual([n.neighbour!.mac, n.neighbour!.dev, n.neighbour!.state], ['02:00:00:00:77:09', 'wa0', 'permanent'])
    await sh('bridge', ['-n', ns.name!, 'fdb', 'add', '02:00:00:00:77:0a', 'dev', 'wb0', 'master', 'static'])
    const f = await c.waitFor('the FDB entry', (evs) => findEv(evs, 'new', 'neighbour', (e) => e.fdb?.mac === '02:00:00:00:77:0a'))
    assert.ok(f.group === 'neighbour' && f.fdb!.dev === 'wb0')
    await ip(ns, 'neigh', 'del', '10.77.0.9', 'dev', 'wa0')
    await c.waitFor('the neighbour deletion', (evs) => findEv(evs, 'del', 'neighbour', (e) => e.neighbour?.ip === '10.77.0.9'))
    w.close()
    await c.done
  })

  it('a bridge port joining and leaving its bridge is not a link deletion', async () => {
    const ns = await sb.ns()
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    await ip(ns, 'link', 'add', 'br0', 'type', 'bridge')
    const w = track(ns.watch({ groups: ['link'] }))
    await w.ready
    const c = new Collector(w)
    await ip(ns, 'link', 'set', 'wa0', 'master', 'br0')
    await c.waitFor('wa0 enslaved', (evs) => findEv(evs, 'new', 'link', (e) => e.link.name === 'wa0' && e.link.master !== undefined))
    await ip(ns, 'link', 'set', 'wa0', 'nomaster')
    await c.waitFor('wa0 released', (evs) => findEv(evs, 'new', 'link', (e) => e.link.name === 'wa0' && e.link.master === undefined))
    await ip(ns, 'link', 'set', 'wa0', 'mtu', '1400') // a marker: everything before it has been read
    await c.waitFor('the marker', (evs) => evs.find((e) => 'group' in e && e.group === 'link' && e.link.mtu === 1400))
    assert.ok(
      c.events.every((e) => e.type !== 'del'),
      `no deletion: ${c.events.map(brief).join(', ')}`,
    )
    assert.ok((w.stats()?.ignored ?? 0) >= 2, "the bridge's port notifications were read and left out")
    w.close()
    await c.done
  })

  it('an overrun (tiny receive buffer, thousands of changes) yields overrun, then a resync, then live events', async () => {
    const ns = await sb.ns()
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    await ip(ns, 'link', 'set', 'wa0', 'up') // the kernel announces alias changes of links that are up
    // The consumer reads nothing while the changes are made: reading stops at the first queued
    // event (highWaterMark 1) and the kernel's buffer (4 KiB asked; the kernel doubles it) holds a
    // few notifications of the 3000: an overrun, deterministically.
    const w = track(ns.watch({ groups: ['link'], receiveBuffer: 4096, highWaterMark: 1 }))
    await w.ready
    // One change first, and wait until the reader has queued it: reading is then paused for the
    // whole flood, so the loss is noticed after it (a reader that first woke up once the buffer
    // had already overrun, on a loaded machine, would resync in the middle of the flood).
    await ip(ns, 'link', 'set', 'wa0', 'alias', 'before-flood')
    for (const t0 = Date.now(); (w.stats()?.events ?? 0) < 1; await new Promise((r) => setTimeout(r, 5))) {
      assert.ok(Date.now() - t0 < 5000, 'the first change reached the reader')
    }
    const batch = path.join(os.tmpdir(), `nk-flood-${process.pid}.txt`)
    fs.writeFileSync(batch, Array.from({ length: 3000 }, (_, i) => `link set dev wa0 alias flood-${i}`).join('\n') + '\n')
    try {
      await sh('ip', ['-n', ns.name!, '-batch', batch])
    } finally {
      fs.rmSync(batch, { force: true })
    }
    const [witness] = await ipj(ns, 'link', 'show', 'wa0')
    assert.equal(witness.ifalias, 'flood-2999')
    // next() by hand: `break` out of for-await would close the watch.
    const take = async (): Promise<WatchEvent> => {
      const r = await w.next()
      assert.ok(!r.done, 'the watch goes on')
      return r.value
    }
    const seen: WatchEvent[] = []
    for (let ev = await take(); ; ev = await take()) {
      seen.push(ev)
      if (ev.type === 'synced') break
    }
    const overrun = seen.findIndex((e) => e.type === 'overrun')
    assert.ok(overrun >= 0, `an overrun was reported: ${seen.slice(0, 10).map(brief).join(', ')}`)
    assert.ok(
      seen.slice(0, overrun).every((e) => e.type === 'new' && !e.resync),
      'only notifications before it',
    )
    const resync = seen.slice(overrun + 1, -1)
    assert.ok(resync.length >= 3 && resync.every((e) => e.type === 'new' && e.resync === true), 'then the resync')
    const names = resync.map((e) => (e.type === 'new' && e.group === 'link' ? e.link.name : '')).sort()
    assert.deepEqual(names, ['lo', 'wa0', 'wb0'], 'the resync lists every link, as ip link does')
    const wa = resync.find((e) => e.type === 'new' && e.group === 'link' && e.link.name === 'wa0')
    assert.ok(wa?.type === 'new' && wa.group === 'link' && wa.link.alias === 'flood-2999', 'the state after the flood')
    assert.ok(seen.length < 200, `the lost notifications were not replayed (${seen.length} events)`)
    const stats = w.stats()!
    assert.ok(stats.overruns >= 1, JSON.stringify(stats))
    // Live again: the next change is a plain notification.
    await ip(ns, 'link', 'set', 'wa0', 'mtu', '1400')
    let live = 0
    for (let ev = await take(); ; ev = await take()) {
      live++
      assert.ok(ev.type === 'new' && !ev.resync, `only notifications after the resync: ${brief(ev)}`)
      if (ev.group === 'link' && ev.link.name === 'wa0' && ev.link.mtu === 1400) break
    }
    assert.ok(live >= 1)
    w.close()
    assert.equal(w.stats()?.closed, true)
    console.log(`      (${stats.overruns} overrun(s), ${stats.discarded} queued notifications discarded, receive buffer ${stats.receiveBuffer} bytes)`)
  })

  it('initial: true starts with a dump (resync: true) and synced', async () => {
    const ns = await sb.ns()
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    await ip(ns, 'addr', 'add', '10.77.0.1/24', 'dev', 'wa0')
    const w = track(ns.watch({ groups: ['link', 'address'], initial: true }))
    const first: WatchEvent[] = []
    for await (const ev of w) {
      first.push(ev)
      if (ev.type === 'synced') break
    }
    assert.ok(first.slice(0, -1).every((e) => e.type === 'new' && e.resync === true))
    assert.deepEqual(
      first
        .filter((e) => e.type === 'new' && e.group === 'link')
        .map((e) => e.type === 'new' && e.group === 'link' && e.link.name)
        .sort(),
      ['lo', 'wa0', 'wb0'],
    )
    const addr = first.find((e) => e.type === 'new' && e.group === 'address' && e.address.cidr === '10.77.0.1/24')
    assert.ok(addr?.type === 'new' && addr.group === 'address' && addr.address.ifname === 'wa0')
    assert.equal(w.stats()?.closed, true, 'break closed the socket')
  })

  it("notices a container namespace dying: its veth's host end is deleted (the companion's use)", async () => {
    const host = await sb.ns()
    const ct = await sb.ns()
    await ip(host, 'link', 'add', 'veth-ct', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ct.name!)
    const w = track(host.watch({ groups: ['link'] }))
    await w.ready
    const c = new Collector(w)
    await sh('ip', ['netns', 'del', ct.name!]) // the container died; nobody disconnected it
    await ct.close()
    await c.waitFor('the host end deleted', (evs) => findEv(evs, 'del', 'link', (e) => e.link.name === 'veth-ct'))
    w.close()
    await c.done
  })

  it("events: ['del'] yields only deletions, and the kernel never queues the rest (a socket filter); ['new'] the reverse", async () => {
    const ns = await sb.ns()
    const del = track(ns.watch({ groups: ['link'], events: ['del'] }))
    const all = track(ns.watch({ groups: ['link'] }))
    const add = track(ns.watch({ groups: ['link'], events: ['new'] }))
    // Addresses need the links' names: their 'new' is read (and not yielded).
    const delAddr = track(ns.watch({ groups: ['link', 'address'], events: ['del'] }))
    // ... their 'del' too: the names of links gone are forgotten (a map that only grew before).
    const newAddr = track(ns.watch({ groups: ['link', 'address'], events: ['new'] }))
    await Promise.all([del.ready, all.ready, add.ready, delAddr.ready, newAddr.ready])
    const [cd, ca, cn, cda, cna] = [new Collector(del), new Collector(all), new Collector(add), new Collector(delAddr), new Collector(newAddr)]
    // 20 veths made, renamed, brought up and addressed (each a dozen RTM_NEWLINK/NEWADDR), then deleted.
    const lines: string[] = []
    for (let i = 0; i < 20; i++) {
      lines.push(
        `link add fa${i} type veth peer name fb${i}`,
        `link set fa${i} alias x${i}`,
        `link set fa${i} up`,
        `link set fb${i} up`,
        `addr add 10.9.${i}.1/24 dev fa${i}`,
      )
    }
    for (let i = 0; i < 20; i++) lines.push(`link del fa${i}`)
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nk-watch-')), 'batch')
    fs.writeFileSync(file, lines.join('\n') + '\n')
    await ip(ns, '-batch', file)
    const gone = (evs: WatchEvent[]) =>
      Array.from({ length: 20 }, (_, i) => [`fa${i}`, `fb${i}`])
        .flat()
        .every((n) => findEv(evs, 'del', 'link', (e) => e.link.name === n))
    await cd.waitFor('every deletion (filtered)', (evs) => gone(evs) || undefined)
    await ca.waitFor('every deletion (unfiltered)', (evs) => gone(evs) || undefined)
    await cn.waitFor(
      'every creation',
      (evs) => Array.from({ length: 20 }, (_, i) => `fa${i}`).every((n) => findEv(evs, 'new', 'link', (e) => e.link.name === n)) || undefined,
    )
    await cda.waitFor('every deletion (links and addresses)', (evs) => gone(evs) || undefined)
    assert.deepEqual([...cd.events, ...cda.events].filter((e) => e.type !== 'del').map(brief), [])
    const addrGone = findEv(cda.events, 'del', 'address', (e) => e.address.cidr === '10.9.0.1/24')
    assert.equal(addrGone?.address.ifname, 'fa0', 'an address deletion, with its device named')
    assert.deepEqual(cn.events.filter((e) => e.type !== 'new').map(brief), [])
    await cna.waitFor(
      'every address',
      (evs) => Array.from({ length: 20 }, (_, i) => `10.9.${i}.1/24`).every((a) => findEv(evs, 'new', 'address', (e) => e.address.cidr === a)) || undefined,
    )
    assert.deepEqual(cna.events.filter((e) => e.type !== 'new').map(brief), [])
    for (const t0 = Date.now(); newAddr.stats()!.messages < all.stats()!.messages && Date.now() - t0 < 5000;) await sleep(20)
    assert.ok(
      newAddr.stats()!.messages >= all.stats()!.messages,
      `with names needed every link notification is read: ${newAddr.stats()!.messages} < ${all.stats()!.messages}`,
    )
    // What the sockets received: the filtered one only the deletions (no wakeup, no copy for the rest).
    const sd = del.stats()!,
      sa = all.stats()!
    assert.equal(sd.messages, cd.events.length, `filtered socket: ${JSON.stringify(sd)}`)
    assert.ok(sa.messages >= sd.messages + 100, `unfiltered ${sa.messages} messages, filtered ${sd.messages}`)
    fs.rmSync(path.dirname(file), { recursive: true })
  })

  it("events: ['del'] still yields a resync's dump whole after an overrun; bad events are refused", async () => {
    const ns = await sb.ns()
    assert.throws(() => ns.watch({ events: [] }), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => ns.watch({ events: ['add' as 'new'] }), { code: 'ERR_INVALID_ARG_VALUE' })
    await ip(ns, 'link', 'add', 'keep0', 'type', 'veth', 'peer', 'name', 'keep1')
    const w = track(ns.watch({ groups: ['link'], events: ['del'], receiveBuffer: 1, highWaterMark: 1 }))
    await w.ready
    // Deletions (80 notifications) overrun a one-byte buffer, with nobody reading.
    const lines: string[] = []
    for (let i = 0; i < 40; i++) lines.push(`link add ov${i} type veth peer name ow${i}`)
    for (let i = 0; i < 40; i++) lines.push(`link del ov${i}`)
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nk-watch-')), 'batch')
    fs.writeFileSync(file, lines.join('\n') + '\n')
    await ip(ns, '-batch', file)
    const c = new Collector(w)
    await c.waitFor('a resync', (evs) => evs.some((e) => e.type === 'synced') || undefined)
    const i = c.events.findIndex((e) => e.type === 'overrun')
    assert.ok(i >= 0, c.events.map(brief).join(', '))
    const resync = c.events.slice(
      i + 1,
      c.events.findIndex((e) => e.type === 'synced'),
    )
    assert.ok(
      resync.some((e) => e.type === 'new' && e.group === 'link' && e.link.name === 'keep0' && e.resync),
      resync.map(brief).join(', '),
    )
    fs.rmSync(path.dirname(file), { recursive: true })
  })

  it('never blocks the event loop: timers run while next() waits; a flood is read in bounded slices', async () => {
    const ns = await sb.ns()
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    await ip(ns, 'link', 'set', 'wa0', 'up') // the kernel announces alias changes of links that are up
    const w = track(ns.watch({ groups: ['link'] }))
    await w.ready
    const pending = w.next()
    assert.equal(await Promise.race([pending.then(() => 'event'), sleep(100).then(() => 'timer')]), 'timer')
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    const c = new Collector(w)
    const batch = path.join(os.tmpdir(), `nk-flood2-${process.pid}.txt`)
    fs.writeFileSync(batch, Array.from({ length: 2000 }, (_, i) => `link set dev wa0 alias slice-${i}`).join('\n') + '\n')
    try {
      await sh('ip', ['-n', ns.name!, '-batch', batch])
    } finally {
      fs.rmSync(batch, { force: true })
    }
    await c.waitFor(
      'the last change',
      (evs) => evs.find((e) => 'group' in e && e.group === 'link' && e.link.alias === 'slice-1999') ?? evs.find((e) => e.type === 'synced'),
    )
    h.disable()
    await pending
    console.log(
      `      (${c.events.length + 1} events; event loop delay while reading them: max ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms)`,
    )
    w.close()
    await c.done
  })

  it('keeps the process alive while open, as fs.watch does, unless persistent: false', async () => {
    const run = (persistent: boolean) =>
      new Promise<string>((resolve) => {
        const src = `const { Namespace } = require(${JSON.stringify(path.resolve(__dirname, '../../lib'))});
        Namespace.current().then(async (ns) => { const w = ns.watch({ groups: ['link'], persistent: ${persistent} }); await w.ready; console.log('ready') })`
        const child = spawn(process.execPath, ['-r', 'tsx/cjs', '-e', src], { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        // 4 s from 'ready' (not from spawn: tsx alone can take that long on a loaded machine).
        let timer = setTimeout(() => {
          child.kill()
          resolve(`${out.trim()} never ready`)
        }, 60000)
        child.stdout!.on('data', (d) => {
          out += d
          if (!out.includes('ready')) return
          clearTimeout(timer)
          timer = setTimeout(() => {
            child.kill()
            resolve(`${out.trim()} still running`)
          }, 4000)
        })
        child.on('exit', () => {
          clearTimeout(timer)
          resolve(`${out.trim()} exited`)
        })
      })
    assert.deepEqual(await Promise.all([run(false), run(true)]), ['ready exited', 'ready still running'])
  })

  it('abort closes the socket and rejects a pending next() with an AbortError; break and return() close it too; no fd leak over 200 watches', async () => {
    const ns = await sb.ns()
    const ac = new AbortController()
    const w = track(ns.watch({ groups: ['link'], signal: ac.signal }))
    await w.ready
    const pending = w.next()
    ac.abort()
    await assert.rejects(pending, { name: 'AbortError', code: 'ABORT_ERR' })
    assert.equal(w.stats()?.closed, true)
    assert.deepEqual(await w.next(), { value: undefined, done: true })

    // break out of for-await after an event
    const b = track(ns.watch({ groups: ['link'] }))
    await b.ready
    await ip(ns, 'link', 'add', 'wa0', 'type', 'veth', 'peer', 'name', 'wb0')
    for await (const ev of b) {
      assert.equal(ev.type, 'new')
      break
    }
    assert.equal(b.stats()?.closed, true)

    const before = fdCount()
    for (let i = 0; i < 200; i++) {
      const c = new AbortController()
      const x = track(ns.watch({ groups: i % 4 === 0 ? ['link', 'address'] : ['link'], signal: c.signal }))
      await x.ready
      if (i % 2) c.abort()
      else await x.return!()
    }
    await sleep(50)
    assert.equal(fdCount(), before, 'every socket closed')
    // A watch of a namespace closed meanwhile: its socket stays valid (it belongs to the namespace).
    const other = await Namespace.open(ns.name!)
    const y = track(other.watch({ groups: ['link'] }))
    await y.ready
    await other.close()
    await ip(ns, 'link', 'set', 'wa0', 'mtu', '1400')
    const ev = await y.next()
    assert.ok(!ev.done && ev.value.type === 'new')
    y.close()
    assert.equal(fdCount(), before)
  })
})

// Issue 12, inputs 3, 4 and 5: create, connect, disconnect and remove killed (SIGKILL, as kill -9)
// part-way, at every step boundary of their intent / kernel / result sequence and at moments
// spread over their duration (test/fixtures/kill-worker.ts), then Network.gc() in this process
// (a fresh one for the killed operation): the operation is either complete or undone, the same
// name, subnet, address and host port are usable again, and nothing is left: witnesses `ip -j`
// (links carrying netns-kit's alias, the container's interfaces), `nft -j list ruleset` (netns-kit's
// table and map elements), the store (records, intents) and /etc/netns (the containers' files).
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { MacvlanNetwork, Network, SqliteStore, VethPair, type Namespace } from '../../lib'
import { restoreDefaultRoutes } from '../../lib/network/teardown'
import { Sandbox, ipj, sh } from '../helpers'

const WORKER = path.join(__dirname, '..', 'fixtures', 'kill-worker.ts')
const NAME = 'kn'
const SUBNET = '172.30.5.0/24'
const FIRST = '172.30.5.2'

interface Run {
  killed: boolean
  moments?: number
  ms?: number
}

/** Runs the worker; resolves whether it was killed (and, when it was not, what it counted). */
function worker(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', WORKER, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err && (err as { signal?: string }).signal === 'SIGKILL') return resolve({ killed: true })
      if (err) return reject(new Error(`worker ${args[0]} failed: ${stderr || err.message}`))
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as { moments: number; ms: number }
      resolve({ killed: false, moments: r.moments, ms: r.ms })
    })
  })
}

/** What netns-kit has in the kernel of `host`: its links (by alias), its nftables table and the elements of its maps. */
async function kernel(host: Namespace): Promise<{ links: string[]; table: boolean; elements: number }> {
  const links = (await ipj(host, 'link', 'show')).filter((l) => String(l.ifalias ?? '').startsWith('netns-kit:')).map((l) => `${l.ifname} ${l.ifalias}`)
  const nft = JSON.parse((await sh('ip', ['netns', 'exec', host.name!, 'nft', '-j', 'list', 'ruleset'])).stdout).nftables as any[]
  const table = nft.some((o) => o.table?.name === 'netns-kit')
  const elements = nft.filter((o) => o.map?.table === 'netns-kit').reduce((n, o) => n + (o.map.elem?.length ?? 0), 0)
  return { links, table, elements }
}

/** The container's interfaces other than lo, with their IPv4 addresses. */
async function inside(c: Namespace): Promise<string[]> {
  return (await ipj(c, 'addr', 'show'))
    .filter((l) => l.ifname !== 'lo')
    .map((l) =>
      `${l.ifname} ${(l.addr_info ?? [])
        .filter((a: any) => a.family === 'inet')
        .map((a: any) => a.local)
        .join(',')}`.trim(),
    )
}

/** The moments to kill at: every step boundary (or 20 spread over them), and moments spread over the operation's duration. */
function plan(moments: number, ms: number): { at?: number; afterMs?: number }[] {
  const steps =
    moments <= 24 ? Array.from({ length: moments }, (_, i) => i + 1) : Array.from({ length: 20 }, (_, i) => 1 + Math.round((i * (moments - 1)) / 19))
  const n = Math.max(4, 22 - steps.length)
  const timers = Array.from({ length: n }, (_, i) => Math.floor((ms * (i + 0.5)) / n))
  return [...[...new Set(steps)].map((at) => ({ at })), ...timers.map((afterMs) => ({ afterMs }))]
}

describe('Network operations killed part-way, then gc (issue 12: inputs 3, 4, 5)', function () {
  this.timeout(600000)
  const sb = new Sandbox()
  let host: Namespace
  let tmp: string
  let db: string
  let store: SqliteStore

  beforeEach(async () => {
    host = await sb.ns()
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-kill-'))
    db = path.join(tmp, 'state.db')
    store = new SqliteStore({ path: db })
  })
  afterEach(async () => {
    await store.close()
    await sb.cleanup()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  const open = () => Network.open(NAME, { namespace: host, store })
  const create = () => Network.create({ name: NAME, namespace: host, store, subnet: SUBNET })

  /** gc, then: no intent left, and the kernel holds exactly what the records say (asserted by `check`). */
  async function gcAndCheck(label: string, check: () => Promise<void>): Promise<void> {
    await Network.gc({ namespace: host, store })
    assert.deepEqual(await store.intents(), [], `${label}: no intent left after gc`)
    await check()
  }

  /** What /etc/netns held before (the containers' files netns-kit writes for named namespaces go there). */
  const etcNetns = () => (fs.existsSync('/etc/netns') ? fs.readdirSync('/etc/netns') : [])
  let etcBefore: Set<string>
  before(() => {
    etcBefore = new Set(etcNetns())
  })

  /** Nothing of netns-kit's is left: no link, no table, no record, no container files in /etc/netns. */
  async function assertNothing(label: string): Promise<void> {
    assert.deepEqual(await kernel(host), { links: [], table: false, elements: 0 }, `${label}: nothing left in the kernel`)
    assert.deepEqual(await store.networks(), [], `${label}: no record left`)
    assert.deepEqual(
      etcNetns().filter((n) => !etcBefore.has(n)),
      [],
      `${label}: no container files left in /etc/netns`,
    )
  }

  /** The same name, subnet, address and host port work again; then everything is removed. */
  async function usableAgain(label: string, c: Namespace): Promise<void> {
    const net = await create()
    const ep = await net.connect(c, { name: 'web', ip: FIRST, publish: [{ hostPort: 8080, containerPort: 80 }] })
    assert.equal(ep.ip, FIRST)
    assert.deepEqual(await inside(c), [`eth0 ${FIRST}`], `${label}: connected again`)
    await net.remove({ force: true })
    assert.deepEqual(await inside(c), [], `${label}: removed again`)
    await assertNothing(`${label} (after the new round)`)
  }

  async function campaign(
    op: string,
    setup: () => Promise<Namespace | undefined>,
    after: (label: string, c: Namespace | undefined) => Promise<void>,
  ): Promise<number> {
    // Two dry runs count the moments and time the operation: the timers fall inside the faster
    // one (the first pays for warming up; a short operation, a macvlan disconnect of ~5 ms, ended
    // before the later timers of a window taken from it).
    let c: Namespace | undefined
    const dry: Run[] = []
    for (const n of [1, 2]) {
      c = await setup()
      dry.push(await worker([op, db, host.name!, NAME, SUBNET, ...(c ? [c.name!] : [])], { NK_KILL_AT: '0' }))
      await after(`${op} (not killed, ${n})`, c)
    }
    let killed = 0
    const count = Math.min(...dry.map((d) => d.moments!))
    const moments = plan(count, Math.min(...dry.map((d) => d.ms!)))
    assert.ok(moments.length >= 20, `${moments.length} moments`)
    for (const m of moments) {
      c = await setup()
      const label = `${op} killed ${m.at !== undefined ? `at moment ${m.at} of ${count}` : `after ${m.afterMs} ms`}`
      const r = await worker(
        [op, db, host.name!, NAME, SUBNET, ...(c ? [c.name!] : [])],
        m.at !== undefined ? { NK_KILL_AT: String(m.at) } : { NK_KILL_AFTER_MS: String(m.afterMs) },
      )
      if (r.killed) killed++
      await after(label, c)
    }
    return killed
  }

  it(`create: killed at 20+ moments; gc undoes it or it is complete; the name and subnet are free again (input 3)`, async () => {
    const killed = await campaign(
      'create',
      async () => undefined,
      async (label) => {
        // Before gc, a create that died holds its name (not a network one can open, not one to create again).
        const rec = (await store.networks())[0]
        if (rec?.state === 'creating') {
          await assert.rejects(open(), { code: 'ERR_NETNS_KIT_NETWORK_NOT_READY' }, label)
          await assert.rejects(create(), { code: 'ERR_NETNS_KIT_NETWORK_EXISTS' }, label)
        }
        await gcAndCheck(label, async () => {
          const nets = await store.networks()
          if (nets.length) {
            assert.equal(nets[0]!.state, 'ready', label)
            const k = await kernel(host)
            assert.deepEqual(
              k.links.map((l) => l.split(' ')[1]),
              [`netns-kit:${NAME}`],
              `${label}: a complete network has its bridge`,
            )
            assert.ok(k.table, `${label}: and its rules`)
            await (await open()).remove()
          }
          await assertNothing(label)
        })
        const c = await sb.ns()
        await usableAgain(label, c)
        await c.delete()
      },
    )
    assert.ok(killed >= 16, `${killed} runs killed`)
  })

  it('connect: killed at 20+ moments; gc undoes it or it is complete; the name, address and host port are free again', async () => {
    const killed = await campaign(
      'connect',
      async () => {
        await create()
        return sb.ns()
      },
      async (label, c) => {
        await gcAndCheck(label, async () => {
          const net = await open()
          const ep = await net.endpoint({ name: 'web' })
          const k = await kernel(host)
          if (ep) {
            assert.equal((await store.endpoint(ep.id))!.state, 'connected', label)
            assert.deepEqual(await inside(c!), [`eth0 ${ep.ip}`], `${label}: a complete connect is wired`)
            assert.equal(k.links.filter((l) => l.endsWith(`:${ep.id}`)).length, 1, `${label}: its veth`)
            assert.ok(k.elements >= 1, `${label}: its mapping`)
            await net.disconnect(ep)
            await ep.namespace.close()
          } else {
            assert.deepEqual(await inside(c!), [], `${label}: an undone connect left no interface in the container`)
            assert.deepEqual(
              k.links.map((l) => l.split(' ')[1]),
              [`netns-kit:${NAME}`],
              `${label}: no veth`,
            )
            assert.equal(k.elements, 0, `${label}: no mapping`)
          }
          assert.deepEqual(await store.endpoints(net.id), [], label)
          await net.remove()
          await assertNothing(label)
        })
        await usableAgain(label, c!)
        await c!.delete()
      },
    )
    assert.ok(killed >= 16, `${killed} runs killed`)
  })

  it('disconnect: killed at 20+ moments; the endpoint is connected and whole, or gone after gc; never half (input 5)', async () => {
    const killed = await campaign(
      'disconnect',
      async () => {
        const net = await create()
        const c = await sb.ns()
        await net.connect(c, { name: 'web', ip: FIRST, publish: [{ hostPort: 8080, containerPort: 80 }] })
        return c
      },
      async (label, c) => {
        await gcAndCheck(label, async () => {
          const net = await open()
          const ep = await net.endpoint({ name: 'web' })
          const k = await kernel(host)
          if (ep) {
            // Killed before its intent was recorded: untouched, whole.
            assert.equal((await store.endpoint(ep.id))!.state, 'connected', label)
            assert.deepEqual(await inside(c!), [`eth0 ${FIRST}`], `${label}: still wired`)
            assert.equal(k.elements >= 1, true, `${label}: its mapping is there`)
            await net.disconnect(ep)
            await ep.namespace.close()
          } else {
            assert.deepEqual(await inside(c!), [], `${label}: gone from the container`)
            assert.deepEqual(
              k.links.map((l) => l.split(' ')[1]),
              [`netns-kit:${NAME}`],
              `${label}: no veth`,
            )
            assert.equal(k.elements, 0, `${label}: no mapping`)
          }
          assert.deepEqual(await store.endpoints(net.id), [], label)
          await net.remove()
          await assertNothing(label)
        })
        await usableAgain(label, c!)
        await c!.delete()
      },
    )
    assert.ok(killed >= 16, `${killed} runs killed`)
  })

  it('disconnect from the network that gives the default route: killed at 20+ moments; after gc the other network gives it', async () => {
    // A container on two networks: the first gives its default route; its disconnect moves the
    // route to the second (finishDisconnect records the move, applyMoves makes it). Killed in
    // between, the container had no default route and gc did not put it back.
    const OTHER = { name: 'kn-b', subnet: '172.30.6.0/24', gateway: '172.30.6.1' }
    const defaults = async (c: Namespace) => (await ipj(c, 'route', 'show', 'default')).map((r) => `${r.gateway} ${r.dev}`)
    const killed = await campaign(
      'disconnect',
      async () => {
        const a = await create()
        const b = await Network.create({ namespace: host, store, ...OTHER })
        const c = await sb.ns()
        await a.connect(c, { name: 'web', ip: FIRST })
        await b.connect(c, { name: 'web-b' })
        assert.deepEqual(await defaults(c), ['172.30.5.1 eth0'])
        return c
      },
      async (label, c) => {
        await gcAndCheck(label, async () => {
          const a = await open()
          const ep = await a.endpoint({ name: 'web' })
          if (ep) {
            assert.deepEqual(await defaults(c!), ['172.30.5.1 eth0'], `${label}: not disconnected, its default route stays`)
            await a.disconnect(ep)
            await ep.namespace.close()
          }
          assert.deepEqual(await defaults(c!), [`${OTHER.gateway} eth1`], `${label}: the other network gives the default route`)
          await a.remove()
          await (await Network.open(OTHER.name, { namespace: host, store })).remove({ force: true })
          await assertNothing(label)
        })
        await c!.delete()
      },
    )
    assert.ok(killed >= 16, `${killed} runs killed`)
  })

  it("gc's default-route repair: never from a stale read, never over a default route in another table; IPv6 too", async () => {
    const defaults = async (c: Namespace, family = '-4') =>
      (await ipj(c, family, 'route', 'show', 'default', 'table', 'all')).map((r) => `${r.gateway}${r.table && r.table !== 'main' ? ` table ${r.table}` : ''}`)
    const a = await Network.create({ name: 'kn-a', namespace: host, store, subnet: '172.30.7.0/24', ipv6: { subnet: 'fd00:307::/64' }, dns: false })
    const b = await Network.create({ name: 'kn-b', namespace: host, store, subnet: '172.30.8.0/24', dns: false })
    const c = await sb.ns()
    const gives = await a.connect(c, { name: 'gives' })
    await a.connect(c, { name: 'quiet', defaultRoute: false })
    // 1. A list read before a disconnect: the endpoint it names no longer gives the route.
    const stale = await store.endpoints(a.id)
    await a.disconnect(gives)
    assert.deepEqual(await defaults(c), [], 'no endpoint of the container gives a default route now')
    assert.deepEqual(await restoreDefaultRoutes(store, stale), [], 'nothing added from the stale list')
    assert.deepEqual(await defaults(c), [])
    const onB = await b.connect(c, { name: 'on-b' }) // route.add: it would fail with EEXIST after a wrong repair
    assert.deepEqual(await defaults(c), ['172.30.8.1'])
    await b.disconnect(onB)
    // 2. The default route moved to another table (a VPN, policy routing): it stays there.
    const again = await a.connect(c, { name: 'again' })
    await sh('ip', ['-n', c.name!, 'route', 'del', 'default'])
    await sh('ip', ['-n', c.name!, 'route', 'add', 'default', 'via', '172.30.7.1', 'dev', again.ifname, 'table', '100'])
    assert.deepEqual((await Network.gc({ namespace: host, store })).restored, [], 'nothing restored')
    assert.deepEqual(await defaults(c), ['172.30.7.1 table 100'])
    // 3. Lost from every table: put back, IPv4 and IPv6 (records say this endpoint gives both).
    await sh('ip', ['-n', c.name!, 'route', 'del', 'default', 'table', '100'])
    await sh('ip', ['-n', c.name!, '-6', 'route', 'del', 'default'])
    const restored = (await Network.gc({ namespace: host, store })).restored
    assert.deepEqual(
      restored.map((l) => l.split(' in ')[0]),
      ['kn-a: default via 172.30.7.1', `kn-a: default via ${a.ipv6!.gateway}`],
    )
    assert.deepEqual(await defaults(c), ['172.30.7.1'])
    assert.deepEqual(await defaults(c, '-6'), [a.ipv6!.gateway])
    // 4. An IPv6 gateway the container cannot reach (EHOSTUNREACH) does not stop gc.
    await sh('ip', ['-n', c.name!, '-6', 'route', 'del', 'default'])
    await sh('ip', ['-n', c.name!, '-6', 'addr', 'flush', 'scope', 'global']) // on both interfaces of network a
    const r = await Network.gc({ namespace: host, store })
    assert.deepEqual(r.restored, [])
    await a.disconnect(again)
    await a.remove({ force: true })
    await b.remove()
    await c.delete()
    await assertNothing('default-route repair')
  })

  it('remove --force: killed at 20+ moments; the network is whole, or gone after gc (input 4)', async () => {
    const containers: Namespace[] = []
    const killed = await campaign(
      'remove',
      async () => {
        const net = await create()
        const [c, d] = [await sb.ns(), await sb.ns()]
        containers.push(d)
        await net.connect(c, { name: 'web', ip: FIRST, publish: [{ hostPort: 8080, containerPort: 80 }] })
        await net.connect(d, { name: 'db' })
        return c
      },
      async (label, c) => {
        await gcAndCheck(label, async () => {
          const nets = await store.networks()
          if (nets.length) {
            // Killed before its intent was recorded: untouched, whole.
            assert.equal(nets[0]!.state, 'ready', label)
            const net = await open()
            assert.deepEqual(
              (await store.endpoints(net.id)).map((e) => e.name),
              ['db', 'web'],
              label,
            )
            assert.deepEqual(await inside(c!), [`eth0 ${FIRST}`], label)
            await net.remove({ force: true })
          }
          assert.deepEqual(await inside(c!), [], `${label}: the container's interface is gone`)
          await assertNothing(label)
        })
        await usableAgain(label, c!)
        await c!.delete()
        for (const d of containers.splice(0)) await d.delete()
      },
    )
    assert.ok(killed >= 16, `${killed} runs killed`)
  })

  it('macvlan connect killed under an earlier version (the macvlan named, not yet labelled): gc removes it, never a macvlan of another MAC', async () => {
    // Before the macvlan was created as nk<id> and named and labelled in one message, a connect
    // killed after Macvlan.create left an alias-less macvlan under the endpoint's name (and MAC),
    // its record `connecting`. Made here by killing today's connect after its create and naming
    // the macvlan by hand.
    const far = await sb.ns()
    const lan = await VethPair.create({ name: 'lan0', namespace: host, up: true, peer: { name: 'lan1', namespace: far, up: true } })
    await MacvlanNetwork.create({ name: NAME, parent: lan.host, subnet: SUBNET, gateway: '172.30.5.1', store })
    for (const theirs of [false, true]) {
      const c = await sb.ns()
      const run = await worker(['mv-connect', db, host.name!, NAME, SUBNET, c.name!], { NK_KILL_ON_OP: '^link\\.create' })
      assert.ok(run.killed)
      const [made] = (await ipj(c, 'link', 'show')).filter((l) => l.ifname.startsWith('nk'))
      assert.ok(made, 'killed after the create: the macvlan under its temporary name')
      await sh('ip', ['-n', c.name!, 'link', 'set', made.ifname, 'name', 'eth0'])
      // The user's own macvlan under that name (another MAC) instead: it must stay.
      if (theirs) await sh('ip', ['-n', c.name!, 'link', 'set', 'eth0', 'address', '02:00:00:00:00:99'])
      await Network.gc({ namespace: host, store })
      assert.deepEqual(await store.intents(), [])
      assert.deepEqual(
        (await ipj(c, 'link', 'show')).map((l) => l.ifname).filter((n) => n !== 'lo'),
        theirs ? ['eth0'] : [],
        theirs ? 'a macvlan of another MAC is not ours' : "the earlier version's leftover is removed",
      )
      if (theirs) await sh('ip', ['-n', c.name!, 'link', 'del', 'eth0'])
      const net = await Network.open(NAME, { namespace: host, store, driver: 'macvlan' })
      const ep = await net.connect(c, { ip: FIRST })
      assert.deepEqual(await inside(c), [`eth0 ${FIRST}`], 'the address is usable again')
      await net.disconnect(ep)
      await ep.namespace.close()
      await c.delete()
    }
  })

  for (const op of ['connect', 'disconnect'] as const) {
    it(`macvlan ${op}: killed at 20+ moments; after gc the endpoint is whole with its /etc/netns files, or gone with them`, async () => {
      // The parent: a veth in the host whose far end plays the LAN's router.
      const far = await sb.ns()
      const lan = await VethPair.create({ name: 'lan0', namespace: host, up: true, peer: { name: 'lan1', namespace: far, up: true } })
      const files = (c: Namespace) => {
        try {
          return fs.readFileSync(path.join('/etc/netns', c.name!, 'hosts'), 'utf8')
        } catch {
          return undefined
        }
      }
      const killed = await campaign(
        `mv-${op}`,
        async () => {
          const net = await MacvlanNetwork.create({ name: NAME, parent: lan.host, subnet: SUBNET, gateway: '172.30.5.1', store })
          const c = await sb.ns()
          if (op === 'disconnect') await net.connect(c, { ip: FIRST })
          return c
        },
        async (label, c) => {
          await gcAndCheck(label, async () => {
            const net = await Network.open(NAME, { namespace: host, store, driver: 'macvlan' })
            const [ep] = await net.endpoints()
            if (ep) {
              assert.equal((await store.endpoint(ep.id))!.state, 'connected', label)
              assert.deepEqual(await inside(c!), [`eth0 ${ep.ip}`], `${label}: a whole endpoint is wired`)
              assert.match(files(c!) ?? '', new RegExp(`^${ep.ip.replace(/\./g, '\\.')}\\s`, 'm'), `${label}: and has its files`)
              await net.disconnect(ep)
              await ep.namespace.close()
            } else {
              assert.deepEqual(await inside(c!), [], `${label}: an endpoint gone left no interface in the container`)
            }
            assert.equal(files(c!), undefined, `${label}: no files without an endpoint`)
            assert.deepEqual(await store.endpoints(net.id), [], label)
            await net.remove()
            await assertNothing(label)
          })
          await c!.delete()
        },
      )
      assert.ok(killed >= 16, `${killed} runs killed`)
    })
  }
})

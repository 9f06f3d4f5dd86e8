// Issue 18: deleting a mapping and disconnecting a container cost the same with thousands of
// other mappings in the table. The inputs of the issue (NatRule.delete with 1,000 and 5,000
// mappings and no masquerade or isolation rule; a mapping from NatRule.list() with 5,000; a
// disconnect with 5,000 other mappings) are checked here by their outcome (exactly the right
// elements left, traffic to the others still mapped) and by what was sent: never a listing of a
// whole map (the diagnostics channel of every nft trip). Their time is measured by the benchmark
// (`npm run bench:connect`), never here.
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as dc from 'node:diagnostics_channel'
import { MemoryNetworkStore, NatRule, Network, SqliteStore, type Endpoint, type Namespace } from '../../lib'
import type { TripEvent } from '../../lib/kernel/trace'
import { enterTeardown } from '../../lib/network/reaper'
import { Sandbox, ipj } from '../helpers'

const WORKER = path.join(__dirname, '..', 'fixtures', 'kill-worker.ts')
import { C1, C2, HOST_WAN, OUT_IP, nftApply, nftText, request, serve, stopAll, topology, type Topology } from '../nat-helpers'

/** `count` mappings tcp FIRST+i -> `to`:80 owned by netns-kit (ids 'f0000000' + i) through `dev`, added with nft -f. */
async function fill(ns: Namespace, count: number, first: number, to: string, dev: string): Promise<void> {
  const lines: string[] = []
  for (let i = 0; i < count; i += 500) {
    const elems: string[] = []
    for (let j = i; j < Math.min(count, i + 500); j++) {
      elems.push(`tcp . ${first + j} comment "netns-kit publish ${(0xf0000000 + j).toString(16)} ${dev}" : ${to} . 80`)
    }
    lines.push(`add element inet netns-kit pub4any { ${elems.join(', ')} }`)
  }
  await nftApply(ns, lines.join('\n') + '\n').catch((e: Error) => {
    throw new Error(e.message.slice(0, 300))
  })
}

/** Host ports in the map `set` (nft -j). */
async function portsIn(ns: Namespace, set: string): Promise<number[]> {
  const j = JSON.parse(await nftText(ns, '-j', 'list', 'map', 'inet', 'netns-kit', set)) as { nftables: { map?: { elem?: unknown[] } }[] }
  const elems = j.nftables.find((x) => x.map)?.map?.elem ?? []
  // each [key, value]; a key with a comment is { elem: { val: KEY, comment } }, a key { concat: ['tcp', PORT] }
  return elems
    .map((e) => {
      const key = (e as [{ concat?: unknown[]; elem?: { val: { concat: unknown[] } } }])[0]
      return Number((key.elem ? key.elem.val.concat : key.concat!)[1])
    })
    .sort((a, b) => a - b)
}

/** The trips made while `fn` runs (nft, or rtnl), as the diagnostics channel reports them. */
async function tripsOf(fn: () => Promise<unknown>, channel: 'nft' | 'rtnl' = 'nft'): Promise<string[]> {
  const ops: string[] = []
  const ch = dc.channel(`netns-kit:${channel}`)
  const on = (m: unknown) => {
    ops.push(...(m as TripEvent).ops)
  }
  ch.subscribe(on)
  try {
    await fn()
  } finally {
    ch.unsubscribe(on)
  }
  return ops
}

/** A listing of a whole map ("list elements inet netns-kit pub4any", without keys). */
const wholeMap = (ops: string[]) => ops.filter((o) => /^list elements .* pub/.test(o) && !/keys\)$/.test(o))

describe('Teardown at scale (issue 18)', function () {
  this.timeout(180000)
  const sb = new Sandbox()
  let t: Topology
  beforeEach(async () => {
    t = await topology(sb)
  })
  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
  })

  for (const others of [1000, 5000]) {
    it(`NatRule.delete with ${others} other mappings and no masquerade or isolation rule: exactly its element goes, nothing is listed`, async () => {
      const mine = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      await fill(t.host, others, 20000, C2, 'br0')
      assert.equal((await portsIn(t.host, 'pub4any')).length, others + 1)
      const ops = await tripsOf(() => mine.delete())
      assert.deepEqual(wholeMap(ops), [], 'no map listed to delete one mapping')
      const left = await portsIn(t.host, 'pub4any')
      assert.equal(left.length, others)
      assert.ok(!left.includes(8080))
      // A mapping read back by NatRule.list() deletes the same way.
      const listed = (await NatRule.list({ namespace: t.host })).find((r) => r.hostPort === 20000 + others - 1)!
      assert.equal(listed.containerIp, C2)
      const ops2 = await tripsOf(() => listed.delete())
      assert.deepEqual(wholeMap(ops2), [])
      const left2 = await portsIn(t.host, 'pub4any')
      assert.equal(left2.length, others - 1)
      assert.ok(!left2.includes(20000 + others - 1))
      await serve(t.c2, 'tcp', 80, 'c2')
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 20000), `c2 ${OUT_IP}`, 'the other mappings still map')
      // The table stays while a mapping is left; it goes with the last one's delete.
      await nftApply(t.host, 'flush map inet netns-kit pub4any\n')
      const last = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8081, containerIp: C1, containerPort: 80 })
      assert.notEqual(await nftText(t.host), '')
      await last.delete()
      assert.equal(await nftText(t.host), '', 'the table went with the last mapping')
    })
  }

  it('the table stays when one map still holds an element of any kind, and while a masquerade rule holds it', async () => {
    const a = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
    const b = await NatRule.publish({
      namespace: t.host,
      protocol: 'udp',
      hostIp: HOST_WAN,
      hostPort: 5353,
      containerIp: C2,
      containerPort: 53,
      localhost: true,
    })
    await a.delete()
    assert.match(await nftText(t.host), /pub4 /, 'b (in pub4 and pub4lo) keeps the table')
    const m = await NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', notOutInterface: 'br0' })
    await b.delete()
    assert.match(await nftText(t.host), /masquerade/, 'the masquerade rule keeps the table')
    await m.delete()
    assert.equal(await nftText(t.host), '')
  })

  it('Network.disconnect of a container with 3 published ports: their elements go in one batch, looked up once, nothing listed', async () => {
    const store = new MemoryNetworkStore()
    const net = await Network.create({ name: 'three', namespace: t.host, subnet: '172.31.0.0/16', dns: false, store })
    const c = await sb.ns()
    const ep = await net.connect(c, {
      publish: [
        { hostPort: 8080, containerPort: 80 },
        { hostPort: 8081, containerPort: 81 },
        { hostPort: 5353, containerPort: 53, protocol: 'udp' },
      ],
    })
    const keep = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 9090, containerIp: C2, containerPort: 80 })
    const ops = await tripsOf(() => net.disconnect(ep))
    // One lookup by key per map, one batch deleting all three mappings' elements (each map's once).
    assert.deepEqual(
      ops.filter((o) => o.startsWith('destroysetelem pub')),
      ['destroysetelem pub4any (3)', 'destroysetelem pub4lo (3)'],
    )
    assert.equal(ops.filter((o) => o.startsWith('list elements inet netns-kit pub4any')).length, 1)
    assert.deepEqual(
      ops.filter((o) => o.startsWith('list rules') || /^list elements inet netns-kit (bridges|localnet)$/.test(o)),
      [],
      'no whole listing of the rules, the bridges or the localnet records',
    )
    assert.deepEqual(await portsIn(t.host, 'pub4any'), [9090], 'the other mapping stays')
    await keep.delete()
    await net.remove()
    assert.equal(await nftText(t.host), '', 'the table goes with the network and the last mapping')
  })

  it('Network.disconnect with 5,000 other mappings: its mapping and veth go, the others stay, nothing is listed', async () => {
    const store = new MemoryNetworkStore()
    const net = await Network.create({ name: 'scale', namespace: t.host, store, subnet: '172.31.0.0/16', dns: false })
    const c = await sb.ns()
    const ep = await net.connect(c, { publish: [{ hostPort: 8080, containerPort: 80 }] })
    await fill(t.host, 5000, 20000, '172.31.0.200', net.bridge.name)
    const ops = await tripsOf(() => net.disconnect(ep))
    assert.deepEqual(wholeMap(ops), [], 'no map listed to disconnect')
    // While its network lives (its bridge's element, looked up by key), nothing else is read to
    // decide whether the table stays: no listing of the table's rules or of the bridges set. And the
    // elements found by key are deleted as found, not looked up a second time.
    assert.deepEqual(
      ops.filter((o) => o.startsWith('list rules') || o === 'list elements inet netns-kit bridges'),
      [],
      'no rule or bridge listing',
    )
    assert.equal(ops.filter((o) => o.startsWith('list elements inet netns-kit pub4any')).length, 1, 'one lookup of its mapping')
    const left = await portsIn(t.host, 'pub4any')
    assert.equal(left.length, 5000)
    assert.ok(!left.includes(8080))
    assert.deepEqual(await c.links().then((ls) => ls.map((l) => l.name).sort()), ['lo'], "the container's eth0 went with the veth")
    assert.equal((await t.host.links()).filter((l) => l.name.startsWith('veth') && l.name !== 'veth-c1' && l.name !== 'veth-c2').length, 0)
    await net.remove()
  })

  it('concurrent disconnects share their veth deletes (a link group, one RTM_DELLINK): everything goes, nothing else', async () => {
    const store = new MemoryNetworkStore()
    const net = await Network.create({ name: 'batch', namespace: t.host, store, subnet: '172.31.0.0/16', dns: false })
    const keep = await net.connect(await sb.ns(), { name: 'keep', publish: [{ hostPort: 9000, containerPort: 80 }] })
    const cs = await Promise.all(Array.from({ length: 8 }, () => sb.ns()))
    const eps: Endpoint[] = []
    for (const [i, c] of cs.entries()) eps.push(await net.connect(c, { name: `c${i}`, publish: [{ hostPort: 8000 + i, containerPort: 80 }] }))
    const ops = await tripsOf(() => Promise.all(eps.map((ep) => net.disconnect(ep))), 'rtnl')
    const deletes = ops.filter((o) => o.startsWith('link.delete'))
    assert.ok(deletes.length < eps.length, `${deletes.length} RTM_DELLINK for ${eps.length} veths: ${deletes.join(', ')}`)
    assert.ok(
      deletes.some((o) => /^link\.delete group \d+$/.test(o)),
      'one delete by link group',
    )
    for (const c of cs)
      assert.deepEqual(
        (await c.links()).map((l) => l.name),
        ['lo'],
        "each container's eth0 went with its veth",
      )
    const ports = (await net.bridge.ports()).map((l) => l.name)
    assert.deepEqual(ports, [keep.hostInterface], 'the other endpoint keeps its veth')
    assert.equal(ports.length, 1)
    assert.deepEqual(await portsIn(t.host, 'pub4any'), [9000])
    assert.deepEqual(
      (await store.endpoints(net.id)).map((e) => e.name),
      ['keep'],
    )
    await net.disconnect(keep)
    await net.remove()
  })

  it('a teardown that never reaches its veth does not hold the others back: they go once the batch waited long enough', async () => {
    const store = new MemoryNetworkStore()
    const net = await Network.create({ name: 'stuck', namespace: t.host, store, subnet: '172.31.0.0/16', dns: false })
    const cs = await Promise.all(Array.from({ length: 3 }, () => sb.ns()))
    const eps: Endpoint[] = []
    for (const [i, c] of cs.entries()) eps.push(await net.connect(c, { name: `c${i}` }))
    const leave = enterTeardown(t.host) // under way, and stays so until the end
    try {
      await Promise.all(eps.map((ep) => net.disconnect(ep)))
      for (const c of cs)
        assert.deepEqual(
          (await c.links()).map((l) => l.name),
          ['lo'],
        )
      assert.deepEqual(await net.bridge.ports(), [])
    } finally {
      leave()
    }
    await net.remove()
  })

  it('remove({ force: true }) disconnects its endpoints together: their veths go in batches, everything goes', async () => {
    const store = new MemoryNetworkStore()
    const net = await Network.create({ name: 'rm', namespace: t.host, store, subnet: '172.31.0.0/16', dns: false })
    const cs = await Promise.all(Array.from({ length: 8 }, () => sb.ns()))
    for (const [i, c] of cs.entries()) await net.connect(c, { name: `c${i}`, publish: [{ hostPort: 8000 + i, containerPort: 80 }] })
    const ops = await tripsOf(() => net.remove({ force: true }), 'rtnl')
    const veths = ops.filter((o) => /^link\.delete (veth|group)/.test(o))
    assert.ok(veths.length < cs.length, `${veths.length} RTM_DELLINK for ${cs.length} veths: ${veths.join(', ')}`)
    for (const c of cs)
      assert.deepEqual(
        (await c.links()).map((l) => l.name),
        ['lo'],
      )
    assert.equal(await nftText(t.host), '', 'the rules and the table went with the network')
    assert.deepEqual((await t.host.links()).map((l) => l.name).sort(), ['br0', 'lo', 'veth-c1', 'veth-c2', 'wan'], 'only the links of the topology are left')
  })

  it('a process killed between moving veths into the group and deleting it: gc removes them, nothing half is left', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-reaper-'))
    const store = new SqliteStore({ path: path.join(tmp, 'state.db') })
    try {
      const net = await Network.create({ name: 'kg', namespace: t.host, store, subnet: '172.31.0.0/16', dns: false })
      const cs = await Promise.all(Array.from({ length: 4 }, () => sb.ns()))
      for (const [i, c] of cs.entries()) await net.connect(c, { name: `web${i}`, publish: [{ hostPort: 8000 + i, containerPort: 80 }] })
      const killed = await new Promise<boolean>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--require', 'tsx/cjs', WORKER, 'disconnect-all', path.join(tmp, 'state.db'), t.host.name!, 'kg', '172.31.0.0/16'],
          { env: { ...process.env, NK_KILL_ON_OP: '^link\\.set .* group \\d+$' } },
          (err, _out, stderr) => {
            if (err && (err as { signal?: string }).signal === 'SIGKILL') return resolve(true)
            if (err) return reject(new Error(stderr || err.message))
            resolve(false)
          },
        )
      })
      assert.ok(killed, 'the worker moved a veth into a link group (and was killed there)')
      const grouped = (await ipj(t.host, 'link', 'show')).filter((l) => l.group !== undefined && l.group !== 'default' && l.group !== 0)
      assert.ok(grouped.length >= 1, 'a veth waits in its group')
      await Network.gc({ namespace: t.host, store })
      assert.deepEqual(
        (await ipj(t.host, 'link', 'show')).filter((l) => l.group !== undefined && l.group !== 'default' && l.group !== 0),
        [],
        'no link left in a group',
      )
      // Each endpoint is whole (its disconnect had not started) or gone with its veth, mapping and eth0.
      const left = new Set((await store.endpoints(net.id)).map((e) => e.name))
      const ports = await portsIn(t.host, 'pub4any')
      for (const [i, c] of cs.entries()) {
        const eth0 = (await c.links()).some((l) => l.name === 'eth0')
        if (left.has(`web${i}`)) {
          assert.equal((await store.endpointByName(net.id, `web${i}`))!.state, 'connected')
          assert.ok(eth0 && ports.includes(8000 + i), `web${i} whole`)
        } else {
          assert.ok(!eth0 && !ports.includes(8000 + i), `web${i} gone`)
        }
      }
      assert.equal((await net.bridge.ports()).length, left.size)
      assert.ok(left.size < 4, 'the killed disconnects were finished by gc')
      await net.remove({ force: true })
    } finally {
      await store.close()
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })
})

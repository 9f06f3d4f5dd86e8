// Issue 12, inputs 1, 2, 4 and 6, and how namespaces are recorded: with the default kind of store
// (SqliteStore, a database file of its own per test), gc looping while four processes connect,
// one name connected four times at once, ten disconnects of one endpoint at once, a bridge
// deleted by hand, a container namespace deleted behind the library's back. Witnesses: `ip -j`
// in each namespace, `nft -j list ruleset`, the store.
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { NatRule, Namespace, Network, SqliteStore, type NetnsKitError } from '../../lib'
import { identity } from '../../lib/network/state'
import { Sandbox, ipj, sh } from '../helpers'

const WORKER = path.join(__dirname, '..', 'fixtures', 'network-worker.ts')
const CURRENT_WORKER = path.join(__dirname, '..', 'fixtures', 'current-ns-worker.ts')

/** netns-kit's links (by alias) and map elements in `host`. */
async function kernel(host: Namespace): Promise<{ links: string[]; table: boolean; elements: number }> {
  const links = (await ipj(host, 'link', 'show')).filter((l) => String(l.ifalias ?? '').startsWith('netns-kit:')).map((l) => String(l.ifalias))
  const nft = JSON.parse((await sh('ip', ['netns', 'exec', host.name!, 'nft', '-j', 'list', 'ruleset'])).stdout).nftables as any[]
  const table = nft.some((o) => o.table?.name === 'netns-kit')
  const elements = nft.filter((o) => o.map?.table === 'netns-kit').reduce((n, o) => n + (o.map.elem?.length ?? 0), 0)
  return { links, table, elements }
}

/** The IPv4 addresses of a namespace's eth0 (none when it has no eth0). */
async function eth0(ns: Namespace): Promise<string[]> {
  const [l] = await ipj(ns, 'addr', 'show', 'dev', 'eth0').catch(() => [])
  return (l?.addr_info ?? []).filter((a: any) => a.family === 'inet').map((a: any) => a.local)
}

describe('Network state across processes and crashes (issue 12: inputs 1, 2, 4, 6)', function () {
  this.timeout(300000)
  const sb = new Sandbox()
  let host: Namespace
  let tmp: string
  let db: string
  let store: SqliteStore

  beforeEach(async () => {
    host = await sb.ns()
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-state-'))
    db = path.join(tmp, 'state.db')
    store = new SqliteStore({ path: db })
  })
  afterEach(async () => {
    await store.close()
    await sb.cleanup()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('gc looping while 4 processes connect 25 containers each at once: no address handed out twice in the kernel, no live intent touched (input 1)', async () => {
    const net = await Network.create({ name: 'race', namespace: host, store, subnet: '172.30.8.0/24' })
    const groups = await Promise.all(Array.from({ length: 4 }, () => Promise.all(Array.from({ length: 25 }, () => sb.ns()))))
    const children = groups.map((g) =>
      spawn(process.execPath, ['--require', 'tsx/cjs', WORKER, db, host.name!, 'race', ...g.map((c) => c.name!)], { stdio: ['ignore', 'pipe', 'inherit'] }),
    )
    const outputs = children.map((c) => {
      let out = ''
      c.stdout!.on('data', (d) => {
        out += d
      })
      return new Promise<string[]>((resolve, reject) =>
        c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`worker exited ${code}`)))),
      )
    })
    let running = true
    let rounds = 0
    const removed: string[] = []
    const loop = (async () => {
      while (running) {
        const r = await Network.gc({ namespace: host, store })
        removed.push(...r.endpoints, ...r.addresses, ...r.links, ...r.rules)
        rounds++
      }
    })()
    const got = (await Promise.all(outputs)).flat()
    running = false
    await loop
    assert.ok(rounds >= 2, `gc ran ${rounds} times during the connects`)
    assert.deepEqual(removed, [], 'gc removed nothing of the live connects')
    // The kernel, container by container: 100 distinct addresses, each the one its process got.
    const inKernel = (await Promise.all(groups.flat().map(eth0))).map((a) => {
      assert.equal(a.length, 1)
      return a[0]!
    })
    assert.equal(new Set(inKernel).size, 100, 'no address configured in two containers')
    assert.deepEqual([...inKernel].sort(), [...got].sort())
    const recs = await store.endpoints(net.id)
    assert.deepEqual(recs.map((e) => e.addresses[0]!.address).sort(), [...inKernel].sort(), 'every record holds its address')
    assert.deepEqual(await store.intents(), [])
    assert.equal((await kernel(host)).links.length, 101, 'the bridge and 100 veths')
  })

  it('4 concurrent connects with one name: exactly one endpoint, three ERR_NETNS_KIT_ENDPOINT_EXISTS, nothing made for them (input 2)', async () => {
    const net = await Network.create({ name: 'names', namespace: host, store, subnet: '172.30.9.0/24' })
    const cs = await Promise.all(Array.from({ length: 4 }, () => sb.ns()))
    const results = await Promise.allSettled(cs.map((c) => net.connect(c, { name: 'web', publish: [{ containerPort: 80 }] })))
    const ok = results.filter((r) => r.status === 'fulfilled')
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    assert.equal(ok.length, 1)
    assert.deepEqual(
      refused.map((r) => (r.reason as NetnsKitError).code),
      Array(3).fill('ERR_NETNS_KIT_ENDPOINT_EXISTS'),
    )
    // Case does not make another name (as DNS).
    await assert.rejects(net.connect(await sb.ns(), { name: 'WEB' }), { code: 'ERR_NETNS_KIT_ENDPOINT_EXISTS' })
    assert.equal((await Promise.all(cs.map(eth0))).filter((a) => a.length).length, 1, 'one container wired')
    const k = await kernel(host)
    assert.equal(k.links.length, 2, 'the bridge and one veth')
    assert.equal(k.elements, 2, 'one mapping (its wildcard element and its 127.0.0.1 one)')
    assert.deepEqual(
      (await store.endpoints(net.id)).map((e) => e.name),
      ['web'],
    )
  })

  it('10 parallel disconnects of one endpoint (and 5 more through another Network object) all resolve; nothing is left (input 6)', async () => {
    const net = await Network.create({ name: 'dis', namespace: host, store, subnet: '172.30.10.0/24' })
    const c = await sb.ns()
    const ep = await net.connect(c, {
      name: 'web',
      publish: [
        { hostPort: 8080, containerPort: 80 },
        { protocol: 'udp', hostPort: 5353, containerPort: 53 },
      ],
    })
    const other = await Network.open('dis', { namespace: host, store })
    const twin = await other.endpoint({ name: 'web' })
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => net.disconnect(ep)),
      ...Array.from({ length: 5 }, () => other.disconnect(twin!)),
    ])
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    )
    assert.deepEqual(await eth0(c), [])
    assert.deepEqual(await kernel(host), { links: [`netns-kit:dis`], table: true, elements: 0 })
    assert.deepEqual(await store.endpoints(net.id), [])
    await net.disconnect(ep)
    await twin!.namespace.close()
  })

  it('a bridge deleted by hand: list, open, disconnect, remove work; the name and subnet are created again (input 4)', async () => {
    const net = await Network.create({ name: 'orphan', namespace: host, store, subnet: '172.30.11.0/24' })
    const [c1, c2] = [await sb.ns(), await sb.ns()]
    const e1 = await net.connect(c1, { name: 'a', publish: [{ hostPort: 8081, containerPort: 80 }] })
    await net.connect(c2, { name: 'b' })
    await sh('ip', ['-n', host.name!, 'link', 'del', net.bridge.name])
    // list and open: from the records, the bridge missing.
    assert.deepEqual(
      (await Network.list({ namespace: host, store })).map((n) => [n.name, n.bridge.name, n.bridge.index]),
      [['orphan', net.bridge.name, 0]],
    )
    const opened = await Network.open('orphan', { namespace: host, store })
    assert.equal(opened.bridge.index, 0)
    await assert.rejects(opened.connect(await sb.ns()), { code: 'ERR_NETNS_KIT_NO_BRIDGE' })
    // A container namespace deleted behind the library's back too.
    await sh('ip', ['netns', 'del', c2.name!])
    const a = await opened.endpoint({ name: 'a' })
    await opened.disconnect(a!)
    assert.deepEqual(await eth0(c1), [])
    await a!.namespace.close()
    await assert.rejects(Network.create({ name: 'orphan', namespace: host, store, subnet: '172.30.11.0/24' }), { code: 'ERR_NETNS_KIT_NETWORK_EXISTS' })
    await opened.remove({ force: true })
    assert.deepEqual(await kernel(host), { links: [], table: false, elements: 0 })
    assert.deepEqual(await store.networks(), [])
    await assert.rejects(Network.open('orphan', { namespace: host, store }), { code: 'ERR_NETNS_KIT_NO_NETWORK' })
    // The same name and subnet again, the same address and host port.
    const again = await Network.create({ name: 'orphan', namespace: host, store, subnet: '172.30.11.0/24' })
    const e = await again.connect(c1, { name: 'a', ip: e1.ip, publish: [{ hostPort: 8081, containerPort: 80 }] })
    assert.deepEqual(await eth0(c1), [e1.ip])
    await again.disconnect(e)
    await again.remove()
  })

  it('-P: a host port the store chose but a mapping outside the store holds is skipped (the connect starts again)', async () => {
    const net = await Network.create({ name: 'ports', namespace: host, store, subnet: '172.30.14.0/24', dns: false })
    // The store's first choice for -P is the bottom of its range: published here behind its back.
    const foreign = await NatRule.publish({ namespace: host, protocol: 'tcp', hostPort: 32768, containerIp: '172.30.14.200', containerPort: 80 })
    const c = await sb.ns()
    const ep = await net.connect(c, { publish: [{ containerPort: 80 }] })
    assert.deepEqual(
      ep.ports.map((p) => p.hostPort),
      [32769],
    )
    assert.deepEqual(
      (await NatRule.list({ namespace: host }))
        .filter((r) => r.kind === 'publish')
        .map((r) => `${r.hostPort} ${r.containerIp}`)
        .sort(),
      ['32768 172.30.14.200', `32769 ${ep.ip}`],
    )
    assert.deepEqual(await eth0(c), [ep.ip], 'the first try left nothing: the container has one interface')
    assert.deepEqual(
      (await store.endpoints(net.id)).map((e) => e.ports.map((p) => p.hostPort)),
      [[32769]],
    )
    await net.disconnect(ep)
    await foreign.delete()
  })

  it('the embedded resolver follows the store: names connected by another process resolve, and stop resolving once disconnected', async () => {
    const net = await Network.create({ name: 'names2', namespace: host, store, subnet: '172.30.13.0/24', dns: { upstream: [] } })
    const a = await sb.ns()
    await net.connect(a, { name: 'alpha' })
    const dig = async (name: string) =>
      (await sh('ip', ['netns', 'exec', a.name!, 'dig', '@127.0.0.11', '+time=1', '+tries=1', '+short', name], { allowFail: true })).stdout.trim()
    // Another process connects two containers (it exits; their records stay connected).
    const others = [await sb.ns(), await sb.ns()]
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', WORKER, db, host.name!, 'names2', ...others.map((c) => c.name!)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NETWORK_WORKER_NAMES: '1' },
    })
    let out = ''
    child.stdout!.on('data', (d) => {
      out += d
    })
    await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`)))))
    const ips = JSON.parse(out) as string[]
    // The change feed brings them within moments (inotify, or the 50 ms poll).
    let seen = ''
    for (let i = 0; i < 50 && seen !== ips[1]; i++) {
      seen = await dig('w1')
      if (seen !== ips[1]) await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(seen, ips[1], 'a name another process connected resolves')
    assert.equal(await dig('W0'), ips[0])
    // Disconnected (here, from its record): gone from the answers.
    const w0 = await net.endpoint({ name: 'w0' })
    await net.disconnect(w0!)
    await w0!.namespace.close()
    assert.equal(await dig('w0'), '')
    assert.equal(await dig('alpha'), (await eth0(a))[0])
  })

  it('records namespaces by a path another process can open: /proc/self is not one', async () => {
    // A named namespace opened through a process inside it: recorded by its name's path.
    const c = await sb.ns()
    const sleeper = c.spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      for (let i = 0; i < 100 && fs.readlinkSync(`/proc/${sleeper.pid}/ns/net`) !== `net:[${c.id}]`; i++) await new Promise((r) => setTimeout(r, 10))
      const byPid = await Namespace.fromPid(sleeper.pid!)
      assert.equal(identity(byPid).path, c.path)
      await byPid.close()
    } finally {
      sleeper.kill('SIGKILL')
    }
    // A process's own namespace: never '/proc/self/ns/net', which names another namespace in every
    // process. A child inside a throwaway namespace plays "this process", so the real root is never touched.
    const t = await sb.ns()
    const child = spawn('ip', ['netns', 'exec', t.name!, process.execPath, '--require', 'tsx/cjs', CURRENT_WORKER, db], { stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = ''
        child.stdout!.on('data', (d) => {
          out += d
          if (out.includes('\n')) resolve(out.split('\n')[0]!)
        })
        child.on('exit', (code) => reject(new Error(`worker exited ${code} before reporting`)))
      })
      const r = JSON.parse(line) as { id: { path: string; dev: string; ino: string }; stat: [string, string]; recorded: string }
      assert.notEqual(r.id.path, '/proc/self/ns/net')
      assert.deepEqual(r.stat, [r.id.dev, r.id.ino])
      assert.equal(String(fs.statSync(r.id.path, { bigint: true }).ino), t.id.toString(), 'the path names the throwaway namespace')
      // The network created in it recorded that path; this process, opening it by that path, finds the same namespace.
      assert.equal(r.recorded, r.id.path)
      assert.equal(String(fs.statSync(r.recorded, { bigint: true }).ino), r.id.ino)
    } finally {
      child.stdin!.end('done\n')
      assert.equal(await exited, 0)
    }
  })
})

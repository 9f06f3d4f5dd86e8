// The companion process (issue 14) against the store contract: records written straight into a
// SqliteStore (as Network and the CNI plugin write them), real namespaces, and witnesses that are
// not netns-kit: dig and getent inside the containers, plain Node servers' bind() on the host, `ip -j`,
// /proc for the companion's process.
//   H (host):      the networks' host namespace; 203.0.113.1/24 towards O
//   O (outside):   fake DNS servers on 203.0.113.2 and 203.0.113.3 (test/fixtures/fake-dns.js)
//   C1, C2, ...:   containers (only loopback unless a test adds a veth)
import { strict as assert } from 'node:assert'
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { Namespace, VethPair, hostsFile, resolvConf } from '../../lib'
import { writeEtcNetns } from '../../lib/etc-netns'
import { Companion, companionPaths, stopAllCompanions } from '../../lib/companion'
import { SqliteStore } from '../../lib/ipam/sqlite-store'
import type { DnsSettings, EndpointRecord, NetworkRecord, NsIdentity, PortSpec } from '../../lib/ipam/network-store'
import { handleOf } from '../../lib/kernel/handles'
import { Sandbox, ipj, runIn, sh } from '../helpers'

const fakeDns = path.join(__dirname, '..', 'fixtures', 'fake-dns.js')
const worker = path.join(__dirname, '..', 'fixtures', 'companion-worker.ts')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function identity(ns: Namespace): NsIdentity {
  const h = handleOf(ns)
  return { dev: String(h.dev), ino: String(h.ino), path: ns.path }
}

const dig = (ns: Namespace, ...args: string[]) => runIn(ns, 'dig', ['@127.0.0.11', '+time=1', '+tries=1', '+short', ...args]).then((r) => r.out.trim())

/** Polls `f` until it returns something truthy; resolves with it and the time it took. */
async function within<T>(ms: number, what: string, f: () => Promise<T | undefined | false>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now()
  let last: T | undefined | false
  for (;;) {
    last = await f()
    if (last) return { value: last, ms: Date.now() - t0 }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`)
    await sleep(20)
  }
}

/** A host process's bind() in `ns` (plain Node sockets, with SO_REUSEADDR as most servers set it): 'ok' or the errno name. */
async function hostBind(ns: Namespace, proto: 'tcp' | 'udp', address: string, port: number): Promise<string> {
  const js =
    proto === 'tcp'
      ? `require('net').createServer().on('error', (e) => { console.log(e.code); process.exit() }).listen({ host: '${address}', port: ${port}, ipv6Only: true }, () => { console.log('ok'); process.exit() })`
      : `require('dgram').createSocket({ type: '${address.includes(':') ? 'udp6' : 'udp4'}', reuseAddr: true }).on('error', (e) => { console.log(e.code); process.exit() }).bind(${port}, '${address}', () => { console.log('ok'); process.exit() })`
  return (await runIn(ns, process.execPath, ['-e', js])).out.trim()
}

function procAlive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^\S+ \(.*\) [ZX]/.test(st)
  } catch {
    return false
  }
}

/** The companion processes (by their command line) serving `store`. */
function companionsOf(store: string): number[] {
  const out: number[] = []
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')
      if (cmd.some((a) => /companion[/]main\.[jt]s$/.test(a)) && cmd.includes(store) && procAlive(Number(d))) out.push(Number(d))
    } catch {
      /* gone */
    }
  }
  return out
}

describe('companion process (records written into the store)', function () {
  this.timeout(90000)
  const sb = new Sandbox()
  let host: Namespace
  let tmp: string
  let dbPath: string
  let store: SqliteStore
  let companions: Companion[]
  let children: ChildProcess[]
  let noUpstreams: string

  beforeEach(async () => {
    host = await sb.ns()
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-companion-'))
    dbPath = path.join(tmp, 'state.db')
    noUpstreams = path.join(tmp, 'empty-resolv.conf')
    fs.writeFileSync(noUpstreams, '')
    store = new SqliteStore({ path: dbPath, importFileStore: false })
    companions = []
    children = []
  })

  afterEach(async () => {
    for (const c of children) c.kill('SIGKILL')
    for (const c of companions) await c.stop().catch(() => {})
    // Whatever a failed test left running (this suite's run directory is the sandbox's /run/netns-kit).
    for (const pid of companionsOf(dbPath)) process.kill(pid, 'SIGKILL')
    await store.close()
    await sb.cleanup()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  /** The companion, with no upstream servers unless the test gives a resolv.conf (SERVFAIL at once for other names). */
  async function companion(opts: { resolvConf?: string; idleMs?: number } = {}): Promise<Companion> {
    const c = await Companion.connect({ host, store: dbPath, resolvConf: noUpstreams, ...opts })
    companions.push(c)
    return c
  }

  async function network(
    name: string,
    config: Record<string, unknown> = {},
    pools: { subnet: string }[] = [{ subnet: '10.88.0.0/24' }],
  ): Promise<NetworkRecord> {
    const n = await store.beginCreateNetwork({ name, driver: 'bridge', host: identity(host), pools, config: { bridge: `nkbr-${name}`, dns: true, ...config } })
    return store.finishCreateNetwork(n.id)
  }

  async function connect(
    net: NetworkRecord,
    ns: Namespace,
    spec: { name: string; aliases?: string[]; hostIf?: string; ports?: PortSpec[]; dns?: DnsSettings; v6?: boolean },
    c?: Companion,
  ): Promise<EndpointRecord> {
    const { endpoint } = await store.beginConnect(net.id, {
      name: spec.name,
      aliases: spec.aliases,
      ns: identity(ns),
      hostIf: spec.hostIf,
      ports: spec.ports,
      dns: spec.dns,
      addresses: [{ family: 4 }, ...(spec.v6 ? [{ family: 6 as const }] : [])],
    })
    if (c) await c.prepare(endpoint.id)
    const done = await store.finishConnect(endpoint.id)
    // As Network.connect: the companion serves the name before connect returns (without this, its
    // watcher applies the flip a moment later, and a lookup right after could miss it).
    if (c) await c.sync()
    return done
  }

  async function disconnect(id: string): Promise<void> {
    const s = await store.beginDisconnect(id)
    if (s.status === 'started') await store.finishDisconnect(id)
  }

  /** Runs the worker fixture; resolves with its JSON line. */
  function runWorker(spec: Record<string, unknown>): Promise<{ ids: string[]; companion: number; child: ChildProcess }> {
    const child = spawn(
      process.execPath,
      ['--require', require.resolve('tsx/cjs'), worker, JSON.stringify({ store: dbPath, host: host.path, resolvConf: noUpstreams, ...spec })],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    children.push(child)
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`worker exited ${code}`)))
      readline.createInterface({ input: child.stdout! }).once('line', (l) => resolve({ ...(JSON.parse(l) as { ids: string[]; companion: number }), child }))
    })
  }

  /** An "outside" namespace with fake DNS servers at 203.0.113.2 and .3, reachable from the host only. */
  async function outside(): Promise<{ logs: Map<string, { name: string; from: string }[]> }> {
    const o = await sb.ns()
    const v = await VethPair.create({ name: 'ho0', namespace: host, up: true, peer: { name: 'eth0', namespace: o, up: true } })
    await v.host.addAddress('203.0.113.1/24')
    await v.peer.addAddress('203.0.113.2/24')
    await v.peer.addAddress('203.0.113.3/24')
    const logs = new Map<string, { name: string; from: string }[]>()
    for (const ip of ['203.0.113.2', '203.0.113.3']) {
      const log: { name: string; from: string }[] = []
      logs.set(ip, log)
      const p = o.spawn(process.execPath, [fakeDns, ip], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(p)
      await new Promise<void>((resolve, reject) => {
        p.once('exit', (c) => reject(new Error(`fake dns exited ${c}`)))
        readline.createInterface({ input: p.stdout! }).on('line', (l) => {
          const m = JSON.parse(l) as { ready?: boolean; name: string; from: string }
          if (m.ready) resolve()
          else log.push(m)
        })
      })
    }
    return { logs }
  }

  it('starts detached on demand with three capabilities, found through its pid file and socket', async () => {
    const c = await companion()
    const pid = c.hello!.pid
    const paths = companionPaths(identity(host), dbPath)
    assert.equal(fs.readFileSync(paths.pid, 'utf8').trim(), String(pid))
    assert.ok(fs.statSync(paths.socket).isSocket())
    assert.equal(fs.statSync('/run/netns-kit').mode & 0o777, 0o700)
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    // CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_SYS_ADMIN (21): nothing else, not even in the bounding set
    assert.match(status, /^CapEff:\s*0000000000201400$/m)
    assert.match(status, /^CapBnd:\s*0000000000201400$/m)
    assert.match(status, /^CapAmb:\s*0000000000000000$/m)
    // its own session, stdin /dev/null, stdout and stderr its log, nothing else of ours
    const stat = fs
      .readFileSync(`/proc/${pid}/stat`, 'utf8')
      .slice(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2)
      .split(' ')
    assert.equal(stat[3], String(pid), 'session leader')
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/0`), '/dev/null')
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/1`), paths.log)
    assert.equal(fs.readlinkSync(`/proc/${pid}/cwd`), '/')
    const ours = new Set(
      fs
        .readdirSync('/proc/self/fd')
        .map((f) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${f}`)
          } catch {
            return ''
          }
        })
        .filter((l) => l.startsWith('/') && !l.startsWith('/dev/') && !l.startsWith('/proc/')),
    )
    const theirs = fs.readdirSync(`/proc/${pid}/fd`).map((f) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${f}`)
      } catch {
        return ''
      }
    })
    for (const l of theirs) assert.ok(!ours.has(l) || l === dbPath || l.startsWith(dbPath), `inherited ${l}`)
    // a second connect finds the same one
    const again = await companion()
    assert.equal(again.hello!.pid, pid)
  })

  it("serves every endpoint's names in each container: names, aliases, NAME.NETWORK, AAAA, PTR; another process's within 1 s", async () => {
    const net = await network('app', {}, [{ subnet: '10.88.0.0/24' }, { subnet: 'fd00:88::/64' }])
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const c = await companion()
    const web = await connect(net, c1, { name: 'web', aliases: ['www'], v6: true }, c)
    await c.sync()
    const ip4 = web.addresses.find((a) => a.family === 4)!.address
    const ip6 = web.addresses.find((a) => a.family === 6)!.address
    assert.equal(await dig(c1, 'web'), ip4)
    assert.equal(await dig(c1, 'WWW.'), ip4)
    assert.equal(await dig(c1, 'web.app'), ip4)
    assert.equal(await dig(c1, 'web', 'AAAA'), ip6)
    assert.equal(await dig(c1, '-x', ip4), 'web.')
    // P2, another process, connects db in C2: C1 resolves it within 1 s, through the store's change feed
    const t0 = Date.now()
    const { ids } = await runWorker({ network: net.id, endpoints: [{ name: 'db', ns: c2.path, aliases: ['postgres'] }], stay: true })
    const db = (await store.endpoint(ids[0]!))!
    const { ms } = await within(1000 + (Date.now() - t0), 'db resolvable from C1', async () => (await dig(c1, 'postgres')) === db.addresses[0]!.address)
    assert.ok(ms < 1000 + (Date.now() - t0))
    assert.equal(await dig(c2, 'web'), ip4, 'and C2 resolves web')
    // gone from the store: gone from every resolver
    await disconnect(db.id)
    await within(1000, 'db gone', async () => (await dig(c1, 'db')) === '')
  })

  it('names keep resolving 5 s after the connecting process exited', async () => {
    const net = await network('left')
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const w = await runWorker({
      network: net.id,
      endpoints: [
        { name: 'a', ns: c1.path },
        { name: 'b', ns: c2.path },
      ],
    })
    await new Promise<void>((resolve) => (w.child.exitCode !== null ? resolve() : w.child.once('exit', () => resolve())))
    assert.equal(w.child.exitCode, 0)
    await sleep(5000)
    const b = (await store.endpoint(w.ids[1]!))!
    assert.equal(await dig(c1, 'b'), b.addresses[0]!.address)
    assert.ok(procAlive(w.companion), 'the companion outlived the process that started it')
    companions.push(await companion())
  })

  it("forwards a container's other names to its endpoint's dns.servers (docker --dns), others to the network's", async () => {
    const { logs } = await outside()
    const net = await network('fwd', { upstream: ['203.0.113.3'] })
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const c = await companion()
    await connect(net, c1, { name: 'one', dns: { servers: ['203.0.113.2'], search: ['example.test'], options: ['ndots:1'] } }, c)
    await connect(net, c2, { name: 'two' }, c)
    assert.equal(await dig(c1, 'www.upstream.test'), '198.51.100.7')
    await sleep(100)
    assert.deepEqual(
      logs.get('203.0.113.2')!.map((l) => [l.name, l.from]),
      [['www.upstream.test', '203.0.113.1']],
      'asked from the host namespace',
    )
    assert.equal(logs.get('203.0.113.3')!.length, 0)
    assert.equal(await dig(c2, 'www.upstream.test'), '198.51.100.7')
    await sleep(100)
    assert.equal(logs.get('203.0.113.3')!.length, 1)
    assert.equal(logs.get('203.0.113.2')!.length, 1)
  })

  it("follows the host's resolv.conf without restarting anything", async () => {
    const { logs } = await outside()
    const rc = path.join(tmp, 'resolv.conf')
    fs.writeFileSync(rc, 'nameserver 203.0.113.3\n')
    const net = await network('hostdns')
    const c1 = await sb.ns()
    const c = await companion({ resolvConf: rc })
    await connect(net, c1, { name: 'one' }, c)
    assert.equal(await dig(c1, 'www.upstream.test'), '198.51.100.7')
    // replaced by a rename, as resolvconf and NetworkManager do
    fs.writeFileSync(`${rc}.new`, 'nameserver 203.0.113.2\n')
    fs.renameSync(`${rc}.new`, rc)
    await within(2000, 'queries going to .2', async () => {
      await dig(c1, 'www.upstream.test')
      return logs.get('203.0.113.2')!.length > 0
    })
    const pid = c.hello!.pid
    assert.equal((await c.status()).pid, pid, 'the same companion')
    assert.deepEqual((await c.status()).hostUpstreams, ['203.0.113.2'])
  })

  it('holds published host ports: a host bind() fails with EADDRINUSE until the mapping goes', async () => {
    const net = await network('ports', { dns: false })
    const c1 = await sb.ns()
    const c = await companion()
    await runIn(host, 'ip', ['addr', 'add', '198.51.100.10/32', 'dev', 'lo'])
    const ep = await connect(
      net,
      c1,
      {
        name: 'pub',
        ports: [
          { protocol: 'tcp', hostPort: 18080, containerPort: 80 },
          { protocol: 'udp', hostPort: 18081, containerPort: 53 },
          { protocol: 'tcp', family: 6, hostPort: 18080, containerPort: 80 },
          { protocol: 'tcp', hostIp: '198.51.100.10', hostPort: 18082, containerPort: 80 },
        ],
      },
      c,
    )
    assert.equal(await hostBind(host, 'tcp', '0.0.0.0', 18080), 'EADDRINUSE')
    assert.equal(await hostBind(host, 'tcp', '127.0.0.1', 18080), 'EADDRINUSE')
    assert.equal(await hostBind(host, 'udp', '0.0.0.0', 18081), 'EADDRINUSE')
    assert.equal(await hostBind(host, 'tcp', '::', 18080), 'EADDRINUSE')
    assert.equal(await hostBind(host, 'tcp', '198.51.100.10', 18082), 'EADDRINUSE')
    assert.equal(await hostBind(host, 'tcp', '0.0.0.0', 18083), 'ok', 'other ports are free')
    const ss = await sh('ip', ['netns', 'exec', host.name!, 'ss', '-lntupH'])
    assert.match(ss.stdout, new RegExp(`0\\.0\\.0\\.0:18080 .*pid=${c.hello!.pid}`))
    await disconnect(ep.id)
    await c.sync()
    assert.equal(await hostBind(host, 'tcp', '0.0.0.0', 18080), 'ok')
    assert.equal(await hostBind(host, 'udp', '0.0.0.0', 18081), 'ok')
    assert.equal(await hostBind(host, 'tcp', '198.51.100.10', 18082), 'ok')
  })

  it('refuses to prepare a port a host process holds (before any DNAT), and holds nothing of it', async () => {
    const net = await network('busy', { dns: false })
    const c1 = await sb.ns()
    const c = await companion()
    const holder = host.spawn('socat', ['TCP-LISTEN:18090,bind=0.0.0.0,reuseaddr', 'STDOUT'], { stdio: 'ignore' })
    children.push(holder)
    await within(3000, 'socat listening', async () => (await hostBind(host, 'tcp', '0.0.0.0', 18090)) === 'EADDRINUSE')
    const { endpoint } = await store.beginConnect(net.id, {
      name: 'x',
      ns: identity(c1),
      addresses: [{ family: 4 }],
      ports: [
        { protocol: 'udp', hostPort: 18091, containerPort: 1 },
        { protocol: 'tcp', hostPort: 18090, containerPort: 80 },
      ],
    })
    await assert.rejects(c.prepare(endpoint.id), (e: Error & { code?: string }) => e.code === 'EADDRINUSE' && /18090/.test(e.message))
    assert.equal(await hostBind(host, 'udp', '0.0.0.0', 18091), 'ok', 'all or nothing: the UDP port went back')
    holder.kill('SIGKILL')
    await new Promise((r) => holder.once('exit', r))
    // the holder gone, the same endpoint prepares
    assert.deepEqual((await c.prepare(endpoint.id)).ports.sort(), ['tcp 0.0.0.0:18090', 'udp 0.0.0.0:18091'])
    await store.abortConnect(endpoint.id)
    await c.sync()
    assert.equal(await hostBind(host, 'tcp', '0.0.0.0', 18090), 'ok')
  })

  it('a namespace deleted without disconnect leaves nothing behind within 1 s, and its address is reusable', async () => {
    const net = await network('heal')
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const c = await companion()
    await VethPair.create({ name: 'vethheal1', namespace: host, up: true, peer: { name: 'eth0', namespace: c1, up: true } })
    const ep = await connect(net, c1, { name: 'doomed', hostIf: 'vethheal1', ports: [{ protocol: 'tcp', hostPort: 18100, containerPort: 80 }] }, c)
    await connect(net, c2, { name: 'other' }, c)
    assert.equal(await dig(c2, 'doomed'), ep.addresses[0]!.address)
    const ip = ep.addresses[0]!.address
    // the container dies: its namespace goes (our handle let go first, as a runtime's would be), nobody calls disconnect
    await c1.close()
    const t0 = Date.now()
    await sh('ip', ['netns', 'del', c1.name!])
    const { ms } = await within(1000, 'the endpoint record gone', async () => (await store.endpoint(ep.id)) === undefined)
    assert.ok(ms <= 1000, `took ${ms} ms`)
    assert.deepEqual(await ipj(host, 'link', 'show', 'vethheal1').catch(() => []), [])
    await c.sync()
    assert.equal(await dig(c2, 'doomed'), '')
    assert.equal(await hostBind(host, 'tcp', '0.0.0.0', 18100), 'ok', 'its reservation went too')
    const c3 = await sb.ns()
    const { endpoint } = await store.beginConnect(net.id, { name: 'doomed', ns: identity(c3), addresses: [{ family: 4, ip }] })
    assert.equal(endpoint.addresses[0]!.address, ip, 'the address and the name are free again')
    assert.ok((await c.status()).healed >= 1)
    assert.ok(Date.now() - t0 < 10000)
  })

  it("ns.spawn and ip netns exec see the container's files of /etc/netns: getent hosts resolves through the companion", async () => {
    const net = await network('getent')
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const c = await companion()
    const me = await connect(net, c1, { name: 'app' }, c)
    const db = await connect(net, c2, { name: 'db' }, c)
    const before = await runIn(c1, 'getent', ['hosts', 'db'])
    assert.equal(before.code, 2, "without the files: the host's resolv.conf, which knows no db")
    await writeEtcNetns(c1.name!, {
      hosts: hostsFile({ hostname: 'app', addresses: [me.addresses[0]!.address] }),
      hostname: 'app\n',
      'resolv.conf': resolvConf({ resolver: true, nameservers: [] }),
    })
    try {
      const viaSpawn = await runIn(c1, 'getent', ['hosts', 'db'])
      assert.equal(viaSpawn.code, 0, viaSpawn.out)
      assert.deepEqual(viaSpawn.out.trim().split(/\s+/), [db.addresses[0]!.address, 'db'])
      assert.deepEqual(
        (await runIn(c1, 'getent', ['hosts', 'app'])).out.trim().split(/\s+/),
        [me.addresses[0]!.address, 'app'],
        'its own name from its hosts file',
      )
      const viaIp = await sh('ip', ['netns', 'exec', c1.name!, 'getent', 'hosts', 'db'])
      assert.deepEqual(viaIp.stdout.trim().split(/\s+/), [db.addresses[0]!.address, 'db'])
      // only inside: the host's own files are untouched
      assert.doesNotMatch(fs.readFileSync('/etc/resolv.conf', 'utf8'), /127\.0\.0\.11/)
      // exec failures still come back through the status pipe
      const p = c1.spawn('/nonexistent/cmd', [])
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => p.once('error', resolve))
      assert.equal(err.code, 'ENOENT')
    } finally {
      await c1.delete()
    }
    assert.equal(fs.existsSync(path.join('/etc/netns', c1.name!)), false, 'the namespace deleted, its files went with it')
  })

  it('a companion killed with SIGKILL is started again by the next call, and names resolve again', async () => {
    const net = await network('phoenix')
    const c1 = await sb.ns()
    const c = await companion()
    const ep = await connect(net, c1, { name: 'svc' }, c)
    assert.equal(await dig(c1, 'svc'), ep.addresses[0]!.address)
    const first = c.hello!.pid
    process.kill(first, 'SIGKILL')
    await within(2000, 'killed', async () => !procAlive(first))
    assert.match(await dig(c1, 'svc'), /connection refused|no servers/, 'nothing answers while it is dead')
    // sync() starts none (a caller only lets a running one catch up)
    await assert.rejects(c.sync(), (e: Error & { code?: string }) => e.code === 'ERR_NETNS_KIT_COMPANION')
    // the next call that needs one (prepare, ensure): a fresh one, rebuilt from the store
    await c.ensure()
    const again = await companion()
    assert.notEqual(again.hello!.pid, first)
    assert.equal(await dig(c1, 'svc'), ep.addresses[0]!.address)
    assert.deepEqual(companionsOf(dbPath), [again.hello!.pid])
  })

  it('two callers starting it at once end with one companion', async () => {
    const net = await network('race')
    await connect(net, await sb.ns(), { name: 'keeps-it-busy' })
    const cs = await Promise.all([0, 1, 2, 3].map(() => Companion.connect({ host, store: dbPath, resolvConf: noUpstreams })))
    companions.push(...cs)
    assert.equal(new Set(cs.map((c) => c.hello!.pid)).size, 1)
    await sleep(3500) // the losers wait up to 3 s for the lock before they give up
    assert.deepEqual(companionsOf(dbPath), [cs[0]!.hello!.pid])
  })

  it('callers arriving while it exits idle all reach a companion (start and idle exit racing, 8 rounds)', async () => {
    // Nothing needs it and it lingers 30 ms: each round's callers land before, during or after
    // its exit; each must end talking to a companion that serves (the one leaving or the next).
    for (let round = 0; round < 8; round++) {
      const first = await Companion.connect({ host, store: dbPath, resolvConf: noUpstreams, idleMs: 30 })
      companions.push(first)
      await sleep(20 + (round % 5) * 5)
      const cs = await Promise.all([0, 1, 2, 3].map(() => Companion.connect({ host, store: dbPath, resolvConf: noUpstreams, idleMs: 30 })))
      companions.push(...cs)
      await sleep((round % 3) * 15)
      const hellos = await Promise.all(cs.map((c) => c.ensure()))
      for (const h of hellos) assert.equal(h.key, first.paths.key)
    }
    for (const c of companions) await c.stop()
    // A starter that lost the lock to the leaving one and took it once that one left may have
    // started a companion no caller needs any more: it lingers the 5 s (FIRST_CLIENT_MS) a
    // companion waits for its first client, then goes too (the bound was 5 s: it failed 5 runs in 12).
    await within(8000, 'all exited', async () => companionsOf(dbPath).length === 0)
  })

  it('one started with idleMs 0 still serves the callers that started it (it waits for its first client)', async () => {
    // Its start-up (store, host namespace, socket) can take longer than its idleMs: it used to exit
    // before the caller's next connect attempt, the caller started another, and so on for 15 s
    // (seen in CI under load with idleMs 30: "no companion process answers ... (started one)").
    for (let round = 0; round < 2; round++) {
      const cs = await Promise.all([0, 1].map(() => Companion.connect({ host, store: dbPath, resolvConf: noUpstreams, idleMs: 0 })))
      companions.push(...cs)
      for (const c of cs) assert.equal(c.hello!.key, cs[0]!.paths.key)
      // Once reached, its own idleMs again. A second starter that lost the lock to it and got the
      // lock once it left lingers the 5 s a companion waits for its first client, then goes too.
      await within(8000, 'exited once served', async () => companionsOf(dbPath).length === 0)
    }
  })

  it('exits when no endpoint needs it, leaving its log only', async () => {
    const net = await network('idle')
    const c1 = await sb.ns()
    const c = await companion({ idleMs: 300 })
    const ep = await connect(net, c1, { name: 'x' }, c)
    const pid = c.hello!.pid
    await sleep(800)
    assert.ok(procAlive(pid), 'an endpoint needs it')
    await disconnect(ep.id)
    await within(3000, 'exited', async () => !procAlive(pid))
    const paths = companionPaths(identity(host), dbPath)
    assert.equal(fs.existsSync(paths.pid), false)
    assert.equal(fs.existsSync(paths.socket), false)
    assert.match(fs.readFileSync(paths.log, 'utf8'), /stopping: no endpoint needs it/)
  })

  it('stops when its host namespace is deleted (and lets it go)', async () => {
    const c = await companion()
    const pid = c.hello!.pid
    await host.delete()
    await within(3000, 'exited', async () => !procAlive(pid))
  })

  after(async () => {
    assert.deepEqual(await stopAllCompanions(), [], 'every test stopped the companions it started')
  })
})

// Network and Endpoint end to end: a sandbox "host" namespace with a WAN link to an "outside"
// namespace, networks on it, containers as throwaway namespaces, real traffic as the witness.
//
//   out 10.200.0.2/24 ── wan 10.200.0.1/24 (host) ── br-xxxx (network) ── eth0 (containers)
import { strict as assert } from 'node:assert'
import type { ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { NatRule, Namespace, NetnsKitError, Network, SqliteStore, VethPair } from '../../lib'
import { bootId } from '../../lib/ipam/owner'
import { Sandbox, ipj, ping, runIn, sh } from '../helpers'
import { HOST_WAN, OUT_IP, request, serve, stopAll } from '../nat-helpers'

const fakeDns = path.join(__dirname, '..', 'fixtures', 'fake-dns.js')

const run = runIn
const dig = async (ns: Namespace, ...args: string[]) => (await run(ns, 'dig', ['@127.0.0.11', '+time=2', '+tries=1', '+short', ...args])).out.trim()

describe('Network (end to end)', function () {
  this.timeout(90000)
  const sb = new Sandbox()
  let host: Namespace, out: Namespace
  let store: SqliteStore
  let tmp: string
  let dbPath: string
  const children: ChildProcess[] = []

  beforeEach(async () => {
    host = await sb.ns()
    out = await sb.ns()
    for (const k of ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables']) {
      await host.sysctl.set(`net.bridge.${k}`, 0).catch((e: { code?: string }) => {
        if (e.code !== 'ENOENT') throw e
      })
    }
    const wan = await VethPair.create({ name: 'wan', namespace: host, up: true, peer: { name: 'eth0', namespace: out, up: true } })
    await wan.host.addAddress(`${HOST_WAN}/24`)
    await wan.peer.addAddress(`${OUT_IP}/24`)
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-network-'))
    dbPath = path.join(tmp, 'state.db')
    store = new SqliteStore({ path: dbPath })
  })

  afterEach(async () => {
    await stopAll()
    for (const c of children.splice(0)) c.kill('SIGKILL')
    await sb.cleanup()
    await store.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('create: a bridge with a fixed MAC, the gateway, masquerade and isolation; open, list, inspect; remove takes exactly that away', async () => {
    const before = await ipj(host, 'link', 'show')
    const n = await Network.create({
      name: 'front',
      namespace: host,
      store,
      subnet: '172.30.0.0/16',
      gateway: '172.30.0.254',
      mtu: 1400,
      dns: { upstream: [] },
    })
    const [br] = await ipj(host, 'link', 'show', 'dev', n.bridge.name)
    assert.match(n.bridge.name, /^br-[0-9a-f]{12}$/)
    assert.equal(br.ifalias, 'netns-kit:front')
    assert.equal(br.mtu, 1400)
    assert.equal(br.linkinfo.info_kind, 'bridge')
    assert.ok(br.flags.includes('UP'))
    assert.equal(br.address, (await n.bridge.info()).mac)
    const addrs = (await ipj(host, 'addr', 'show', 'dev', n.bridge.name))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)
    assert.deepEqual(
      addrs.filter((a: string) => a.includes('.')),
      ['172.30.0.254/16'],
    )
    const rules = await NatRule.list({ namespace: host })
    assert.ok(rules.some((r) => r.kind === 'masquerade' && r.source === '172.30.0.0/16' && r.notOutInterface === n.bridge.name))
    assert.ok(rules.some((r) => r.kind === 'isolate' && r.interface === n.bridge.name))

    const again = await Network.open('front', { namespace: host, store })
    assert.equal(again.subnet, '172.30.0.0/16')
    assert.equal(again.gateway, '172.30.0.254')
    assert.equal(again.bridge.name, n.bridge.name)
    assert.deepEqual(
      (await Network.list({ namespace: host, store })).map((x) => x.name),
      ['front'],
    )
    assert.deepEqual(
      (await Network.list({ namespace: out, store })).map((x) => x.name),
      [],
      'networks belong to their host namespace',
    )
    await assert.rejects(Network.create({ name: 'front', namespace: host, store }), { code: 'ERR_NETNS_KIT_NETWORK_EXISTS' })
    assert.equal((await n.inspect()).endpoints.length, 0)

    await n.remove()
    await n.remove()
    const after = await ipj(host, 'link', 'show')
    assert.deepEqual(after.map((l: any) => l.ifname).sort(), before.map((l: any) => l.ifname).sort())
    assert.equal((await sh('ip', ['netns', 'exec', host.name!, 'nft', 'list', 'ruleset'])).stdout.trim(), '')
    assert.deepEqual(await store.networks(), [])
    await assert.rejects(Network.open('front', { namespace: host, store }), { code: 'ERR_NETNS_KIT_NO_NETWORK' })
  })

  it('create refuses bad input before anything is made, and rolls back a failure half-way', async () => {
    await assert.rejects(Network.create({ name: 'bad name', namespace: host, store }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(Network.create({ name: 'x', namespace: host, store, bridgeName: 'way-too-long-bridge-name' }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(Network.create({ name: 'x', namespace: host, store, subnet: '10.1.0.0/16', gateway: '10.2.0.1' }), { code: 'ERR_INVALID_ARG_VALUE' })
    // The bridge name is taken by a link that is not ours: the IPAM network is given back.
    await VethPair.create({ name: 'taken0', namespace: host, peer: { name: 'taken1' } })
    await assert.rejects(Network.create({ name: 'x', namespace: host, store, bridgeName: 'taken0' }), { code: 'EEXIST' })
    assert.deepEqual(await store.networks(), [])
    assert.equal((await ipj(host, 'link', 'show', 'dev', 'taken0')).length, 1, 'the link that was there stays')
    assert.equal((await sh('ip', ['netns', 'exec', host.name!, 'nft', 'list', 'ruleset'])).stdout.trim(), '')
  })

  it('without a subnet, picks a free one that overlaps no route; createDefault is docker0', async () => {
    await host.routes.add({ to: '172.17.0.0/16', dev: 'wan' })
    const n = await Network.create({ name: 'auto', namespace: host, store })
    assert.equal(n.subnet, '172.18.0.0/16')
    assert.equal(n.gateway, '172.18.0.1')
    await host.routes.delete({ to: '172.17.0.0/16', dev: 'wan' })
    const d = await Network.createDefault({ namespace: host, store })
    assert.equal(d.name, 'bridge')
    assert.equal(d.subnet, '172.17.0.0/16')
    assert.equal(d.gateway, '172.17.0.1')
    assert.equal(d.dns, false)
    assert.equal(d.bridge.name, 'nk0')
    const c = await sb.ns()
    const ep = await d.connect(c)
    assert.equal(ep.ip, '172.17.0.2')
    assert.equal(ep.mac, '02:42:ac:11:00:02')
    assert.match(ep.resolvConf({ dns: ['10.200.0.2'] }), /^nameserver 10\.200\.0\.2$/m)
    assert.ok(await ping(c, OUT_IP), 'masquerade on the default network')
  })

  it('two containers on a user network reach each other and resolve names and aliases; names forward upstream', async () => {
    // The fake upstream resolver runs in the outside namespace.
    const upstream = out.spawn(process.execPath, [fakeDns, OUT_IP], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(upstream)
    await new Promise<void>((resolve) => readline.createInterface({ input: upstream.stdout! }).once('line', () => resolve()))
    const n = await Network.create({
      name: 'app',
      namespace: host,
      store,
      subnet: '172.31.7.0/24',
      ipv6: { subnet: 'fd00:7::/64' },
      dns: { upstream: [OUT_IP] },
    })
    const [c1, c2] = await Promise.all([sb.ns(), sb.ns()])
    const web = await n.connect(c1, { name: 'web', aliases: ['frontend'], hostname: 'web-host' })
    const db = await n.connect(c2, { name: 'db', aliases: ['database'], ip: '172.31.7.50' })
    assert.equal(web.ip, '172.31.7.2')
    assert.equal(db.ip, '172.31.7.50')
    assert.equal(web.gateway, '172.31.7.1')
    assert.ok(web.ip6?.startsWith('fd00:7::'))
    const [e0] = await ipj(c1, 'link', 'show', 'dev', 'eth0')
    assert.equal(e0.address, web.mac)
    assert.ok(e0.flags.includes('UP'))
    const [hostEnd] = await ipj(host, 'link', 'show', 'dev', web.hostInterface)
    assert.equal(hostEnd.ifalias, `netns-kit:app:${web.id}`)
    assert.equal(hostEnd.master, n.bridge.name)
    // An IPv6 network: the container keeps IPv6 on eth0; the bridge port has none of its own.
    assert.equal((await sh('ip', ['netns', 'exec', c1.name!, 'sysctl', '-n', 'net.ipv6.conf.eth0.disable_ipv6'])).stdout.trim(), '0')
    assert.equal((await sh('ip', ['netns', 'exec', host.name!, 'sysctl', '-n', `net.ipv6.conf.${web.hostInterface}.disable_ipv6`])).stdout.trim(), '1')
    const routes = await ipj(c1, 'route', 'show', 'default')
    assert.equal(routes[0].gateway, '172.31.7.1')

    assert.ok(await ping(c1, db.ip), 'web pings db')
    assert.ok(await ping(c2, web.ip), 'db pings web')
    assert.ok(await ping(c1, db.ip6!), 'over IPv6 too')
    assert.equal(await dig(c1, 'db', 'A'), '172.31.7.50')
    assert.equal(await dig(c1, 'database', 'A'), '172.31.7.50')
    assert.equal(await dig(c2, 'frontend', 'A'), '172.31.7.2')
    assert.equal(await dig(c2, 'web-host', 'A'), '172.31.7.2')
    assert.equal(await dig(c2, 'web', 'AAAA'), web.ip6)
    assert.equal(await dig(c1, 'www.upstream.test', 'A'), '198.51.100.7', 'other names go to the upstream')
    assert.match(web.resolvConf(), /^nameserver 127\.0\.0\.11$/m)
    assert.match(web.hostsFile(), /^172\.31\.7\.2\tweb-host web frontend$/m)
    assert.equal(web.hostnameFile(), 'web-host\n')

    const eps = await n.endpoints()
    assert.deepEqual(
      eps.map((e) => e.name),
      ['db', 'web'],
    )
    // Another process's view (a new Network object on the same store) sees them too.
    const other = await Network.open('app', { namespace: host, store })
    const seen = await other.endpoints()
    assert.deepEqual(
      seen.map((e) => `${e.name} ${e.ip}`),
      ['db 172.31.7.50', 'web 172.31.7.2'],
    )
    for (const e of seen) await e.namespace.close()

    await n.disconnect(db)
    await n.disconnect(db)
    assert.deepEqual(await ipj(c2, 'link', 'show', 'dev', 'eth0').catch(() => []), [])
    assert.equal((await ipj(host, 'link', 'show')).filter((l: any) => l.ifname === db.hostInterface).length, 0)
    assert.equal(await dig(c1, 'db', 'A'), '', 'db is no longer known')
    assert.deepEqual(
      (await store.endpoints(n.id)).map((e) => [e.id, e.addresses.length]),
      [[web.id, 2]],
    )
    await assert.rejects(n.remove(), { code: 'ERR_NETNS_KIT_NETWORK_IN_USE' })
    await n.remove({ force: true })
    assert.deepEqual(await store.networks(), [])
    assert.deepEqual(await store.endpoints(n.id), [])
    assert.deepEqual(await ipj(c1, 'link', 'show', 'dev', 'eth0').catch(() => []), [])
  })

  it('publishes ports (-p and -P) to the outside, and containers reach the outside through masquerade', async () => {
    const n = await Network.create({ name: 'pub', namespace: host, store, subnet: '172.29.0.0/24', dns: false })
    const c = await sb.ns()
    const ep = await n.connect(c, {
      name: 'srv',
      publish: [{ hostPort: 8080, containerPort: 80 }, { containerPort: 81 }, { protocol: 'udp', hostPort: 5353, containerPort: 53 }],
    })
    assert.equal(ep.ports.length, 3)
    assert.deepEqual(ep.ports[0], { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 })
    const dyn = ep.ports[1]!.hostPort
    assert.ok(dyn >= 1024 && dyn !== 8080, `-P gave port ${dyn}`)
    // An IPv4-only network: no IPv6 on the container's eth0 (Docker's choice) nor on the bridge port.
    assert.deepEqual(await ipj(c, '-6', 'addr', 'show', 'dev', 'eth0'), [])
    assert.deepEqual(await ipj(host, '-6', 'addr', 'show', 'dev', ep.hostInterface), [])
    assert.equal((await sh('ip', ['netns', 'exec', c.name!, 'sysctl', '-n', 'net.ipv6.conf.lo.disable_ipv6'])).stdout.trim(), '0', 'lo keeps ::1')
    await serve(c, 'tcp', 80, 'eighty')
    await serve(c, 'tcp', 81, 'eightyone')
    await serve(c, 'udp', 53, 'udp53')
    assert.equal(await request(out, 'tcp', HOST_WAN, 8080), `eighty ${OUT_IP}`)
    assert.equal(await request(out, 'tcp', HOST_WAN, dyn), `eightyone ${OUT_IP}`)
    assert.equal(await request(out, 'udp', HOST_WAN, 5353), `udp53 ${OUT_IP}`)
    assert.equal(await request(out, 'tcp', ep.ip, 80), null, 'the container is not routed to directly from outside')
    // Hairpin: the container reaches its own published port through the host's address, whether
    // br_netfilter is on in the host (the kernel's default where it is loaded) or not.
    for (const brnf of [1, 0]) {
      await host.sysctl.set('net.bridge.bridge-nf-call-iptables', brnf).catch((e: { code?: string }) => {
        if (e.code !== 'ENOENT') throw e
      })
      assert.match((await request(c, 'tcp', HOST_WAN, 8080)) ?? '', /^eighty /, `hairpin with bridge-nf-call-iptables=${brnf}`)
    }
    // Outbound: the outside sees the host's address.
    await serve(out, 'tcp', 9000, 'outside')
    assert.equal(await request(c, 'tcp', OUT_IP, 9000), `outside ${HOST_WAN}`)

    await n.disconnect(ep)
    assert.equal(await request(out, 'tcp', HOST_WAN, 8080), null)
    assert.deepEqual(
      (await NatRule.list({ namespace: host })).filter((r) => r.kind === 'publish'),
      [],
    )
  })

  it('a connect that fails half-way (a port already published) leaves nothing behind', async () => {
    const n = await Network.create({ name: 'half', namespace: host, store, subnet: '172.28.0.0/24', dns: false })
    const [c1, c2] = await Promise.all([sb.ns(), sb.ns()])
    const a = await n.connect(c1, { publish: [{ hostPort: 8080, containerPort: 80 }] })
    const linksBefore = (await ipj(host, 'link', 'show')).map((l: any) => l.ifname).sort()
    await assert.rejects(
      n.connect(c2, {
        name: 'second',
        publish: [
          { hostPort: 9090, containerPort: 90 },
          { hostPort: 8080, containerPort: 80 },
        ],
      }),
      { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' },
    )
    assert.deepEqual((await ipj(host, 'link', 'show')).map((l: any) => l.ifname).sort(), linksBefore)
    assert.deepEqual(await ipj(c2, 'link', 'show', 'dev', 'eth0').catch(() => []), [])
    assert.deepEqual(
      (await store.endpoints(n.id)).map((x) => x.addresses[0]!.address),
      [a.ip],
    )
    const pubs = (await NatRule.list({ namespace: host })).filter((r) => r.kind === 'publish')
    assert.deepEqual(
      pubs.map((r) => r.hostPort),
      [8080],
    )
    assert.deepEqual(
      (await n.endpoints()).map((e) => e.ip),
      [a.ip],
    )
    // An address that is taken: refused before anything is made.
    await assert.rejects(n.connect(c2, { ip: a.ip }), { code: 'ERR_NETNS_KIT_IP_IN_USE' })
    assert.deepEqual(await ipj(c2, 'link', 'show', 'dev', 'eth0').catch(() => []), [])
    await assert.rejects(n.connect(c2, { ip: '10.0.0.1' }), { code: 'ERR_NETNS_KIT_IP_OUTSIDE_SUBNET' })
    await assert.rejects(n.connect(c2, { ifname: 'bad/name' }), { code: 'ERR_INVALID_ARG_VALUE' })
  })

  it('a bridge with 1,023 ports (the kernel maximum): connect says ERR_NETNS_KIT_NETWORK_FULL and leaves nothing behind', async function () {
    this.timeout(180000)
    const n = await Network.create({ name: 'full', namespace: host, store, subnet: '172.27.0.0/16', dns: false })
    const c = await sb.ns()
    const a = await n.connect(c, { name: 'first', publish: [{ hostPort: 8081, containerPort: 80 }] })
    // 1,022 more ports by hand (one ip -batch): the bridge then has the 1,023 a Linux bridge takes (BR_MAX_PORTS).
    const batch = Array.from({ length: 1022 }, (_, i) => `link add fp${i} master ${n.bridge.name} type veth peer name fq${i}`).join('\n') + '\n'
    const tmpBatch = path.join(tmp, 'fill.batch')
    fs.writeFileSync(tmpBatch, batch)
    await sh('ip', ['-n', host.name!, '-batch', tmpBatch])
    const ports = async () => (await ipj(host, 'link', 'show', 'master', n.bridge.name)).length
    assert.equal(await ports(), 1023)
    const linksBefore = (await ipj(host, 'link', 'show')).map((l: any) => l.ifname).sort()
    const c2 = await sb.ns()
    const err = await n.connect(c2, { name: 'second', publish: [{ hostPort: 8082, containerPort: 80 }] }).then(
      () => assert.fail('connected a 1,024th port'),
      (e: NetnsKitError) => e,
    )
    assert.equal(err.code, 'ERR_NETNS_KIT_NETWORK_FULL', String(err))
    assert.match(err.message, /1,023/)
    assert.match(err.message, new RegExp(`'full'`))
    assert.equal((err.cause as { code?: string } | undefined)?.code, 'EXFULL')
    // Rolled back: no link, no container interface, no record, no mapping, the port free again.
    assert.deepEqual((await ipj(host, 'link', 'show')).map((l: any) => l.ifname).sort(), linksBefore)
    assert.deepEqual(await ipj(c2, 'link', 'show', 'dev', 'eth0').catch(() => []), [])
    assert.deepEqual(
      (await store.endpoints(n.id)).map((x) => x.name),
      ['first'],
    )
    assert.deepEqual(
      (await NatRule.list({ namespace: host })).filter((r) => r.kind === 'publish').map((r) => r.hostPort),
      [8081],
    )
    // A port freed: the same container connects.
    await sh('ip', ['-n', host.name!, 'link', 'del', 'fp0'])
    const b = await n.connect(c2, { name: 'second', publish: [{ hostPort: 8082, containerPort: 80 }] })
    assert.ok(await ping(c2, a.ip))
    await n.disconnect(b)
    await n.disconnect(a)
  })

  it('two networks are isolated from each other; icc=false isolates containers; internal has no way out', async () => {
    const a = await Network.create({ name: 'neta', namespace: host, store, subnet: '172.27.1.0/24', dns: false })
    const b = await Network.create({ name: 'netb', namespace: host, store, subnet: '172.27.2.0/24', dns: false })
    const noicc = await Network.create({ name: 'noicc', namespace: host, store, subnet: '172.27.3.0/24', icc: false, dns: false })
    const inner = await Network.create({ name: 'inner', namespace: host, store, subnet: '172.27.4.0/24', internal: true, dns: false })
    const [ca, cb, n1, n2, i1, i2] = await Promise.all([sb.ns(), sb.ns(), sb.ns(), sb.ns(), sb.ns(), sb.ns()])
    const ea = await a.connect(ca)
    const eb = await b.connect(cb)
    assert.ok(await ping(ca, a.gateway))
    assert.ok(!(await ping(ca, eb.ip)), 'network a does not reach network b')
    assert.ok(!(await ping(cb, ea.ip)), 'network b does not reach network a')
    assert.ok(await ping(ca, OUT_IP), 'but both reach the outside')

    const x = await noicc.connect(n1)
    const y = await noicc.connect(n2)
    const [port] = await ipj(host, 'link', 'show', 'dev', y.hostInterface)
    assert.equal(port.linkinfo.info_slave_data.isolated, true)
    assert.ok(!(await ping(n1, y.ip)), 'icc=false: no traffic between containers')
    assert.ok(!(await ping(n2, x.ip)))
    assert.ok(await ping(n1, noicc.gateway), 'the gateway is still reachable')

    const p = await inner.connect(i1)
    const q = await inner.connect(i2)
    assert.ok(await ping(i1, q.ip), 'internal: containers reach each other')
    assert.ok(!(await ping(p.namespace, OUT_IP)), 'internal: no way out')
    assert.ok(!(await NatRule.list({ namespace: host })).some((r) => r.kind === 'masquerade' && r.source === '172.27.4.0/24'))
  })

  it('host, none and container modes', async () => {
    const h = await Network.host({ namespace: host })
    assert.ok(h.equals(host))
    const before = await ipj(host, 'link', 'show')
    const none = await Network.none()
    sb.names.add(none.name!)
    const links = await ipj(none, 'link', 'show')
    assert.deepEqual(
      links.map((l: any) => l.ifname),
      ['lo'],
    )
    assert.ok(links[0].flags.includes('UP'))
    assert.equal((await ipj(host, 'link', 'show')).length, before.length, 'no interface made')
    const n = await Network.create({ name: 'modes', namespace: host, store, subnet: '172.26.0.0/24', dns: false })
    const c = await sb.ns()
    const ep = await n.connect(c)
    const joined = await Network.container(ep)
    assert.ok(joined.equals(c))
    const sleeper = c.spawn('sleep', ['30'], { stdio: 'ignore' })
    children.push(sleeper)
    // The helper joins the namespace after the fork: wait until the process is inside it.
    for (let i = 0; i < 100 && fs.readlinkSync(`/proc/${sleeper.pid}/ns/net`) !== `net:[${c.id}]`; i++) await new Promise((r) => setTimeout(r, 10))
    const byPid = await Network.container(sleeper.pid!)
    assert.ok(byPid.equals(c), 'container:PID shares that namespace')
    await serve(c, 'tcp', 7000, 'shared')
    assert.equal(await request(byPid, 'tcp', '127.0.0.1', 7000), 'shared 127.0.0.1', 'the second container sees the first on localhost')
    await byPid.close()
    await none.delete()
    // A namespace deleted since: connect says it is gone, and leaves nothing behind.
    const gone = await sb.ns()
    await gone.delete()
    await assert.rejects(n.connect(gone), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_NO_NAMESPACE' && /gone/.test(e.message))
    assert.deepEqual(
      (await n.inspect()).endpoints.map((x) => x.ip),
      [ep.ip],
    )
  })

  it('concurrent connects (8 at once, and from two processes) get distinct addresses', async () => {
    const n = await Network.create({ name: 'many', namespace: host, store, subnet: '172.25.0.0/24', dns: false })
    const cs = await Promise.all(Array.from({ length: 8 }, () => sb.ns()))
    const eps = await Promise.all(cs.map((c, i) => n.connect(c, { name: `c${i}` })))
    const ips = eps.map((e) => e.ip)
    assert.equal(new Set(ips).size, 8)
    const hosts = await Promise.all(cs.map(async (c) => (await ipj(c, 'addr', 'show', 'dev', 'eth0'))[0].addr_info.find((a: any) => a.family === 'inet').local))
    assert.deepEqual(hosts.sort(), [...ips].sort())
    assert.ok(await ping(cs[0]!, ips[7]!))
    // A second process connects 4 more at the same time as this one connects 4.
    const more = await Promise.all(Array.from({ length: 8 }, () => sb.ns()))
    const script = path.join(__dirname, '..', 'fixtures', 'network-worker.ts')
    const child = (await import('node:child_process')).spawn(
      process.execPath,
      ['--require', 'tsx/cjs', script, dbPath, host.name!, 'many', ...more.slice(4).map((m) => m.name!)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let childOut = ''
    child.stdout!.on('data', (d) => {
      childOut += d
    })
    const [mine] = await Promise.all([
      Promise.all(more.slice(0, 4).map((c) => n.connect(c))),
      new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`))))),
    ])
    const theirs = JSON.parse(childOut) as string[]
    const all = [...ips, ...mine.map((e) => e.ip), ...theirs]
    assert.equal(all.length, 16)
    assert.equal(new Set(all).size, 16, `distinct: ${all.join(' ')}`)
    assert.equal((await n.endpoints()).length, 16)
    for (const e of await n.endpoints()) if (!eps.includes(e) && !mine.includes(e)) await e.namespace.close()
  })

  it('gc after a process killed in the middle of connecting leaves exactly the endpoints that completed', async () => {
    const n = await Network.create({ name: 'killed', namespace: host, store, subnet: '172.23.0.0/24', dns: false })
    const cs = await Promise.all(Array.from({ length: 12 }, () => sb.ns()))
    const script = path.join(__dirname, '..', 'fixtures', 'network-worker.ts')
    const child = (await import('node:child_process')).spawn(
      process.execPath,
      ['--require', 'tsx/cjs', script, dbPath, host.name!, 'killed', ...cs.map((c) => c.name!)],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NETWORK_WORKER_LOOP: '1' } },
    )
    children.push(child)
    const lines = readline.createInterface({ input: child.stdout! })
    // Killed a few milliseconds into its fourth connect (somewhere between the allocation and the last record write).
    let seen = 0
    await new Promise<void>((resolve) =>
      lines.on('line', (l) => {
        if (l !== 'start') seen++
        if (seen === 3)
          setTimeout(
            () => {
              child.kill('SIGKILL')
              resolve()
            },
            1 + Math.floor(Math.random() * 8),
          )
      }),
    )
    await new Promise((r) => child.once('exit', r))
    const report = await Network.gc({ namespace: host, store })
    const eps = await n.endpoints()
    assert.ok(eps.length >= 3, `the completed connects stay (${eps.length}; gc removed ${JSON.stringify(report)})`)
    // The invariants: every record's veth is there, every veth of ours has a record, addresses match records.
    const ours = (await ipj(host, 'link', 'show')).filter((l: any) => (l.ifalias ?? '').startsWith('netns-kit:killed:'))
    assert.deepEqual(ours.map((l: any) => l.ifname).sort(), eps.map((e) => e.hostInterface).sort())
    const strays = (await ipj(host, 'link', 'show', 'master', n.bridge.name)).filter((l: any) => !eps.some((e) => e.hostInterface === l.ifname))
    assert.deepEqual(strays, [], 'no port of the bridge without an endpoint')
    assert.deepEqual((await store.endpoints(n.id)).map((e) => e.addresses[0]!.address).sort(), eps.map((e) => e.ip).sort())
    assert.deepEqual(await store.intents(), [])
    const pubs = (await NatRule.list({ namespace: host })).filter((r) => r.kind === 'publish')
    assert.deepEqual(pubs.map((r) => r.containerIp).sort(), eps.map((e) => e.ip).sort())
    for (const e of eps) assert.ok(await ping(e.namespace, n.gateway))
    for (const e of eps) await e.namespace.close()
    assert.deepEqual(await Network.gc({ namespace: host, store }), {
      networks: [],
      endpoints: [],
      links: [],
      rules: [],
      addresses: [],
      restored: [],
      routeLocalnet: [],
    })
  })

  it('gc after a crash: endpoints whose namespace is gone, a connect whose process died, stray links and mappings', async () => {
    const n = await Network.create({ name: 'crash', namespace: host, store, subnet: '172.24.0.0/24', dns: false })
    const [c1, c2, c3] = await Promise.all([sb.ns(), sb.ns(), sb.ns()])
    const keep = await n.connect(c1, { name: 'keep' })
    const lost = await n.connect(c2, { name: 'lost', publish: [{ hostPort: 8443, containerPort: 443 }] })
    // The container namespace disappears behind the library's back (its veth goes with it).
    await sh('ip', ['netns', 'del', c2.name!])
    // A veth of ours whose endpoint record never made it.
    await VethPair.create({ name: 'vethstray', namespace: host, peer: { name: 'vethstray1' } })
    await sh('ip', ['-n', host.name!, 'link', 'set', 'vethstray', 'alias', 'netns-kit:crash:0123456789ab'])
    // An endpoint whose connecting process died half-way: its intent, owned by a process that is gone.
    const dead = (await import('node:child_process')).spawnSync('true').pid!
    const { endpoint: half } = await store.beginConnect(n.id, {
      id: 'feedfacecafe',
      name: 'halfway',
      ns: { dev: String(fs.statSync(c3.path).dev), ino: String(c3.id), path: c3.path },
      ifname: 'eth0',
      hostIf: 'vethdeadxx',
      addresses: [{ family: 4 }],
      owner: { pid: dead, start: '1', boot: bootId() },
    })
    // ... and a mapping it published before it died, recorded nowhere.
    await NatRule.publish({ namespace: host, protocol: 'tcp', hostPort: 9443, containerIp: half.addresses[0]!.address, containerPort: 443 })

    const report = await Network.gc({ namespace: host, store })
    assert.deepEqual(report.endpoints.sort(), ['crash/halfway', 'crash/lost'])
    // The kernel removes a deleted namespace's veth asynchronously: gc may have found its host end still there.
    assert.deepEqual(
      report.links.filter((l) => l !== lost.hostInterface),
      ['vethstray'],
    )
    assert.deepEqual(report.addresses.sort(), [`crash/${lost.ip}`, `crash/${half.addresses[0]!.address}`].sort())
    assert.equal(report.rules.length, 2, 'the mapping of the lost endpoint and the one of the connect that died')
    assert.deepEqual(
      (await NatRule.list({ namespace: host })).filter((r) => r.kind === 'publish'),
      [],
    )
    assert.deepEqual(
      (await n.endpoints()).map((e) => e.name),
      ['keep'],
    )
    assert.deepEqual(
      (await store.endpoints(n.id)).map((e) => e.addresses[0]!.address),
      [keep.ip],
    )
    assert.deepEqual(await store.intents(), [])
    assert.deepEqual(await ipj(host, 'link', 'show', 'dev', 'vethstray').catch(() => []), [])
    assert.ok(await ping(c1, n.gateway), 'the live endpoint is untouched')
    const second = await Network.gc({ namespace: host, store })
    assert.deepEqual(second, { networks: [], endpoints: [], links: [], rules: [], addresses: [], restored: [], routeLocalnet: [] })
  })
})

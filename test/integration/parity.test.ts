// Docker parity for runtimes (issue 13): several networks per container, host ports respected,
// IPv6 publishing, 127.0.0.1, the default network after automatic ones, --add-host, NAME.NETWORK,
// remove() with dead endpoints. A sandbox "host" namespace with a WAN link to an "outside"
// namespace; containers are throwaway namespaces; the witnesses are ip -j, nft -j, ping, socat, dig.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { NatRule, Namespace, Network, SqliteStore, VethPair } from '../../lib'
import { Sandbox, ipj, ping, runIn, sh } from '../helpers'
import { HOST_WAN, OUT_IP, request, serve, settleIpv6, stopAll } from '../nat-helpers'

const dig = async (ns: Namespace, ...args: string[]) => (await runIn(ns, 'dig', ['@127.0.0.11', '+time=2', '+tries=1', '+short', ...args])).out.trim()
const defaults = async (ns: Namespace, family: 4 | 6 = 4) => (await ipj(ns, `-${family}`, 'route', 'show', 'default')) as { gateway: string; dev: string }[]

describe('Docker parity (issue 13)', function () {
  this.timeout(120000)
  const sb = new Sandbox()
  let host: Namespace, out: Namespace
  let store: SqliteStore
  let tmp: string

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
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-parity-'))
    store = new SqliteStore({ path: path.join(tmp, 'state.db') })
  })

  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
    await store.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  describe('several networks per container', () => {
    it('a second network gets eth1, one default route (the first, or the highest gatewayPriority), moved on disconnect', async () => {
      const a = await Network.create({ name: 'neta', namespace: host, store, subnet: '172.26.1.0/24', dns: false })
      const b = await Network.create({ name: 'netb', namespace: host, store, subnet: '172.26.2.0/24', dns: false })
      const [c, pa, pb] = await Promise.all([sb.ns(), sb.ns(), sb.ns()])
      const peerA = await a.connect(pa)
      const peerB = await b.connect(pb)
      const ea = await a.connect(c)
      const eb = await b.connect(c)
      assert.equal(ea.ifname, 'eth0')
      assert.equal(eb.ifname, 'eth1')
      assert.deepEqual((await ipj(c, 'link', 'show')).map((l: { ifname: string }) => l.ifname).sort(), ['eth0', 'eth1', 'lo'])
      assert.deepEqual(
        (await defaults(c)).map((r) => r.gateway),
        [a.gateway],
        'one default route: the first network',
      )
      assert.equal(ea.defaultRoute, true)
      assert.equal(eb.defaultRoute, false)
      assert.ok(await ping(c, peerA.ip), 'the container reaches network a')
      assert.ok(await ping(c, peerB.ip), 'and network b')
      assert.ok(await ping(c, OUT_IP), 'and the outside through a')
      // An explicit interface name that is taken: refused before anything is made.
      const links = (await ipj(host, 'link', 'show')).length
      const cc = await Network.create({ name: 'netc', namespace: host, store, subnet: '172.26.3.0/24', dns: false })
      await assert.rejects(cc.connect(c, { ifname: 'eth1' }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_NETNS_KIT_IFNAME_IN_USE')
        assert.match(e.message, /eth1/)
        assert.match(e.message, new RegExp(c.name!))
        return true
      })
      assert.equal((await ipj(host, 'link', 'show')).length, links + 1, 'only the new bridge: no veth left behind')
      assert.deepEqual(await store.endpoints(cc.id), [])
      // Disconnecting the network that gave the route hands it to the other one.
      await a.disconnect(ea)
      assert.deepEqual(
        (await defaults(c)).map((r) => [r.gateway, r.dev]),
        [[b.gateway, 'eth1']],
      )
      assert.ok(await ping(c, peerB.ip))
      assert.ok(await ping(c, OUT_IP), 'the outside through b now')
      // The next network gets the first free name again (eth0), and a higher priority takes the route.
      const ec = await cc.connect(c, { gatewayPriority: 10 })
      assert.equal(ec.ifname, 'eth0')
      assert.deepEqual(
        (await defaults(c)).map((r) => r.gateway),
        [cc.gateway],
      )
      await cc.disconnect(ec)
      assert.deepEqual(
        (await defaults(c)).map((r) => r.gateway),
        [b.gateway],
      )
      // defaultRoute: false never provides one (even alone).
      await b.disconnect(eb)
      assert.deepEqual(await defaults(c), [])
      const ea2 = await a.connect(c, { defaultRoute: false })
      assert.equal(ea2.defaultRoute, false)
      assert.deepEqual(await defaults(c), [])
      assert.ok(await ping(c, peerA.ip), 'the subnet route is there')
    })

    it('dual-stack networks: one IPv6 default route too, moved with the IPv4 one; an internal network never gives one', async () => {
      const a = await Network.create({ name: 'd1', namespace: host, store, subnet: '172.26.14.0/24', ipv6: { subnet: 'fd00:14::/64' }, dns: false })
      const b = await Network.create({ name: 'd2', namespace: host, store, subnet: '172.26.15.0/24', ipv6: { subnet: 'fd00:15::/64' }, dns: false })
      const i = await Network.create({ name: 'd3', namespace: host, store, subnet: '172.26.16.0/24', internal: true, dns: false })
      const c = await sb.ns()
      const ei = await i.connect(c, { gatewayPriority: 100 })
      assert.deepEqual(await defaults(c), [], 'internal: no default route, whatever the priority')
      assert.equal(ei.ifname, 'eth0')
      const ea = await a.connect(c)
      const eb = await b.connect(c, { gatewayPriority: 5 })
      assert.deepEqual([ea.ifname, eb.ifname], ['eth1', 'eth2'])
      assert.deepEqual(
        (await defaults(c, 4)).map((r) => r.gateway),
        ['172.26.15.1'],
        'the higher priority',
      )
      assert.deepEqual(
        (await defaults(c, 6)).map((r) => [r.gateway, r.dev]),
        [[b.ipv6!.gateway, 'eth2']],
      )
      await b.disconnect(eb)
      assert.deepEqual(
        (await defaults(c, 4)).map((r) => r.gateway),
        ['172.26.14.1'],
      )
      assert.deepEqual(
        (await defaults(c, 6)).map((r) => [r.gateway, r.dev]),
        [[a.ipv6!.gateway, 'eth1']],
      )
      await settleIpv6(host, c)
      assert.ok(await ping(c, a.ipv6!.gateway), 'IPv6 on network a still works')
    })

    it("one 127.0.0.11 per container answers each network's names (and NAME.NETWORK); leaving one network keeps the other", async () => {
      const a = await Network.create({ name: 'fronts', namespace: host, store, subnet: '172.26.4.0/24', dns: { upstream: [] } })
      const b = await Network.create({ name: 'backs', namespace: host, store, subnet: '172.26.5.0/24', dns: { upstream: [] } })
      const [c, pa, pb] = await Promise.all([sb.ns(), sb.ns(), sb.ns()])
      const web = await a.connect(pa, { name: 'web' })
      const db = await b.connect(pb, { name: 'db' })
      const ea = await a.connect(c, { name: 'app' })
      const eb = await b.connect(c, { name: 'app', ifname: 'eth1' }) // on main: EADDRINUSE on 127.0.0.11
      assert.equal(await dig(c, 'web', 'A'), web.ip)
      assert.equal(await dig(c, 'db', 'A'), db.ip)
      assert.equal(await dig(c, 'web.fronts', 'A'), web.ip, 'NAME.NETWORK')
      assert.equal(await dig(c, 'db.backs', 'A'), db.ip)
      assert.equal(await dig(c, 'db.fronts', 'A'), '', 'db is not on fronts')
      assert.match(
        (await runIn(c, 'dig', ['@127.0.0.11', '+time=2', '+tries=1', 'nobody.backs', 'A'])).out,
        /status: NXDOMAIN/,
        'NAME.NETWORK is never forwarded',
      )
      assert.equal(await dig(pa, 'app', 'A'), ea.ip, 'the others see the container on their network')
      assert.equal(await dig(pb, 'app.backs', 'A'), eb.ip)
      // One resolver socket in the container, whatever the number of networks.
      const udp = (await c.sockets({ protocol: 'udp' })).filter((s) => s.port === 53)
      assert.deepEqual(
        udp.map((s) => s.address),
        ['127.0.0.11'],
      )
      await a.disconnect(ea)
      assert.equal(await dig(c, 'db', 'A'), db.ip, 'the other network still resolves')
      assert.equal(await dig(c, 'web', 'A'), '', 'the network left is no longer answered')
      await b.disconnect(eb)
      assert.deepEqual(
        (await c.sockets({ protocol: 'udp' })).filter((s) => s.port === 53),
        [],
        'the last network closes it',
      )
      // And it comes back with a new connect.
      await b.connect(c, { name: 'again' })
      assert.equal(await dig(c, 'db', 'A'), db.ip)
    })
  })

  describe('published ports', () => {
    it("a port a host process holds is refused (Docker's address already in use) and keeps answering; -P skips it and ip_local_reserved_ports", async () => {
      await host.sysctl.set('net.ipv4.ip_local_port_range', '45000 45003')
      await host.sysctl.set('net.ipv4.ip_local_reserved_ports', '45002')
      await serve(host, 'tcp', 45000, 'hostproc') // [::]:45000 without v6only: IPv4 too
      await serve(host, 'udp', 45001, 'hostudp', '0.0.0.0')
      const n = await Network.create({ name: 'ports', namespace: host, store, subnet: '172.26.7.0/24', dns: false })
      const c = await sb.ns()
      const links = (await ipj(host, 'link', 'show')).length
      await assert.rejects(n.connect(c, { publish: [{ hostPort: 45000, containerPort: 80 }] }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_NETNS_KIT_PORT_ALLOCATED')
        assert.match(e.message, /45000: address already in use on the host by tcp \[::\]:45000 \(listen, IPv4 too, uid 0, inode \d+\) of pid \d+ \(socat\)/)
        return true
      })
      await assert.rejects(n.connect(c, { publish: [{ protocol: 'udp', hostPort: 45001, containerPort: 53 }] }), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
      await assert.rejects(n.connect(c, { publish: [{ hostIp: HOST_WAN, hostPort: 45000, containerPort: 80 }] }), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
      assert.equal((await ipj(host, 'link', 'show')).length, links, 'nothing made')
      assert.deepEqual(await store.endpoints(n.id), [])
      assert.equal(await request(out, 'tcp', HOST_WAN, 45000), `hostproc ${OUT_IP}`, 'the host process still answers')
      // -P: never a port a host socket holds, never a reserved one, whatever the number of calls.
      await serve(c, 'tcp', 80, 'container')
      const seen = new Set<string>()
      for (let i = 0; i < 100; i++) {
        const ep = await n.connect(c, { publish: [{ containerPort: 80 }, { protocol: 'udp', containerPort: 53 }] })
        const [t, u] = [ep.ports.find((p) => p.protocol === 'tcp')!.hostPort, ep.ports.find((p) => p.protocol === 'udp')!.hostPort]
        assert.ok(t === 45001 || t === 45003, `-P gave tcp ${t}`)
        assert.ok(u === 45000 || u === 45003, `-P gave udp ${u}`)
        seen.add(`${t}/${u}`)
        if (i === 0) {
          assert.equal(await request(out, 'tcp', HOST_WAN, t), `container ${OUT_IP}`)
          assert.equal(await request(out, 'tcp', HOST_WAN, 45000), `hostproc ${OUT_IP}`)
        }
        await n.disconnect(ep)
      }
      assert.ok(seen.size >= 1)
      assert.equal(await request(out, 'tcp', HOST_WAN, 45000), `hostproc ${OUT_IP}`)
      // The building block too: NatRule.publish refuses a held port and -P skips held and reserved ones.
      const ep = await n.connect(c)
      await assert.rejects(NatRule.publish({ namespace: host, protocol: 'tcp', hostPort: 45000, containerIp: ep.ip, containerPort: 80 }), {
        code: 'ERR_NETNS_KIT_PORT_ALLOCATED',
        message: /address already in use on the host/,
      })
      await assert.rejects(NatRule.publish({ namespace: host, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 45000, containerIp: ep.ip, containerPort: 80 }), {
        code: 'ERR_NETNS_KIT_PORT_ALLOCATED',
      })
      for (let i = 0; i < 20; i++) {
        const r = await NatRule.publish({ namespace: host, protocol: 'tcp', containerIp: ep.ip, containerPort: 80 })
        assert.ok(r.hostPort === 45001 || r.hostPort === 45003, `NatRule -P gave ${r.hostPort}`)
        await r.delete()
      }
      assert.equal(await request(out, 'tcp', HOST_WAN, 45000), `hostproc ${OUT_IP}`)
    })

    it('a dual-stack network publishes IPv6 too: ep.ports lists both, the host v6 address answers from outside; hostIp :: is IPv6 only', async () => {
      await (await host.link('wan')).addAddress('fd00:200::1/64', { nodad: true })
      await (await out.link('eth0')).addAddress('fd00:200::2/64', { nodad: true })
      const n = await Network.create({ name: 'dual', namespace: host, store, subnet: '172.26.8.0/24', ipv6: { subnet: 'fd00:8::/64' }, dns: false })
      const c = await sb.ns()
      const ep = await n.connect(c, {
        publish: [{ hostPort: 8080, containerPort: 80 }, { hostIp: '::', hostPort: 8081, containerPort: 80 }, { containerPort: 80 }],
      })
      const dyn = ep.ports.find((p) => p.hostPort !== 8080 && p.hostPort !== 8081)!.hostPort
      assert.deepEqual(
        ep.ports.map((p) => `${p.protocol} ${p.hostIp} ${p.hostPort} ${p.containerPort}`).sort(),
        [`tcp 0.0.0.0 ${dyn} 80`, 'tcp 0.0.0.0 8080 80', `tcp :: ${dyn} 80`, 'tcp :: 8080 80', 'tcp :: 8081 80'].sort(),
      )
      await serve(c, 'tcp', 80, 'eighty')
      await settleIpv6(host, out, c)
      assert.equal(await request(out, 'tcp', 'fd00:200::1', 8080), 'eighty [fd00:200::2]', 'IPv6 from outside')
      assert.equal(await request(out, 'tcp', HOST_WAN, 8080), `eighty ${OUT_IP}`, 'IPv4 from outside')
      assert.equal(await request(out, 'tcp', 'fd00:200::1', 8081), 'eighty [fd00:200::2]')
      assert.equal(await request(out, 'tcp', HOST_WAN, 8081), null, 'hostIp :: is IPv6 only')
      assert.equal(await request(out, 'tcp', 'fd00:200::1', dyn), 'eighty [fd00:200::2]', '-P on both families')
      assert.equal(await request(out, 'tcp', HOST_WAN, dyn), `eighty ${OUT_IP}`)
      assert.match((await request(c, 'tcp', 'fd00:200::1', 8080)) ?? '', /^eighty /, 'hairpin over IPv6')
      // On an IPv4-only network an IPv6 host address is refused before anything is made.
      const v4 = await Network.create({ name: 'v4only', namespace: host, store, subnet: '172.26.9.0/24', dns: false })
      await assert.rejects(v4.connect(await sb.ns(), { publish: [{ hostIp: '::', hostPort: 9000, containerPort: 80 }] }), { code: 'ERR_INVALID_ARG_VALUE' })
      await n.disconnect(ep)
      assert.equal(await request(out, 'tcp', 'fd00:200::1', 8080), null)
    })

    it("a mapping without host address answers on the host's 127.0.0.1 (route_localnet on the bridge only); localhost: false opts out", async () => {
      const n = await Network.create({ name: 'local', namespace: host, store, subnet: '172.26.10.0/24', dns: false })
      const c = await sb.ns()
      const ep = await n.connect(c, {
        publish: [
          { hostPort: 8080, containerPort: 80 },
          { hostPort: 8082, containerPort: 80, localhost: false },
        ],
      })
      await serve(c, 'tcp', 80, 'eighty')
      assert.match((await request(host, 'tcp', '127.0.0.1', 8080)) ?? '', /^eighty /, 'curl 127.0.0.1:8080 on the host')
      assert.equal(await request(host, 'tcp', '127.0.0.1', 8082), null, 'localhost: false')
      assert.equal(await request(out, 'tcp', HOST_WAN, 8082), `eighty ${OUT_IP}`)
      const rl = async (dev: string) => (await sh('ip', ['netns', 'exec', host.name!, 'sysctl', '-n', `net.ipv4.conf.${dev}.route_localnet`])).stdout.trim()
      assert.equal(await rl(n.bridge.name), '1')
      assert.equal(await rl('all'), '0')
      assert.equal(await rl('wan'), '0')
      await n.disconnect(ep)
      assert.equal(await request(host, 'tcp', '127.0.0.1', 8080), null)
      // While the network lives route_localnet stays on its bridge, behind the 127.0.0.0/8 guard the
      // network's table holds (as Docker leaves it): deleting a mapping never lists the others.
      // gc turns it off once no localhost mapping needs it, and so does the network's removal.
      assert.equal(await rl(n.bridge.name), '1')
      const r = await Network.gc({ namespace: host, store })
      assert.deepEqual(r.routeLocalnet, [n.bridge.name])
      assert.equal(await rl(n.bridge.name), '0', 'off after gc: no localhost mapping needs it')
    })
  })

  describe('the rest of the row', () => {
    it('createDefault after automatic networks: automatic subnets skip 172.17.0.0/16', async () => {
      const a = await Network.create({ name: 'a', namespace: host, store })
      const b = await Network.create({ name: 'b', namespace: host, store })
      assert.notEqual(a.subnet, '172.17.0.0/16')
      assert.notEqual(b.subnet, '172.17.0.0/16')
      const d = await Network.createDefault({ namespace: host, store })
      assert.equal(d.subnet, '172.17.0.0/16')
      const [addr] = await ipj(host, '-4', 'addr', 'show', 'dev', 'nk0')
      assert.equal(addr.addr_info[0].local, '172.17.0.1')
      const c = await sb.ns()
      const ep = await d.connect(c)
      assert.ok(await ping(c, d.gateway))
      await ep.disconnect()
    })

    it('extraHosts (--add-host) on connect go to hostsFile(), host-gateway is the gateway', async () => {
      const n = await Network.create({ name: 'hosts', namespace: host, store, subnet: '172.26.11.0/24', ipv6: { subnet: 'fd00:11::/64' }, dns: false })
      const c = await sb.ns()
      const ep = await n.connect(c, { name: 'web', extraHosts: ['registry:10.0.0.5', 'v6host=[fd00::5]', 'host.docker.internal:host-gateway'] })
      assert.deepEqual(ep.extraHosts, [
        { name: 'registry', ip: '10.0.0.5' },
        { name: 'v6host', ip: 'fd00::5' },
        { name: 'host.docker.internal', ip: '172.26.11.1' },
      ])
      assert.match(ep.hostsFile(), /^10\.0\.0\.5\tregistry\nfd00::5\tv6host\n172\.26\.11\.1\thost\.docker\.internal\n172\.26\.11\.2\tweb\n/m)
      // Recorded: another process's view has them too.
      const other = await Network.open('hosts', { namespace: host, store })
      const seen = (await other.endpoint({ name: 'web' }))!
      assert.deepEqual(seen.extraHosts, ep.extraHosts)
      await seen.namespace.close()
      await assert.rejects(n.connect(c, { extraHosts: ['nocolon'] }), { code: 'ERR_INVALID_ARG_VALUE' })
      await assert.rejects(n.connect(c, { extraHosts: ['x:not-an-ip'] }), { code: 'ERR_INVALID_ARG_VALUE' })
    })

    it('remove() disconnects endpoints whose container namespace is gone instead of refusing; Endpoint[Symbol.asyncDispose] disconnects', async () => {
      const n = await Network.create({ name: 'gone', namespace: host, store, subnet: '172.26.12.0/24', dns: { upstream: [] } })
      const [c1, c2] = await Promise.all([sb.ns(), sb.ns()])
      const e1 = await n.connect(c1)
      const e2 = await n.connect(c2)
      await e2[Symbol.asyncDispose]()
      assert.deepEqual(await ipj(c2, 'link', 'show', 'dev', 'eth0').catch(() => []), [])
      assert.deepEqual(
        (await store.endpoints(n.id)).map((e) => e.id),
        [e1.id],
      )
      await c1.delete()
      await n.remove()
      assert.deepEqual(await store.networks(), [])
      assert.equal((await ipj(host, 'link', 'show')).filter((l: { ifname: string }) => l.ifname === e1.hostInterface || l.ifname === n.bridge.name).length, 0)
      // A live container still blocks it.
      const m = await Network.create({ name: 'live', namespace: host, store, subnet: '172.26.13.0/24', dns: false })
      await m.connect(c2)
      await assert.rejects(m.remove(), { code: 'ERR_NETNS_KIT_NETWORK_IN_USE' })
    })
  })
})

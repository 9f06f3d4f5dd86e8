// Docker parity for runtimes (issue 13): several networks per container, host ports respected,
// IPv6 publishing, 127.0.0.1, the default network after automatic ones, --add-host, NAME.NETWORK,
// remove() with dead endpoints. A sandbox "host" namespace with a WAN link to an "outside"
// namespace; containers are throwaway namespaces; the witnesses are ip -j, nft -j, ping, socat, dig.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Namespace, Network, SqliteStore, VethPair } from '../../lib'
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
      await host.sysctl.set(`net.bridge.${k}`, 0).catch((e: { code?: string }) => { if (e.code !== 'ENOENT') throw e })
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
      assert.deepEqual((await defaults(c)).map((r) => r.gateway), [a.gateway], 'one default route: the first network')
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
      assert.deepEqual((await defaults(c)).map((r) => [r.gateway, r.dev]), [[b.gateway, 'eth1']])
      assert.ok(await ping(c, peerB.ip))
      assert.ok(await ping(c, OUT_IP), 'the outside through b now')
      // The next network gets the first free name again (eth0), and a higher priority takes the route.
      const ec = await cc.connect(c, { gatewayPriority: 10 })
      assert.equal(ec.ifname, 'eth0')
      assert.deepEqual((await defaults(c)).map((r) => r.gateway), [cc.gateway])
      await cc.disconnect(ec)
      assert.deepEqual((await defaults(c)).map((r) => r.gateway), [b.gateway])
      // defaultRoute: false never provides one (even alone).
      await b.disconnect(eb)
      assert.deepEqual(await defaults(c), [])
      const ea2 = await a.connect(c, { defaultRoute: false })
      assert.equal(ea2.defaultRoute, false)
      assert.deepEqual(await defaults(c), [])
      assert.ok(await ping(c, peerA.ip), 'the subnet route is there')
    })
  })
})

// Vxlan links, bridge FDB and neighbour entries in throwaway namespaces, and an overlay across two
// "hosts" (namespaces joined by a veth underlay, addresses we assign). Witnesses: ip -j -d link,
// bridge -j fdb show, ip -j neigh, ping.
import { strict as assert } from 'node:assert'
import { Bridge, Link, NetlinkError, VethPair, Vxlan, type Namespace } from '../../lib'
import { Sandbox, ipj, ping, sh } from '../helpers'

const ZEROS = '00:00:00:00:00:00'

/** `bridge -j fdb show dev DEV` inside `ns`. */
async function fdbj(ns: Namespace, dev: string): Promise<any[]> {
  const { stdout } = await sh('bridge', ['-j', '-n', ns.name!, 'fdb', 'show', 'dev', dev])
  return stdout.trim() ? JSON.parse(stdout) : []
}

/** `ip -j neigh show nud all dev DEV` inside `ns`. */
async function neighj(ns: Namespace, dev: string): Promise<any[]> {
  const { stdout } = await sh('ip', ['-j', '-n', ns.name!, 'neigh', 'show', 'nud', 'all', 'dev', dev])
  return stdout.trim() ? JSON.parse(stdout) : []
}

describe('Vxlan', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  async function underlay(): Promise<{ ns: Namespace; dev: Link }> {
    const ns = await sb.ns()
    const v = await VethPair.create({ name: 'under0', namespace: ns, up: true, peer: { name: 'under1' } })
    await v.host.addAddress('10.10.0.1/24')
    return { ns, dev: v.host }
  }

  it('creates an overlay vxlan and reports vni, port, local, learning... as ip -d link does', async () => {
    const { ns, dev } = await underlay()
    const vx = await Vxlan.create({ name: 'vx0', vni: 4242, local: '10.10.0.1', device: dev, ttl: 32, proxy: true, l2miss: true, ageing: 60, up: true })
    assert.ok(vx instanceof Vxlan)
    assert.ok(vx.namespace.equals(ns), 'in the namespace of its underlay device')
    const [w] = await ipj(ns, 'link', 'show', 'vx0')
    const d = w.linkinfo.info_data
    assert.equal(w.linkinfo.info_kind, 'vxlan')
    assert.equal(d.id, 4242)
    assert.equal(d.local, '10.10.0.1')
    assert.equal(d.port, 4789, 'the IANA port by default')
    assert.equal(d.learning, false, 'learning off by default')
    assert.equal(d.link, 'under0')
    assert.equal(d.ttl, 32)
    assert.equal(d.proxy, true)
    assert.equal(d.l2miss, true)
    assert.equal(d.l3miss, undefined)
    assert.equal(d.ageing, 60)
    assert.ok(w.flags.includes('UP'))
    assert.equal(w.mtu, 1450, 'the underlay MTU less the 50 bytes of VXLAN over IPv4')
    const info = await vx.info()
    assert.equal(info.kind, 'vxlan')
    assert.deepEqual(info.vxlan, {
      vni: 4242,
      port: 4789,
      local: '10.10.0.1',
      deviceIndex: dev.index,
      learning: false,
      proxy: true,
      l2miss: true,
      l3miss: false,
      udpCsum: d.udp_csum,
      ttl: 32,
      tos: 0,
      ageing: 60,
    })
    assert.ok((await ns.link('vx0')) instanceof Vxlan)
    assert.equal((await Vxlan.open('vx0', { namespace: ns })).index, vx.index)
    await assert.rejects(Vxlan.open('under0', { namespace: ns }), (e: NodeJS.ErrnoException) => e.code === 'ERR_NETNS_KIT_WRONG_KIND')
  })

  it('takes a multicast group, a unicast remote, IPv6, another port and learning', async () => {
    const { ns } = await underlay()
    const g = await Vxlan.create({ name: 'vxg', namespace: ns, vni: 1, group: '239.1.1.1', device: 'under0', port: 8472, learning: true, udpCsum: false })
    const [wg] = await ipj(ns, 'link', 'show', 'vxg')
    assert.equal(wg.linkinfo.info_data.group, '239.1.1.1')
    assert.equal(wg.linkinfo.info_data.port, 8472)
    assert.equal(wg.linkinfo.info_data.learning, true)
    assert.equal(wg.linkinfo.info_data.udp_csum, false)
    const ig = (await g.info()).vxlan!
    assert.deepEqual([ig.group, ig.remote, ig.port, ig.learning, ig.udpCsum], ['239.1.1.1', undefined, 8472, true, false])

    const r = await Vxlan.create({ name: 'vxr', namespace: ns, vni: 2 ** 24 - 1, remote: '10.10.0.2', tos: 1 })
    const [wr] = await ipj(ns, 'link', 'show', 'vxr')
    assert.equal(wr.linkinfo.info_data.remote, '10.10.0.2')
    assert.equal(wr.linkinfo.info_data.id, 2 ** 24 - 1)
    assert.equal((await r.info()).vxlan?.remote, '10.10.0.2')
    assert.equal((await r.info()).vxlan?.tos, 1, 'tos inherit')

    const six = await Vxlan.create({ name: 'vx6', namespace: ns, vni: 0, local: 'fd00::1', remote: 'fd00::2' })
    const i6 = (await six.info()).vxlan!
    assert.deepEqual([i6.vni, i6.local, i6.remote], [0, 'fd00::1', 'fd00::2'])
    const [w6] = await ipj(ns, 'link', 'show', 'vx6')
    assert.deepEqual(
      [w6.linkinfo.info_data.local6 ?? w6.linkinfo.info_data.local, w6.linkinfo.info_data.remote6 ?? w6.linkinfo.info_data.remote],
      ['fd00::1', 'fd00::2'],
    )
  })

  it('is created directly inside another namespace while its socket stays on the underlay', async () => {
    const { ns, dev } = await underlay()
    const overlay = await sb.ns()
    const vx = await Vxlan.create({ name: 'vx0', vni: 7, local: '10.10.0.1', device: dev, target: overlay, up: true })
    assert.ok(vx.namespace.equals(overlay))
    assert.deepEqual((await ipj(ns, 'link')).map((l) => l.ifname).sort(), ['lo', 'under0', 'under1'])
    const [w] = await ipj(overlay, 'link', 'show', 'vx0')
    assert.equal(w.linkinfo.info_data.id, 7)
    assert.equal(typeof w.link_netnsid, 'number', 'its underlay lives in another namespace')
    // The UDP socket of the tunnel is bound in the underlay's namespace, not in the overlay's.
    const udp = async (n: Namespace) => (await sh('ip', ['netns', 'exec', n.name!, 'ss', '-Hnuln', 'sport', '=', ':4789'])).stdout.trim()
    assert.notEqual(await udp(ns), '')
    assert.equal(await udp(overlay), '')
  })

  it('refuses a name in use with NetlinkError and leaves nothing behind', async () => {
    const { ns } = await underlay()
    await Vxlan.create({ name: 'vx0', namespace: ns, vni: 1 })
    await assert.rejects(
      Vxlan.create({ name: 'vx0', namespace: ns, vni: 2 }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST' && e.syscall === 'RTM_NEWLINK',
    )
    // The kernel refuses a second vxlan with the same VNI and port in one namespace.
    await assert.rejects(Vxlan.create({ name: 'vx1', namespace: ns, vni: 1 }), (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST')
    assert.deepEqual((await ipj(ns, 'link')).map((l) => l.ifname).sort(), ['lo', 'under0', 'under1', 'vx0'])
  })
})

describe('link.fdb', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('programs a vxlan FDB: add, append to the all-zeros flood list, replace, delete one destination (bridge fdb)', async () => {
    const ns = await sb.ns()
    const vx = await Vxlan.create({ name: 'vx0', namespace: ns, vni: 42 })
    await vx.fdb.add({ mac: ZEROS, dst: '192.168.1.2' })
    await vx.fdb.append({ mac: ZEROS, dst: '192.168.1.3' })
    await vx.fdb.add({ mac: '02:00:00:00:00:0b', dst: '192.168.1.2', vni: 43, port: 4790 })
    const w = await fdbj(ns, 'vx0')
    assert.deepEqual(
      w
        .filter((e) => e.mac === ZEROS)
        .map((e) => e.dst)
        .sort(),
      ['192.168.1.2', '192.168.1.3'],
    )
    const one = w.find((e) => e.mac === '02:00:00:00:00:0b')
    assert.deepEqual([one.dst, one.vni, one.port, one.state, one.flags], ['192.168.1.2', 43, 4790, 'permanent', ['self']])

    const listed = await vx.fdb.list()
    assert.equal(listed.length, w.length)
    const mine = listed.find((e) => e.mac === '02:00:00:00:00:0b')!
    assert.deepEqual(
      { ...mine },
      {
        mac: '02:00:00:00:00:0b',
        index: vx.index,
        dev: 'vx0',
        dst: '192.168.1.2',
        vni: 43,
        port: 4790,
        self: true,
        master: false,
        extLearned: false,
        state: 'permanent',
        nudState: 0xc0,
        flags: 0x02,
      },
    )

    await assert.rejects(
      vx.fdb.add({ mac: ZEROS, dst: '192.168.1.4' }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST' && e.syscall === 'RTM_NEWNEIGH',
    )
    await vx.fdb.replace({ mac: '02:00:00:00:00:0b', dst: '192.168.1.9' })
    assert.equal((await fdbj(ns, 'vx0')).find((e) => e.mac === '02:00:00:00:00:0b').dst, '192.168.1.9')

    await vx.fdb.delete({ mac: ZEROS, dst: '192.168.1.3' })
    assert.deepEqual(
      (await fdbj(ns, 'vx0')).filter((e) => e.mac === ZEROS).map((e) => e.dst),
      ['192.168.1.2'],
      'only that destination went',
    )
    await vx.fdb.delete({ mac: '02:00:00:00:00:0b' })
    await vx.fdb.delete({ mac: '02:00:00:00:00:0b' }) // idempotent
    await vx.fdb.delete({ mac: ZEROS })
    assert.deepEqual(await fdbj(ns, 'vx0'), [])
    assert.deepEqual(await vx.fdb.list(), [])
  })

  it("programs a bridge FDB through a port (master static), next to the port's own entries", async () => {
    const ns = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: ns })
    const v = await VethPair.create({ name: 'p0', namespace: ns, master: br, peer: { name: 'q0' } })
    await v.host.fdb.add({ mac: '02:00:00:00:00:0c', master: true, state: 'static' })
    const w = (await fdbj(ns, 'p0')).find((e) => e.mac === '02:00:00:00:00:0c')
    assert.equal(w.master, 'br0')
    assert.equal(w.state, 'static')
    const e = (await v.host.fdb.list()).find((x) => x.mac === '02:00:00:00:00:0c')!
    assert.deepEqual([e.master, e.self, e.masterIndex, e.state, e.dev], [true, false, br.index, 'static', 'p0'])
    // The kernel's own entries are listed too: the port's MAC, local to the bridge.
    const own = (await v.host.info()).mac
    assert.equal((await v.host.fdb.list()).find((x) => x.mac === own)?.state, 'permanent')
    await v.host.fdb.delete({ mac: '02:00:00:00:00:0c', master: true })
    assert.equal(
      (await fdbj(ns, 'p0')).find((x) => x.mac === '02:00:00:00:00:0c'),
      undefined,
    )
    await v.host.fdb.delete({ mac: '02:00:00:00:00:0c', master: true })
  })
})

describe('Namespace.neighbours', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('adds, replaces, lists and deletes static neighbours (ip neigh)', async () => {
    const ns = await sb.ns()
    const v = await VethPair.create({ name: 'n0', namespace: ns, up: true, peer: { name: 'n1', up: true } })
    await v.host.addAddress('10.20.0.1/24')
    await ns.neighbours.add({ ip: '10.20.0.2', mac: '02:00:00:00:00:21', dev: 'n0' })
    await ns.neighbours.add({ ip: 'fd00::2', mac: '02:00:00:00:00:22', dev: v.host, router: true })
    let w = await neighj(ns, 'n0')
    const v4 = w.find((n) => n.dst === '10.20.0.2')
    assert.deepEqual([v4.lladdr, v4.state], ['02:00:00:00:00:21', ['PERMANENT']])
    const v6 = w.find((n) => n.dst === 'fd00::2')
    assert.equal(v6.lladdr, '02:00:00:00:00:22')
    assert.ok('router' in v6)

    const listed = await ns.neighbours.list({ dev: 'n0' })
    const l4 = listed.find((n) => n.ip === '10.20.0.2')!
    assert.deepEqual(
      { ...l4 },
      { family: 4, ip: '10.20.0.2', mac: '02:00:00:00:00:21', index: v.host.index, dev: 'n0', state: 'permanent', router: false, nudState: 0x80, flags: 0 },
    )
    assert.equal(listed.find((n) => n.ip === 'fd00::2')?.router, true)
    assert.deepEqual(
      (await ns.neighbours.list({ family: 6 })).map((n) => n.family).filter((f) => f !== 6),
      [],
    )
    assert.ok((await ns.neighbours.list({ family: 4 })).some((n) => n.ip === '10.20.0.2'))

    await assert.rejects(
      ns.neighbours.add({ ip: '10.20.0.2', mac: '02:00:00:00:00:23', dev: 'n0' }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST' && e.syscall === 'RTM_NEWNEIGH' && e.message.includes('10.20.0.2'),
    )
    await ns.neighbours.replace({ ip: '10.20.0.2', mac: '02:00:00:00:00:23', dev: 'n0' })
    await ns.neighbours.replace({ ip: '10.20.0.3', mac: '02:00:00:00:00:24', dev: 'n0', state: 'stale' })
    w = await neighj(ns, 'n0')
    assert.equal(w.find((n) => n.dst === '10.20.0.2').lladdr, '02:00:00:00:00:23')
    assert.deepEqual(w.find((n) => n.dst === '10.20.0.3').state, ['STALE'])

    await ns.neighbours.delete({ ip: '10.20.0.2', dev: 'n0' })
    await ns.neighbours.delete({ ip: '10.20.0.2', dev: 'n0' }) // idempotent
    assert.equal(
      (await neighj(ns, 'n0')).find((n) => n.dst === '10.20.0.2'),
      undefined,
    )
    assert.equal(
      (await ns.neighbours.list()).find((n) => n.ip === '10.20.0.2'),
      undefined,
    )
    await assert.rejects(ns.neighbours.add({ ip: '10.20.0.9', mac: '02:00:00:00:00:29', dev: 'nope0' }), (e: NetlinkError) => e.code === 'ENODEV')
  })

  it('refuses a Link of another namespace before anything is sent', async () => {
    const ns = await sb.ns()
    const other = await sb.ns()
    const v = await VethPair.create({ name: 'n0', namespace: other, peer: { name: 'n1' } })
    await assert.rejects(
      ns.neighbours.add({ ip: '10.20.0.2', mac: '02:00:00:00:00:21', dev: v.host }),
      (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE',
    )
  })
})

describe('overlay across two hosts (vxlan + bridge + static FDB and neighbour entries)', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  const VTEP = { a: '192.168.77.1', b: '192.168.77.2' }
  const CT = { a: { ip: '10.200.0.1', mac: '02:00:0a:c8:00:01' }, b: { ip: '10.200.0.2', mac: '02:00:0a:c8:00:02' } }

  /**
   * Two namespaces playing hosts, joined by a veth underlay; on each a bridge with a vxlan
   * (learning off, proxy as asked) and a container attached by a veth.
   */
  async function twoHosts(opts: { proxy?: boolean } = {}) {
    const hostA = await sb.ns()
    const hostB = await sb.ns()
    const u = await VethPair.create({ name: 'ul0', namespace: hostA, up: true, peer: { name: 'ul0', namespace: hostB, up: true } })
    await u.host.addAddress(`${VTEP.a}/24`)
    await u.peer.addAddress(`${VTEP.b}/24`)
    const side = async (host: Namespace, under: Link, local: string, ct: { ip: string; mac: string }) => {
      const br = await Bridge.create({ name: 'br0', namespace: host, up: true })
      const vx = await Vxlan.create({ name: 'vx0', vni: 100, local, device: under, learning: false, proxy: opts.proxy })
      await br.attach(vx)
      await vx.up()
      const c = await sb.ns()
      const v = await VethPair.create({ name: 've0', namespace: host, up: true, master: br, peer: { name: 'eth0', namespace: c, mac: ct.mac, up: true } })
      await v.peer.addAddress(`${ct.ip}/24`)
      return { vx, c }
    }
    const a = await side(hostA, u.host, VTEP.a, CT.a)
    const b = await side(hostB, u.peer, VTEP.b, CT.b)
    return { hostA, hostB, a, b }
  }

  it('carries traffic between containers on two hosts, and stops when the FDB entries are removed', async () => {
    const { hostA, hostB, a, b } = await twoHosts()
    // Static FDB entries: the peer container's MAC -> the peer VTEP, and the all-zeros entry for BUM traffic.
    await a.vx.fdb.add({ mac: CT.b.mac, dst: VTEP.b })
    await a.vx.fdb.append({ mac: ZEROS, dst: VTEP.b })
    await b.vx.fdb.add({ mac: CT.a.mac, dst: VTEP.a })
    await b.vx.fdb.append({ mac: ZEROS, dst: VTEP.a })
    // Static neighbours in the containers: no ARP needed across the tunnel.
    await a.c.neighbours.add({ ip: CT.b.ip, mac: CT.b.mac, dev: 'eth0' })
    await b.c.neighbours.add({ ip: CT.a.ip, mac: CT.a.mac, dev: 'eth0' })
    assert.equal((await fdbj(hostA, 'vx0')).find((e) => e.mac === CT.b.mac && e.flags.includes('self'))?.dst, VTEP.b)

    assert.ok(await ping(a.c, CT.b.ip), 'container A -> container B across the vxlan')
    assert.ok(await ping(b.c, CT.a.ip), 'container B -> container A')

    for (const [vx, mac] of [
      [a.vx, CT.b.mac],
      [b.vx, CT.a.mac],
    ] as const) {
      await vx.fdb.delete({ mac })
      await vx.fdb.delete({ mac: ZEROS })
    }
    // What is left on vx0 is the bridge's own (master) table, learned from the frames that crossed.
    assert.deepEqual(
      (await fdbj(hostA, 'vx0')).filter((e) => e.flags.includes('self')),
      [],
    )
    assert.deepEqual(
      (await fdbj(hostB, 'vx0')).filter((e) => e.flags.includes('self')),
      [],
    )
    assert.deepEqual(
      (await a.vx.fdb.list()).filter((e) => e.self),
      [],
    )
    assert.equal(await ping(a.c, CT.b.ip), false, 'no FDB entry: the vxlan drops the frames')
    assert.equal(await ping(b.c, CT.a.ip), false)
  })

  it("answers the containers' ARP from neighbour entries on the vxlan device (proxy), as Docker's overlay does", async () => {
    const { hostA, hostB, a, b } = await twoHosts({ proxy: true })
    await a.vx.fdb.add({ mac: CT.b.mac, dst: VTEP.b })
    await b.vx.fdb.add({ mac: CT.a.mac, dst: VTEP.a })
    // No flooding entry and no static neighbours in the containers: ARP cannot cross...
    assert.equal(await ping(a.c, CT.b.ip), false, 'no answer to ARP yet')
    // ...until the vxlan devices answer it from their neighbour entries.
    await hostA.neighbours.add({ ip: CT.b.ip, mac: CT.b.mac, dev: a.vx })
    await hostB.neighbours.add({ ip: CT.a.ip, mac: CT.a.mac, dev: b.vx })
    assert.equal((await neighj(hostA, 'vx0')).find((n) => n.dst === CT.b.ip)?.lladdr, CT.b.mac)

    assert.ok(await ping(a.c, CT.b.ip))
    assert.ok(await ping(b.c, CT.a.ip))
    const learned = (await neighj(a.c, 'eth0')).find((n) => n.dst === CT.b.ip)
    assert.equal(learned?.lladdr, CT.b.mac, 'container A resolved B through the proxy answer')
    assert.ok(!learned.state.includes('PERMANENT'))
  })
})

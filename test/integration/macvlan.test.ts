// Macvlan links in throwaway namespaces. This kernel has no dummy device, so the parent is one
// end of a veth pair whose other end, in its own namespace, plays the test host on the parent's
// network. Witnesses: ip -j -d link, ping.
import { strict as assert } from 'node:assert'
import { Link, Macvlan, NetlinkError, VethPair, type Namespace } from '../../lib'
import { Sandbox, ipj, ping } from '../helpers'

describe('Macvlan', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  /** A parent link `eth0` in a namespace of its own (up), its veth peer `th0` in `tester` at 192.168.50.1/24. */
  async function parentNet(): Promise<{ hostNs: Namespace; tester: Namespace; parent: Link }> {
    const hostNs = await sb.ns()
    const tester = await sb.ns()
    const v = await VethPair.create({ name: 'eth0', namespace: hostNs, up: true, peer: { name: 'th0', namespace: tester, up: true } })
    await v.peer.addAddress('192.168.50.1/24')
    return { hostNs, tester, parent: v.host }
  }

  it('creates macvlans directly inside containers (mode bridge): siblings and the test host ping each other', async () => {
    const { hostNs, tester, parent } = await parentNet()
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const m1 = await Macvlan.create({ name: 'mv0', parent, mode: 'bridge', target: c1, up: true, mac: '02:00:00:00:50:0b' })
    const m2 = await Macvlan.create({ name: 'mv0', parent, mode: 'bridge', target: c2, up: true })
    assert.ok(m1 instanceof Macvlan)
    assert.ok(m1.namespace.equals(c1))
    assert.ok(m2.namespace.equals(c2))
    // Created inside the containers, nothing left in the parent's namespace.
    assert.deepEqual((await ipj(hostNs, 'link')).map((l) => l.ifname).sort(), ['eth0', 'lo'])

    const [w] = await ipj(c1, 'link', 'show', 'mv0')
    assert.equal(w.ifindex, m1.index)
    assert.equal(w.linkinfo.info_kind, 'macvlan')
    assert.equal(w.linkinfo.info_data.mode, 'bridge')
    assert.equal(w.address, '02:00:00:00:50:0b')
    assert.ok(w.flags.includes('UP'), 'up in the same message')
    assert.equal(typeof w.link_netnsid, 'number', 'its parent lives in another namespace')
    const info = await m1.info()
    assert.equal(info.kind, 'macvlan')
    assert.deepEqual(info.macvlan, { mode: 'bridge', parentIndex: parent.index })
    assert.ok((await c2.link('mv0')) instanceof Macvlan)

    await m1.addAddress('192.168.50.11/24')
    await m2.addAddress('192.168.50.12/24')
    assert.ok(await ping(c1, '192.168.50.12'), 'sibling to sibling (bridge mode)')
    assert.ok(await ping(c2, '192.168.50.11'))
    assert.ok(await ping(c1, '192.168.50.1'), 'to the test host behind the parent')
    assert.ok(await ping(tester, '192.168.50.12'), 'from the test host')
  })

  it('mode private: siblings cannot reach each other, the test host still can', async () => {
    const { tester, parent } = await parentNet()
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const m1 = await Macvlan.create({ name: 'mv0', parent, mode: 'private', target: c1, up: true })
    const m2 = await Macvlan.create({ name: 'mv0', parent, mode: 'private', target: c2, up: true })
    assert.equal((await ipj(c1, 'link', 'show', 'mv0'))[0].linkinfo.info_data.mode, 'private')
    assert.equal((await m2.info()).macvlan?.mode, 'private')
    await m1.addAddress('192.168.50.11/24')
    await m2.addAddress('192.168.50.12/24')
    assert.ok(await ping(tester, '192.168.50.11'))
    assert.ok(await ping(tester, '192.168.50.12'))
    assert.ok(await ping(c1, '192.168.50.1'))
    assert.equal(await ping(c1, '192.168.50.12'), false, 'private: no traffic between siblings')
    assert.equal(await ping(c2, '192.168.50.11'), false)
  })

  it("creates every mode in the parent's own namespace, by parent name, and reports it as ip -d link does", async () => {
    const ns = await sb.ns()
    for (const [i, mode] of (['vepa', 'passthru', 'source', 'bridge', 'private'] as const).entries()) {
      // passthru takes the whole parent: one parent per mode.
      await VethPair.create({ name: `p${i}`, namespace: ns, peer: { name: `q${i}` } })
      const m = await Macvlan.create({ name: `mv${i}`, namespace: ns, parent: `p${i}`, mode, mtu: 1400 })
      assert.ok(m.namespace.equals(ns))
      const [w] = await ipj(ns, 'link', 'show', `mv${i}`)
      assert.equal(w.linkinfo.info_data.mode, mode)
      assert.equal(w.link, `p${i}`)
      assert.equal(w.mtu, 1400)
      const info = await m.info()
      assert.equal(info.macvlan?.mode, mode)
      assert.equal(info.macvlan?.parentIndex, (await ns.link(`p${i}`)).index)
      assert.equal((await Macvlan.open(`mv${i}`, { namespace: ns })).index, m.index)
    }
    await assert.rejects(Macvlan.open('p0', { namespace: ns }), (e: NodeJS.ErrnoException) => e.code === 'ERR_NETNS_KIT_WRONG_KIND')
  })

  it('refuses a name in use with NetlinkError and leaves nothing behind', async () => {
    const { parent } = await parentNet()
    const c1 = await sb.ns()
    await Macvlan.create({ name: 'mv0', parent, mode: 'bridge', target: c1 })
    await assert.rejects(
      Macvlan.create({ name: 'mv0', parent, mode: 'bridge', target: c1 }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST' && e.syscall === 'RTM_NEWLINK' && e.message.includes('mv0'),
    )
    assert.deepEqual((await ipj(c1, 'link')).map((l) => l.ifname).sort(), ['lo', 'mv0'])
  })

  it('refuses a parent that is not in opts.namespace before anything is sent, and a missing parent name with ENODEV', async () => {
    const { parent } = await parentNet()
    const other = await sb.ns()
    await assert.rejects(
      Macvlan.create({ name: 'mv0', namespace: other, parent, mode: 'bridge' }),
      (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE',
    )
    await assert.rejects(
      Macvlan.create({ name: 'mv0', namespace: other, parent: 'nope0', mode: 'bridge' }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'ENODEV',
    )
    assert.deepEqual(
      (await ipj(other, 'link')).map((l) => l.ifname),
      ['lo'],
    )
  })
})

import { strict as assert } from 'node:assert'
import { Bridge, Link, NetlinkError, VethPair } from '../../lib'
import { Sandbox, ipj, ping, sh } from '../helpers'
import { native } from '../../lib/kernel/binding'
import { handleOf } from '../../lib/kernel/handles'

describe('Link', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('lists links and gets them by name or index', async () => {
    const ns = await sb.ns()
    await VethPair.create({ name: 'a0', namespace: ns, peer: { name: 'b0' } })
    const names = (await ns.links()).map((l) => l.name).sort()
    assert.deepEqual(names, ['a0', 'b0', 'lo'])
    const byName = await ns.link('a0')
    const byIndex = await ns.link(byName.index)
    assert.equal(byIndex.name, 'a0')
    assert.ok(byName instanceof Link)
    const [witness] = await ipj(ns, 'link', 'show', 'a0')
    assert.equal(byName.index, witness.ifindex)
    await assert.rejects(ns.link('nope0'), (e: NetlinkError) => e instanceof NetlinkError && e.code === 'ENODEV' && e.syscall === 'RTM_GETLINK')
  })

  it('reads info() fresh from the kernel, matching ip -d link', async () => {
    const ns = await sb.ns()
    const { host } = await VethPair.create({ name: 'a0', namespace: ns, mtu: 1400, mac: '02:00:00:aa:bb:01', peer: { name: 'b0' } })
    await host.setAlias('netns-kit:test')
    await host.up()
    const info = await host.info()
    const [w] = await ipj(ns, 'link', 'show', 'a0')
    assert.equal(info.name, w.ifname)
    assert.equal(info.index, w.ifindex)
    assert.equal(info.kind, 'veth')
    assert.equal(w.linkinfo.info_kind, 'veth')
    assert.equal(info.mtu, 1400)
    assert.equal(info.mtu, w.mtu)
    assert.equal(info.mac, w.address)
    assert.equal(info.mac, '02:00:00:aa:bb:01')
    assert.equal(info.up, w.flags.includes('UP'))
    assert.equal(info.alias, w.ifalias)
    assert.equal(info.operState.toUpperCase(), w.operstate)
    const lo = await (await ns.link('lo')).info()
    assert.equal(lo.kind, 'loopback')
  })

  it('sets up/down, MTU, MAC, alias (witness: ip -j link)', async () => {
    const ns = await sb.ns()
    const { host } = await VethPair.create({ name: 'a0', namespace: ns, peer: { name: 'b0' } })
    await host.up()
    assert.ok((await ipj(ns, 'link', 'show', 'a0'))[0].flags.includes('UP'))
    await host.down()
    assert.ok(!(await ipj(ns, 'link', 'show', 'a0'))[0].flags.includes('UP'))
    await host.setMtu(9000)
    assert.equal((await ipj(ns, 'link', 'show', 'a0'))[0].mtu, 9000)
    await host.setMac('02:42:ac:11:00:02')
    assert.equal((await ipj(ns, 'link', 'show', 'a0'))[0].address, '02:42:ac:11:00:02')
    await host.setAlias('hello world')
    assert.equal((await ipj(ns, 'link', 'show', 'a0'))[0].ifalias, 'hello world')
    await host.setAlias('')
    assert.equal((await ipj(ns, 'link', 'show', 'a0'))[0].ifalias, undefined)
    // the kernel's own refusals come back as NetlinkError: a name already taken
    await assert.rejects(
      host.rename('b0'),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST' && e.syscall === 'RTM_NEWLINK' && e.message.includes('a0'),
    )
    assert.equal(host.name, 'a0')
  })

  it('renames (while down) and moves to another namespace', async () => {
    const ns = await sb.ns()
    const other = await sb.ns()
    const { host } = await VethPair.create({ name: 'a0', namespace: ns, peer: { name: 'b0' } })
    await host.rename('renamed0')
    assert.equal(host.name, 'renamed0')
    assert.equal((await ipj(ns, 'link', 'show', 'renamed0')).length, 1)
    await host.moveTo(other)
    assert.ok(host.namespace.equals(other))
    const [w] = await ipj(other, 'link', 'show', 'renamed0')
    assert.equal(w.ifindex, host.index)
    assert.equal((await host.info()).name, 'renamed0')
    assert.equal((await sh('ip', ['-n', ns.name!, 'link', 'show', 'renamed0'], { allowFail: true })).code !== 0, true)
  })

  it('deletes idempotently', async () => {
    const ns = await sb.ns()
    const { host, peer } = await VethPair.create({ name: 'a0', namespace: ns, peer: { name: 'b0' } })
    await host.delete()
    await host.delete()
    await peer.delete()
    assert.deepEqual(
      (await ipj(ns, 'link')).map((l) => l.ifname),
      ['lo'],
    )
  })
})

describe('VethPair', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('creates the peer directly inside its namespace with per-side MTU and MAC', async () => {
    const host = await sb.ns()
    const c1 = await sb.ns()
    const v = await VethPair.create({
      name: 'veth0',
      namespace: host,
      mtu: 1450,
      mac: '02:00:00:00:00:01',
      peer: { name: 'eth0', namespace: c1, mac: '02:00:00:00:00:02', mtu: 1400 },
    })
    assert.ok(v.host.namespace.equals(host))
    assert.ok(v.peer.namespace.equals(c1))
    const [h] = await ipj(host, 'link', 'show', 'veth0')
    const [p] = await ipj(c1, 'link', 'show', 'eth0')
    assert.equal(h.mtu, 1450)
    assert.equal(p.mtu, 1400)
    assert.equal(h.address, '02:00:00:00:00:01')
    assert.equal(p.address, '02:00:00:00:00:02')
    assert.equal(v.peer.index, p.ifindex)
    assert.equal(v.host.index, h.ifindex)
    assert.deepEqual((await ipj(host, 'link')).map((l) => l.ifname).sort(), ['lo', 'veth0'])
  })

  it('brings both ends up and attaches the host end to a bridge in the same trip', async () => {
    const host = await sb.ns()
    const c1 = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: host, up: true })
    const v = await VethPair.create({ name: 'veth0', namespace: host, up: true, master: br, peer: { name: 'eth0', namespace: c1, up: true } })
    const [h] = await ipj(host, 'link', 'show', 'veth0')
    assert.equal(h.master, 'br0')
    assert.ok(h.flags.includes('UP'))
    assert.ok((await v.peer.info()).up)
  })

  it('creates ends without IPv6 (ipv6: false) that still come up and carry IPv4 (witnesses: sysctl, ip -6 addr, ping)', async () => {
    const host = await sb.ns()
    const c1 = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: host, up: true })
    await br.addAddress('10.77.0.1/24')
    const v = await VethPair.create({
      name: 'veth.0',
      namespace: host,
      up: true,
      master: br,
      ipv6: false,
      peer: { name: 'eth0', namespace: c1, up: true, ipv6: false },
    })
    await v.peer.addAddress('10.77.0.2/24')
    assert.equal((await sh('ip', ['netns', 'exec', host.name!, 'sysctl', '-n', 'net.ipv6.conf.veth/0.disable_ipv6'])).stdout.trim(), '1')
    assert.equal((await sh('ip', ['netns', 'exec', c1.name!, 'sysctl', '-n', 'net.ipv6.conf.eth0.disable_ipv6'])).stdout.trim(), '1')
    assert.equal((await sh('ip', ['netns', 'exec', c1.name!, 'sysctl', '-n', 'net.ipv6.conf.lo.disable_ipv6'])).stdout.trim(), '0', 'only the named ends')
    const [h] = await ipj(host, 'link', 'show', 'veth.0')
    assert.ok(h.flags.includes('UP'))
    assert.equal(h.master, 'br0')
    assert.ok((await v.peer.info()).up)
    assert.deepEqual(await ipj(c1, '-6', 'addr', 'show', 'dev', 'eth0'), [], 'no link-local address on the peer')
    assert.deepEqual(await ipj(host, '-6', 'addr', 'show', 'dev', 'veth.0'), [], 'none on the bridge port')
    await ping(c1, '10.77.0.1')
    // Left on (the default): the peer gets its link-local address as usual.
    const c2 = await sb.ns()
    const w = await VethPair.create({ name: 'veth1', namespace: host, up: true, master: br, peer: { name: 'eth0', namespace: c2, up: true } })
    assert.equal((await sh('ip', ['netns', 'exec', c2.name!, 'sysctl', '-n', 'net.ipv6.conf.eth0.disable_ipv6'])).stdout.trim(), '0')
    assert.equal((await sh('ip', ['netns', 'exec', host.name!, 'sysctl', '-n', 'net.ipv6.conf.veth1.disable_ipv6'])).stdout.trim(), '0')
    await w.delete()
    await assert.rejects(
      VethPair.create({ name: 'veth2', namespace: host, ipv6: 'no' as unknown as boolean, peer: { name: 'eth1', namespace: c1 } }),
      /opts.ipv6/,
    )
    assert.deepEqual((await ipj(host, 'link')).map((l) => l.ifname).sort(), ['br0', 'lo', 'veth.0'])
    // The native operation: a key outside /proc/sys/net is refused before anything runs; a missing
    // key is a refusal (ENOENT) unless ignoreMissing, and stops the rest of the trip.
    assert.throws(() => native().rtnl([{ ns: handleOf(host), op: 'sysctl.set', key: '../../kernel/hostname', value: 'x' }]), /under \/proc\/sys\/net/)
    const r = await native().rtnl([
      { ns: handleOf(host), op: 'sysctl.set', key: 'ipv6/conf/nosuch0/disable_ipv6', value: '1', ignoreMissing: true },
      { ns: handleOf(host), op: 'sysctl.set', key: 'ipv6/conf/nosuch0/disable_ipv6', value: '1' },
      { ns: handleOf(host), op: 'link.get', name: 'br0' },
    ])
    assert.equal(r[0], null)
    assert.equal((r[1] as { errno: number }).errno, -2)
    assert.deepEqual(r[2], { notRun: true })
  })

  it('is removed whole by deleting either end', async () => {
    const host = await sb.ns()
    const c1 = await sb.ns()
    const v = await VethPair.create({ name: 'veth0', namespace: host, peer: { name: 'eth0', namespace: c1 } })
    await v.peer.delete()
    assert.deepEqual(
      (await ipj(host, 'link')).map((l) => l.ifname),
      ['lo'],
    )
    const v2 = await VethPair.create({ name: 'veth1', namespace: host, peer: { name: 'eth1', namespace: c1 } })
    await v2.delete()
    assert.deepEqual(
      (await ipj(c1, 'link')).map((l) => l.ifname),
      ['lo'],
    )
  })

  it('refuses an existing name with NetlinkError and leaves nothing behind', async () => {
    const host = await sb.ns()
    const c1 = await sb.ns()
    await VethPair.create({ name: 'veth0', namespace: host, peer: { name: 'eth0', namespace: c1 } })
    await assert.rejects(
      VethPair.create({ name: 'veth9', namespace: host, peer: { name: 'eth0', namespace: c1 } }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST' && e.errno === -17 && e.syscall === 'RTM_NEWLINK' && e.message.includes('veth9'),
    )
    assert.deepEqual((await ipj(host, 'link')).map((l) => l.ifname).sort(), ['lo', 'veth0'])
  })

  it('carries traffic between the namespaces', async () => {
    const a = await sb.ns()
    const b = await sb.ns()
    const v = await VethPair.create({ name: 'va', namespace: a, up: true, peer: { name: 'vb', namespace: b, up: true } })
    await v.host.addAddress('10.200.0.1/30')
    await v.peer.addAddress('10.200.0.2/30')
    assert.ok(await ping(a, '10.200.0.2'))
    assert.ok(await ping(b, '10.200.0.1'))
  })
})

describe('Bridge', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('creates a bridge with MTU, MAC and STP, and opens it again', async () => {
    const ns = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: ns, mtu: 1400, mac: '02:00:00:00:0b:01', stp: true })
    const [w] = await ipj(ns, 'link', 'show', 'br0')
    assert.equal(w.linkinfo.info_kind, 'bridge')
    assert.equal(w.mtu, 1400)
    assert.equal(w.address, '02:00:00:00:0b:01')
    assert.equal(w.linkinfo.info_data.stp_state, 1)
    const info = await br.info()
    assert.equal(info.stp, true)
    const again = await Bridge.open('br0', { namespace: ns })
    assert.equal(again.index, br.index)
    assert.ok(again instanceof Bridge)
    assert.ok((await ns.link('br0')) instanceof Bridge)
    const nostp = await Bridge.create({ name: 'br1', namespace: ns, stp: false })
    assert.equal((await ipj(ns, 'link', 'show', 'br1'))[0].linkinfo.info_data.stp_state, 0)
    assert.equal((await nostp.info()).stp, false)
  })

  it('sets VLAN filtering where the kernel supports it, or says it does not', async () => {
    const ns = await sb.ns()
    try {
      await Bridge.create({ name: 'brv', namespace: ns, vlanFiltering: true })
      assert.equal((await ipj(ns, 'link', 'show', 'brv'))[0].linkinfo.info_data.vlan_filtering, 1)
    } catch (e) {
      assert.ok(e instanceof NetlinkError)
      assert.equal(e.code, 'EOPNOTSUPP')
      assert.deepEqual(
        (await ipj(ns, 'link')).map((l) => l.ifname),
        ['lo'],
        'nothing left behind',
      )
    }
  })

  it('refuses to open a link that is not a bridge', async () => {
    const ns = await sb.ns()
    await assert.rejects(Bridge.open('lo', { namespace: ns }), (e: NodeJS.ErrnoException) => e.code === 'ERR_NETNS_KIT_NOT_A_BRIDGE')
  })

  it('attaches and detaches ports with hairpin and isolated flags', async () => {
    const ns = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: ns })
    const v1 = await VethPair.create({ name: 'p1', namespace: ns, peer: { name: 'q1' } })
    const v2 = await VethPair.create({ name: 'p2', namespace: ns, peer: { name: 'q2' } })
    await br.attach(v1.host, { hairpin: true, isolated: true })
    await br.attach(v2.host)
    const ports = (await br.ports()).map((l) => l.name).sort()
    assert.deepEqual(ports, ['p1', 'p2'])
    const [w1] = await ipj(ns, 'link', 'show', 'p1')
    assert.equal(w1.master, 'br0')
    assert.equal(w1.linkinfo.info_slave_data.hairpin, true)
    assert.equal(w1.linkinfo.info_slave_data.isolated, true)
    const [w2] = await ipj(ns, 'link', 'show', 'p2')
    assert.equal(w2.linkinfo.info_slave_data.hairpin, false)
    const i1 = await v1.host.info()
    assert.equal(i1.master, br.index)
    assert.equal(i1.hairpin, true)
    assert.equal(i1.isolated, true)
    await br.setPort(v1.host, { hairpin: false })
    assert.equal((await ipj(ns, 'link', 'show', 'p1'))[0].linkinfo.info_slave_data.hairpin, false)
    await br.detach(v1.host)
    assert.equal((await ipj(ns, 'link', 'show', 'p1'))[0].master, undefined)
    assert.deepEqual(
      (await br.ports()).map((l) => l.name),
      ['p2'],
    )
  })

  it('refuses a port from another namespace before anything is sent', async () => {
    const ns = await sb.ns()
    const other = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: ns })
    const v = await VethPair.create({ name: 'p1', namespace: other, peer: { name: 'q1' } })
    await assert.rejects(br.attach(v.host), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE')
  })

  it('switches traffic between two namespaces (the core issue walkthrough)', async () => {
    const host = await sb.ns()
    const c1 = await sb.ns()
    const c2 = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: host })
    await br.addAddress('172.18.0.1/16')
    await br.up()
    for (const [c, ip, n] of [
      [c1, '172.18.0.10', 'veth1'],
      [c2, '172.18.0.11', 'veth2'],
    ] as const) {
      const v = await VethPair.create({ name: n, namespace: host, peer: { name: 'eth0', namespace: c } })
      await br.attach(v.host)
      await v.host.up()
      await v.peer.addAddress(`${ip}/16`)
      await v.peer.up()
      await c.routes.add({ to: 'default', via: '172.18.0.1' })
    }
    assert.ok(await ping(c1, '172.18.0.11'))
    assert.ok(await ping(c2, '172.18.0.10'))
    assert.ok(await ping(host, '172.18.0.10'))
    assert.ok(await ping(c1, '172.18.0.1'))
  })
})

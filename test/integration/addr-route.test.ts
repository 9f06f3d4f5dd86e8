import { strict as assert } from 'node:assert'
import { NetlinkError, VethPair, type Namespace } from '../../lib'
import { Sandbox, ipj, ping } from '../helpers'
import { run } from '../../lib/kernel/rtnl'

async function pair(sb: Sandbox): Promise<{ a: Namespace; b: Namespace; v: VethPair }> {
  const a = await sb.ns()
  const b = await sb.ns()
  const v = await VethPair.create({ name: 'va', namespace: a, up: true, peer: { name: 'vb', namespace: b, up: true } })
  return { a, b, v }
}

describe('addresses', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('adds, lists and deletes IPv4 and IPv6 addresses (witness: ip -j addr)', async () => {
    const { a, v } = await pair(sb)
    await v.host.addAddress('10.1.2.3/24')
    await v.host.addAddress('fd00:1::3/64', { nodad: true })
    const w = (await ipj(a, 'addr', 'show', 'dev', 'va'))[0].addr_info as { local: string; prefixlen: number; family: string; broadcast?: string }[]
    assert.ok(w.some((x) => x.local === '10.1.2.3' && x.prefixlen === 24 && x.broadcast === '10.1.2.255'))
    assert.ok(w.some((x) => x.local === 'fd00:1::3' && x.prefixlen === 64))
    const mine = await v.host.addresses()
    const v4 = mine.find((x) => x.address === '10.1.2.3')!
    assert.equal(v4.cidr, '10.1.2.3/24')
    assert.equal(v4.family, 4)
    assert.equal(v4.ifname, 'va')
    assert.equal(v4.scope, 'global')
    const v6 = mine.find((x) => x.address === 'fd00:1::3')!
    assert.equal(v6.nodad, true)
    assert.equal(v6.tentative, false, 'nodad: usable at once, no DAD')
    const all = await a.addresses()
    assert.ok(all.some((x) => x.ifname === 'lo' && x.address === '127.0.0.1'))
    assert.ok(all.some((x) => x.ifname === 'va' && x.address === '10.1.2.3'))
    await v.host.deleteAddress('10.1.2.3/24')
    await v.host.deleteAddress('fd00:1::3/64')
    const left = (await ipj(a, 'addr', 'show', 'dev', 'va'))[0].addr_info as { local: string }[]
    assert.ok(!left.some((x) => x.local === '10.1.2.3' || x.local === 'fd00:1::3'))
  })

  it('refuses a duplicate and a missing address with NetlinkError', async () => {
    const { v } = await pair(sb)
    await v.host.addAddress('10.1.2.3/24')
    await assert.rejects(
      v.host.addAddress('10.1.2.3/24'),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EEXIST' && e.syscall === 'RTM_NEWADDR' && e.message.includes('10.1.2.3/24'),
    )
    await assert.rejects(
      v.host.deleteAddress('10.9.9.9/24'),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EADDRNOTAVAIL' && e.syscall === 'RTM_DELADDR',
    )
  })

  it('refuses bad CIDRs before anything reaches the kernel', async () => {
    const { v } = await pair(sb)
    for (const bad of ['10.1.2.3', '10.1.2.3/33', '300.1.2.3/24', 'fd00::1/129', 'x/1', '']) {
      await assert.rejects(v.host.addAddress(bad), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE', bad)
    }
  })
})

describe('routes', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('adds a default route via a gateway and a prefix via a device, with metric and src', async () => {
    const { a, b, v } = await pair(sb)
    await v.host.addAddress('10.1.0.1/24')
    await v.peer.addAddress('10.1.0.2/24')
    await v.peer.addAddress('10.50.0.2/32')
    await b.routes.add({ to: 'default', via: '10.1.0.1' })
    await b.routes.add({ to: '10.60.0.0/16', dev: 'vb', metric: 100, src: '10.50.0.2' })
    const w = await ipj(b, 'route', 'show')
    assert.ok(w.some((r) => r.dst === 'default' && r.gateway === '10.1.0.1' && r.dev === 'vb'))
    assert.ok(w.some((r) => r.dst === '10.60.0.0/16' && r.dev === 'vb' && r.metric === 100 && r.prefsrc === '10.50.0.2' && r.scope === 'link'))
    const mine = await b.routes.list({ family: 4 })
    const def = mine.find((r) => r.to === 'default')!
    assert.equal(def.via, '10.1.0.1')
    assert.equal(def.dev, 'vb')
    assert.equal(def.table, 254)
    const pre = mine.find((r) => r.to === '10.60.0.0/16')!
    assert.equal(pre.metric, 100)
    assert.equal(pre.src, '10.50.0.2')
    assert.equal(pre.scope, 'link')
    // the route carries traffic: b reaches an address of a's beyond its own subnet
    await (await a.link('lo')).addAddress('10.99.0.1/32')
    assert.ok(await ping(b, '10.99.0.1'))
  })

  it('replaces and deletes routes; delete of a missing route is ESRCH', async () => {
    const { b, v } = await pair(sb)
    await v.peer.addAddress('10.1.0.2/24')
    await b.routes.add({ to: '10.70.0.0/16', via: '10.1.0.1' })
    await assert.rejects(b.routes.add({ to: '10.70.0.0/16', via: '10.1.0.1' }), (e: NetlinkError) => e.code === 'EEXIST' && e.syscall === 'RTM_NEWROUTE')
    await b.routes.replace({ to: '10.70.0.0/16', via: '10.1.0.3' })
    let w = await ipj(b, 'route', 'show', '10.70.0.0/16')
    assert.equal(w.length, 1)
    assert.equal(w[0].gateway, '10.1.0.3')
    await b.routes.delete({ to: '10.70.0.0/16' })
    w = await ipj(b, 'route', 'show', '10.70.0.0/16')
    assert.equal(w.length, 0)
    await assert.rejects(b.routes.delete({ to: '10.70.0.0/16' }), (e: NetlinkError) => e instanceof NetlinkError && e.code === 'ESRCH')
  })

  it('uses other tables, and IPv6', async () => {
    const { b, v } = await pair(sb)
    await v.peer.addAddress('fd00:2::2/64', { nodad: true })
    await v.peer.addAddress('10.1.0.2/24')
    await b.routes.add({ to: 'default', via: 'fd00:2::1', table: 100 })
    await b.routes.add({ to: '10.80.0.0/16', via: '10.1.0.1', table: 1000 })
    await b.routes.add({ to: 'fd00:3::/64', dev: v.peer, metric: 50 })
    const w6 = await ipj(b, '-6', 'route', 'show', 'table', '100')
    assert.ok(w6.some((r) => r.dst === 'default' && r.gateway === 'fd00:2::1'))
    const w1000 = await ipj(b, 'route', 'show', 'table', '1000')
    assert.ok(w1000.some((r) => r.dst === '10.80.0.0/16'))
    const t100 = await b.routes.list({ family: 6, table: 100 })
    assert.ok(t100.some((r) => r.to === 'default' && r.via === 'fd00:2::1' && r.family === 6 && r.table === 100))
    const t1000 = await b.routes.list({ table: 1000 })
    assert.ok(t1000.some((r) => r.to === '10.80.0.0/16' && r.table === 1000))
    const main6 = await b.routes.list({ family: 6 })
    assert.ok(main6.some((r) => r.to === 'fd00:3::/64' && r.metric === 50 && r.dev === 'vb'))
    assert.ok(!main6.some((r) => r.table === 100), 'table main by default')
    const every = await b.routes.list({ table: 0 })
    assert.ok(
      every.some((r) => r.table === 255),
      'table 0 lists every table, local included',
    )
    await b.routes.delete({ to: 'default', via: 'fd00:2::1', table: 100 })
    assert.equal((await ipj(b, '-6', 'route', 'show', 'table', '100')).length, 0)
  })

  it('reports an unreachable gateway with the kernel extended ACK', async () => {
    const { b } = await pair(sb)
    await assert.rejects(b.routes.add({ to: 'default', via: '10.123.0.1' }), (e: NetlinkError) => {
      assert.ok(e instanceof NetlinkError)
      assert.equal(e.code, 'ENETUNREACH')
      assert.equal(e.syscall, 'RTM_NEWROUTE')
      assert.ok(e.extack && e.extack.length > 0, 'extack text present')
      assert.ok(e.message.includes(e.extack!))
      return true
    })
  })

  it('refuses bad route specs before anything reaches the kernel', async () => {
    const { b } = await pair(sb)
    await assert.rejects(b.routes.add({ to: '10.0.0.0/33', via: '10.1.0.1' }), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE')
    await assert.rejects(b.routes.add({ to: 'default', via: 'fd00::1', src: '10.0.0.1' }), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE')
    await assert.rejects(b.routes.add({ to: 'default' }), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE')
    await assert.rejects(b.routes.add({ to: 'default', via: '10.1.0.1', metric: -1 }), (e: NodeJS.ErrnoException) => e.code === 'ERR_OUT_OF_RANGE')
    await assert.rejects(b.routes.add({ to: 'default', dev: 'bad/name' }), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE')
  })
})

describe('addr.add by interface name (one trip: a link made earlier in the same run)', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('addresses the peer of a veth created in the same run, and refuses an unknown name without running the rest', async () => {
    const [a, b] = await Promise.all([sb.ns(), sb.ns()])
    const r = await run([
      { ns: a, op: 'link.create', kind: 'veth', name: 'va', up: true, peer: { name: 'eth0', target: b } },
      { ns: b, op: 'link.set', name: 'eth0', up: true },
      { ns: b, op: 'addr.add', linkName: 'eth0', address: '10.9.0.2', prefixLength: 24 },
      { ns: b, op: 'route.add', family: 4, dstLength: 0, gateway: '10.9.0.1' },
    ])
    assert.equal(r.length, 4)
    const addr = (await ipj(b, 'addr', 'show', 'dev', 'eth0'))[0].addr_info.find((x: any) => x.family === 'inet')
    assert.equal(`${addr.local}/${addr.prefixlen}`, '10.9.0.2/24')
    assert.equal((await ipj(b, 'route', 'show', 'default'))[0].gateway, '10.9.0.1')
    const err = await run([
      { ns: b, op: 'addr.add', linkName: 'nosuch0', address: '10.9.1.2', prefixLength: 24, object: 'nosuch0' },
      { ns: b, op: 'route.add', family: 4, dst: '10.9.2.0', dstLength: 24, gateway: '10.9.0.1' },
    ]).then(
      () => undefined,
      (e: NetlinkError & { results?: unknown[] }) => e,
    )
    assert.ok(err instanceof NetlinkError)
    assert.equal(err.code, 'ENODEV')
    assert.equal(err.syscall, 'RTM_GETLINK')
    assert.deepEqual(err.results![1], { notRun: true })
    assert.equal((await ipj(b, 'route', 'show', '10.9.2.0/24')).length, 0)
  })
})

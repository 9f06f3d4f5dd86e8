// MacvlanNetwork: endpoints are macvlans on a parent (here a veth whose far end is a "test host"
// namespace playing the LAN's router), created directly inside the containers' namespaces.
// Witnesses: ip -j -d link / addr / route / neigh, ping.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { MacvlanNetwork, MemoryStore, Network, VethPair, type Namespace } from '../../lib'
import { Sandbox, ipj, ping, sh } from '../helpers'

type Coded = Error & { code: string }
const GW = '10.95.0.1'

describe('MacvlanNetwork', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  /** A host with parent lan0 (a veth) whose far end lan1 sits in a LAN namespace holding the gateway address. */
  async function lan(): Promise<{ host: Namespace; far: Namespace; parent: VethPair['host'] }> {
    const host = await sb.ns()
    const far = await sb.ns()
    const v = await VethPair.create({ name: 'lan0', namespace: host, up: true, peer: { name: 'lan1', namespace: far, up: true } })
    await v.peer.addAddress(`${GW}/24`, { nodad: true })
    return { host, far, parent: v.host }
  }

  /** lan(), a macvlan network 'mv' on its parent and a bridge network 'br' in its host, in one store (a container on both). */
  async function macvlanAndBridge() {
    const { parent } = await lan()
    const host = parent.namespace
    const store = new MemoryStore()
    const mv = await MacvlanNetwork.create({ name: 'mv', parent, subnet: '10.95.0.0/24', gateway: GW, store })
    const br = await Network.create({ name: 'br', namespace: host, subnet: '10.94.0.0/24', store })
    return { parent, host, store, mv, br }
  }

  for (const mode of ['bridge', 'private'] as const) {
    it(`${mode} mode: each container gets its own macvlan, MAC, address and default route; reaches the gateway${mode === 'bridge' ? ' and its siblings' : ' but not its siblings'}`, async () => {
      const { host, far, parent } = await lan()
      // Through Network.create's macvlan driver (the implementation is MacvlanNetwork).
      const net = await Network.create({ driver: 'macvlan', name: `mv-${mode}`, parent, mode, subnet: '10.95.0.0/24', gateway: GW, store: new MemoryStore() })
      assert.ok(net instanceof MacvlanNetwork)
      assert.equal(net.mode, mode)
      const c1 = await sb.ns()
      const c2 = await sb.ns()
      const e1 = await net.connect(c1)
      const e2 = await net.connect(c2, { ip: '10.95.0.50' })
      assert.deepEqual([e1.ip, e2.ip], ['10.95.0.2', '10.95.0.50'])
      assert.notEqual(e1.mac, e2.mac)
      for (const [c, e] of [
        [c1, e1],
        [c2, e2],
      ] as const) {
        const [w] = await ipj(c, 'link', 'show', 'eth0')
        assert.equal(w.linkinfo.info_kind, 'macvlan')
        assert.equal(w.linkinfo.info_data.mode, mode)
        assert.equal(w.address, e.mac)
        assert.equal(typeof w.link_netnsid, 'number', 'its parent lives in another namespace')
        assert.ok(w.flags.includes('UP'))
        const [a] = await ipj(c, 'addr', 'show', 'eth0')
        assert.ok(a.addr_info.some((x: any) => x.local === e.ip && x.prefixlen === 24))
        assert.deepEqual(
          (await ipj(c, 'route', 'show', 'default')).map((r) => [r.gateway, r.dev]),
          [[GW, 'eth0']],
        )
      }
      assert.deepEqual((await ipj(host, 'link')).map((l) => l.ifname).sort(), ['lan0', 'lo'], 'nothing added on the host')

      assert.ok(await ping(c1, GW), "container 1 -> the gateway on the parent's network")
      assert.ok(await ping(c2, GW))
      assert.ok(await ping(far, e1.ip), 'the test host reaches container 1')
      const n = (await ipj(far, 'neigh', 'show', 'dev', 'lan1')).find((x) => x.dst === e1.ip)
      assert.equal(n?.lladdr, e1.mac, "the LAN sees the container's own MAC")
      assert.equal(await ping(c1, e2.ip), mode === 'bridge')

      await net.disconnect(e1)
      await net.disconnect(e1)
      assert.deepEqual(
        (await ipj(c1, 'link')).map((l) => l.ifname),
        ['lo'],
      )
      assert.deepEqual(
        (await net.store.endpoints(net.id)).map((e) => e.addresses[0]!.address),
        ['10.95.0.50'],
        'the address was given back',
      )
    })
  }

  it('rolls back a connect that fails half-way, and refuses bad input with typed errors', async () => {
    const { parent } = await lan()
    const store = new MemoryStore()
    const net = await MacvlanNetwork.create({ name: 'mv', parent, subnet: '10.95.0.0/24', gateway: GW, store })
    const c = await sb.ns()
    await VethPair.create({ name: 'eth0', namespace: c, peer: { name: 'x0' } })
    // A name the container has: refused before anything is made (issue 13); without one, the next free ethN.
    await assert.rejects(net.connect(c, { ifname: 'eth0' }), (e: Coded) => e.code === 'ERR_NETNS_KIT_IFNAME_IN_USE' && e.message.includes('eth0'))
    assert.deepEqual(await net.store.endpoints(net.id), [])
    const second = await net.connect(c)
    assert.equal(second.ifname, 'eth1')
    assert.equal((await ipj(c, 'link', 'show', 'eth1'))[0].linkinfo.info_kind, 'macvlan')
    await net.disconnect(second)
    // A failure in the kernel half-way (the MAC of another macvlan on the parent) releases the address.
    const other = await sb.ns()
    const first = await net.connect(other)
    await assert.rejects(net.connect(c, { mac: first.mac }), (e: Coded) => typeof e.code === 'string' && !e.code.startsWith('ERR_INVALID'))
    assert.deepEqual(
      (await net.store.endpoints(net.id)).map((e) => e.id),
      [first.id],
      'the address was released',
    )
    assert.deepEqual((await ipj(c, 'link')).map((l) => l.ifname).sort(), ['eth0', 'lo', 'x0'], 'nothing left in the container')
    // The address taken by a failed connect goes to the next one.
    const ok = await sb.ns()
    assert.equal((await net.connect(ok)).ip, '10.95.0.5')

    await assert.rejects(net.connect(c, { ip: '10.96.0.2' }), (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE')
    await assert.rejects(net.connect(c, { ip: GW }), (e: Coded) => e.code.startsWith('ERR_NETNS_KIT_'))
    await assert.rejects(
      MacvlanNetwork.create({ name: 'm2', parent, mode: 'source' as never, subnet: '10.97.0.0/24' }),
      (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE',
    )
    await assert.rejects(
      Network.create({ driver: 'ipvlan' as never, name: 'm2' }),
      (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE' && e.message.includes('driver'),
    )
    await assert.rejects(
      MacvlanNetwork.create({ name: 'm2', parent, subnet: '10.97.0.0/24', gateway: '10.1.1.1', store }),
      (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE',
    )
    await assert.rejects(
      MacvlanNetwork.create({ name: 'm2', parent: 'no/slash', subnet: '10.97.0.0/24', store }),
      (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE',
    )
    await assert.rejects(
      MacvlanNetwork.create({ name: 'm3', parent: 'nope0', namespace: parent.namespace, subnet: '10.97.0.0/24', store }),
      (e: Coded) => e.code === 'ENODEV',
    )
    // The same name again with the same subnet is the same network; another subnet is refused.
    assert.equal((await MacvlanNetwork.create({ name: 'mv', parent, subnet: '10.95.0.0/24', gateway: GW, store })).subnet, '10.95.0.0/24')
    await assert.rejects(MacvlanNetwork.create({ name: 'mv', parent, subnet: '10.98.0.0/24', store }), (e: Coded) => e.code === 'ERR_NETNS_KIT_NETWORK_EXISTS')
    // What the driver does not do, it says so: no published ports, names or aliases on a macvlan network.
    await assert.rejects(
      net.connect(ok, { publish: [{ containerPort: 80 }] } as never),
      (e: Coded) => e.code === 'ERR_NETNS_KIT_UNSUPPORTED' && /macvlan.*publish/.test(e.message),
    )
    await assert.rejects(net.connect(ok, { aliases: ['db'] } as never), (e: Coded) => e.code === 'ERR_NETNS_KIT_UNSUPPORTED')
  })

  it('is found by Network.open and Network.list, a peer of the bridge driver', async () => {
    const { parent } = await lan()
    const host = parent.namespace
    const store = new MemoryStore()
    await MacvlanNetwork.create({ name: 'mv', parent, mode: 'private', subnet: '10.95.0.0/24', gateway: GW, store })
    const opened = await Network.open('mv', { namespace: host, store, driver: 'macvlan' })
    assert.ok(opened instanceof MacvlanNetwork)
    assert.deepEqual([opened.driver, opened.parent.name, opened.mode, opened.subnet, opened.gateway], ['macvlan', 'lan0', 'private', '10.95.0.0/24', GW])
    assert.ok(opened.namespace.equals(host))
    // Without the driver, Network.open means a bridge network, and says which driver this one has.
    await assert.rejects(Network.open('mv', { namespace: host, store }), (e: Coded) => e.code === 'ERR_NETNS_KIT_WRONG_DRIVER' && /macvlan/.test(e.message))
    assert.deepEqual(
      (await Network.list({ namespace: host, store, driver: 'all' })).map((n) => `${n.driver} ${n.name}`),
      ['macvlan mv'],
    )
    assert.deepEqual(
      (await Network.list({ namespace: host, store })).map((n) => n.name),
      [],
      "the bridge driver's networks only",
    )
    assert.deepEqual(
      (await Network.list({ namespace: await sb.ns(), store, driver: 'all' })).map((n) => n.name),
      [],
      'networks belong to their host namespace',
    )
    // An endpoint through the opened network: the same shape as every driver's.
    const c = await sb.ns()
    const ep = await opened.connect(c)
    assert.deepEqual([ep.ifname, ep.prefixLength, ep.gateway, ep.hostInterface], ['eth0', 24, GW, undefined])
    await opened.disconnect(ep)
    await opened.remove()
    await assert.rejects(Network.open('mv', { namespace: host, store, driver: 'macvlan' }), (e: Coded) => e.code === 'ERR_NETNS_KIT_NO_NETWORK')
  })

  it('passthru: one endpoint takes over the parent', async () => {
    const { far, parent } = await lan()
    const net = await MacvlanNetwork.create({ name: 'pt', parent, mode: 'passthru', subnet: '10.95.0.0/24', gateway: GW, store: new MemoryStore() })
    const c = await sb.ns()
    const e = await net.connect(c)
    const [w] = await ipj(c, 'link', 'show', 'eth0')
    assert.equal(w.linkinfo.info_data.mode, 'passthru')
    assert.ok(await ping(c, GW))
    assert.ok(await ping(far, e.ip))
    // The kernel's refusal names the interface asked for (eth0), not the name it is created under.
    await assert.rejects(net.connect(await sb.ns()), (e2: Coded) => e2.code === 'EINVAL' && /^RTM_NEWLINK eth0: /.test(e2.message))
    assert.equal((await net.store.endpoints(net.id)).length, 1, 'the refused one released its address')
  })

  it('a named container on a macvlan network gets its /etc/netns files, rewritten at disconnect, removed with its last endpoint', async () => {
    const { parent, store, mv, br } = await macvlanAndBridge()
    const c = await sb.ns()
    const dir = path.join('/etc/netns', c.name!)
    const file = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8')
    const hostsIps = () =>
      file('hosts')
        .split('\n')
        .filter((l) => /^10\.9[45]\./.test(l))
        .map((l) => l.split(/\s+/)[0])
    // Alone on macvlan: its address and hostname; no embedded resolver (macvlan has no DNS).
    const m = await mv.connect(c)
    assert.deepEqual(hostsIps(), [m.ip])
    assert.equal(file('hostname'), `ep-${m.id}\n`)
    assert.doesNotMatch(file('resolv.conf'), /127\.0\.0\.11/)
    const viaIp = await sh('ip', ['netns', 'exec', c.name!, 'getent', 'hosts', m.ip])
    assert.match(viaIp.stdout, new RegExp(`^${m.ip.replace(/\./g, '\\.')}\\s+ep-${m.id}`), 'ip netns exec sees them')
    // Also on a bridge network with DNS: one set of files for both, the embedded resolver in.
    const b = await br.connect(c, { name: 'web' })
    assert.deepEqual(hostsIps().sort(), [b.ip, m.ip].sort())
    assert.match(file('resolv.conf'), /nameserver 127\.0\.0\.11/)
    // The macvlan endpoint leaves: its address leaves the hosts file (it stayed before).
    await mv.disconnect(m)
    assert.deepEqual(hostsIps(), [b.ip])
    // A macvlan connect failing half-way (a MAC the parent has) leaves the files as they were.
    const other = await mv.connect(await sb.ns())
    const before = file('hosts')
    await assert.rejects(mv.connect(c, { mac: other.mac }), (e: Coded) => typeof e.code === 'string' && !e.code.startsWith('ERR_INVALID'))
    assert.equal(file('hosts'), before)
    // Its last endpoint gone (remove --force on macvlan), the folder goes.
    const again = await mv.connect(c)
    await br.disconnect(b)
    assert.deepEqual(hostsIps(), [again.ip])
    await mv.remove({ force: true })
    assert.equal(fs.existsSync(dir), false, 'removed with its last endpoint')
    await br.remove()
    // A container alone on macvlan whose connect fails: no files at all.
    const mv2 = await MacvlanNetwork.create({ name: 'mv2', parent, subnet: '10.95.0.0/24', gateway: GW, store })
    const keep = await mv2.connect(await sb.ns())
    const c2 = await sb.ns()
    await assert.rejects(mv2.connect(c2, { mac: keep.mac }), (e: Coded) => typeof e.code === 'string')
    assert.equal(fs.existsSync(path.join('/etc/netns', c2.name!)), false)
    await mv2.remove({ force: true })
  })

  it('endpoints() and endpoint() find what any process connected; its disconnect works from there, also once the namespace is gone', async () => {
    const { parent } = await lan()
    const store = new MemoryStore()
    const mine = await MacvlanNetwork.create({ name: 'mv', parent, subnet: '10.95.0.0/24', gateway: GW, store })
    const [c1, c2] = [await sb.ns(), await sb.ns()]
    const e1 = await mine.connect(c1)
    const e2 = await mine.connect(c2, { ip: '10.95.0.9' })
    // Another object, as another process (or this one after a restart) would open it.
    const other = await Network.open('mv', { namespace: parent.namespace, store, driver: 'macvlan' })
    const found = await other.endpoints()
    assert.deepEqual(
      found.map((e) => [e.id, e.name, e.ip, e.mac, e.ifname, e.link.index > 0]),
      [e1, e2].map((e) => [e.id, `ep-${e.id}`, e.ip, e.mac, 'eth0', true]),
      'in the order they were connected',
    )
    assert.ok(found[0]!.namespace.equals(c1))
    const one = await other.endpoint({ name: e2.name })
    assert.equal(one?.ip, '10.95.0.9')
    assert.equal(await other.endpoint({ name: 'nope' }), undefined)
    await assert.rejects(other.endpoint({} as never), (e: Coded) => e.code === 'ERR_INVALID_ARG_TYPE')
    await assert.rejects(other.endpoint({ name: '' }), (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE')
    await other.disconnect(one!)
    assert.deepEqual(
      (await ipj(c2, 'link')).map((l) => l.ifname),
      ['lo'],
      'its macvlan is gone',
    )
    for (const e of found) await e.namespace.close()
    // The container deleted: endpoints() leaves it out, endpoint() still finds it to disconnect.
    await c1.delete()
    assert.deepEqual(await other.endpoints(), [])
    const dead = await other.endpoint({ name: `ep-${e1.id}` })
    assert.ok(dead, 'found while its namespace is gone')
    await other.disconnect(dead)
    assert.deepEqual(await store.endpoints(mine.id), [], 'both addresses given back')
    await mine.remove()
  })

  it("a deleted container's files are not written again by a later disconnect; remove() does not count its endpoints", async () => {
    const { host, store, mv, br } = await macvlanAndBridge()
    for (const how of ['Namespace.delete', 'ip netns del'] as const) {
      const c = await sb.ns()
      const dir = path.join('/etc/netns', c.name!)
      const m = await mv.connect(c)
      const b = await br.connect(c, { name: 'web' })
      assert.ok(fs.existsSync(path.join(dir, 'hosts')))
      if (how === 'Namespace.delete') await c.delete()
      else await sh('ip', ['netns', 'del', c.name!])
      // Found by another object (as another process would), then disconnected: nothing written again.
      const other = await Network.open('mv', { namespace: host, store, driver: 'macvlan' })
      await other.disconnect((await other.endpoint({ name: m.name }))!)
      assert.equal(fs.existsSync(dir), false, `${how}: no files for a deleted namespace`)
      await br.disconnect(b)
      assert.equal(fs.existsSync(dir), false, `${how}: still none`)
    }
    // On bridge networks alone too (the files were written again while another endpoint remained).
    const br2 = await Network.create({ name: 'br2', namespace: host, subnet: '10.93.0.0/24', store })
    const e = await sb.ns()
    const [e1, e2] = [await br.connect(e, { name: 'solo' }), await br2.connect(e, { name: 'solo' })]
    await e.delete()
    await br.disconnect(e1)
    assert.equal(fs.existsSync(path.join('/etc/netns', e.name!)), false, 'bridge: no files for a deleted namespace')
    await br2.disconnect(e2)
    await br2.remove()
    // A container deleted while connected does not block remove() (as on a bridge network).
    const d = await sb.ns()
    await mv.connect(d)
    await d.delete()
    await mv.remove()
    assert.deepEqual(await store.networks().then((n) => n.map((x) => x.name)), ['br'])
    await br.remove()
  })

  it("remove --force leaves a macvlan the user made under the endpoint's interface name", async () => {
    const { parent } = await lan()
    const mv = await MacvlanNetwork.create({ name: 'mv', parent, subnet: '10.95.0.0/24', gateway: GW, store: new MemoryStore() })
    const c = await sb.ns()
    await mv.connect(c)
    // Ours deleted by hand, and a macvlan of the user's (no alias) now named eth0.
    await sh('ip', ['-n', c.name!, 'link', 'del', 'eth0'])
    await sh('ip', ['-n', c.name!, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1'])
    await sh('ip', ['-n', c.name!, 'link', 'add', 'eth0', 'link', 'p0', 'type', 'macvlan'])
    await mv.remove({ force: true })
    assert.deepEqual((await ipj(c, 'link')).map((l) => l.ifname).sort(), ['eth0', 'lo', 'p0', 'p1'], "the user's eth0 stays")
  })

  it('a macvlan renamed inside the container is found by endpoints() and removed at disconnect (by its alias)', async () => {
    const { parent } = await lan()
    const mv = await MacvlanNetwork.create({ name: 'mv', parent, subnet: '10.95.0.0/24', gateway: GW, store: new MemoryStore() })
    const c = await sb.ns()
    const ep = await mv.connect(c)
    await sh('ip', ['-n', c.name!, 'link', 'set', 'eth0', 'down'])
    await sh('ip', ['-n', c.name!, 'link', 'set', 'eth0', 'name', 'renamed0'])
    // Found by endpoints() and endpoint() under its new name too.
    const other = await Network.open('mv', { namespace: parent.namespace, store: mv.store, driver: 'macvlan' })
    assert.deepEqual(
      (await other.endpoints()).map((e) => [e.id, e.link.name, e.link.index > 0]),
      [[ep.id, 'renamed0', true]],
    )
    assert.equal((await other.endpoint({ name: ep.name }))?.link.name, 'renamed0')
    await mv.disconnect(ep)
    assert.deepEqual(
      (await ipj(c, 'link')).map((l) => l.ifname),
      ['lo'],
      'its address is given back only with the interface that holds it',
    )
    await mv.remove()
  })
})

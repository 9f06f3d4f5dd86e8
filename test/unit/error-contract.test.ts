// The error contract of the object API, without root, on the recording fake of the addon
// (test/fake-binding.ts): every public method rejects with NetlinkError, PrivilegeError,
// NetnsKitError (a typed ERR_NETNS_KIT_* code), TypeError or RangeError (Node's codes), never a
// bare Error, whatever failed underneath; bad input is refused before anything is sent.
import { strict as assert } from 'node:assert'
import * as dc from 'node:diagnostics_channel'
import {
  Bridge,
  Macvlan,
  MacvlanNetwork,
  MemoryStore,
  Namespace,
  NatRule,
  NetlinkError,
  NetnsKitError,
  Network,
  PrivilegeError,
  VethPair,
  Vxlan,
  conntrack,
  openTcpServer,
  type TripEvent,
} from '../../lib'
import { useCapabilities } from '../../lib/kernel/privileges'
import { FakeBinding, NO_NET_ADMIN, installFake, nativeError, opError, uninstallFake } from '../fake-binding'

const CODED = /^(ERR_INVALID_ARG_VALUE|ERR_INVALID_ARG_TYPE|ERR_OUT_OF_RANGE)$/

/** One of the five classes, with a code of its kind. */
function assertTyped(e: unknown, what: string): void {
  if (e instanceof PrivilegeError) {
    assert.equal(e.code, 'ERR_NETNS_KIT_PRIVILEGES', what)
    assert.ok(e.missing.length > 0, what)
  } else if (e instanceof NetnsKitError) {
    assert.match(e.code, /^ERR_NETNS_KIT_[A-Z_]+$/, what)
  } else if (e instanceof NetlinkError) {
    assert.match(e.code, /^E[A-Z0-9]+$/, what)
    assert.ok(e.errno < 0, what)
    assert.equal(typeof e.syscall, 'string', what)
  } else if (e instanceof TypeError || e instanceof RangeError) {
    assert.match(String((e as { code?: string }).code), CODED, `${what}: ${e.message}`)
  } else {
    assert.fail(`${what}: rejected with ${(e as Error)?.constructor?.name}: ${String(e)}`)
  }
}

describe('error contract (object API on the recording fake of the addon)', () => {
  let fake: FakeBinding
  afterEach(() => uninstallFake())

  /** The objects every method is called on, made while the fake answers normally. */
  async function fixture() {
    fake = installFake()
    const host = await Namespace.create('nk-fake-host')
    const c = await Namespace.create('nk-fake-c')
    const link = await host.link('veth0')
    const bridge = await Bridge.open('br0', { namespace: host })
    const vx = await Vxlan.open('vx0', { namespace: host })
    const store = new MemoryStore()
    const network = await Network.create({ name: 'net1', namespace: host, subnet: '172.29.0.0/16', store, dns: false })
    const ep = await network.connect(c)
    const macvlan = await MacvlanNetwork.create({ name: 'mv1', parent: link, subnet: '10.95.0.0/24', store })
    const rule = await NatRule.masquerade({ namespace: host, source: '172.29.0.0/16' })
    fake.calls.length = 0
    return { host, c, link, bridge, vx, store, network, ep, macvlan, rule }
  }

  type F = Awaited<ReturnType<typeof fixture>>
  /** Every public method that reaches the kernel, with valid input. */
  const methods: [string, (f: F) => Promise<unknown>][] = [
    ['Namespace.create', () => Namespace.create('nk-fake-new')],
    ['Namespace.open', () => Namespace.open('nk-fake-other')],
    ['Namespace.fromPid', () => Namespace.fromPid(1)],
    ['Namespace.deleteNamed', () => Namespace.deleteNamed('nk-fake-other')],
    ['ns.links', (f) => f.host.links()],
    ['ns.link', (f) => f.host.link('eth0')],
    ['ns.addresses', (f) => f.host.addresses()],
    ['ns.routes.add', (f) => f.host.routes.add({ to: '10.1.0.0/16', via: '10.0.0.1' })],
    ['ns.routes.list', (f) => f.host.routes.list()],
    ['ns.sysctl.get', (f) => f.host.sysctl.get('net.ipv4.ip_forward')],
    ['ns.sysctl.set', (f) => f.host.sysctl.set('net.ipv4.ip_forward', 1)],
    ['ns.neighbours.add', (f) => f.host.neighbours.add({ ip: '10.0.0.9', mac: '02:00:00:00:00:09', dev: f.link })],
    ['ns.neighbours.list', (f) => f.host.neighbours.list()],
    ['link.info', (f) => f.link.info()],
    ['link.up', (f) => f.link.up()],
    ['link.setMtu', (f) => f.link.setMtu(1400)],
    ['link.rename', (f) => f.link.rename('veth9')],
    ['link.moveTo', (f) => f.link.moveTo(f.c)],
    ['link.addAddress', (f) => f.link.addAddress('10.0.0.1/24')],
    ['link.addresses', (f) => f.link.addresses()],
    ['link.delete', (f) => f.link.delete()],
    ['link.fdb.add', (f) => f.vx.fdb.add({ mac: '02:00:00:00:00:09', dst: '10.0.0.9' })],
    ['link.fdb.list', (f) => f.vx.fdb.list()],
    ['VethPair.create', (f) => VethPair.create({ name: 'veth1', namespace: f.host, peer: { name: 'eth0', namespace: f.c }, ipv6: false })],
    ['Bridge.create', (f) => Bridge.create({ name: 'br1', namespace: f.host })],
    ['Bridge.open', (f) => Bridge.open('br0', { namespace: f.host })],
    ['bridge.attach', (f) => f.bridge.attach(f.link)],
    ['bridge.ports', (f) => f.bridge.ports()],
    ['Macvlan.create', (f) => Macvlan.create({ name: 'mv0', parent: f.link, mode: 'bridge', target: f.c })],
    ['Vxlan.create', (f) => Vxlan.create({ name: 'vx1', namespace: f.host, vni: 42 })],
    ['conntrack.list', (f) => conntrack.list(f.host)],
    ['conntrack.delete', (f) => conntrack.delete(f.host, { protocol: 'udp' })],
    ['openTcpServer', (f) => openTcpServer({ namespace: f.host, address: '127.0.0.1' })],
    ['NatRule.masquerade', (f) => NatRule.masquerade({ namespace: f.host, source: '10.0.0.0/8' })],
    ['NatRule.publish', (f) => NatRule.publish({ namespace: f.host, protocol: 'tcp', hostPort: 8080, containerIp: '172.29.0.2', containerPort: 80 })],
    ['NatRule.publishMany', (f) => NatRule.publishMany([{ namespace: f.host, protocol: 'udp', containerIp: '172.29.0.2', containerPort: 53 }])],
    ['NatRule.isolate', (f) => NatRule.isolate({ namespace: f.host, interface: 'br0', icc: false })],
    ['NatRule.list', (f) => NatRule.list({ namespace: f.host })],
    ['NatRule.conflicts', (f) => NatRule.conflicts({ namespace: f.host })],
    ['natRule.delete', (f) => f.rule.delete()],
    ['Network.create', (f) => Network.create({ name: 'net2', namespace: f.host, subnet: '172.28.0.0/16', store: f.store, dns: false })],
    ['Network.open', (f) => Network.open('net1', { namespace: f.host, store: f.store })],
    ['Network.list', (f) => Network.list({ namespace: f.host, store: f.store, driver: 'all' })],
    ['Network.gc', (f) => Network.gc({ namespace: f.host, store: f.store })],
    ['network.connect', (f) => f.network.connect(f.c, { ifname: 'eth1', publish: [{ containerPort: 80 }] })],
    ['network.disconnect', (f) => f.network.disconnect(f.ep)],
    ['network.remove', (f) => f.network.remove({ force: true })],
    ['MacvlanNetwork.create', (f) => MacvlanNetwork.create({ name: 'mv2', parent: f.link, subnet: '10.96.0.0/24', store: f.store })],
    ['macvlan.connect', (f) => f.macvlan.connect(f.c, { ifname: 'eth1' })],
  ]

  const failures: [string, (fake: FakeBinding) => void, ((e: unknown) => void)?][] = [
    [
      'a kernel refusal (EEXIST)',
      (fk) => {
        fk.fail('*', nativeError(17, 'RTM_NEWLINK')).failOp('*', opError(17, 'RTM_NEWLINK'))
        fk.answer('nft', () => ({ ok: false, errno: -17, syscall: 'NFT_MSG_NEWSETELEM', strerror: 'File exists', index: 0 }))
      },
    ],
    [
      'EPERM without CAP_NET_ADMIN',
      (fk) => {
        useCapabilities(NO_NET_ADMIN)
        fk.fail('*', nativeError(1, 'RTM_NEWLINK')).failOp('*', opError(1, 'RTM_NEWLINK'))
        fk.answer('nft', () => ({ ok: false, errno: -1, syscall: 'NFT_MSG_NEWRULE', strerror: 'Operation not permitted', index: 0 }))
      },
      (e) => assert.ok(e instanceof PrivilegeError || e instanceof TypeError || e instanceof RangeError, String(e)),
    ],
    [
      'a failure the addon does not describe',
      (fk) => {
        fk.fail('*', new Error('something broke'))
      },
    ],
    [
      "the addon's own input check",
      (fk) => {
        fk.fail('*', new TypeError('bad handle'))
      },
    ],
    [
      'a closed namespace handle',
      (fk) => {
        fk.fail('*', nativeError(9, 'netns')).failOp('*', opError(9, 'netns'))
      },
    ],
  ]

  for (const [failure, arrange, extra] of failures) {
    it(`every public method rejects typed when the addon fails: ${failure}`, async function () {
      this.timeout(20000)
      for (const [name, call] of methods) {
        const f = await fixture()
        arrange(fake)
        let rejected = false
        const t0 = Date.now()
        await call(f).catch((e: unknown) => {
          rejected = true
          assertTyped(e, `${name} (${failure})`)
          extra?.(e)
        })
        // Methods that must see the failure (nothing to swallow it) do reject.
        if (process.env.NK_DEBUG_CONTRACT) console.log(failure, name, rejected, Date.now() - t0)
        if (!rejected)
          assert.ok(
            fake.calls.length === 0 || !/^(ns\.links|ns\.link|link\.info|NatRule\.list|Namespace\.create)$/.test(name),
            `${name} resolved despite ${failure}`,
          )
        uninstallFake()
      }
    })
  }

  it('bad input is refused (TypeError / RangeError with a code) before anything is sent', async () => {
    const f = await fixture()
    const bad: [string, () => Promise<unknown>][] = [
      ['Namespace.create', () => Namespace.create('a/b')],
      ['Namespace.open', () => Namespace.open('')],
      ['ns.routes.add', () => f.host.routes.add({ to: 'default' })],
      ['ns.sysctl.get', () => f.host.sysctl.get('kernel.hostname')],
      ['link.setMtu', () => f.link.setMtu(10)],
      ['link.addAddress', () => f.link.addAddress('10.0.0.1')],
      ['VethPair.create', () => VethPair.create({ name: 'way-too-long-name0', namespace: f.host, peer: { name: 'eth0' } })],
      ['Bridge.create', () => Bridge.create({ name: 'br:0', namespace: f.host })],
      ['Vxlan.create', () => Vxlan.create({ name: 'vx1', namespace: f.host, vni: 1 << 25 })],
      ['conntrack.delete', () => conntrack.delete(f.host, {})],
      ['NatRule.masquerade', () => NatRule.masquerade({ namespace: f.host, source: 'nope' })],
      ['NatRule.publish', () => NatRule.publish({ namespace: f.host, protocol: 'tcp', hostPort: 0, containerIp: '172.29.0.2', containerPort: 80 })],
      ['NatRule.publishMany', () => NatRule.publishMany([{ namespace: f.host, protocol: 'icmp' as never, containerIp: '172.29.0.2', containerPort: 80 }])],
      ['NatRule.isolate', () => NatRule.isolate({ namespace: f.host, interface: '' })],
      ['Network.create', () => Network.create({ name: 'bad name', namespace: f.host, store: f.store })],
      ['network.connect', () => f.network.connect(f.c, { ip: '10.0.0.1', ip6: 'fd00::1' })],
      ['macvlan.connect', () => f.macvlan.connect(f.c, { ip: '10.96.0.9' })],
    ]
    for (const [name, call] of bad) {
      fake.calls.length = 0
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof TypeError || e instanceof RangeError, `${name}: ${String(e)}`)
        assert.match(String((e as { code?: string }).code), CODED, name)
        return true
      })
      assert.deepEqual(
        fake.calls.map((c) => c.entry),
        [],
        `${name} sent nothing`,
      )
    }
  })

  it('CAP_NET_ADMIN dropped: NatRule.list and NatRule.masquerade reject with PrivilegeError naming it', async () => {
    const f = await fixture()
    useCapabilities(NO_NET_ADMIN)
    fake.fail('nftList', nativeError(1, 'NFT_MSG_GETTABLE')).fail('sysctlSet', nativeError(13, 'write'))
    for (const call of [() => NatRule.list({ namespace: f.host }), () => NatRule.masquerade({ namespace: f.host, source: '172.30.0.0/16' })]) {
      await assert.rejects(call(), (e: unknown) => e instanceof PrivilegeError && e.code === 'ERR_NETNS_KIT_PRIVILEGES' && e.missing.join() === 'CAP_NET_ADMIN')
    }
  })

  it('a taken namespace name is ERR_NETNS_KIT_NAMESPACE_EXISTS', async () => {
    fake = installFake()
    fake.fail('createNamespace', nativeError(17, 'open', '/run/netns/nk-x'))
    await assert.rejects(
      Namespace.create('nk-x'),
      (e: unknown) => e instanceof NetnsKitError && e.code === 'ERR_NETNS_KIT_NAMESPACE_EXISTS' && /nk-x/.test(e.message),
    )
  })

  it('a missing sysctl key is ERR_NETNS_KIT_NO_SYSCTL, read or written', async () => {
    const f = await fixture()
    fake.fail('sysctlGet', nativeError(2, 'open', '/proc/sys/net/ipv4/conf/nosuch0/forwarding'))
    fake.fail('sysctlSet', nativeError(2, 'open', '/proc/sys/net/ipv4/conf/nosuch0/forwarding'))
    await assert.rejects(
      f.host.sysctl.get('net.ipv4.conf.nosuch0.forwarding'),
      (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_NO_SYSCTL' && /net\.ipv4\.conf\.nosuch0\.forwarding/.test(e.message),
    )
    await assert.rejects(f.host.sysctl.set('net.ipv4.conf.nosuch0.forwarding', 1), { code: 'ERR_NETNS_KIT_NO_SYSCTL' })
  })

  it('connecting a deleted namespace says it is gone, before anything is sent', async () => {
    const f = await fixture()
    const gone = await Namespace.create('nk-fake-gone')
    await gone.delete()
    fake.calls.length = 0
    await assert.rejects(
      f.network.connect(gone),
      (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_NO_NAMESPACE' && /gone/.test(e.message) && !/open it again/.test(e.message),
    )
    await assert.rejects(gone.links(), { code: 'ERR_NETNS_KIT_NO_NAMESPACE' })
    assert.deepEqual(fake.calls, [])
    const closed = await Namespace.open('nk-fake-c')
    await closed.close()
    await assert.rejects(closed.links(), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_CLOSED' && /open it again/.test(e.message))
  })

  it("Namespace.open('/run/netns/x') knows its name, so delete() works", async () => {
    fake = installFake()
    const ns = await Namespace.open('/run/netns/nk-byp')
    assert.equal(ns.name, 'nk-byp')
    assert.equal(ns.path, '/run/netns/nk-byp')
    await ns.delete()
    assert.deepEqual(fake.calls.find((c) => c.entry === 'deleteNamespace')?.args, ['/run/netns', 'nk-byp'])
    const other = await Namespace.open('/proc/1/ns/net')
    assert.equal(other.name, undefined)
    await assert.rejects(other.delete(), { code: 'ERR_NETNS_KIT_UNNAMED' })
  })

  it('records the operations of one trip: VethPair.create is one rtnl call, the peer born in its namespace', async () => {
    const f = await fixture()
    await VethPair.create({ name: 'veth5', namespace: f.host, mtu: 1400, up: true, peer: { name: 'eth5', namespace: f.c } })
    const trips = fake.calls.filter((c) => c.entry === 'rtnl')
    assert.equal(trips.length, 1)
    const ops = trips[0]!.args[0] as { op: string; peer?: { target?: unknown } }[]
    assert.deepEqual(
      ops.map((o) => o.op),
      ['link.create', 'link.get', 'link.get'],
    )
    assert.ok(ops[0]!.peer?.target, 'the peer carries the target namespace handle')
  })

  it("reports each trip on the diagnostics channel 'netns-kit:rtnl' (namespace, operations, duration, error)", async () => {
    const f = await fixture()
    const events: TripEvent[] = []
    const onEvent = (m: unknown) => events.push(m as TripEvent)
    dc.subscribe('netns-kit:rtnl', onEvent)
    try {
      await f.link.up()
      fake.failOp('link.set', opError(19, 'RTM_NEWLINK'))
      await assert.rejects(f.link.up(), NetlinkError)
    } finally {
      dc.unsubscribe('netns-kit:rtnl', onEvent)
    }
    assert.equal(events.length, 2)
    assert.equal(events[0]!.entry, 'rtnl')
    assert.equal(events[0]!.namespace, 'nk-fake-host')
    assert.match(events[0]!.ops[0]!, /^link\.set veth0/)
    assert.ok(events[0]!.durationMs >= 0)
    assert.equal(events[0]!.error, undefined)
    assert.ok(events[1]!.error instanceof NetlinkError)
    assert.equal((events[1]!.error as NetlinkError).code, 'ENODEV')
  })
})

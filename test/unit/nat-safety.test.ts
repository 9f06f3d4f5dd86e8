// Issue 11 on the recording fake of the addon (test/fake-binding.ts), no root: the order of the
// writes that make route_localnet crash-safe, names the kernel would take as templates refused
// before anything is sent, the checks of published ports, and the anti-spoofing elements.
import { strict as assert } from 'node:assert'
import { Namespace, NatRule } from '../../lib'
import type { NativeOp, NftMsg } from '../../lib/kernel/binding'
import { run } from '../../lib/kernel/rtnl'
import { linkLocalOf, spoofElements } from '../../lib/nat/antispoof'
import { networkIdsFromList, networkIdsToList, newNetworkIds } from '../../lib/nat/network'
import { checkPublish } from '../../lib/nat/ports'
import { type FakeBinding, installFake, uninstallFake } from '../fake-binding'

type Coded = Error & { code?: string }

describe('issue 11 on the fake addon', () => {
  let fake: FakeBinding
  let ns: Namespace
  beforeEach(async () => {
    fake = installFake()
    ns = await Namespace.open('/proc/self/ns/net')
    fake.calls.length = 0
  })
  afterEach(() => uninstallFake())

  it('localhost publish: the route_localnet record and the guard are committed before route_localnet is written (input 2)', async () => {
    const sysctl = new Map<string, string>()
    fake.answer('sysctlGet', (_h, rel) => sysctl.get(String(rel)) ?? '0')
    fake.answer('sysctlSet', (_h, rel, v) => {
      sysctl.set(String(rel), String(v))
    })
    fake.answer('rtnl', (ops) =>
      (ops as NativeOp[]).map((op) => {
        if (op.op === 'route.list') return [{ family: 4, dst: '172.18.0.0', dstLength: 16, oif: 5, type: 1, table: 254, scope: 253, protocol: 2, flags: 0 }]
        // forwarding and route_localnet are read over netlink (RTM_GETNETCONF, the link's IFLA_AF_SPEC)
        if (op.op === 'netconf.get') return { forwarding: Number(sysctl.get('ipv4/ip_forward') ?? '0') }
        if (op.op === 'link.get')
          return {
            index: 5,
            name: 'br0',
            kind: 'bridge',
            slaveKind: '',
            mtu: 1500,
            mac: '02:00:00:00:00:01',
            flags: 1,
            operState: 6,
            master: 0,
            link: 0,
            alias: '',
            type: 1,
            routeLocalnet: Number(sysctl.get('ipv4/conf/br0/route_localnet') ?? '0'),
          }
        return op.op.endsWith('.list') ? [] : null
      }),
    )
    await NatRule.publish({ namespace: ns, protocol: 'tcp', hostPort: 8080, containerIp: '172.18.0.2', containerPort: 80, localhost: true })
    const writes = fake.calls.filter((c) => c.entry === 'nft' || c.entry === 'sysctlSet')
    const rl = writes.findIndex((c) => c.entry === 'sysctlSet' && String(c.args[1]).endsWith('br0/route_localnet') && c.args[2] === '1')
    assert.ok(rl > 0, 'route_localnet was turned on')
    const before = writes
      .slice(0, rl)
      .filter((c) => c.entry === 'nft')
      .flatMap((c) => c.args[1] as NftMsg[])
    assert.ok(
      before.some((m) => m.op === 'newsetelem' && m.set === 'localnet'),
      'the record was committed first',
    )
    assert.ok(
      before.some((m) => m.op === 'newrule' && m.chain === 'guard'),
      'the guard was committed first (in the same batch)',
    )
    const table = before.find((m) => m.op === 'newtable')
    assert.ok(table && table.op === 'newtable' && table.exclusive, 'the table is created exclusively (a concurrent creator retries)')
  })

  it("refuses a link name the kernel would take as a template ('eth%d') whoever built the operation, before anything is sent (input 5)", async () => {
    for (const op of [
      { ns, op: 'link.create' as const, kind: 'bridge' as const, name: 'br%d' },
      { ns, op: 'link.create' as const, kind: 'veth' as const, name: 'veth0', peer: { name: 'eth%d' } },
      { ns, op: 'link.set' as const, index: 7, name: 'eth%d' },
    ]) {
      await assert.rejects(run([op]), (e: Coded) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE' && /'%'/.test(e.message))
    }
    assert.deepEqual(
      fake.calls.map((c) => c.entry),
      [],
      'nothing reached the addon',
    )
  })

  it('refuses a multicast hostIp or containerIp, and a hostIp of the other family (input 6, input 7)', () => {
    const base = { protocol: 'tcp' as const, hostPort: 8080, containerIp: '172.18.0.2', containerPort: 80 }
    for (const [o, what] of [
      [{ ...base, hostIp: '224.0.0.1' }, 'multicast hostIp'],
      [{ ...base, hostIp: '239.255.255.250' }, 'multicast hostIp'],
      [{ ...base, containerIp: 'ff02::1', hostIp: 'fd00::1' }, 'multicast containerIp'],
      [{ ...base, containerIp: '224.1.2.3' }, 'multicast containerIp'],
      [{ ...base, containerIp: '0.0.0.0' }, 'unspecified containerIp'],
      [{ ...base, hostIp: 'fd00::1' }, 'hostIp of the other family'],
    ] as const) {
      assert.throws(
        () => checkPublish(o),
        (e: Coded) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE',
        what,
      )
    }
    assert.equal(checkPublish({ ...base, hostIp: '10.0.0.1' }).hostIp, '10.0.0.1')
  })

  it('anti-spoofing elements: the port, its MAC, each address, and the EUI-64 link-local address only with IPv6', () => {
    assert.equal(linkLocalOf('02:42:ac:11:00:02'), 'fe80::42:acff:fe11:2')
    assert.equal(linkLocalOf('aa:bb:cc:dd:ee:ff'), 'fe80::a8bb:ccff:fedd:eeff')
    const v4 = spoofElements({ hostIf: 'veth1', mac: '02:42:ac:11:00:02', addresses: ['172.17.0.2'] })
    assert.deepEqual(
      v4.map((e) => e.set),
      ['ports', 'macs', 'addr4'],
    )
    assert.equal(v4[1]!.element.key!.toString('hex'), Buffer.from('veth1').toString('hex').padEnd(32, '0') + '0242ac1100020000')
    const dual = spoofElements({ hostIf: 'veth1', mac: '02:42:ac:11:00:02', addresses: ['172.17.0.2', 'fd00::2'] })
    assert.deepEqual(
      dual.map((e) => e.set),
      ['ports', 'macs', 'addr4', 'addr6', 'addr6'],
    )
    assert.equal(dual[4]!.element.key!.subarray(16).toString('hex'), 'fe800000000000000042acfffe110002')
  })

  it('a network records its rule ids as a list and reads them back', () => {
    const ids = newNetworkIds({ subnets: ['172.18.0.0/16', 'fd00::/64'], masquerade: true, internal: false })
    assert.equal(ids.masquerade.length, 2)
    assert.deepEqual(networkIdsFromList(networkIdsToList(ids)), ids)
    const internal = newNetworkIds({ subnets: ['172.18.0.0/16'], masquerade: true, internal: true })
    assert.deepEqual(internal.masquerade, [])
    assert.deepEqual(networkIdsFromList(networkIdsToList(internal)), internal)
  })
})

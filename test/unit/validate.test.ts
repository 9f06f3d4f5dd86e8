// Input validation (lib/validate.ts), checker by checker, and through the public API: bad input
// is refused with TypeError/RangeError and Node's codes before anything reaches the native
// layer. No privileges needed: every native entry point that could change anything is replaced
// for these tests by one that records the call and refuses, so a validation gap fails the test
// instead of reaching the kernel (of the root namespace, where these tests run).
import { strict as assert } from 'node:assert'
import { Bridge, Link, Macvlan, Namespace, VethPair, Vxlan } from '../../lib'
import { native } from '../../lib/kernel/binding'
import {
  checkAlias,
  checkBool,
  checkIfName,
  checkInt,
  checkIp,
  checkLladdr,
  checkMac,
  checkMtu,
  checkNsName,
  checkPort,
  checkSysctlValue,
  checkUnicastIp,
  checkUnicastSubnet,
  checkVni,
  isMulticastIp,
  parseCidr,
  sysctlPath,
} from '../../lib/validate'
import { checkCreateOptions } from '../../lib/network/bridge-options'

type Coded = Error & { code?: string }

/** Asserts fn throws (or rejects with) `ctor` carrying `code`, and returns the error. */
async function refuses(fn: () => unknown, ctor: typeof TypeError | typeof RangeError, code: string, what = ''): Promise<Coded> {
  let err: unknown
  try {
    await fn()
  } catch (e) {
    err = e
  }
  assert.ok(err, `${what}: expected ${ctor.name} ${code}, nothing was thrown`)
  assert.ok(err instanceof ctor, `${what}: expected ${ctor.name}, got ${String(err)}`)
  assert.equal((err as Coded).code, code, `${what}: ${(err as Error).message}`)
  return err as Coded
}

const bad = (fn: () => unknown, what: string) => refuses(fn, TypeError, 'ERR_INVALID_ARG_VALUE', what)
const badType = (fn: () => unknown, what: string) => refuses(fn, TypeError, 'ERR_INVALID_ARG_TYPE', what)
const range = (fn: () => unknown, what: string) => refuses(fn, RangeError, 'ERR_OUT_OF_RANGE', what)

describe('validation: the checkers', () => {
  it("Network.create's dns: true (the default said out loud), false, or { upstream }", async () => {
    const base = { name: 'n' } as Parameters<typeof checkCreateOptions>[0]
    assert.equal(checkCreateOptions({ ...base }).dns, true)
    assert.equal(checkCreateOptions({ ...base, dns: true }).dns, true)
    assert.equal(checkCreateOptions({ ...base, dns: false }).dns, false)
    const up = checkCreateOptions({ ...base, dns: { upstream: ['192.0.2.53'] } })
    assert.deepEqual([up.dns, up.upstream], [true, ['192.0.2.53']])
    for (const no of ['yes', 1, null]) await badType(() => checkCreateOptions({ ...base, dns: no as never }), JSON.stringify(no))
  })

  it('checkIfName: 1 to 15 bytes, no / : white space or NUL, not . or ..', async () => {
    for (const ok of ['eth0', 'a', 'abcdefghijklmno', 'veth-1_2@x', '...', 'é1234567890123']) assert.equal(checkIfName(ok), ok)
    for (const no of ['', 'abcdefghijklmnop', 'éééééééé', 'a/b', 'a:1', 'a b', 'a\tb', 'a\nb', 'a\0b', '.', '..', ' ', 'eth%d', '%', 'a%s']) {
      await bad(() => checkIfName(no), JSON.stringify(no))
    }
    await badType(() => checkIfName(5), 'a number')
    await badType(() => checkIfName(undefined), 'undefined')
    const e = await bad(() => checkIfName('x'.repeat(16), 'opts.name'), 'argument name')
    assert.match(e.message, /'opts\.name'/)
  })

  it("checkIfName refuses '%': the kernel would expand 'eth%d' into another name (issue 11, input 5)", async () => {
    const e = await bad(() => checkIfName('eth%d', 'opts.name'), 'eth%d')
    assert.match(e.message, /'%'/)
  })

  it('checkUnicastSubnet: no overlap with loopback or multicast ranges (issue 11, input 6)', async () => {
    for (const ok of [
      '172.18.0.0/16',
      '10.0.0.0/8',
      '192.168.1.0/24',
      'fd00:1::/64',
      '2001:db8::/32',
      '126.0.0.0/8',
      '128.0.0.0/24',
      '223.255.255.0/24',
      'fe80::/64',
    ]) {
      assert.equal(checkUnicastSubnet(ok), ok)
    }
    for (const no of [
      '127.0.0.0/8',
      '127.1.0.0/16',
      '127.0.0.0/24',
      '126.0.0.0/7',
      '224.0.0.0/4',
      '239.1.0.0/16',
      '224.0.0.0/24',
      'ff00::/8',
      'ff02::/16',
      '::1/128',
      '0.0.0.0/0',
      '::/0',
    ]) {
      const e = await bad(() => checkUnicastSubnet(no, 'opts.subnet'), no)
      assert.match(e.message, /loopback|multicast/)
    }
    await bad(() => checkUnicastSubnet('172.18.0.1/16'), 'host bits')
  })

  it('checkNsName: a file name under /run/netns', async () => {
    for (const ok of ['nk-1', 'a.b', 'x'.repeat(255), 'a:b']) assert.equal(checkNsName(ok), ok)
    for (const no of ['', 'x'.repeat(256), 'a/b', '/etc', 'a\0', 'a b', '.', '..']) await bad(() => checkNsName(no), JSON.stringify(no))
    await badType(() => checkNsName(null), 'null')
  })

  it('parseCidr: ADDR/LEN for both families', async () => {
    assert.deepEqual(parseCidr('10.0.0.1/24'), { family: 4, address: '10.0.0.1', prefixLength: 24 })
    assert.deepEqual(parseCidr('0.0.0.0/0'), { family: 4, address: '0.0.0.0', prefixLength: 0 })
    assert.deepEqual(parseCidr('fd00::1/128'), { family: 6, address: 'fd00::1', prefixLength: 128 })
    assert.deepEqual(parseCidr('::/0'), { family: 6, address: '::', prefixLength: 0 })
    for (const no of [
      '10.0.0.1',
      '10.0.0.1/33',
      '10.0.0.1/-1',
      '10.0.0.1/',
      '/24',
      '10.0.0.1/ 24',
      '10.0.0.1/24/1',
      '10.0.0.1/0x10',
      '10.0.0.1/1000',
      '10.0.0.256/24',
      '10.0.0/24',
      'fd00::1/129',
      'fd00:::1/64',
      'example.com/24',
      'fe80::1%eth0/64',
      '',
    ]) {
      await bad(() => parseCidr(no), JSON.stringify(no))
    }
    await badType(() => parseCidr(24), 'a number')
  })

  it('checkIp: one address of either family', async () => {
    assert.equal(checkIp('10.0.0.1'), 4)
    assert.equal(checkIp('fd00::fe'), 6)
    assert.equal(checkIp('::ffff:10.0.0.1'), 6)
    for (const no of ['', '10.0.0', '10.0.0.1/32', '256.0.0.1', 'fe80::1%eth0', 'localhost', ' 10.0.0.1']) await bad(() => checkIp(no), JSON.stringify(no))
    await badType(() => checkIp(0x0a000001), 'a number')
  })

  it('checkMac: unicast, not all zeros, six octets with colons; lower-cased', async () => {
    assert.equal(checkMac('02:42:ac:11:00:02'), '02:42:ac:11:00:02')
    assert.equal(checkMac('AA:BB:CC:DD:EE:FF'), 'aa:bb:cc:dd:ee:ff')
    for (const no of [
      '01:00:5e:00:00:01',
      '33:33:00:00:00:01',
      'ff:ff:ff:ff:ff:ff',
      '00:00:00:00:00:00',
      '02-42-ac-11-00-02',
      '02:42:ac:11:00',
      '2:42:ac:11:0:2',
      '02:42:ac:11:00:02:03',
      'gg:42:ac:11:00:02',
      '0242ac110002',
      '',
    ]) {
      await bad(() => checkMac(no), JSON.stringify(no))
    }
    const multicast = await bad(() => checkMac('03:00:00:00:00:01'), 'multicast')
    assert.match(multicast.message, /unicast/)
    await badType(() => checkMac(42), 'a number')
  })

  it('checkMtu: an integer from 68 to 65535', async () => {
    assert.equal(checkMtu(68), 68)
    assert.equal(checkMtu(65535), 65535)
    for (const no of [67, 0, -1, 65536, 2 ** 31]) await range(() => checkMtu(no), String(no))
    for (const no of [1500.5, NaN, Infinity, '1500', null, 1500n]) await badType(() => checkMtu(no), String(no))
  })

  it('checkInt, checkBool, checkAlias, checkSysctlValue', async () => {
    assert.equal(checkInt(0, 'x', 0, 10), 0)
    assert.equal(checkInt(10, 'x', 0, 10), 10)
    await range(() => checkInt(11, 'x', 0, 10), '11')
    await range(() => checkInt(-1, 'x', 0, 10), '-1')
    await badType(() => checkInt(1.5, 'x', 0, 10), '1.5')
    assert.equal(checkBool(undefined, 'b'), undefined)
    assert.equal(checkBool(false, 'b'), false)
    await badType(() => checkBool('true', 'b'), "'true'")
    await badType(() => checkBool(1, 'b'), '1')
    assert.equal(checkAlias(''), '')
    assert.equal(checkAlias('é'.repeat(127)), 'é'.repeat(127))
    await bad(() => checkAlias('é'.repeat(128)), '256 bytes')
    await bad(() => checkAlias('a\0b'), 'NUL')
    assert.equal(checkSysctlValue(1), '1')
    assert.equal(checkSysctlValue('0 1'), '0 1')
    await bad(() => checkSysctlValue('1\n'), 'newline')
    await bad(() => checkSysctlValue('1\0'), 'NUL')
    await badType(() => checkSysctlValue(NaN), 'NaN')
    await badType(() => checkSysctlValue(true), 'true')
  })

  it('checkLladdr: any six octets (FDB and neighbour entries), all-zeros and multicast included', async () => {
    for (const ok of ['00:00:00:00:00:00', '33:33:00:00:00:01', 'FF:FF:FF:FF:FF:FF', '02:42:ac:11:00:02']) assert.equal(checkLladdr(ok), ok.toLowerCase())
    for (const no of ['', '00:00:00:00:00', '00:00:00:00:00:00:00', '0:0:0:0:0:0', '00-00-00-00-00-00', 'gg:00:00:00:00:00']) {
      await bad(() => checkLladdr(no), JSON.stringify(no))
    }
    await badType(() => checkLladdr(0), 'a number')
  })

  it('isMulticastIp and checkUnicastIp', async () => {
    for (const m of ['224.0.0.1', '239.1.1.1', '239.255.255.255', 'ff02::1', 'FF05::100']) assert.equal(isMulticastIp(m), true, m)
    for (const u of ['10.0.0.1', '223.255.255.255', '240.0.0.1', 'fd00::1', 'fe80::1']) assert.equal(isMulticastIp(u), false, u)
    assert.equal(checkUnicastIp('10.0.0.1', 'x'), 4)
    assert.equal(checkUnicastIp('fd00::2', 'x'), 6)
    for (const no of ['239.1.1.1', 'ff02::1', '0.0.0.0', '::', '0::0', '10.0.0', 'x']) await bad(() => checkUnicastIp(no, 'x'), no)
  })

  it('checkVni: 0 to 2^24 - 1; checkPort: 1 to 65535', async () => {
    for (const ok of [0, 1, 42, 2 ** 24 - 1]) assert.equal(checkVni(ok), ok)
    for (const no of [-1, 2 ** 24, 2 ** 32]) await range(() => checkVni(no), `vni ${no}`)
    await badType(() => checkVni(1.5), 'vni 1.5')
    await badType(() => checkVni('42'), 'vni string')
    for (const ok of [1, 4789, 65535]) assert.equal(checkPort(ok), ok)
    for (const no of [0, -1, 65536]) await range(() => checkPort(no), `port ${no}`)
  })

  it('sysctlPath: keys under net.* only, no . or .. components', async () => {
    assert.equal(sysctlPath('net.ipv4.ip_forward'), 'ipv4/ip_forward')
    assert.equal(sysctlPath('net.ipv4.conf.eth0/100.rp_filter'), 'ipv4/conf/eth0.100/rp_filter')
    assert.equal(sysctlPath('net.ipv6.conf.all.disable_ipv6'), 'ipv6/conf/all/disable_ipv6')
    for (const no of [
      'kernel.hostname',
      'net',
      'net.ipv4',
      'net..ipv4.x',
      'net.ipv4..ip_forward',
      'net.ipv4.conf./.rp_filter',
      'net.ipv4.conf.//.rp_filter',
      'net.ipv4.conf.a b.x',
      '../../etc/passwd',
      'net/ipv4/ip_forward',
      'net.ipv4.ip_forward.',
      'vm.overcommit_memory',
      'net.ipv4.conf.eth0%.x',
      '',
    ]) {
      await bad(() => sysctlPath(no), JSON.stringify(no))
    }
    await badType(() => sysctlPath(['net', 'ipv4']), 'an array')
  })
})

describe('validation through the public API, before anything reaches the native layer', () => {
  // Everything that could change the kernel or read it; openNamespace stays (it opens this
  // process's own /proc/self/ns/net, read-only, for the default namespace).
  const GUARDED = ['rtnl', 'createNamespace', 'deleteNamespace', 'sysctlGet', 'sysctlSet'] as const
  const calls: string[] = []
  const saved = new Map<string, unknown>()
  let ns: Namespace

  before(async () => {
    const b = native() as unknown as Record<string, unknown>
    for (const k of GUARDED) {
      saved.set(k, b[k])
      b[k] = () => {
        calls.push(k)
        return Promise.reject(new Error(`unit test: ${k} reached the native layer`))
      }
    }
    ns = await Namespace.current()
  })
  after(async () => {
    const b = native() as unknown as Record<string, unknown>
    for (const [k, v] of saved) b[k] = v
    await ns?.close()
  })
  beforeEach(() => {
    calls.length = 0
  })
  afterEach(function () {
    assert.deepEqual(calls, [], `native calls during "${this.currentTest?.title}"`)
  })

  it('VethPair.create', async () => {
    const peer = { name: 'eth0' }
    await badType(() => VethPair.create(undefined as never), 'no options')
    await badType(() => VethPair.create({ name: 'veth0' } as never), 'no peer')
    await bad(() => VethPair.create({ name: 'veth0/1', peer }), 'slash')
    await bad(() => VethPair.create({ name: 'veth:0', peer }), 'colon')
    await bad(() => VethPair.create({ name: 'veth 0', peer }), 'space')
    await bad(() => VethPair.create({ name: 'a-very-long-name0', peer }), '16 bytes')
    await bad(() => VethPair.create({ name: '..', peer }), '..')
    await bad(() => VethPair.create({ name: 'eth%d', peer: { name: 'peer%d' } }), "a name template ('eth%d')")
    await bad(() => VethPair.create({ name: 'veth0', peer: { name: 'eth%d' } }), "a peer name template ('eth%d')")
    await bad(() => VethPair.create({ name: 'veth0', peer: { name: '' } }), 'empty peer name')
    await badType(() => VethPair.create({ name: 'veth0', peer: { name: 7 as never } }), 'peer name not a string')
    await range(() => VethPair.create({ name: 'veth0', mtu: 67, peer }), 'mtu 67')
    await range(() => VethPair.create({ name: 'veth0', peer: { name: 'eth0', mtu: 65536 } }), 'peer mtu 65536')
    await badType(() => VethPair.create({ name: 'veth0', mtu: 1500.5, peer }), 'fractional mtu')
    await bad(() => VethPair.create({ name: 'veth0', mac: '01:00:5e:00:00:01', peer }), 'multicast mac')
    await bad(() => VethPair.create({ name: 'veth0', peer: { name: 'eth0', mac: '00:00:00:00:00:00' } }), 'zero peer mac')
    await badType(() => VethPair.create({ name: 'veth0', up: 'yes' as never, peer }), 'up not a boolean')
    await badType(() => VethPair.create({ name: 'veth0', namespace: {} as never, peer }), 'namespace not a Namespace')
    await bad(() => VethPair.create({ name: 'veth0', namespace: ns, peer: { name: 'veth0', namespace: ns } }), 'same name, same namespace')
  })

  it('Bridge.create and Bridge.open', async () => {
    await badType(() => Bridge.create(null as never), 'no options')
    await bad(() => Bridge.create({ name: 'br:0' }), 'colon')
    await bad(() => Bridge.create({ name: '' }), 'empty')
    await bad(() => Bridge.create({ name: 'br%d' }), 'a name template')
    await badType(() => Bridge.create({ name: 'br0', stp: 'on' as never }), 'stp not a boolean')
    await badType(() => Bridge.create({ name: 'br0', vlanFiltering: 1 as never }), 'vlanFiltering not a boolean')
    await range(() => Bridge.create({ name: 'br0', mtu: 70000 }), 'mtu 70000')
    await bad(() => Bridge.create({ name: 'br0', mac: 'ff:ff:ff:ff:ff:ff' }), 'broadcast mac')
    await bad(() => Bridge.open('br/0'), 'open with a slash')
  })

  it('Link methods', async () => {
    const link = new Link(ns, 'nk-none0', 999999)
    await range(() => link.setMtu(10), 'mtu 10')
    await badType(() => link.setMtu('1500' as never), 'mtu string')
    await bad(() => link.setMac('33:33:00:00:00:01'), 'multicast mac')
    await bad(() => link.setMac('02:42:ac:11:00'), 'short mac')
    await bad(() => link.setAlias('x'.repeat(256)), 'alias 256 bytes')
    await bad(() => link.rename('eth0:1'), 'rename with a colon')
    await bad(() => link.rename('.'), "rename to '.'")
    await bad(() => link.rename('eth%d'), 'rename to a name template')
    await bad(() => link.addAddress('10.0.0.1'), 'no prefix length')
    await bad(() => link.addAddress('10.0.0.1/33'), 'prefix 33')
    await bad(() => link.addAddress('fd00::1/129'), 'prefix 129')
    await bad(() => link.addAddress('10.0.0.300/24'), 'bad address')
    await bad(() => link.addAddress('fe80::1%eth0/64'), 'zone index')
    await badType(() => link.addAddress('10.0.0.1/24', { nodad: 'yes' as never }), 'nodad not a boolean')
    await bad(() => link.deleteAddress('nope'), 'delete garbage')
    await badType(() => link.moveTo({} as never), 'moveTo a non-namespace')
  })

  it('Macvlan.create and Macvlan.open', async () => {
    const parent = new Link(ns, 'nk-p0', 999997)
    await badType(() => Macvlan.create(undefined as never), 'no options')
    await bad(() => Macvlan.create({ name: 'mv0', parent, mode: 'nope' as never }), 'unknown mode')
    await bad(() => Macvlan.create({ name: 'mv0', parent } as never), 'no mode')
    await bad(() => Macvlan.create({ name: 'mv0', parent, mode: 'toString' as never }), 'a mode named like an Object member')
    await bad(() => Macvlan.create({ name: 'mv:0', parent, mode: 'bridge' }), 'name with a colon')
    await bad(() => Macvlan.create({ name: 'mv0', parent: 'eth/0', mode: 'bridge' }), 'parent name with a slash (before any lookup)')
    await badType(() => Macvlan.create({ name: 'mv0', parent: 3 as never, mode: 'bridge' }), 'parent an ifindex')
    await range(() => Macvlan.create({ name: 'mv0', parent, mode: 'bridge', mtu: 67 }), 'mtu 67')
    await bad(() => Macvlan.create({ name: 'mv0', parent, mode: 'bridge', mac: '01:00:5e:00:00:01' }), 'multicast mac')
    await badType(() => Macvlan.create({ name: 'mv0', parent, mode: 'bridge', up: 1 as never }), 'up not a boolean')
    await badType(() => Macvlan.create({ name: 'mv0', parent, mode: 'bridge', target: {} as never }), 'target not a Namespace')
    await bad(() => Macvlan.open('mv/0'), 'open with a slash')
  })

  it('Vxlan.create and Vxlan.open', async () => {
    const base = { name: 'vx0', vni: 42 }
    await badType(() => Vxlan.create(null as never), 'no options')
    await bad(() => Vxlan.create({ ...base, name: 'vx 0' }), 'name with a space')
    await range(() => Vxlan.create({ ...base, vni: -1 }), 'vni -1')
    await range(() => Vxlan.create({ ...base, vni: 2 ** 24 }), 'vni 2^24')
    await badType(() => Vxlan.create({ name: 'vx0' } as never), 'no vni')
    await bad(() => Vxlan.create({ ...base, local: '239.1.1.1' }), 'multicast local')
    await bad(() => Vxlan.create({ ...base, local: '0.0.0.0' }), 'unspecified local')
    await bad(() => Vxlan.create({ ...base, remote: '239.1.1.1' }), 'multicast remote')
    await bad(() => Vxlan.create({ ...base, group: '10.0.0.2', device: 'eth0' }), 'unicast group')
    await bad(() => Vxlan.create({ ...base, group: '239.1.1.1' }), 'group without a device')
    await bad(() => Vxlan.create({ ...base, group: '239.1.1.1', remote: '10.0.0.2', device: 'eth0' }), 'both group and remote')
    await bad(() => Vxlan.create({ ...base, local: '10.0.0.1', remote: 'fd00::2' }), 'mixed families')
    await bad(() => Vxlan.create({ ...base, local: 'fd00::1', group: '239.1.1.1', device: 'eth0' }), 'mixed families (group)')
    await bad(() => Vxlan.create({ ...base, remote: '10.0.0.256' }), 'bad remote')
    await range(() => Vxlan.create({ ...base, port: 0 }), 'port 0')
    await range(() => Vxlan.create({ ...base, port: 65536 }), 'port 65536')
    await range(() => Vxlan.create({ ...base, ttl: 256 }), 'ttl 256')
    await range(() => Vxlan.create({ ...base, tos: -1 }), 'tos -1')
    await range(() => Vxlan.create({ ...base, ageing: -1 }), 'ageing -1')
    await badType(() => Vxlan.create({ ...base, learning: 'no' as never }), 'learning not a boolean')
    await badType(() => Vxlan.create({ ...base, l2miss: 1 as never }), 'l2miss not a boolean')
    await badType(() => Vxlan.create({ ...base, udpCsum: 'off' as never }), 'udpCsum not a boolean')
    await range(() => Vxlan.create({ ...base, mtu: 65536 }), 'mtu 65536')
    await bad(() => Vxlan.create({ ...base, mac: '00:00:00:00:00:00' }), 'zero mac')
    await bad(() => Vxlan.create({ ...base, device: 'eth:0' }), 'device name with a colon (before any lookup)')
    await badType(() => Vxlan.create({ ...base, target: 'ns' as never }), 'target not a Namespace')
    await bad(() => Vxlan.open(''), 'open empty')
  })

  it('link.fdb', async () => {
    const fdb = new Link(ns, 'nk-vx0', 999996).fdb
    await badType(() => fdb.add(undefined as never), 'no entry')
    await bad(() => fdb.add({ mac: '02:00:00:00:00' }), 'short mac')
    await badType(() => fdb.add({ mac: 2 as never }), 'mac a number')
    await bad(() => fdb.add({ mac: '02:00:00:00:00:01', dst: '10.0.0' }), 'bad dst')
    await range(() => fdb.add({ mac: '02:00:00:00:00:01', dst: '10.0.0.2', vni: 2 ** 24 }), 'vni 2^24')
    await range(() => fdb.append({ mac: '00:00:00:00:00:00', dst: '10.0.0.2', port: 0 }), 'port 0')
    await range(() => fdb.replace({ mac: '02:00:00:00:00:01', vlan: 4095 }), 'vlan 4095')
    await badType(() => fdb.add({ mac: '02:00:00:00:00:01', self: 'yes' as never }), 'self not a boolean')
    await bad(() => fdb.add({ mac: '02:00:00:00:00:01', state: 'local' as never }), 'unknown state')
    await bad(() => fdb.add({ mac: '02:00:00:00:00:01', state: 'constructor' as never }), 'a state named like an Object member')
    await bad(() => fdb.add({ mac: '00:00:00:00:00:00', master: true, state: 'static' }), "all zeros in a bridge's FDB")
    await bad(() => fdb.delete({ mac: 'nope' }), 'delete garbage')
  })

  it('ns.neighbours', async () => {
    const dev = 'eth0'
    await badType(() => ns.neighbours.add(null as never), 'no neighbour')
    await bad(() => ns.neighbours.add({ ip: '10.0.0', mac: '02:00:00:00:00:01', dev }), 'bad ip')
    await bad(() => ns.neighbours.add({ ip: 'fe80::1%eth0', mac: '02:00:00:00:00:01', dev }), 'zone index')
    await bad(() => ns.neighbours.add({ ip: '10.0.0.2', dev }), 'add without a mac')
    await bad(() => ns.neighbours.replace({ ip: '10.0.0.2', mac: '02:00:00:00:00', dev }), 'short mac')
    await bad(() => ns.neighbours.replace({ ip: '10.0.0.2', mac: '02:00:00:00:00:01', dev, state: 'failed' as never }), 'state not settable')
    await badType(() => ns.neighbours.replace({ ip: '10.0.0.2', mac: '02:00:00:00:00:01', dev, router: 'yes' as never }), 'router not a boolean')
    await bad(() => ns.neighbours.add({ ip: '10.0.0.2', mac: '02:00:00:00:00:01', dev: 'eth/0' }), 'dev with a slash (before any lookup)')
    await badType(() => ns.neighbours.add({ ip: '10.0.0.2', mac: '02:00:00:00:00:01', dev: {} as never }), 'dev neither a name nor a Link')
    await bad(() => ns.neighbours.delete({ ip: 'x', dev }), 'delete a bad ip')
    await bad(() => ns.neighbours.list({ family: 5 as never }), 'list family 5')
  })

  it('Bridge port methods', async () => {
    const br = new Bridge(ns, 'nk-br0', 999998)
    const port = new Link(ns, 'nk-p0', 999997)
    await badType(() => br.attach({ name: 'eth0', index: 3 } as never), 'attach a plain object')
    await badType(() => br.attach(port, { hairpin: 'on' as never }), 'hairpin not a boolean')
    await badType(() => br.setPort(port, { isolated: 0 as never }), 'isolated not a boolean')
    await badType(() => br.detach('eth0' as never), 'detach a string')
  })

  it('routes', async () => {
    await bad(() => ns.routes.add({ to: '10.0.0.0/33', via: '10.0.0.1' }), 'prefix 33')
    await bad(() => ns.routes.add({ to: 'default' }), 'default without via or dev')
    await bad(() => ns.routes.add({ to: '10.1.0.0/16', via: 'fd00::1' }), 'mixed families')
    await bad(() => ns.routes.add({ to: 'fd00::/64', src: '10.0.0.1', via: 'fd00::1' }), 'mixed families (src)')
    await bad(() => ns.routes.add({ to: '10.1.0.0/16', via: '10.0.0' }), 'bad gateway')
    await bad(() => ns.routes.add({ to: 'everything', via: '10.0.0.1' }), "'to' neither default nor a CIDR")
    await range(() => ns.routes.add({ to: '10.1.0.0/16', via: '10.0.0.1', metric: -1 }), 'metric -1')
    await range(() => ns.routes.add({ to: '10.1.0.0/16', via: '10.0.0.1', metric: 2 ** 32 }), 'metric 2^32')
    await range(() => ns.routes.replace({ to: '10.1.0.0/16', via: '10.0.0.1', table: 0 }), 'table 0')
    await bad(() => ns.routes.delete({ to: '10.1.0.0/16', via: '10.0.0.1', family: 5 as never }), 'family 5')
    await bad(() => ns.routes.add({ to: '10.1.0.0/16', dev: 'eth/0' }), 'dev with a slash (before any lookup)')
    await bad(() => ns.routes.add({ to: '10.1.0.0/16', dev: {} as never }), 'dev neither a name nor a Link')
    await badType(() => ns.routes.add(null as never), 'no route')
    await bad(() => ns.routes.list({ family: 5 as never }), 'list family 5')
    await range(() => ns.routes.list({ table: -1 }), 'list table -1')
  })

  it('sysctl keys and values', async () => {
    await bad(() => ns.sysctl.get('kernel.hostname'), 'outside net.*')
    await bad(() => ns.sysctl.get('net.ipv4.conf.//.rp_filter'), "a '..' component")
    await bad(() => ns.sysctl.set('net.ipv4..ip_forward', 1), 'empty component')
    await bad(() => ns.sysctl.set('net.ipv4.ip_forward', '1\n0'), 'newline in the value')
    await badType(() => ns.sysctl.set('net.ipv4.ip_forward', {} as never), 'object value')
  })

  it('Namespace', async () => {
    await bad(() => Namespace.create('a/b'), 'slash')
    await bad(() => Namespace.create('..'), '..')
    await bad(() => Namespace.create(''), 'empty')
    await badType(() => Namespace.create('nk-unit', { loopback: 'no' as never }), 'loopback not a boolean')
    await bad(() => Namespace.open(''), 'open empty')
    await bad(() => Namespace.deleteNamed('x y'), 'delete with a space')
    await range(() => Namespace.fromPid(0), 'pid 0')
    await badType(() => Namespace.fromPid(1.5), 'pid 1.5')
    await range(() => ns.link(0), 'ifindex 0')
    await bad(() => ns.link('no such/name'), 'link name with a slash')
    await bad(() => ns.spawn(''), 'empty command')
    await badType(() => ns.spawn('true', 'x' as never), 'args not an array')
  })
})

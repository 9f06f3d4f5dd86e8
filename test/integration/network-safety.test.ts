// Rule safety at the level users call (issue 11), with real traffic and the kernel as witness:
// repair after `nft flush ruleset` (network.check(), Network.gc() `restored`, input 3), forwarding
// switched off behind the library's back (input 10), remove({ force }) leaving no line about the
// network (input 4), inputs refused before the first netlink message (inputs 5, 6, 7: every trip
// into the addon is counted through the diagnostics channels), a namespace made by `ip netns add`
// (input 8), and anti-spoofing on by default on bridge networks.
//
//   out 10.200.0.2/24 ── wan 10.200.0.1/24 (host) ── the networks' bridges ── containers
import { strict as assert } from 'node:assert'
import * as dc from 'node:diagnostics_channel'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { NatRule, Namespace, Network, SqliteStore, VethPair } from '../../lib'
import { Sandbox, ipj, ping, runIn, sh, uniqueName } from '../helpers'
import { HOST_WAN, OUT_IP, nftText, receiveUdp, request, sendUdp, serve, settleIpv6, stopAll } from '../nat-helpers'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const CHANNELS = ['rtnl', 'nft', 'ct', 'ns', 'sysctl', 'socket'].map((c) => `netns-kit:${c}`)

/** Every trip into the addon while `fn` runs (what it sent: 'rtnl link.create ...'). */
async function tripsDuring(fn: () => Promise<unknown>): Promise<{ trips: string[]; error: unknown }> {
  const trips: string[] = []
  const listener = (m: unknown, name: string | symbol) => {
    const e = m as { entry: string; ops: string[] }
    trips.push(`${String(name)} ${e.entry} ${e.ops.join(', ')}`)
  }
  for (const c of CHANNELS) dc.subscribe(c, listener)
  try {
    await fn()
    return { trips, error: undefined }
  } catch (e) {
    return { trips, error: e }
  } finally {
    for (const c of CHANNELS) dc.unsubscribe(c, listener)
  }
}

async function sysctl(ns: Namespace, key: string): Promise<string> {
  return (await sh('ip', ['netns', 'exec', ns.name!, 'sysctl', '-n', key])).stdout.trim()
}

describe('Network rule safety (issue 11)', function () {
  this.timeout(180000)
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
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-safety-'))
    store = new SqliteStore({ path: path.join(tmp, 'state.db') })
  })
  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
    await store.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('after nft flush ruleset: check() reports what is missing and changes nothing; gc restores isolation, masquerade and ports (input 3)', async () => {
    const a = await Network.create({ name: 'a', namespace: host, store, subnet: '172.30.0.0/24', dns: false })
    const b = await Network.create({ name: 'b', namespace: host, store, subnet: '172.31.0.0/24', dns: false })
    const c1 = await sb.ns(),
      c2 = await sb.ns()
    const e1 = await a.connect(c1)
    const e2 = await b.connect(c2, { publish: [{ containerPort: 80, hostPort: 8080 }] })
    await serve(c2, 'tcp', 80, 'c2')
    assert.deepEqual(await a.check(), [])
    assert.deepEqual(await b.check(), [])
    assert.equal(await ping(c1, e2.ip), false, 'isolated before the flush')
    assert.match((await request(out, 'tcp', HOST_WAN, 8080)) ?? '', /^c2 /)

    await sh('ip', ['netns', 'exec', host.name!, 'nft', 'flush', 'ruleset'])
    // The witness of the damage: the networks reach each other, the port is gone.
    assert.equal(await ping(c1, e2.ip), true, 'after the flush the networks reach each other')
    assert.equal(await request(out, 'tcp', HOST_WAN, 8080), null)
    const problems = await b.check()
    assert.ok(
      problems.some((p) => p.kind === 'missing' && /table inet netns-kit/.test(p.message)),
      JSON.stringify(problems),
    )
    assert.ok(
      problems.some((p) => /published port tcp/.test(p.message)),
      JSON.stringify(problems),
    )
    assert.ok(
      problems.some((p) => /masquerade 172\.31\.0\.0\/24/.test(p.message)),
      JSON.stringify(problems),
    )
    assert.ok((await a.check()).length > 0)
    assert.equal((await nftText(host)).trim(), '', 'check() changed nothing')

    const report = await Network.gc({ namespace: host, store })
    assert.ok(
      report.restored.some((l) => l.startsWith('a: ') && l.includes('masquerade 172.30.0.0/24')),
      report.restored.join('\n'),
    )
    assert.ok(
      report.restored.some((l) => l.startsWith('b: ') && l.includes('published port tcp')),
      report.restored.join('\n'),
    )
    assert.ok(
      report.restored.some((l) => l.startsWith('b: ') && l.includes('isolation of')),
      report.restored.join('\n'),
    )
    assert.deepEqual(report.endpoints, [])
    assert.equal(await ping(c1, e2.ip), false, 'isolated again')
    assert.equal(await ping(c2, e1.ip), false, 'isolated again (the other way)')
    assert.match((await request(out, 'tcp', HOST_WAN, 8080)) ?? '', /^c2 /, 'the published port works again')
    assert.equal(await ping(c1, OUT_IP), true, 'masquerade works again')
    assert.deepEqual(await a.check(), [])
    assert.deepEqual(await b.check(), [])
    assert.deepEqual((await Network.gc({ namespace: host, store })).restored, [], 'nothing more to restore')
  })

  it('forwarding turned off by another tool: check() reports it, connect turns it back on (input 10)', async () => {
    const net = await Network.create({ name: 'fw', namespace: host, store, subnet: '172.30.0.0/24', dns: false })
    await sh('ip', ['netns', 'exec', host.name!, 'sysctl', '-qw', 'net.ipv4.ip_forward=0'])
    const problems = await net.check()
    assert.ok(
      problems.some((p) => p.kind === 'setting' && p.object === 'sysctl net.ipv4.ip_forward'),
      JSON.stringify(problems),
    )
    assert.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'check() changed nothing')
    const c = await sb.ns()
    await net.connect(c)
    assert.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1')
    assert.equal(await ping(c, OUT_IP), true, 'the new container reaches the outside')
    assert.deepEqual(await net.check(), [])
    // gc turns it on too.
    await sh('ip', ['netns', 'exec', host.name!, 'sysctl', '-qw', 'net.ipv4.ip_forward=0'])
    assert.ok((await Network.gc({ namespace: host, store })).restored.includes('fw: net.ipv4.ip_forward=1'))
    assert.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1')
  })

  it('remove({ force: true }) leaves no ruleset line naming its bridge or subnet while another network stays (input 4)', async () => {
    for (let i = 0; i < 3; i++) {
      const a = await Network.create({ name: 'a', namespace: host, store, subnet: '172.30.0.0/24', ipv6: { subnet: 'fd00:30::/64' }, icc: false, dns: false })
      const b = await Network.create({ name: 'b', namespace: host, store, subnet: '172.31.0.0/24', dns: false })
      const ca = await sb.ns(),
        cb = await sb.ns()
      await a.connect(ca, {
        publish: [
          { containerPort: 80, hostPort: 8080 },
          { containerPort: 81, hostPort: 8081, hostIp: '127.0.0.1' },
        ],
      })
      await b.connect(cb, { publish: [{ containerPort: 80, hostPort: 9090 }] })
      assert.equal(await sysctl(host, `net.ipv4.conf.${a.bridge.name}.route_localnet`), '1')
      const before = await nftText(host)
      assert.ok(before.includes(a.bridge.name) && before.includes('172.30.0.'))
      await a.remove({ force: true })
      const after = (await nftText(host)).split('\n')
      const left = after.filter((l) => l.includes(a.bridge.name) || l.includes('172.30.0.') || l.includes('fd00:30:'))
      assert.deepEqual(left, [], `try ${i}: lines about the removed network remain`)
      assert.ok(
        after.some((l) => l.includes(b.bridge.name)),
        'the other network keeps its rules',
      )
      assert.deepEqual(await b.check(), [])
      await b.remove({ force: true })
      assert.equal((await nftText(host)).trim(), '', 'nothing of ours once both are gone')
    }
  })

  it('refuses a MAC another endpoint has and a publish on an internal network, before anything is made (input 6)', async () => {
    const net = await Network.create({ name: 'm', namespace: host, store, subnet: '172.30.0.0/24', dns: false })
    const int = await Network.create({ name: 'i', namespace: host, store, subnet: '172.27.0.0/24', internal: true, dns: false })
    const c1 = await sb.ns(),
      c2 = await sb.ns(),
      c3 = await sb.ns()
    const e1 = await net.connect(c1, { mac: '02:00:00:00:00:01' })
    const e2 = await net.connect(c2)
    const linksBefore = (await ipj(host, 'link')).length
    for (const mac of ['02:00:00:00:00:01', '02:00:00:00:00:01'.toUpperCase(), e2.mac]) {
      const r = await tripsDuring(() => net.connect(c3, { mac }))
      assert.equal((r.error as { code?: string }).code, 'ERR_NETNS_KIT_MAC_IN_USE', String(r.error))
      assert.deepEqual(r.trips, [], `${mac}: nothing sent`)
    }
    const r = await tripsDuring(() => int.connect(c3, { publish: [{ containerPort: 80, hostPort: 8080 }] }))
    assert.equal((r.error as { code?: string }).code, 'ERR_INVALID_ARG_VALUE', String(r.error))
    assert.match((r.error as Error).message, /internal/)
    assert.deepEqual(r.trips, [])
    assert.equal((await ipj(host, 'link')).length, linksBefore, 'no link made')
    assert.deepEqual(
      (await ipj(c3, 'link')).map((l: { ifname: string }) => l.ifname),
      ['lo'],
    )
    assert.deepEqual((await int.endpoints()).length, 0)
    assert.equal((await net.endpoints()).length, 2)
    assert.equal(await ping(c2, e1.ip), true, 'the first endpoint keeps its frames')
    // The internal network still connects without ports.
    await int.connect(c3)
  })

  it('every input check of create, connect and publish happens before the first netlink message (inputs 5, 6, 7)', async () => {
    const net = await Network.create({ name: 'v', namespace: host, store, subnet: '172.30.0.0/24', dns: false })
    const c = await sb.ns()
    await net.connect(await sb.ns(), { name: 'first' })
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['veth eth%d', () => VethPair.create({ name: 'eth%d', namespace: host, peer: { name: 'p0', namespace: c } }), /%/],
      ['veth peer %d', () => VethPair.create({ name: 'v0', namespace: host, peer: { name: 'eth%d', namespace: c } }), /%/],
      ['create 127.0.0.0/8', () => Network.create({ name: 'l1', namespace: host, store, subnet: '127.0.0.0/8' }), /loopback/],
      ['create 127.5.0.0/16', () => Network.create({ name: 'l2', namespace: host, store, subnet: '127.5.0.0/16' }), /loopback/],
      ['create 224.1.0.0/16', () => Network.create({ name: 'l3', namespace: host, store, subnet: '224.1.0.0/16' }), /multicast/],
      ['create ff00::/8 v6', () => Network.create({ name: 'l4', namespace: host, store, subnet: '172.29.0.0/24', ipv6: { subnet: 'ff05::/64' } }), /multicast/],
      ['create bridge %d', () => Network.create({ name: 'l5', namespace: host, store, subnet: '172.29.0.0/24', bridgeName: 'br%d' }), /%/],
      ['connect ifname %d', () => net.connect(c, { ifname: 'eth%d' }), /%/],
      ['connect hostIp v6', () => net.connect(c, { publish: [{ containerPort: 80, hostIp: '::1' }] }), /IPv4/],
      ['connect hostIp multicast', () => net.connect(c, { publish: [{ containerPort: 80, hostIp: '239.1.2.3' }] }), /multicast|IPv4/],
      ['connect hostIp multicast 224', () => net.connect(c, { publish: [{ containerPort: 80, hostIp: '224.0.0.1' }] }), /multicast/],
      [
        'publish hostIp multicast',
        () => NatRule.publish({ namespace: host, protocol: 'tcp', hostIp: '239.1.2.3', hostPort: 80, containerIp: '172.30.0.9', containerPort: 80 }),
        /multicast/,
      ],
    ]
    const before = await nftText(host)
    for (const [what, fn, re] of cases) {
      const r = await tripsDuring(fn)
      assert.ok(r.error, `${what}: refused`)
      assert.ok(
        r.error instanceof TypeError || r.error instanceof RangeError || (r.error as { code?: string }).code?.startsWith('ERR_'),
        `${what}: ${String(r.error)}`,
      )
      assert.match((r.error as Error).message, re, what)
      assert.deepEqual(r.trips, [], `${what}: nothing may reach the kernel`)
    }
    assert.deepEqual(
      (await ipj(c, 'link')).map((l: { ifname: string }) => l.ifname),
      ['lo'],
      'nothing made in the container',
    )
    assert.ok(!(await ipj(host, 'link')).some((l: { ifname: string }) => l.ifname.startsWith('eth') || l.ifname === 'v0'), 'no veth in the host')
    assert.equal(await nftText(host), before, 'the ruleset is unchanged')
    assert.deepEqual(
      (await Network.list({ namespace: host, store })).map((n) => n.name),
      ['v'],
    )
  })

  it('connects a namespace made by `ip netns add` (loopback down): lo comes up, the resolver answers (input 8)', async () => {
    const net = await Network.create({ name: 'dnsnet', namespace: host, store, subnet: '172.30.0.0/24' })
    const name = uniqueName()
    sb.names.add(name)
    await sh('ip', ['netns', 'add', name])
    const c = await Namespace.open(name)
    try {
      assert.ok(!(await ipj(c, 'link', 'show', 'lo'))[0].flags.includes('UP'), 'lo is down before')
      await net.connect(c, { name: 'web' })
      assert.ok((await ipj(c, 'link', 'show', 'lo'))[0].flags.includes('UP'), 'lo is up')
      assert.equal(await ping(c, '127.0.0.1'), true)
      let answer = ''
      for (let i = 0; i < 5 && !answer; i++) {
        answer = (await runIn(c, 'dig', ['@127.0.0.11', '+time=2', '+tries=1', '+short', 'web'])).out.trim()
        if (!answer) await sleep(200)
      }
      assert.equal(answer, '172.30.0.2')
    } finally {
      await net.remove({ force: true })
      await c.close()
    }
  })

  it("anti-spoofing is on by default: another container's IPv4/IPv6 source is dropped, honest traffic passes; antiSpoofing: false opts out", async () => {
    const on = await Network.create({ name: 'on', namespace: host, store, subnet: '172.30.0.0/24', ipv6: { subnet: 'fd00:30::/64' }, dns: false })
    const off = await Network.create({
      name: 'off',
      namespace: host,
      store,
      subnet: '172.31.0.0/24',
      ipv6: { subnet: 'fd00:31::/64' },
      dns: false,
      antiSpoofing: false,
    })
    for (const [net, port] of [
      [on, 7001],
      [off, 7002],
    ] as const) {
      const c1 = await sb.ns(),
        c2 = await sb.ns()
      const e1 = await net.connect(c1)
      const e2 = await net.connect(c2)
      const a1_6 = (await ipj(c1, '-6', 'addr', 'show', 'dev', e1.ifname, 'scope', 'global'))[0].addr_info.find((a: { local?: string }) => a.local)
        .local as string
      const a2_6 = (await ipj(c2, '-6', 'addr', 'show', 'dev', e2.ifname, 'scope', 'global'))[0].addr_info.find((a: { local?: string }) => a.local)
        .local as string
      await settleIpv6(c1, c2)
      // Honest traffic: the neighbour, the gateway, the outside; IPv6 global and link-local.
      assert.equal(await ping(c1, e2.ip), true, `${net.name}: c1 -> c2`)
      assert.equal(await ping(c1, OUT_IP), true, `${net.name}: c1 -> outside`)
      assert.equal(await ping(c1, a2_6), true, `${net.name}: c1 -> c2 over IPv6`)
      const ll2 = (await ipj(c2, '-6', 'addr', 'show', 'dev', e2.ifname, 'scope', 'link'))[0].addr_info.find((a: { local?: string }) => a.local).local as string
      assert.equal((await runIn(c1, 'ping', ['-6', '-c1', '-W2', `${ll2}%${e1.ifname}`])).code, 0, `${net.name}: link-local`)
      // The gateway's neighbour entries from honest traffic first (a neighbour solicitation
      // triggered by a spoofed packet carries the spoofed source, and is dropped too).
      assert.equal(await ping(c1, net.gateway), true)
      assert.equal(await ping(c1, net.ipv6!.gateway), true)
      // c1 takes c2's addresses and sends with them.
      await sh('ip', ['-n', c1.name!, 'addr', 'add', `${e2.ip}/32`, 'dev', e1.ifname])
      await sh('ip', ['-n', c1.name!, '-6', 'addr', 'add', `${a2_6}/128`, 'dev', e1.ifname, 'nodad'])
      const rx4 = await receiveUdp(out, port, OUT_IP)
      const gw6 = net.ipv6!.gateway
      const rx6 = await receiveUdp(host, port, gw6)
      try {
        for (let i = 0; i < 3; i++) {
          await sendUdp(c1, OUT_IP, port, 'honest4', e1.ip)
          await sendUdp(c1, gw6, port, 'honest6', a1_6)
          await sendUdp(c1, OUT_IP, port, 'spoofed4', e2.ip)
          await sendUdp(c1, gw6, port, 'spoofed6', a2_6)
        }
        await sleep(500)
        assert.ok(rx4.got().includes('honest4'), `${net.name}: honest IPv4 passes (${rx4.got().join(',')})`)
        assert.ok(rx6.got().includes('honest6'), `${net.name}: honest IPv6 passes (${rx6.got().join(',')})`)
        const spoofedPassed = rx4.got().includes('spoofed4') || rx6.got().includes('spoofed6')
        if (net === on) {
          assert.ok(!rx4.got().includes('spoofed4'), 'a spoofed IPv4 source is dropped')
          assert.ok(!rx6.got().includes('spoofed6'), 'a spoofed IPv6 source is dropped')
        } else {
          assert.ok(rx4.got().includes('spoofed4') && rx6.got().includes('spoofed6'), `the witness: without anti-spoofing both pass (${spoofedPassed})`)
        }
      } finally {
        rx4.stop()
        rx6.stop()
      }
    }
    assert.deepEqual(await on.check(), [])
  })
})

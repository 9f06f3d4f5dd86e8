// Anti-spoofing (issue 11) with real traffic, at the NAT layer's level: the bridge table's spoof
// chain and one endpoint's elements (guardPort). Each attack is tried first without the guard
// (the witness sees it work: what Docker, the CNI bridge plugin and netavark allow) and then
// with it; honest traffic, IPv6 link-local and duplicate address detection included, still works.
//
//   host br0 172.18.0.1/16 fd00:18::1/64 ── veth-c1 ── c1 eth0 172.18.0.10 fd00:18::10
//                                         ── veth-c2 ── c2 eth0 172.18.0.11 fd00:18::11
import { strict as assert } from 'node:assert'
import { NatRule, type Namespace } from '../../lib'
import { guardPort, unguardPort, type GuardedPort } from '../../lib/nat'
import { Sandbox, ipj, ping, runIn, sh } from '../helpers'
import {
  C1,
  C2,
  GW,
  HOST_WAN,
  OUT_IP,
  nftText,
  receiveUdp,
  request,
  sendFrame,
  sendUdp,
  serve,
  settleIpv6,
  stopAll,
  topology,
  type Topology,
} from '../nat-helpers'

const GW6 = 'fd00:18::1'
const C1_6 = 'fd00:18::10'
const C2_6 = 'fd00:18::11'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function macOf(ns: Namespace, ifname = 'eth0'): Promise<string> {
  return (await (await ns.link(ifname)).info()).mac
}

/** The link-local address of eth0 in `ns` (ip -j leaves {} for the addresses its filter skips). */
async function linkLocal(ns: Namespace): Promise<{ local: string; dadfailed?: boolean }> {
  return (await ipj(ns, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'))[0].addr_info.find((a: { local?: string }) => a.local)
}

async function neighMac(host: Namespace, ip: string): Promise<string | undefined> {
  return (await ipj(host, 'neigh', 'show', ip, 'dev', 'br0'))[0]?.lladdr
}

describe('anti-spoofing on a bridge port (issue 11)', function () {
  this.timeout(120000)
  const sb = new Sandbox()
  let t: Topology
  let p1: GuardedPort, p2: GuardedPort
  let m1: string, m2: string, brMac: string

  beforeEach(async () => {
    t = await topology(sb)
    await t.br.addAddress(`${GW6}/64`, { nodad: true })
    for (const [c, a] of [
      [t.c1, C1_6],
      [t.c2, C2_6],
    ] as const) {
      await (await c.link('eth0')).addAddress(`${a}/64`, { nodad: true })
      await c.routes.add({ to: 'default', via: GW6 })
    }
    await settleIpv6(t.host, t.c1, t.c2)
    m1 = await macOf(t.c1)
    m2 = await macOf(t.c2)
    brMac = (await t.br.info()).mac
    p1 = { hostIf: 'veth-c1', mac: m1, addresses: [C1, C1_6] }
    p2 = { hostIf: 'veth-c2', mac: m2, addresses: [C2, C2_6] }
  })
  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
  })

  const guard = async () => {
    await guardPort(t.host, p1)
    await guardPort(t.host, p2)
  }
  const unguard = async () => {
    await unguardPort(t.host, p1)
    await unguardPort(t.host, p2)
  }

  it('lets honest traffic through: IPv4, IPv6, link-local, ARP and neighbour discovery, duplicate address detection', async () => {
    await guard()
    const rules = await nftText(t.host, 'list', 'table', 'bridge', 'netns-kit')
    assert.ok(rules.includes(`"veth-c1" . ${m1}`) && rules.includes('"veth-c1" comment'), 'the port and its MAC are elements')
    assert.ok(await ping(t.c1, C2), 'c1 -> c2 IPv4')
    assert.ok(await ping(t.c2, C1_6), 'c2 -> c1 IPv6')
    assert.ok(await ping(t.c1, GW), 'c1 -> gateway IPv4')
    assert.ok(await ping(t.c1, GW6), 'c1 -> gateway IPv6')
    await serve(t.c2, 'tcp', 80, 'c2')
    assert.match((await request(t.c1, 'tcp', C2, 80)) ?? '', /^c2 172\.18\.0\.10$/)
    assert.match((await request(t.c1, 'tcp', C2_6, 80)) ?? '', /^c2 \[fd00:18::10\]$/)
    // The interface goes down and up: its link-local address is made again and checked for
    // duplicates (neighbour solicitations and MLD reports from ::), then used.
    await sh('ip', ['-n', t.c1.name!, 'link', 'set', 'eth0', 'down'])
    await sh('ip', ['-n', t.c1.name!, 'link', 'set', 'eth0', 'up'])
    await settleIpv6(t.c1)
    assert.ok(!(await linkLocal(t.c1)).dadfailed, 'DAD of the link-local address succeeded')
    const ll2 = (await linkLocal(t.c2)).local
    const r = await runIn(t.c1, 'ping', ['-6', '-c', '1', '-W', '2', `${ll2}%eth0`])
    assert.equal(r.code, 0, `c1 -> c2 link-local: ${r.out}`)
    // DAD still finds a real duplicate: c1 tries c2's address (its own NA answers from c2 pass).
    await sh('ip', ['-n', t.c1.name!, 'addr', 'add', `${C2_6}/64`, 'dev', 'eth0'])
    await sleep(2500)
    const dup = (await ipj(t.c1, '-6', 'addr', 'show', 'dev', 'eth0')).flatMap((l: any) => l.addr_info).find((a: any) => a.local === C2_6)
    assert.ok(dup?.dadfailed, 'the duplicate was detected')
  })

  it("drops packets with another container's IPv4 or IPv6 source address", async () => {
    const rx4 = await receiveUdp(t.host, 9000, GW)
    const rx6 = await receiveUdp(t.host, 9006, GW6)
    await sh('ip', ['-n', t.c1.name!, 'addr', 'add', `${C2}/32`, 'dev', 'eth0'])
    await sh('ip', ['-n', t.c1.name!, 'addr', 'add', `${C2_6}/128`, 'dev', 'eth0', 'nodad'])
    await sendUdp(t.c1, GW, 9000, 'open-4', C2)
    await sendUdp(t.c1, GW6, 9006, 'open-6', C2_6)
    await sleep(300)
    assert.deepEqual(rx4.got(), ['open-4'], 'without the guard the host takes the spoofed IPv4 source')
    assert.deepEqual(rx6.got(), ['open-6'], 'without the guard the host takes the spoofed IPv6 source')
    await guard()
    for (let i = 0; i < 3; i++) {
      await sendUdp(t.c1, GW, 9000, 'spoofed-4', C2)
      await sendUdp(t.c1, GW6, 9006, 'spoofed-6', C2_6)
      await sendUdp(t.c1, GW, 9000, 'honest-4', C1)
      await sendUdp(t.c1, GW6, 9006, 'honest-6', C1_6)
    }
    await sleep(300)
    assert.deepEqual(
      rx4.got().filter((x) => x !== 'open-4'),
      ['honest-4', 'honest-4', 'honest-4'],
    )
    assert.deepEqual(
      rx6.got().filter((x) => x !== 'open-6'),
      ['honest-6', 'honest-6', 'honest-6'],
    )
  })

  it("drops frames with another container's MAC: the bridge never learns it on the wrong port", async () => {
    await guard()
    assert.ok(await ping(t.c2, GW))
    await sh('ip', ['-n', t.c1.name!, 'link', 'set', 'eth0', 'address', m2])
    assert.equal(await ping(t.c1, GW), false, "nothing from c1 with c2's MAC passes")
    const fdb = JSON.parse((await sh('ip', ['netns', 'exec', t.host.name!, 'bridge', '-j', 'fdb', 'show', 'br', 'br0'])).stdout) as {
      mac: string
      ifname: string
    }[]
    assert.deepEqual(
      fdb.filter((f) => f.mac === m2).map((f) => f.ifname),
      ['veth-c2'],
    )
    assert.ok(await ping(t.c2, GW), 'c2 is undisturbed')
  })

  it("drops ARP claiming another container's address (ARP sender), and neighbour advertisements for it (NDP target)", async () => {
    const attack = async () => {
      // The host knows c2 (a ping each way fills its neighbour table), and the 1 s lock passes.
      assert.ok(await ping(t.host, C2))
      assert.ok(await ping(t.host, C2_6))
      await sleep(1200)
      await sendFrame(t.c1, 'arp', 'eth0', m1, brMac, '2', m1, C2, brMac, GW)
      await sendFrame(t.c1, 'na', 'eth0', m1, brMac, C1_6, GW6, C2_6, m1)
      await sleep(300)
      return { v4: await neighMac(t.host, C2), v6: await neighMac(t.host, C2_6) }
    }
    // The witness that the attack works at all: on a loaded machine a probe of the host's own may
    // refresh the entry inside the lock time, so the unguarded attack gets three tries.
    let open = await attack()
    for (let i = 0; i < 2 && (open.v4 !== m1 || open.v6 !== m1); i++) {
      await sh('ip', ['-n', t.host.name!, 'neigh', 'flush', 'dev', 'br0'])
      open = await attack()
    }
    assert.deepEqual(open, { v4: m1, v6: m1 }, 'without the guard the host is poisoned')
    await sh('ip', ['-n', t.host.name!, 'neigh', 'flush', 'dev', 'br0'])
    await guard()
    // Guarded, every one of three attacks fails.
    for (let i = 0; i < 3; i++) assert.deepEqual(await attack(), { v4: m2, v6: m2 }, "with the guard the host keeps c2's MAC")
  })

  it('drops router advertisements from a container (no rogue default route for the others)', async () => {
    const ll1 = (await linkLocal(t.c1)).local
    await t.c2.sysctl.set('net.ipv6.conf.eth0.accept_ra', 1)
    const raRoutes = async () => (await ipj(t.c2, '-6', 'route', 'show', 'default')).filter((r: any) => r.protocol === 'ra')
    await guard()
    await sendFrame(t.c1, 'ra', 'eth0', m1, ll1)
    await sleep(500)
    assert.deepEqual(await raRoutes(), [], 'no route from a router advertisement of c1')
    await unguard()
    await sendFrame(t.c1, 'ra', 'eth0', m1, ll1)
    await sleep(500)
    assert.equal((await raRoutes()).length, 1, 'without the guard c2 takes c1 as a router')
  })

  it('keeps a published port with its container when another clones its MAC and address', async () => {
    await serve(t.c2, 'tcp', 80, 'c2')
    await serve(t.c1, 'tcp', 80, 'thief')
    const pub = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C2, containerPort: 80 })
    await t.host.sysctl.set('net.ipv4.ip_forward', 1)
    assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c2 ${OUT_IP}`)
    await guard()
    // c1 takes c2's MAC and address and announces itself.
    await sh('ip', ['-n', t.c1.name!, 'link', 'set', 'eth0', 'address', m2])
    await sh('ip', ['-n', t.c1.name!, 'addr', 'add', `${C2}/16`, 'dev', 'eth0'])
    await sendFrame(t.c1, 'arp', 'eth0', m2, 'ff:ff:ff:ff:ff:ff', '1', m2, C2, '00:00:00:00:00:00', C2)
    await ping(t.c1, GW)
    for (let i = 0; i < 3; i++) assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c2 ${OUT_IP}`, `try ${i}: the published port still reaches c2`)
    // Without the guard the clone takes the traffic. The witness that the attack works at all: the
    // bridge learns m2 on whichever port sent it last, and c2's own replies can win that race on a
    // loaded machine, so the unguarded attack gets three tries (the guarded one above failed thrice).
    await unguard()
    let answer: string | null = null
    for (let i = 0; i < 3 && answer !== `thief ${OUT_IP}`; i++) {
      await sendFrame(t.c1, 'arp', 'eth0', m2, 'ff:ff:ff:ff:ff:ff', '1', m2, C2, '00:00:00:00:00:00', C2)
      await ping(t.c1, GW)
      answer = await request(t.out, 'tcp', HOST_WAN, 8080)
    }
    assert.equal(answer, `thief ${OUT_IP}`, 'without the guard the clone answers')
    await pub.delete()
    assert.ok(C1)
  })
})

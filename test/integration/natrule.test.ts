// NatRule end to end: masquerade, published ports (-p / -P), hairpin, localhost, isolation, icc,
// internal networks and coexistence with foreign tables, proved with real traffic in throwaway
// namespaces and checked against `nft -j list ruleset`.
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import * as dc from 'node:diagnostics_channel'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { Bridge, NatRule, NetnsKitError, Namespace } from '../../lib'
import { guardPort, unguardPort } from '../../lib/nat'
import { DECODE_SLICE } from '../../lib/nat/decode'
import { nonrecTrusted } from '../../lib/nat/ruleset'
import { nftAnyElement, nftList } from '../../lib/kernel/nft'
import { Sandbox, isRoot, sh } from '../helpers'
import {
  C1,
  C2,
  GW,
  HOST_WAN,
  OUT_IP,
  attach,
  nftApply,
  nftRuleset,
  nftText,
  request,
  serve,
  settleIpv6,
  stopAll,
  topology,
  type Topology,
} from '../nat-helpers'

const d = isRoot() ? describe : describe.skip

d('NatRule', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  let t: Topology
  beforeEach(async () => {
    t = await topology(sb)
  })
  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
  })

  describe('masquerade', () => {
    it('lets a container reach the outside with the host address as source, and stops when deleted', async () => {
      await serve(t.out, 'tcp', 7000, 'out')
      assert.equal(await request(t.c1, 'tcp', OUT_IP, 7000), null, 'without masquerade the outside cannot answer 172.18.0.10')
      assert.equal(await t.host.sysctl.get('net.ipv4.ip_forward'), '0')
      const m = await NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', notOutInterface: 'br0' })
      assert.equal(m.kind, 'masquerade')
      assert.equal(await t.host.sysctl.get('net.ipv4.ip_forward'), '1', 'forwarding on in the host namespace')
      for (const ns of [t.out, t.c1]) assert.equal(await ns.sysctl.get('net.ipv4.ip_forward'), '0', 'and nowhere else')
      assert.equal(await request(t.c1, 'tcp', OUT_IP, 7000), `out ${HOST_WAN}`)
      assert.equal(await request(t.c2, 'tcp', OUT_IP, 7000), `out ${HOST_WAN}`)
      // The kernel's own account of the rule.
      const text = await nftText(t.host, 'list', 'chain', 'inet', 'netns-kit', 'postrouting')
      assert.match(text, /ip saddr 172\.18\.0\.0\/16 oifname != "br0" masquerade comment "netns-kit masquerade [0-9a-f]+"/)
      await m.delete()
      await m.delete() // idempotent
      assert.equal(await request(t.c1, 'tcp', OUT_IP, 7000), null)
      assert.equal((await NatRule.list({ namespace: t.host })).length, 0)
      assert.equal(await nftText(t.host), '', 'the last rule took our table with it')
    })

    it('masquerades IPv6 and honours outInterface', async () => {
      await t.br.addAddress('fd00:18::1/64', { nodad: true })
      const wan = await t.host.link('wan')
      await wan.addAddress('fd00:200::1/64', { nodad: true })
      await (await t.out.link('eth0')).addAddress('fd00:200::2/64', { nodad: true })
      await (await t.c1.link('eth0')).addAddress('fd00:18::10/64', { nodad: true })
      await t.c1.routes.add({ to: 'default', via: 'fd00:18::1' })
      await settleIpv6(t.host, t.out, t.c1)
      await serve(t.out, 'tcp', 7006, 'out6')
      const m = await NatRule.masquerade({ namespace: t.host, source: 'fd00:18::/64', outInterface: 'wan' })
      assert.equal(m.family, 6)
      assert.equal(await request(t.c1, 'tcp', 'fd00:200::2', 7006), 'out6 [fd00:200::1]')
      const [listed] = await NatRule.list({ namespace: t.host })
      assert.equal(listed!.source, 'fd00:18::/64')
      assert.equal(listed!.outInterface, 'wan')
      await m.delete()
    })
  })

  describe('publish', () => {
    it('reaches a container from the outside, the host and other containers, never through 127.0.0.1 unless asked', async () => {
      await serve(t.c1, 'tcp', 80, 'c1')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      assert.equal(p.hostPort, 8080)
      assert.equal(p.interface, 'br0')
      // (a) from another machine through the host: the container sees the real client address.
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c1 ${OUT_IP}`)
      // (b) from the host itself, through its own addresses.
      assert.match((await request(t.host, 'tcp', HOST_WAN, 8080)) ?? '', /^c1 /)
      assert.match((await request(t.host, 'tcp', GW, 8080)) ?? '', /^c1 /)
      // ... but not through 127.0.0.1 (localhost was not asked for).
      assert.equal(await request(t.host, 'tcp', '127.0.0.1', 8080), null)
      assert.equal(await t.host.sysctl.get('net.ipv4.conf.br0.route_localnet'), '0')
      // (c) hairpin: another container, and the container itself, through the host's address.
      assert.match((await request(t.c2, 'tcp', HOST_WAN, 8080)) ?? '', /^c1 /)
      assert.match((await request(t.c1, 'tcp', HOST_WAN, 8080)) ?? '', /^c1 /)
      // With br_netfilter on (the default where it is loaded), the answer to a container reaching its
      // own port is bridged back out the port it came in on: hairpin mode on that port, as Docker does.
      if ((await t.host.sysctl.get('net.bridge.bridge-nf-call-iptables').catch(() => undefined)) !== undefined) {
        await t.host.sysctl.set('net.bridge.bridge-nf-call-iptables', 1)
        assert.equal(await request(t.c1, 'tcp', HOST_WAN, 8080), null, 'br_netfilter without hairpin mode')
        await t.br.setPort(await t.host.link('veth-c1'), { hairpin: true })
        assert.match((await request(t.c1, 'tcp', HOST_WAN, 8080)) ?? '', /^c1 /, 'br_netfilter with hairpin mode')
        assert.match((await request(t.c2, 'tcp', HOST_WAN, 8080)) ?? '', /^c1 /)
        await t.host.sysctl.set('net.bridge.bridge-nf-call-iptables', 0)
      }
      // Unpublished ports are not reachable.
      await serve(t.c1, 'tcp', 81, 'c1-81')
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8081), null)
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 81), null)
      await p.delete()
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), null, 'unpublished')
    })

    it('publishes IPv6 ports on every host address or on one, and reads them back', async () => {
      await t.br.addAddress('fd00:18::1/64', { nodad: true })
      await (await t.host.link('wan')).addAddress('fd00:200::1/64', { nodad: true })
      await (await t.host.link('wan')).addAddress('fd00:200::3/64', { nodad: true })
      await (await t.out.link('eth0')).addAddress('fd00:200::2/64', { nodad: true })
      await (await t.c1.link('eth0')).addAddress('fd00:18::10/64', { nodad: true })
      await t.c1.routes.add({ to: 'default', via: 'fd00:18::1' })
      await settleIpv6(t.host, t.out, t.c1)
      await serve(t.c1, 'tcp', 80, 'c1')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: 'fd00:18::10', containerPort: 80 })
      const q = await NatRule.publish({
        namespace: t.host,
        protocol: 'tcp',
        hostIp: 'fd00:200::3',
        hostPort: 8081,
        containerIp: 'fd00:18::10',
        containerPort: 80,
      })
      assert.equal(p.family, 6)
      assert.equal(await t.host.sysctl.get('net.ipv6.conf.all.forwarding'), '1')
      assert.equal(await request(t.out, 'tcp', 'fd00:200::1', 8080), 'c1 [fd00:200::2]', 'the container sees the real client')
      assert.equal(await request(t.out, 'tcp', 'fd00:200::3', 8081), 'c1 [fd00:200::2]')
      assert.equal(await request(t.out, 'tcp', 'fd00:200::1', 8081), null, 'only on the address asked for')
      assert.match((await request(t.c1, 'tcp', 'fd00:200::1', 8080)) ?? '', /^c1 \[fd00:18::1\]$/, 'hairpin masquerades to the gateway')
      await assert.rejects(
        NatRule.publish({ namespace: t.host, protocol: 'tcp', hostIp: '::1', hostPort: 8082, containerIp: 'fd00:18::10', containerPort: 80 }),
        { code: 'ERR_INVALID_ARG_VALUE' },
      )
      const listed = (await NatRule.list({ namespace: t.host })).map((r) => `${r.hostIp ?? '*'} ${r.hostPort} ${r.containerIp} ${r.containerPort}`).sort()
      assert.deepEqual(listed, ['* 8080 fd00:18::10 80', 'fd00:200::3 8081 fd00:18::10 80'])
      await p.delete()
      await q.delete()
      assert.equal(await request(t.out, 'tcp', 'fd00:200::1', 8080), null)
      assert.equal(await nftText(t.host), '')
    })

    it('publishes on 127.0.0.1 only with localhost: true, and never to other machines (CVE-2020-8558)', async () => {
      await serve(t.c1, 'tcp', 80, 'c1')
      const before = await t.host.sysctl.get('net.ipv4.conf.all.route_localnet')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8081, containerIp: C1, containerPort: 80, localhost: true })
      assert.match((await request(t.host, 'tcp', '127.0.0.1', 8081)) ?? '', /^c1 /)
      assert.equal(await t.host.sysctl.get('net.ipv4.conf.br0.route_localnet'), '1', 'set on the one interface that needs it')
      assert.equal(await t.host.sysctl.get('net.ipv4.conf.all.route_localnet'), before, 'never on all')
      assert.equal(await t.host.sysctl.get('net.ipv4.conf.default.route_localnet'), '0', 'never on default')
      assert.equal(await t.host.sysctl.get('net.ipv4.conf.wan.route_localnet'), '0')
      // An attacker on the bridge (where route_localnet is on) routes 127.0.0.0/8 to the host and
      // tries the loopback-published port and a host service bound to 127.0.0.1.
      const attacker = await sb.ns({ loopback: false })
      await attach(t.host, t.br, attacker, 'veth-att', '172.18.0.66', 16, GW)
      await attacker.sysctl.set('net.ipv4.conf.eth0.route_localnet', 1)
      await attacker.routes.add({ to: '127.0.0.0/8', via: GW })
      await serve(t.host, 'tcp', 7777, 'host-lo', '127.0.0.1')
      assert.match((await request(t.host, 'tcp', '127.0.0.1', 7777)) ?? '', /^host-lo /, 'the host service works locally')
      assert.equal(await request(attacker, 'tcp', '127.0.0.1', 8081), null, 'loopback-published port from another machine')
      assert.equal(await request(attacker, 'tcp', '127.0.0.1', 7777), null, 'host loopback service from another machine')
      // localhost: true publishes on 127.0.0.1 as well as on the host's addresses.
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8081), `c1 ${OUT_IP}`)
      // hostIp 127.0.0.1 (docker -p 127.0.0.1:8082:80) publishes on the loopback only.
      const q = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8082, containerIp: C1, containerPort: 80 })
      assert.equal(q.hostIp, '127.0.0.1')
      assert.match((await request(t.host, 'tcp', '127.0.0.1', 8082)) ?? '', /^c1 /)
      assert.equal(await request(t.host, 'tcp', HOST_WAN, 8082), null, 'not on the host addresses')
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8082), null)
      assert.equal(await request(attacker, 'tcp', '127.0.0.1', 8082), null)
      await p.delete()
      assert.equal(await t.host.sysctl.get('net.ipv4.conf.br0.route_localnet'), '1', 'still needed by the loopback-only mapping')
      await q.delete()
      assert.equal(await t.host.sysctl.get('net.ipv4.conf.br0.route_localnet'), '0', 'turned off again with the last localhost mapping')
    })

    it('publishes only on hostIp when given, and never redirects traffic passing through to another destination', async () => {
      // A second host address on the wan side.
      await (await t.host.link('wan')).addAddress('10.200.0.3/24')
      await serve(t.c1, 'tcp', 80, 'c1')
      await serve(t.c2, 'tcp', 8080, 'c2-direct')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostIp: HOST_WAN, hostPort: 8080, containerIp: C1, containerPort: 80 })
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c1 ${OUT_IP}`)
      assert.equal(await request(t.out, 'tcp', '10.200.0.3', 8080), null, 'not on the other host address')
      assert.equal(await request(t.c2, 'tcp', GW, 8080), null, 'not on the gateway address')
      // Transit: the outside routes the container subnet through the host and talks to c2:8080
      // directly; it must reach c2 itself, not be redirected to c1.
      await t.out.routes.add({ to: '172.18.0.0/16', via: HOST_WAN })
      await t.host.sysctl.set('net.ipv4.ip_forward', 1)
      assert.equal(await request(t.out, 'tcp', C2, 8080), `c2-direct ${OUT_IP}`)
      await p.delete()
    })

    it('picks a free port from ip_local_port_range when none is given (-P), and maps ranges port by port', async () => {
      await t.host.sysctl.set('net.ipv4.ip_local_port_range', '40000 40099')
      await serve(t.c1, 'tcp', 80, 'c1')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', containerIp: C1, containerPort: 80 })
      assert.ok(p.hostPort! >= 40000 && p.hostPort! <= 40099, `hostPort ${p.hostPort}`)
      assert.equal(await request(t.out, 'tcp', HOST_WAN, p.hostPort!), `c1 ${OUT_IP}`)
      const q = await NatRule.publish({ namespace: t.host, protocol: 'tcp', containerIp: C1, containerPort: 80 })
      assert.notEqual(q.hostPort, p.hostPort)

      await serve(t.c2, 'tcp', 91, 'c2-91')
      const r = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: [9000, 9002], containerIp: C2, containerPort: [90, 92] })
      assert.equal(r.hostPort, 9000)
      assert.equal(r.hostPortEnd, 9002)
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 9001), `c2-91 ${OUT_IP}`)
      const elements = JSON.stringify(await nftRuleset(t.host))
      for (const port of [9000, 9001, 9002]) assert.ok(elements.includes(`${port}`), `element for ${port}`)
      // A host range with one container port: one free port of the range (docker -p 9100-9105:80).
      const s = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: [9100, 9105], containerIp: C1, containerPort: 80 })
      assert.ok(s.hostPort! >= 9100 && s.hostPort! <= 9105 && s.hostPortEnd === undefined)
      assert.match((await request(t.out, 'tcp', HOST_WAN, s.hostPort!)) ?? '', /^c1 /)

      const listed = await NatRule.list({ namespace: t.host })
      assert.deepEqual(
        listed.map((x) => `${x.hostPort}-${x.hostPortEnd ?? ''}>${x.containerIp}:${x.containerPort}-${x.containerPortEnd ?? ''}`).sort(),
        [p, q, r, s].map((x) => `${x.hostPort}-${x.hostPortEnd ?? ''}>${x.containerIp}:${x.containerPort}-${x.containerPortEnd ?? ''}`).sort(),
      )
      // Deleting one mapping never removes another's.
      await q.delete()
      assert.equal(await request(t.out, 'tcp', HOST_WAN, p.hostPort!), `c1 ${OUT_IP}`)
      assert.equal((await NatRule.list({ namespace: t.host })).length, 3)
    })

    it('publishes UDP and SCTP, and removes stale UDP conntrack entries when unpublishing', async () => {
      await serve(t.c1, 'udp', 5353, 'c1u')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'udp', hostPort: 5353, containerIp: C1, containerPort: 5353 })
      assert.equal(await request(t.out, 'udp', HOST_WAN, 5353), `c1u ${OUT_IP}`)
      const ct = async () =>
        (await sh('ip', ['netns', 'exec', t.host.name!, 'conntrack', '-L', '-p', 'udp', '--orig-port-dst', '5353'], { allowFail: true })).stdout
      assert.match(await ct(), /dport=5353/)
      await p.delete()
      assert.doesNotMatch(await ct(), /dport=5353/, 'stale entries gone')
      const s = await NatRule.publish({ namespace: t.host, protocol: 'sctp', hostPort: 3868, containerIp: C1, containerPort: 3868 })
      assert.match(
        await nftText(t.host, 'list', 'map', 'inet', 'netns-kit', 'pub4any'),
        /sctp \. 3868 comment "netns-kit publish [0-9a-f]+ br0" : 172\.18\.0\.10 \. 3868/,
      )
      await s.delete()
    })

    it('refuses bad input and collisions with typed errors, leaving the kernel untouched', async () => {
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      const before = await nftText(t.host)
      const bad: [Parameters<typeof NatRule.publish>[0], string][] = [
        [{ namespace: t.host, protocol: 'tcp', hostPort: 0, containerIp: C1, containerPort: 80 }, 'ERR_OUT_OF_RANGE'],
        [{ namespace: t.host, protocol: 'tcp', hostPort: 65536, containerIp: C1, containerPort: 80 }, 'ERR_OUT_OF_RANGE'],
        [{ namespace: t.host, protocol: 'tcp', hostPort: [9010, 9000], containerIp: C1, containerPort: [80, 90] }, 'ERR_INVALID_ARG_VALUE'],
        [{ namespace: t.host, protocol: 'tcp', hostPort: [9000, 9010], containerIp: C1, containerPort: [80, 85] }, 'ERR_INVALID_ARG_VALUE'],
        [{ namespace: t.host, protocol: 'icmp' as 'tcp', hostPort: 9000, containerIp: C1, containerPort: 80 }, 'ERR_INVALID_ARG_VALUE'],
        [{ namespace: t.host, protocol: 'tcp', hostPort: 9000, containerIp: '172.18.0.300', containerPort: 80 }, 'ERR_INVALID_ARG_VALUE'],
        [{ namespace: t.host, protocol: 'tcp', hostIp: 'fd00::1', hostPort: 9000, containerIp: C1, containerPort: 80 }, 'ERR_INVALID_ARG_VALUE'],
        [{ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C2, containerPort: 81 }, 'ERR_NETNS_KIT_PORT_ALLOCATED'],
        [{ namespace: t.host, protocol: 'tcp', hostIp: HOST_WAN, hostPort: 8080, containerIp: C2, containerPort: 81 }, 'ERR_NETNS_KIT_PORT_ALLOCATED'],
        [{ namespace: t.host, protocol: 'tcp', hostPort: [8079, 8081], containerIp: C2, containerPort: [80, 82] }, 'ERR_NETNS_KIT_PORT_ALLOCATED'],
        [{ namespace: t.host, protocol: 'tcp', hostPort: 9000, containerIp: '10.99.0.1', containerPort: 80 }, 'ERR_NETNS_KIT_NO_ROUTE'],
      ]
      for (const [opts, code] of bad) {
        await assert.rejects(
          NatRule.publish(opts),
          (e: Error & { code?: string }) => e.code === code,
          `${JSON.stringify({ ...opts, namespace: undefined })} -> ${code}`,
        )
      }
      await assert.rejects(NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/33' }), { code: 'ERR_INVALID_ARG_VALUE' })
      await assert.rejects(NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', outInterface: 'a', notOutInterface: 'b' }), {
        code: 'ERR_INVALID_ARG_VALUE',
      })
      await assert.rejects(NatRule.isolate({ namespace: t.host, interface: 'this-name-is-too-long' }), { code: 'ERR_INVALID_ARG_VALUE' })
      assert.equal(await nftText(t.host), before, 'nothing reached the kernel')
      await p.delete()
    })
  })

  describe('isolation', () => {
    async function secondNetwork(): Promise<{ c3: Namespace; br1: Bridge }> {
      const c3 = await sb.ns()
      const br1 = await Bridge.create({ name: 'br1', namespace: t.host, up: true })
      await br1.addAddress('172.19.0.1/16')
      await attach(t.host, br1, c3, 'veth-c3', '172.19.0.10', 16, '172.19.0.1')
      await t.host.sysctl.set('net.ipv4.ip_forward', 1)
      return { c3, br1 }
    }

    it('drops traffic between two networks, but not answers, published ports or outbound traffic', async () => {
      const { c3 } = await secondNetwork()
      await serve(c3, 'tcp', 80, 'c3')
      await serve(t.c1, 'tcp', 80, 'c1')
      await serve(t.out, 'tcp', 7000, 'out')
      assert.match((await request(t.c1, 'tcp', '172.19.0.10', 80)) ?? '', /^c3 /, 'routed between bridges before isolation')
      const a = await NatRule.isolate({ namespace: t.host, interface: 'br0' })
      const b = await NatRule.isolate({ namespace: t.host, interface: 'br1' })
      const m = await NatRule.masquerade({ namespace: t.host, source: '172.16.0.0/12', outInterface: 'wan' })
      assert.equal(await request(t.c1, 'tcp', '172.19.0.10', 80), null, 'br0 -> br1')
      assert.equal(await request(c3, 'tcp', C1, 80), null, 'br1 -> br0')
      assert.match((await request(t.c1, 'tcp', C2, 80).then(() => request(t.c2, 'tcp', C1, 80))) ?? '', /^c1 /, 'same bridge still talks')
      assert.equal(await request(t.c1, 'tcp', OUT_IP, 7000), `out ${HOST_WAN}`, 'outbound and its answers pass')
      // Direct routing to a container from outside is dropped; its published port is not.
      await t.out.routes.add({ to: '172.18.0.0/16', via: HOST_WAN })
      assert.equal(await request(t.out, 'tcp', C1, 80), null, 'direct access to an unpublished container port')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c1 ${OUT_IP}`)
      assert.match((await request(c3, 'tcp', HOST_WAN, 8080)) ?? '', /^c1 /, 'another network reaches the published port')
      const kinds = (await NatRule.list({ namespace: t.host })).map((r) => `${r.kind}:${r.interface ?? r.source}`).sort()
      assert.deepEqual(kinds, ['isolate:br0', 'isolate:br1', 'masquerade:172.16.0.0/12', 'publish:br0'])
      for (const r of [a, b, m, p]) await r.delete()
      assert.match((await request(t.c1, 'tcp', '172.19.0.10', 80)) ?? '', /^c3 /, 'open again')
      assert.equal(await nftText(t.host), '')
    })

    it('icc: false blocks traffic between ports of one bridge without br_netfilter; the gateway and published ports stay reachable', async () => {
      // (topology() turned br_netfilter off in the host: isolation here is the bridge's own.)
      await serve(t.c2, 'tcp', 80, 'c2')
      await serve(t.host, 'tcp', 7001, 'gw', GW)
      assert.match((await request(t.c1, 'tcp', C2, 80)) ?? '', /^c2 /)
      const r = await NatRule.isolate({ namespace: t.host, interface: 'br0', icc: false })
      assert.equal(r.icc, false)
      assert.equal(await request(t.c1, 'tcp', C2, 80), null, 'c1 -> c2 blocked')
      assert.equal(await request(t.c2, 'tcp', C1, 80), null, 'c2 -> c1 blocked')
      assert.match((await request(t.c1, 'tcp', GW, 7001)) ?? '', /^gw /, 'c1 -> host still works')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C2, containerPort: 80 })
      assert.match((await request(t.c1, 'tcp', GW, 8080)) ?? '', /^c2 /, 'c1 -> c2 through its published port, as Docker allows')
      // The kernel's bridge port isolation, as `bridge -j link` shows it.
      const ports = JSON.parse((await sh('ip', ['netns', 'exec', t.host.name!, 'bridge', '-j', '-d', 'link', 'show'])).stdout) as {
        ifname: string
        isolated?: boolean
      }[]
      assert.deepEqual(ports.map((x) => [x.ifname, x.isolated]).sort(), [
        ['veth-c1', true],
        ['veth-c2', true],
      ])
      const listed = (await NatRule.list({ namespace: t.host })).find((x) => x.kind === 'isolate')
      assert.equal(listed!.icc, false)
      await p.delete()
      await r.delete()
      const after = JSON.parse((await sh('ip', ['netns', 'exec', t.host.name!, 'bridge', '-j', '-d', 'link', 'show'])).stdout) as { isolated?: boolean }[]
      assert.ok(after.every((x) => x.isolated === false))
      assert.match((await request(t.c1, 'tcp', C2, 80)) ?? '', /^c2 /)
      assert.equal(await nftText(t.host), '', 'our table is gone')
    })

    it('refuses icc: false on an interface that is not a bridge, before anything is sent', async () => {
      await assert.rejects(NatRule.isolate({ namespace: t.host, interface: 'wan', icc: false }), { code: 'ERR_NETNS_KIT_NOT_A_BRIDGE' })
      assert.equal(await nftText(t.host), '')
    })

    it('internal: no path in or out, even with masquerade', async () => {
      await serve(t.out, 'tcp', 7000, 'out')
      const m = await NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', notOutInterface: 'br0' })
      assert.equal(await request(t.c1, 'tcp', OUT_IP, 7000), `out ${HOST_WAN}`)
      const r = await NatRule.isolate({ namespace: t.host, interface: 'br0', internal: true })
      assert.equal(await request(t.c1, 'tcp', OUT_IP, 7000), null)
      assert.equal((await NatRule.list({ namespace: t.host })).find((x) => x.kind === 'isolate')!.internal, true)
      await r.delete()
      await m.delete()
    })
  })

  describe('ownership and coexistence', () => {
    it('works beside foreign tables, never changes them, and reports a foreign forward chain with policy drop', async () => {
      await nftApply(
        t.host,
        [
          'table inet foreign {',
          '  chain forward_filter {',
          '    type filter hook forward priority 0; policy drop;',
          '  }',
          '  chain input_filter {',
          '    type filter hook input priority 0; policy accept;',
          '    tcp dport 22 accept',
          '  }',
          '}',
          'table ip userNat {',
          '  chain post {',
          '    type nat hook postrouting priority 100;',
          '  }',
          '}',
        ].join('\n'),
      )
      const foreign = async () =>
        JSON.stringify((await nftRuleset(t.host)).filter((o) => JSON.stringify(o).includes('"foreign"') || JSON.stringify(o).includes('"userNat"')))
      const before = await foreign()
      await serve(t.c1, 'tcp', 80, 'c1')
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      const m = await NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', notOutInterface: 'br0' })
      assert.deepEqual(await NatRule.conflicts({ namespace: t.host }), [
        { family: 'inet', table: 'foreign', chain: 'forward_filter', hook: 'forward', policy: 'drop' },
      ])
      // Documented behaviour: a foreign drop policy wins; netns-kit does not override it.
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), null)
      // The owner of the foreign table lets published traffic through, as the docs suggest.
      await nftApply(
        t.host,
        'add rule inet foreign forward_filter ct status dnat accept\nadd rule inet foreign forward_filter ct state established,related accept',
      )
      assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c1 ${OUT_IP}`)
      await nftApply(t.host, 'flush chain inet foreign forward_filter')
      assert.equal(await foreign(), before, 'foreign tables as they were')
      await p.delete()
      await m.delete()
      assert.equal(await foreign(), before)
      assert.doesNotMatch(await nftText(t.host), /netns-kit/)
    })

    it('keeps its table while it holds anything someone else put there, and drops it once that is gone', async () => {
      // Things in netns-kit's table that are not netns-kit's: deleting the last mapping
      // (publish's path) or the last rule (tidy's path) must not take them with the table.
      const theirs = [
        ['add counter inet netns-kit theirs', 'delete counter inet netns-kit theirs'],
        ['add set inet netns-kit theirs { type ipv4_addr; }', 'delete set inet netns-kit theirs'],
        ['add set inet netns-kit theirs { type ipv4_addr; flags constant; elements = { 192.0.2.1 }; }', 'delete set inet netns-kit theirs'],
        ['add chain inet netns-kit theirs', 'delete chain inet netns-kit theirs'],
      ]
      for (const [add, del] of theirs) {
        for (const make of [
          () => NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 }),
          () => NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', notOutInterface: 'br0' }),
        ]) {
          const r = await make()
          await nftApply(t.host, add!)
          await r.delete()
          assert.match(await nftText(t.host), / theirs /, `${r.kind}, ${add}: theirs stays`)
          assert.deepEqual(await NatRule.list({ namespace: t.host }), [])
          await nftApply(t.host, del!)
          await NatRule.tidy({ namespace: t.host })
          assert.equal(await nftText(t.host), '', `${r.kind}, ${add}: our table goes with the last thing in it`)
        }
      }
      // The same for the bridge-family (anti-spoofing) table, which tidy() drops after the inet one.
      const port = { hostIf: 'veth-c1', mac: '02:42:ac:12:00:0a', addresses: [C1] }
      await guardPort(t.host, port)
      await nftApply(t.host, 'add counter bridge netns-kit theirs')
      await unguardPort(t.host, port)
      await NatRule.tidy({ namespace: t.host })
      assert.match(await nftText(t.host), / theirs /, 'bridge: their counter stays')
      await nftApply(t.host, 'delete counter bridge netns-kit theirs')
      await NatRule.tidy({ namespace: t.host })
      assert.equal(await nftText(t.host), '', 'bridge: our table goes with the last thing in it')
    })

    it('drops the anti-spoofing table with the last mapping once no port is guarded', async () => {
      const port = { hostIf: 'veth-c1', mac: '02:42:ac:12:00:0a', addresses: [C1] }
      await guardPort(t.host, port)
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      await unguardPort(t.host, port)
      await p.delete()
      assert.equal(await nftText(t.host), '')
    })

    it('agrees with nft -j list ruleset, element for element', async () => {
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      const q = await NatRule.publish({ namespace: t.host, protocol: 'udp', hostIp: HOST_WAN, hostPort: 53, containerIp: C2, containerPort: 5353 })
      const m = await NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', notOutInterface: 'br0' })
      const m2 = await NatRule.masquerade({ namespace: t.host, source: '10.1.3.7/23' })
      assert.equal(m2.source, '10.1.2.0/23')
      assert.match(await nftText(t.host, 'list', 'chain', 'inet', 'netns-kit', 'postrouting'), /ip saddr 10\.1\.2\.0\/23 masquerade/)
      assert.equal((await NatRule.list({ namespace: t.host })).find((r) => r.id === m2.id)!.source, '10.1.2.0/23', 'a prefix off a byte boundary reads back')
      await m2.delete()
      const rs = await nftRuleset(t.host)
      const elems = (name: string) => (rs.find((o) => o.map?.name === name)?.map.elem ?? []) as unknown[]
      assert.equal(JSON.stringify(elems('pub4any')).includes('8080'), true)
      assert.equal(JSON.stringify(elems('pub4')).includes(HOST_WAN), true)
      const comments = rs.filter((o) => o.rule?.comment?.startsWith('netns-kit masquerade')).map((o) => o.rule.comment)
      assert.deepEqual(comments, [`netns-kit masquerade ${m.id}`])
      const listed = await NatRule.list({ namespace: t.host })
      assert.deepEqual(listed.map((r) => r.id).sort(), [p.id, q.id, m.id].sort())
      const lq = listed.find((r) => r.id === q.id)!
      assert.deepEqual([lq.protocol, lq.hostIp, lq.hostPort, lq.containerIp, lq.containerPort], ['udp', HOST_WAN, 53, C2, 5353])
      for (const r of listed) await r.delete()
      assert.equal(await nftText(t.host), '')
    })

    it('is atomic: a change the kernel refuses leaves nothing applied', async () => {
      const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
      const before = await nftText(t.host)
      // 8079-8081 collides at 8080 in the same map: the kernel refuses the batch (EEXIST) after the
      // collision check, and 8079 / 8081 must not stay behind. Force the kernel path by racing:
      // the pre-check sees nothing in other maps, the kernel sees the duplicate key.
      await assert.rejects(NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: [8079, 8081], containerIp: C2, containerPort: [80, 82] }), {
        code: 'ERR_NETNS_KIT_PORT_ALLOCATED',
      })
      assert.equal(await nftText(t.host), before)
      await p.delete()
    })
  })
})

d('NatRule in a namespace without our table', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())
  it('lists nothing and reports no conflicts', async () => {
    const ns = await sb.ns()
    assert.deepEqual(await NatRule.list({ namespace: ns }), [])
    assert.deepEqual(await NatRule.conflicts({ namespace: ns }), [])
    assert.ok(!(await Namespace.list()).includes('netns-kit'))
    void NetnsKitError
  })
})

d('NatRule deleted by two processes at the same moment', function () {
  this.timeout(120000)
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  /** A worker (test/fixtures/nat-race-worker.ts) holding one rule of `kind` at a time, and a way to ask it. */
  function worker(ns: Namespace, kind: 'publish' | 'isolate', port = 8080, release?: string) {
    const child = spawn(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(__dirname, '..', 'fixtures', 'nat-race-worker.ts'), ns.name!, kind, String(port)],
      { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...(release ? { NK_KERNEL_RELEASE: release } : {}) } },
    )
    const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
    const next = async () => String((await lines.next()).value)
    return {
      child,
      next,
      ask: async (cmd: string) => {
        child.stdin!.write(`${cmd}\n`)
        return next()
      },
    }
  }

  it('a mapping and an isolation rule: both deletes resolve, and the tables go every time (150 rounds)', async () => {
    // Each process looked at the table while the other's rule was still there: the mapping's
    // delete read "held" before deleting its element, the isolation rule's tidy() still saw the
    // mapping, and nobody dropped the table (3 in 300 rounds); or one process's read of the maps
    // met the table the other had just dropped (ENOENT, 4 in 300).
    const ns = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: ns, up: true })
    await br.addAddress('172.18.0.1/16')
    const ws = [worker(ns, 'publish'), worker(ns, 'isolate')]
    const left: number[] = []
    const errors: string[] = []
    try {
      for (const w of ws) assert.equal(await w.next(), 'ready')
      for (let round = 0; round < 150; round++) {
        for (const w of ws) assert.equal(await w.ask('make'), 'made')
        for (const answer of await Promise.all(ws.map((w) => w.ask('delete')))) if (answer !== 'deleted') errors.push(answer)
        if ((await nftText(ns)) !== '') {
          left.push(round)
          await NatRule.tidy({ namespace: ns })
        }
      }
    } finally {
      for (const w of ws) w.child.stdin!.end()
      await Promise.all(ws.map((w) => new Promise((r) => w.child.once('exit', r))))
    }
    assert.deepEqual(errors, [])
    assert.deepEqual(left, [], 'rounds after which a table stayed')
  })

  it('before 6.5: the last mapping deleted while another process publishes one, the new mapping stays (80 rounds)', async () => {
    // Such a kernel does not count set elements: the drop reads the maps, then deleted them
    // recursively; a mapping published in between went with them, its publish() resolved (14
    // in 60 rounds). The drop's batch is now bound to the generation read before the maps.
    const ns = await sb.ns()
    const br = await Bridge.create({ name: 'br0', namespace: ns, up: true })
    await br.addAddress('172.18.0.1/16')
    const [a, b] = [worker(ns, 'publish', 8080, '6.1.0-28-amd64'), worker(ns, 'publish', 9090, '6.1.0-28-amd64')]
    const lost: number[] = []
    try {
      for (const w of [a, b]) assert.equal(await w.next(), 'ready')
      for (let round = 0; round < 80; round++) {
        assert.equal(await a.ask('make'), 'made')
        assert.deepEqual(await Promise.all([a.ask('delete'), b.ask('make')]), ['deleted', 'made'])
        if (!(await NatRule.list({ namespace: ns })).some((r) => r.hostPort === 9090)) lost.push(round)
        assert.equal(await b.ask('delete'), 'deleted')
        assert.equal(await nftText(ns), '', `round ${round}: the tables go with the last mapping`)
      }
    } finally {
      for (const w of [a, b]) w.child.stdin!.end()
      await Promise.all([a, b].map((w) => new Promise((r) => w.child.once('exit', r))))
    }
    assert.deepEqual(lost, [], 'rounds whose new mapping was lost')
  })
})

d('NatRule on a kernel before 6.5 (os.release() reads 6.1)', function () {
  // Before 6.5 the kernel counts a set's elements only when the set has a size (netns-kit's have
  // none), so NLM_F_NONREC on a set delete is not refused while a map holds mappings: a delete
  // must read the maps (tidy()) before the table goes. Debian 12's own kernel is a 6.1.
  this.timeout(60000)
  const sb = new Sandbox()
  let t: Topology
  // The module object itself (what lib's `import * as os` reads through), not an import's copy.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as { release: () => string }
  const release = os.release
  beforeEach(async () => {
    os.release = () => '6.1.0-28-amd64'
    t = await topology(sb)
  })
  afterEach(async () => {
    os.release = release
    await stopAll()
    await sb.cleanup()
  })

  it("deleting one mapping keeps the others and the table; the last one's delete drops it, never what is not ours", async () => {
    await serve(t.c1, 'tcp', 80, 'c1')
    const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
    const q = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8081, containerIp: C1, containerPort: 80 })
    const ops: string[] = []
    const seen = (e: unknown) => ops.push(...(e as { ops: string[] }).ops)
    dc.subscribe('netns-kit:nft', seen)
    await p.delete()
    dc.unsubscribe('netns-kit:nft', seen)
    assert.ok(
      ops.some((o) => o === 'list elements inet netns-kit pub4any'),
      `the maps are read before the table may go (the kernel does not count their elements): ${ops.join('; ')}`,
    )
    assert.deepEqual(
      (await NatRule.list({ namespace: t.host })).map((r) => r.hostPort),
      [8081],
    )
    assert.equal(await request(t.out, 'tcp', HOST_WAN, 8081), `c1 ${OUT_IP}`)
    await nftApply(t.host, 'add set inet netns-kit theirs { type ipv4_addr; }')
    await q.delete()
    assert.match(await nftText(t.host), / theirs /, 'their set stays, and the table with it')
    await nftApply(t.host, 'delete set inet netns-kit theirs')
    // Someone's element in one of netns-kit's maps keeps the table too (read: the kernel does not count it).
    const r = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8082, containerIp: C1, containerPort: 80 })
    await nftApply(t.host, 'add element inet netns-kit pub4any { tcp . 9999 : 172.18.0.11 . 80 }')
    await r.delete()
    assert.match(await nftText(t.host), /9999/, 'their element stays, and the table with it')
    await nftApply(t.host, 'delete element inet netns-kit pub4any { tcp . 9999 }')
    const m = await NatRule.masquerade({ namespace: t.host, source: '172.18.0.0/16', notOutInterface: 'br0' })
    await m.delete()
    assert.equal(await nftText(t.host), '')
  })
})

d('NatRule.delete where the kernel counts set elements (6.5 and later)', function () {
  // A batch the kernel refuses costs its abort an RCU grace period (8-15 ms on 6.18), so the drop
  // of the table that may follow a mapping's delete is sent only when no set that holds state
  // has an element: nftAnyElement reads one datagram of each such set's dump.
  this.timeout(120000)
  const sb = new Sandbox()
  let t: Topology
  before(function () {
    if (!nonrecTrusted()) this.skip()
  })
  beforeEach(async () => {
    t = await topology(sb)
  })
  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
  })

  type Trip = { entry: string; ops: string[]; error?: Error }
  async function watched(f: () => Promise<unknown>): Promise<Trip[]> {
    const trips: Trip[] = []
    const seen = (e: unknown) => trips.push(e as Trip)
    dc.subscribe('netns-kit:nft', seen)
    try {
      await f()
    } finally {
      dc.unsubscribe('netns-kit:nft', seen)
    }
    return trips
  }

  it('a delete while other mappings remain sends no batch the kernel refuses; the last one drops the table', async () => {
    await serve(t.c1, 'tcp', 80, 'c1')
    const p = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
    const q = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8081, containerIp: C1, containerPort: 80 })
    let trips = await watched(() => p.delete())
    assert.deepEqual(
      trips.filter((x) => x.error).map((x) => `${x.entry} ${x.ops.join(', ')}: ${x.error!.message}`),
      [],
      'no trip failed (before: the drop batch, refused with EBUSY)',
    )
    assert.ok(
      trips.some((x) => x.entry === 'nftAnyElement'),
      trips.map((x) => x.entry).join(' '),
    )
    assert.equal(await request(t.out, 'tcp', HOST_WAN, 8081), `c1 ${OUT_IP}`)
    // Someone's element in one of our maps keeps the table, still without a refused batch.
    await nftApply(t.host, 'add element inet netns-kit pub4any { tcp . 9999 : 172.18.0.11 . 80 }')
    trips = await watched(() => q.delete())
    assert.deepEqual(
      trips.filter((x) => x.error).map((x) => x.entry),
      [],
    )
    assert.match(await nftText(t.host), /9999/, 'their element stays, and the table with it')
    await nftApply(t.host, 'delete element inet netns-kit pub4any { tcp . 9999 }')
    const r = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8082, containerIp: C1, containerPort: 80 })
    await r.delete()
    assert.equal(await nftText(t.host), '', 'the last mapping takes the table')
  })

  it('nftAnyElement: false for a missing table or set and for empty sets, true at the first element; the shared socket is untouched', async () => {
    assert.equal(await nftAnyElement(t.host, 'inet', 'netns-kit', ['pub4any']), false, 'no table')
    const ports = Array.from({ length: 3000 }, (_, i) => 20000 + i)
    for (let i = 0; i < ports.length; i += 500)
      await NatRule.publishMany(
        ports.slice(i, i + 500).map((hostPort) => ({ namespace: t.host, protocol: 'tcp' as const, hostPort, containerIp: C1, containerPort: 80 })),
      )
    assert.equal(await nftAnyElement(t.host, 'inet', 'netns-kit', ['pub6', 'pub6any', 'nosuchset']), false)
    assert.equal(await nftAnyElement(t.host, 'inet', 'netns-kit', ['pub6', 'pub4any']), true)
    assert.equal(await nftAnyElement(t.host, 'inet', 'netns-kit', ['pub4any', 'pub6']), true)
    // The dump cut short went on a socket of its own: the namespace's socket reads the whole set.
    assert.equal((await nftList(t.host, { what: 'elements', family: 'inet', table: 'netns-kit', set: 'pub4any' })).length, 3000)
    assert.equal((await NatRule.list({ namespace: t.host })).length, 3000)
    await assert.rejects(nftAnyElement(t.host, 'inet', 'netns-kit', ['']), { code: 'ERR_INVALID_ARG_VALUE' })
  })

  it('NatRule.list() decodes many mappings a slice at a time, the event loop turning in between', async () => {
    const ports = Array.from({ length: 3000 }, (_, i) => 20000 + i)
    for (let i = 0; i < ports.length; i += 500)
      await NatRule.publishMany(
        ports.slice(i, i + 500).map((hostPort) => ({ namespace: t.host, protocol: 'tcp' as const, hostPort, containerIp: C1, containerPort: 80 })),
      )
    // Counts the turns of the event loop (a setImmediate chain) after list()'s last trip to the
    // kernel: the decoding that follows gives one per slice of DECODE_SLICE (it was one block).
    let turns = 0
    let afterLastTrip = 0
    let on = true
    const tick = () => {
      turns++
      if (on) setImmediate(tick)
    }
    const trip = () => (afterLastTrip = turns)
    setImmediate(tick)
    dc.subscribe('netns-kit:nft', trip)
    const listed = await NatRule.list({ namespace: t.host }).finally(() => dc.unsubscribe('netns-kit:nft', trip))
    on = false
    assert.equal(listed.length, 3000)
    assert.deepEqual(
      listed.map((r) => r.hostPort).sort((a, b) => a! - b!),
      ports,
    )
    const slices = Math.floor(3000 / DECODE_SLICE)
    assert.ok(turns - afterLastTrip >= 2 * slices, `${turns - afterLastTrip} turns after the last trip for ${slices} slices of ${DECODE_SLICE}`)
  })
})

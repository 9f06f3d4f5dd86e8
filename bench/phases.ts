// Where netns-kit's time per container goes: each step of wireNetnsKit and of the teardown timed
// apart, in a throwaway host (npx tsx bench/phases.ts [N]). A diagnostic, not part of npm run bench.
import { Bridge, Namespace, NatRule, VethPair } from '../lib'
import { run } from '../lib/kernel/rtnl'
import { GATEWAY, PREFIX, SUBNET, CONTAINER_PORT, cleanupAll, containerIp, hostPort, installExitCleanup, makeEnv, median, track } from './common'

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100)
  installExitCleanup()
  const env = await makeEnv('phases')
  try {
    // Experiments (environment): NK_PHASES_NOV6=1 turns IPv6 off for new links of the host namespace;
    // NK_PHASES_NOMASTER=1 leaves the veths off the bridge (no traffic checks here); NK_PHASES_NOV6C below.
    if (process.env.NK_PHASES_NOV6) {
      await env.host.sysctl.set('net.ipv6.conf.default.disable_ipv6', 1)
      await env.host.sysctl.set('net.ipv6.conf.all.disable_ipv6', 1)
    }
    const bridge = await Bridge.create({ name: 'br0', namespace: env.host, up: true })
    await bridge.addAddress(`${GATEWAY}/${PREFIX}`)
    await NatRule.masquerade({ namespace: env.host, source: SUBNET, notOutInterface: 'br0' })
    const t: Record<string, number[]> = {
      'Namespace.create': [],
      'VethPair.create': [],
      'addr+route': [],
      'NatRule.publish': [],
      'Namespace.delete': [],
      'NatRule.delete': [],
    }
    const lap = (k: string, t0: number) => t[k]!.push(performance.now() - t0)
    const wired: { ns: Namespace; rule: NatRule }[] = []
    for (let i = 0; i < n; i++) {
      let t0 = performance.now()
      const ns = track(await Namespace.create(env.ctr(i)))
      // NK_PHASES_NOV6C=1: no IPv6 on the container's links (Docker's choice for IPv4-only networks).
      if (process.env.NK_PHASES_NOV6C) await ns.sysctl.set('net.ipv6.conf.default.disable_ipv6', 1)
      lap('Namespace.create', t0)
      t0 = performance.now()
      // NK_PHASES_V6=1: IPv6 left on both ends (by default off, as the bench and Network.connect on an IPv4-only network).
      const v6 = process.env.NK_PHASES_V6 ? undefined : false
      const pair = await VethPair.create({
        name: env.veth(i),
        namespace: env.host,
        master: process.env.NK_PHASES_NOMASTER ? undefined : bridge,
        up: true,
        ipv6: v6,
        peer: { name: 'eth0', namespace: ns, up: true, ipv6: v6 },
      })
      lap('VethPair.create', t0)
      t0 = performance.now()
      await run([
        { ns, op: 'addr.add', index: pair.peer.index, address: containerIp(i), prefixLength: PREFIX },
        { ns, op: 'route.add', family: 4, dstLength: 0, gateway: GATEWAY },
      ])
      lap('addr+route', t0)
      t0 = performance.now()
      const rule = await NatRule.publish({
        namespace: env.host,
        protocol: 'tcp',
        hostPort: hostPort(i),
        containerIp: containerIp(i),
        containerPort: CONTAINER_PORT,
      })
      lap('NatRule.publish', t0)
      wired.push({ ns, rule })
    }
    for (const w of wired) {
      let t0 = performance.now()
      await w.ns.delete()
      lap('Namespace.delete', t0)
      t0 = performance.now()
      await w.rule.delete()
      lap('NatRule.delete', t0)
    }
    for (const [k, v] of Object.entries(t)) {
      console.log(
        `${k.padEnd(18)} median ${median(v).toFixed(3)} ms (first 100: ${median(v.slice(0, 100)).toFixed(3)}, last 100: ${median(v.slice(-100)).toFixed(3)}), max ${Math.max(...v).toFixed(3)}, total ${v.reduce((a, b) => a + b, 0).toFixed(0)} ms`,
      )
    }
  } finally {
    await cleanupAll()
  }
}
void main()

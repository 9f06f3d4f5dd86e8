// Issue 11, input 2: a process killed in the middle of NatRule.publish({ localhost: true }) never
// leaves route_localnet on without netns-kit's 127.0.0.0/8 guard (CVE-2020-8558 class), and gc
// turns it off again wherever no localhost mapping needs it. A child process publishes and is
// killed right after each of its trips into the addon (every boundary between two kernel
// changes), and at random moments besides; after each kill: the invariant, a container that
// tries the host's 127.0.0.1-only service, then NatRule.gc() and the state it must leave.
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { MemoryStore, NatRule, Network, type Namespace } from '../../lib'
import { Sandbox } from '../helpers'
import { C1, GW, attach, nftRuleset, request, serve, stopAll, topology, type Topology } from '../nat-helpers'

const worker = path.join(__dirname, '..', 'fixtures', 'publish-kill-worker.ts')

/** Runs the worker; kills it after trip `k` (0: never) or `afterMs` after it started; resolves with the trips it reported and how long the operation took. */
function publishKilled(host: Namespace, k: number, afterMs?: number): Promise<{ killed: boolean; trips?: number; ms: number }> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', worker, String(k), 'publish-localhost', host.name!, C1, '8081'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let started = 0
  let trips: number | undefined
  let ms = 0
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    if (l === 'start') {
      started = Date.now()
      if (afterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), afterMs)
    } else if (l.startsWith('done ')) {
      trips = Number(l.slice(5))
      ms = Date.now() - started
    }
  })
  return new Promise((resolve) => child.on('exit', (_code, signal) => resolve({ killed: signal === 'SIGKILL', trips, ms })))
}

async function routeLocalnet(host: Namespace): Promise<string> {
  return host.sysctl.get('net.ipv4.conf.br0.route_localnet')
}

/** netns-kit's guard is in place: `iifname != "lo" ip daddr 127.0.0.0/8 drop` in a raw-priority prerouting chain of our table. */
async function guardPresent(host: Namespace): Promise<boolean> {
  const rs = await nftRuleset(host)
  const chain = rs.find((o) => o.chain?.table === 'netns-kit' && o.chain?.name === 'guard' && o.chain?.hook === 'prerouting' && o.chain?.prio === -300)
  const rule = rs.find((o) => o.rule?.table === 'netns-kit' && o.rule?.chain === 'guard')
  const text = JSON.stringify(rule?.rule?.expr ?? [])
  return Boolean(chain) && text.includes('"lo"') && text.includes('127.0.0.0') && text.includes('"drop"')
}

describe('route_localnet survives a crash of NatRule.publish({ localhost: true }) (issue 11, input 2)', function () {
  this.timeout(600000)
  const sb = new Sandbox()
  let t: Topology
  before(async () => {
    t = await topology(sb)
    // c2 plays the attacker: it routes 127.0.0.0/8 to the host and accepts 127/8 on its own eth0.
    await t.c2.sysctl.set('net.ipv4.conf.eth0.route_localnet', 1)
    await t.c2.routes.add({ to: '127.0.0.0/8', via: GW })
    await serve(t.c1, 'tcp', 80, 'c1')
    await serve(t.host, 'tcp', 7777, 'host-lo', '127.0.0.1')
  })
  after(async () => {
    await stopAll()
    await sb.cleanup()
  })

  it('never leaves route_localnet=1 without the guard, at 20+ kill moments; gc turns it off where nothing needs it', async () => {
    assert.ok(attach)
    // Calibration: an uninterrupted publish, its number of trips and its duration.
    const full = await publishKilled(t.host, 0)
    assert.equal(full.killed, false)
    const trips = full.trips!
    assert.ok(trips >= 5, `${trips} trips`)
    assert.equal(await routeLocalnet(t.host), '1')
    assert.ok(await guardPresent(t.host))
    for (const r of await NatRule.list({ namespace: t.host })) await r.delete()
    assert.equal(await routeLocalnet(t.host), '0')
    assert.deepEqual(await nftRuleset(t.host).then((rs) => rs.filter((o) => o.table)), [], 'the calibration left nothing')

    // Every trip boundary, then random moments in the same time span, 24 kills at least.
    const moments: { k: number; ms?: number }[] = []
    for (let k = 1; k <= trips; k++) moments.push({ k })
    while (moments.length < Math.max(24, trips + 12)) moments.push({ k: 0, ms: Math.floor(Math.random() * (full.ms + 2)) })
    const outcomes: string[] = []
    let probes = 0
    for (const [i, m] of moments.entries()) {
      const r = await publishKilled(t.host, m.k, m.ms)
      const what = m.ms !== undefined ? `killed ${m.ms} ms in` : `killed after trip ${m.k}`
      const rl = await routeLocalnet(t.host)
      const guard = await guardPresent(t.host)
      assert.ok(rl === '0' || guard, `${what}: route_localnet=1 without the guard`)
      if (rl === '1') {
        // The attacker container cannot reach the host's loopback-only service.
        probes++
        assert.equal(await request(t.c2, 'tcp', '127.0.0.1', 7777), null, `${what}: a container reached 127.0.0.1:7777 on the host`)
      }
      // NatRule.gc and Network.gc (a host with no network recorded) both repair route_localnet.
      const report = i % 2 ? await NatRule.gc({ namespace: t.host }) : await Network.gc({ namespace: t.host, store: new MemoryStore() })
      const mapped = (await NatRule.list({ namespace: t.host })).filter((x) => x.kind === 'publish')
      if (mapped.length) {
        // The publish had committed: a mapping is a mapping, route_localnet stays for it, guarded.
        assert.equal(await routeLocalnet(t.host), '1', `${what}: the mapping works`)
        assert.ok(await guardPresent(t.host), `${what}: the mapping is guarded`)
        assert.match((await request(t.host, 'tcp', '127.0.0.1', 8081)) ?? '', /^c1 /, `${what}: the committed mapping works`)
        for (const x of mapped) await x.delete()
      }
      assert.equal(await routeLocalnet(t.host), '0', `${what}: route_localnet off after gc (and delete)`)
      assert.deepEqual(await nftRuleset(t.host).then((rs) => rs.filter((o) => o.table)), [], `${what}: nothing of ours left`)
      outcomes.push(
        `${what}: ${r.killed ? 'killed' : 'finished'}, route_localnet ${rl}, gc turned off [${report.routeLocalnet.join(',')}], mapping ${mapped.length ? 'committed' : 'none'}`,
      )
    }
    if (process.env.NK_VERBOSE) console.log(outcomes.join('\n'))
    assert.ok(moments.length >= 20)
    assert.ok(
      outcomes.some((o) => o.includes('gc turned off [br0]')),
      `at least one kill left netns-kit's record for gc:\n${outcomes.join('\n')}`,
    )
    assert.ok(probes > 0, 'at least one kill left route_localnet on (guarded) and was probed')
  })
})

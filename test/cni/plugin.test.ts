// netns-kit-cni verb by verb, run as a runtime runs it (test/cni/runtime.ts) inside a private
// sandbox host: VERSION, the spec's error codes for bad environments and configurations (refused
// before anything reaches the kernel), ADD's options (CNI_ARGS IP, the ips and mac capabilities,
// extra routes, chaining), DEL's idempotence, CHECK finding what changed, STATUS, GC by valid
// attachments, and concurrent ADDs.
import { strict as assert } from 'node:assert'
import { randomBytes } from 'node:crypto'
import * as path from 'node:path'
import { CniRuntime, type Attachment, type ConfList, type PluginRun } from './runtime'
import { HostSandbox } from './sandbox'
import { netnsKitConflist, netnsKitPluginDir, PLUGIN_TYPE } from './plugin'
import type { Scenario } from './harness'

const root = process.getuid?.() === 0
const rootIt = (title: string, fn: () => Promise<void>) => (root ? it(title, fn) : it(`${title} (pending: needs root)`))

const BASE: Scenario = {
  network: 'pnet',
  cniVersion: '1.1.0',
  bridge: 'nk-pt0',
  subnet: '10.89.5.0/24',
  gateway: '10.89.5.1',
  routes: [{ dst: '0.0.0.0/0' }],
  isGateway: true,
  ipMasq: true,
  hairpinMode: true,
}

const cid = () => randomBytes(32).toString('hex')

describe('netns-kit-cni verbs', function () {
  this.timeout(120000)
  let sb: HostSandbox
  let rt: CniRuntime
  let n = 0

  before(async function () {
    if (!root) return
    sb = await HostSandbox.start({ prefix: 'nk-cniverbs-' })
    rt = new CniRuntime(sb, [netnsKitPluginDir()])
  })
  after(async () => {
    await sb?.close()
  })

  /** A fresh container namespace in the sandbox, and its attachment parameters. */
  async function container(ifname = 'eth0'): Promise<Attachment & { ns: string }> {
    const ns = `c${++n}`
    await sb.sh(`ip netns add ${ns} && ip -n ${ns} link set lo up`)
    return { ns, containerId: cid(), netns: `/run/netns/${ns}`, ifname }
  }

  /** One plugin execution of `list`'s single plugin. */
  function call(command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC', list: ConfList, a?: Attachment, extra: Record<string, unknown> = {}): Promise<PluginRun> {
    const req = { ...CniRuntime.request(list, list.plugins[0]!, { capabilityArgs: a?.capabilityArgs }), ...extra }
    return rt.exec(PLUGIN_TYPE, command, req, a ? CniRuntime.attachmentEnv(a) : {})
  }

  const links = async () => (await sb.ipj('link', 'show')).map((l: { ifname: string }) => l.ifname).sort()
  const addrOf = async (ns: string, ifname = 'eth0') =>
    ((await sb.ipj('-n', ns, 'addr', 'show', 'dev', ifname))[0]?.addr_info ?? [])
      .filter((x: { family: string }) => x.family === 'inet')
      .map((x: { local: string; prefixlen: number }) => `${x.local}/${x.prefixlen}`)

  const list = (s: Partial<Scenario> = {}, extra: Record<string, unknown> = {}) => netnsKitConflist({ ...BASE, ...s }, extra)

  rootIt('VERSION: the versions spoken, cniVersion as asked (or the latest), with or without a request', async () => {
    for (const [input, want] of [
      ['1.0.0', '1.0.0'],
      ['0.4.0', '0.4.0'],
      [undefined, '1.1.0'],
    ] as const) {
      const r = await rt.version(PLUGIN_TYPE, input)
      assert.equal(r.exitCode, 0)
      assert.deepEqual(r.problems, [])
      assert.deepEqual(r.result, { cniVersion: want, supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] })
    }
    const garbage = await sb.exec(rt.find(PLUGIN_TYPE), [], { input: 'not json', env: { PATH: '/usr/bin:/bin', CNI_COMMAND: 'VERSION' } })
    assert.equal(garbage.code, 0)
    assert.equal(JSON.parse(garbage.stdout).cniVersion, '1.1.0')
  })

  rootIt('bad environments and configurations: the spec codes, a JSON error with cniVersion, nothing in the kernel', async () => {
    const a = await container()
    const before = await links()
    const exec = async (env: Record<string, string>, input: string) => {
      const r = await sb.exec(rt.find(PLUGIN_TYPE), [], { input, env: { PATH: '/usr/bin:/bin', ...env } })
      assert.notEqual(r.code, 0, `${JSON.stringify(env)} ${input}: exit ${r.code}`)
      const e = JSON.parse(r.stdout)
      assert.equal(typeof e.msg, 'string')
      assert.equal(typeof e.cniVersion, 'string')
      return e as { code: number; msg: string; details?: string; cniVersion: string }
    }
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns!, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' }
    const good = CniRuntime.request(list(), list().plugins[0]!)
    const bad = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch })
    const ipam = good.ipam as Record<string, unknown>

    // One or two of each code end to end (test/unit/cni.test.ts goes through the variety). 4: the environment.
    assert.equal((await exec({}, JSON.stringify(good))).code, 4)
    assert.match((await exec({ ...env, CNI_NETNS: '' }, JSON.stringify(good))).msg, /\[CNI_NETNS\] missing/)
    assert.equal((await exec({ ...env, CNI_IFNAME: 'a-name-too-long0' }, JSON.stringify(good))).code, 4)
    // 5 and 6: input.
    assert.equal((await exec(env, '')).code, 5)
    assert.equal((await exec(env, '{"cniVersion":')).code, 6)
    // 1: versions.
    const v = await exec(env, bad({ cniVersion: '0.2.0' }))
    assert.deepEqual([v.code, v.cniVersion], [1, '0.2.0'])
    assert.equal((await exec({ ...env, CNI_COMMAND: 'STATUS' }, bad({ cniVersion: '1.0.0' }))).code, 1)
    assert.equal((await exec({ ...env, CNI_COMMAND: 'CHECK' }, bad({ cniVersion: '0.3.1' }))).code, 1)
    // 7: invalid values.
    assert.equal((await exec(env, bad({ name: undefined }))).code, 7)
    assert.equal((await exec(env, bad({ ipam: { ...ipam, ranges: [[{ subnet: '10.89.5.7/24' }]] } }))).code, 7)
    assert.equal((await exec(env, bad({ runtimeConfig: { portMappings: [{ hostPort: 70000, containerPort: 80, protocol: 'tcp' }] } }))).code, 7)
    assert.equal((await exec({ ...env, CNI_COMMAND: 'CHECK' }, JSON.stringify(good))).code, 7, 'CHECK without prevResult')
    // 2: fields netns-kit cannot honour yet, named with their value.
    for (const [patch, key] of [
      [{ ipam: { ...ipam, type: 'host-local' } }, 'ipam.type: "host-local"'],
      [{ isGateway: false }, 'isGateway: false'],
      [
        { ipam: { ranges: [[{ subnet: '10.89.5.0/24', rangeStart: '10.89.5.10', rangeEnd: '10.89.5.20' }]] } },
        'ipam.rangeStart/rangeEnd: 10.89.5.10-10.89.5.20',
      ],
    ] as const) {
      const e = await exec(env, bad(patch))
      assert.equal(e.code, 2, JSON.stringify(patch))
      assert.ok(e.msg.includes(key), `${e.msg} names ${key}`)
    }
    // 8: the plugin's own namespace, or none.
    assert.equal((await exec({ ...env, CNI_NETNS: '/proc/self/ns/net' }, JSON.stringify(good))).code, 8)
    assert.equal((await exec({ ...env, CNI_NETNS: '/run/netns/no-such' }, JSON.stringify(good))).code, 8)
    assert.deepEqual(await links(), before, 'no refusal left anything in the host namespace')
    assert.deepEqual(
      (await sb.ipj('-n', a.ns, 'link', 'show')).map((l: { ifname: string }) => l.ifname),
      ['lo'],
    )
  })

  rootIt('ADD: the result in the spec shape; DEL: idempotent, also with no network, no namespace, no prevResult', async () => {
    const l = list({ network: 'addnet', bridge: 'nk-add0', subnet: '10.89.6.0/24', gateway: '10.89.6.1', dns: { nameservers: ['10.89.6.1'] } })
    const a = await container()
    // DEL before any ADD: no network yet, nothing to do.
    const early = await call('DEL', l, a)
    assert.deepEqual([early.exitCode, early.stdout, early.problems], [0, '', []])
    const add = await call('ADD', l, a)
    assert.equal(add.exitCode, 0, add.stdout)
    assert.deepEqual(add.problems, [])
    const r = add.result!
    assert.equal(r.cniVersion, '1.1.0')
    assert.deepEqual(
      r.interfaces.map((f: { name: string; sandbox?: string }) => [f.name.replace(/^veth[0-9a-f]{7}$/, 'veth*'), f.sandbox]),
      [
        ['nk-add0', undefined],
        ['veth*', undefined],
        ['eth0', a.netns],
      ],
    )
    assert.ok(
      r.interfaces.every((f: { mtu?: number }) => f.mtu === 1500),
      '1.1.0 results carry each interface MTU',
    )
    assert.deepEqual(r.ips, [{ address: '10.89.6.2/24', gateway: '10.89.6.1', interface: 2 }])
    assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }])
    assert.deepEqual(r.dns, { nameservers: ['10.89.6.1'] })
    assert.deepEqual(await addrOf(a.ns), ['10.89.6.2/24'])
    const [eth0] = await sb.ipj('-n', a.ns, 'link', 'show', 'dev', 'eth0')
    assert.equal(eth0.address, r.interfaces[2].mac)
    for (const del of [
      () => call('DEL', l, a, { prevResult: r }),
      () => call('DEL', l, a, { prevResult: r }),
      () => call('DEL', l, { ...a, netns: undefined }),
    ]) {
      const d = await del()
      assert.deepEqual([d.exitCode, d.stdout, d.problems], [0, '', []], d.stdout)
    }
    assert.deepEqual(
      (await sb.ipj('-n', a.ns, 'link', 'show')).map((x: { ifname: string }) => x.ifname),
      ['lo'],
    )
    assert.ok(!(await links()).some((x: string) => x.startsWith('veth')))
    // The namespace gone before DEL: success, and the address comes back to the pool.
    const b = await container()
    const add2 = await call('ADD', l, b)
    assert.equal(add2.result?.ips[0].address, '10.89.6.3/24')
    await sb.run('ip', ['netns', 'del', b.ns])
    const d2 = await call('DEL', l, b, { prevResult: add2.result })
    assert.deepEqual([d2.exitCode, d2.stdout], [0, ''])
    // The store, read inside the sandbox host: no endpoint (and so no address) left, no intent.
    const held = JSON.parse(
      await sb.run(process.execPath, [
        '-e',
        `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new D('/run/netns-kit/state.db', { readonly: true });
      console.log(JSON.stringify(db.prepare("SELECT a.address, e.state FROM endpoints e JOIN networks n ON n.id = e.network_id LEFT JOIN allocations a ON a.endpoint_id = e.id WHERE n.name = 'addnet'").all()))`,
      ]),
    )
    assert.deepEqual(held, [], 'no endpoint holds an address any more')
    assert.ok(!(await links()).some((x: string) => x.startsWith('veth')), 'the veth went with the namespace, its record with DEL')
  })

  rootIt('ADD options: CNI_ARGS IP, the ips and mac capabilities, extra routes, 0.3.1 results, a prevResult kept first', async () => {
    const l = list({
      network: 'optnet',
      bridge: 'nk-opt0',
      subnet: '10.89.7.0/24',
      gateway: '10.89.7.1',
      cniVersion: '0.3.1',
      routes: [{ dst: '0.0.0.0/0' }, { dst: '198.51.100.0/24' }],
    })
    const a = await container()
    const r1 = await call('ADD', l, { ...a, args: 'IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.89.7.50' })
    assert.equal(r1.exitCode, 0, r1.stdout)
    assert.deepEqual(r1.result!.ips, [{ version: '4', address: '10.89.7.50/24', gateway: '10.89.7.1', interface: 2 }])
    assert.deepEqual(r1.result!.routes, [{ dst: '0.0.0.0/0' }, { dst: '198.51.100.0/24' }])
    const routes = (await sb.ipj('-n', a.ns, 'route', 'show')).map((x: { dst: string; gateway?: string }) => `${x.dst} ${x.gateway ?? ''}`.trim())
    assert.ok(routes.includes('198.51.100.0/24 10.89.7.1') && routes.includes('default 10.89.7.1'), routes.join(', '))
    const b = await container()
    const capList = { ...l, plugins: [{ ...l.plugins[0], capabilities: { ips: true, mac: true } }] }
    const r2 = await call('ADD', capList, { ...b, capabilityArgs: { ips: ['10.89.7.60/24'], mac: '02:00:00:00:07:60' } })
    assert.equal(r2.exitCode, 0, r2.stdout)
    assert.equal(r2.result!.ips[0].address, '10.89.7.60/24')
    assert.equal(r2.result!.interfaces[2].mac, '02:00:00:00:07:60')
    assert.equal((await sb.ipj('-n', b.ns, 'link', 'show', 'dev', 'eth0'))[0].address, '02:00:00:00:07:60')
    // Chained after another plugin: its interfaces and addresses stay first, ours follow.
    const c = await container('net1')
    const prev = { cniVersion: '0.3.1', interfaces: [{ name: 'other0' }], ips: [{ version: '4', address: '192.0.2.9/24', interface: 0 }], dns: {} }
    const r3 = await call('ADD', l, c, { prevResult: prev })
    assert.equal(r3.exitCode, 0, r3.stdout)
    assert.deepEqual(r3.problems, [])
    assert.deepEqual(r3.result!.interfaces.map((f: { name: string }) => f.name)[0], 'other0')
    assert.deepEqual(
      r3.result!.ips.map((x: { address: string; interface: number }) => [x.address, x.interface]),
      [
        ['192.0.2.9/24', 0],
        ['10.89.7.2/24', 3],
      ],
    )
    assert.deepEqual(await addrOf(c.ns, 'net1'), ['10.89.7.2/24'])
    for (const x of [a, b, c]) assert.equal((await call('DEL', l, x)).exitCode, 0)
  })

  rootIt('ADD refuses an existing network with other settings, and an interface name the container already has', async () => {
    const l = list({ network: 'samenet', bridge: 'nk-same0', subnet: '10.89.9.0/24', gateway: '10.89.9.1' })
    const a = await container()
    assert.equal((await call('ADD', l, a)).exitCode, 0)
    const before = await links()
    const b = await container()
    const other = list({ network: 'samenet', bridge: 'nk-same0', subnet: '10.89.10.0/24', gateway: '10.89.10.1' })
    const r = await call('ADD', other, b)
    assert.deepEqual([r.exitCode, r.error?.code], [1, 7])
    assert.match(r.error!.details ?? '', /subnet is "10\.89\.9\.0\/24", the configuration says "10\.89\.10\.0\/24"/)
    const again = await call('ADD', l, a)
    assert.equal(again.error?.code, 999)
    assert.match(again.error!.msg, /already exists/)
    assert.deepEqual(await links(), before)
    assert.deepEqual(
      (await sb.ipj('-n', b.ns, 'link', 'show')).map((x: { ifname: string }) => x.ifname),
      ['lo'],
    )
    assert.equal((await call('DEL', l, a)).exitCode, 0)
  })

  rootIt('CHECK: succeeds right after ADD, fails naming what changed (address removed, interface down, host end gone)', async () => {
    const l = list({ network: 'chknet', bridge: 'nk-chk0', subnet: '10.89.11.0/24', gateway: '10.89.11.1' })
    const a = await container()
    const pm = { portMappings: [{ hostPort: 8090, containerPort: 80, protocol: 'tcp' }] }
    const add = await call('ADD', l, { ...a, capabilityArgs: pm })
    assert.equal(add.exitCode, 0, add.stdout)
    const ok = await call('CHECK', l, { ...a, capabilityArgs: pm }, { prevResult: add.result })
    assert.deepEqual([ok.exitCode, ok.stdout, ok.problems], [0, '', []], ok.stdout)
    // Another attachment's host end gone: that is its own CHECK's business, not a's.
    const b = await container()
    const addB = await call('ADD', l, b)
    assert.equal(addB.exitCode, 0, addB.stdout)
    await sb.run('ip', ['link', 'del', addB.result!.interfaces[1].name])
    assert.equal((await call('CHECK', l, { ...a, capabilityArgs: pm }, { prevResult: add.result })).exitCode, 0)
    // The host side as network.check() sees it: after a firewall reload (nft flush ruleset) a's
    // published port and its network's rules are missing; `netns-kit gc` puts them back.
    await sb.run('nft', ['flush', 'ruleset'])
    const flushed = await call('CHECK', l, { ...a, capabilityArgs: pm }, { prevResult: add.result })
    assert.equal(flushed.exitCode, 1)
    assert.match(flushed.error!.details ?? '', /missing/)
    await sb.run(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '..', '..', 'lib', 'cli', 'netns-kit.ts'), 'gc'])
    const repaired = await call('CHECK', l, { ...a, capabilityArgs: pm }, { prevResult: add.result })
    assert.equal(repaired.exitCode, 0, repaired.stdout)
    assert.equal((await call('DEL', l, b)).exitCode, 0)
    await sb.run('ip', ['-n', a.ns, 'addr', 'del', '10.89.11.2/24', 'dev', 'eth0'])
    const noAddr = await call('CHECK', l, a, { prevResult: add.result })
    assert.equal(noAddr.exitCode, 1)
    assert.match(noAddr.error!.details ?? '', /eth0 lacks the address 10\.89\.11\.2\/24/)
    await sb.run('ip', ['-n', a.ns, 'link', 'set', 'eth0', 'down'])
    assert.match((await call('CHECK', l, a, { prevResult: add.result })).error!.details ?? '', /eth0 is down/)
    const host = add.result!.interfaces[1].name
    await sb.run('ip', ['link', 'del', host])
    const gone = await call('CHECK', l, a, { prevResult: add.result })
    assert.match(gone.error!.details ?? '', /no interface eth0|host end .* is gone/)
    assert.equal((await call('DEL', l, a)).exitCode, 0)
  })

  rootIt('STATUS: ready before the network exists and while addresses are free; 50 when the range is used up', async () => {
    const l = list({ network: 'tinynet', bridge: 'nk-tiny0', subnet: '10.89.12.0/30', gateway: '10.89.12.1' })
    const s0 = await call('STATUS', l)
    assert.deepEqual([s0.exitCode, s0.stdout], [0, ''])
    const a = await container()
    assert.equal((await call('ADD', l, a)).exitCode, 0)
    const s1 = await call('STATUS', l)
    assert.deepEqual([s1.exitCode, s1.error?.code], [1, 50])
    assert.match(s1.error!.msg, /no free address/)
    const b = await container()
    const full = await call('ADD', l, b)
    assert.equal(full.exitCode, 1, 'ADD fails when STATUS said so')
    assert.equal((await call('DEL', l, a)).exitCode, 0)
    assert.equal((await call('STATUS', l)).exitCode, 0)
  })

  rootIt('the bridge removed behind its back: CHECK and STATUS say so, DEL still succeeds', async () => {
    const l = list({ network: 'orphnet', bridge: 'nk-orph0', subnet: '10.89.16.0/24', gateway: '10.89.16.1', cniVersion: '1.1.0' })
    const a = await container()
    const add = await call('ADD', l, a)
    assert.equal(add.exitCode, 0, add.stdout)
    await sb.run('ip', ['link', 'del', 'nk-orph0'])
    const chk = await call('CHECK', l, a, { prevResult: add.result })
    assert.match(chk.error?.details ?? '', /the bridge of the network 'orphnet' is gone/)
    const st = await call('STATUS', l)
    assert.equal(st.error?.code, 50)
    const del = await call('DEL', l, a, { prevResult: add.result })
    assert.deepEqual([del.exitCode, del.stdout], [0, ''])
    // The endpoint is disconnected without its network's bridge: its veth (and the container's end) and record go.
    assert.deepEqual(
      (await sb.ipj('-n', a.ns, 'link', 'show')).map((x: { ifname: string }) => x.ifname),
      ['lo'],
    )
    assert.ok(!(await links()).some((x: string) => x.startsWith('veth')))
    assert.deepEqual([(await call('DEL', l, a)).exitCode], [0], 'and again')
  })

  rootIt('GC: removes the attachments not in cni.dev/valid-attachments, keeps the valid ones', async () => {
    const l = list({ network: 'gcnet', bridge: 'nk-gc0', subnet: '10.89.13.0/24', gateway: '10.89.13.1' })
    const [a, b, c] = [await container(), await container(), await container()]
    for (const x of [a, b, c]) assert.equal((await call('ADD', l, x)).exitCode, 0)
    const valid = [
      { containerID: a.containerId, ifname: 'eth0' },
      { containerID: c.containerId, ifname: 'eth0' },
    ]
    const gc = await call('GC', l, undefined, { 'cni.dev/valid-attachments': valid })
    assert.deepEqual([gc.exitCode, gc.stdout, gc.problems], [0, '', []], gc.stdout)
    assert.match(gc.stderr, /gc: removed gcnet\/cni-[0-9a-f]{24}\n/)
    assert.match(gc.stderr, /gc: removed address gcnet\/10\.89\.13\.3\n/)
    assert.deepEqual(await addrOf(a.ns), ['10.89.13.2/24'])
    assert.deepEqual(
      (await sb.ipj('-n', b.ns, 'link', 'show')).map((x: { ifname: string }) => x.ifname),
      ['lo'],
    )
    assert.deepEqual(await addrOf(c.ns), ['10.89.13.4/24'])
    assert.ok(await sb.ping(c.ns, '10.89.13.2'), 'the valid attachments still talk')
    // Without a list, GC removes only what is stale: nothing here.
    assert.equal((await call('GC', l)).exitCode, 0)
    assert.deepEqual(await addrOf(a.ns), ['10.89.13.2/24'])
    for (const x of [a, c]) assert.equal((await call('DEL', l, x)).exitCode, 0)
  })

  rootIt('ADD without CAP_NET_ADMIN (capsh): one error naming it, nothing left half-made; with it, ADD works', async () => {
    const l = list({ network: 'capnet', bridge: 'nk-cap0', subnet: '10.89.15.0/24', gateway: '10.89.15.1' })
    const a = await container()
    const before = await links()
    const req = JSON.stringify(CniRuntime.request(l, l.plugins[0]!))
    const r = await sb.exec('capsh', ['--drop=cap_net_admin', '--', '-c', `exec ${rt.find(PLUGIN_TYPE)}`], {
      input: req,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: 'ADD', ...CniRuntime.attachmentEnv(a), CNI_PATH: '/usr/lib/cni' },
    })
    assert.equal(r.code, 1, r.stdout + r.stderr)
    const e = JSON.parse(r.stdout)
    assert.equal(e.code, 999)
    assert.match(e.msg, /needs CAP_NET_ADMIN/)
    assert.equal(e.details, 'ERR_NETNS_KIT_PRIVILEGES')
    assert.deepEqual(await links(), before)
    const ok = await call('ADD', l, a)
    assert.equal(ok.exitCode, 0, ok.stdout)
    assert.equal(ok.result!.ips[0].address, '10.89.15.2/24')
    assert.equal((await call('DEL', l, a)).exitCode, 0)
  })

  rootIt('concurrent ADDs on a network not yet created: one network, distinct addresses, all reachable', async () => {
    const l = list({ network: 'busynet', bridge: 'nk-busy0', subnet: '10.89.14.0/24', gateway: '10.89.14.1' })
    const cs = await Promise.all([container(), container(), container(), container()])
    const before = await links()
    const adds = await Promise.all(cs.map((x) => call('ADD', l, x)))
    for (const r of adds) assert.equal(r.exitCode, 0, r.stdout + r.stderr)
    const ips = adds.map((r) => r.result!.ips[0].address).sort()
    assert.equal(new Set(ips).size, 4, ips.join(' '))
    for (const [i, r] of adds.entries()) {
      const to = adds[(i + 1) % adds.length]!.result!.ips[0].address.split('/')[0]
      if (!(await sb.ping(cs[i]!.ns, to)) && !(await sb.ping(cs[i]!.ns, to))) {
        const state = await sb.sh(`ip -br link; bridge link; ip -n ${cs[i]!.ns} -br addr; ip -n ${cs[i]!.ns} route; ip -n ${cs[i]!.ns} neigh; nft list ruleset`)
        assert.fail(`${cs[i]!.ns} (${r.result!.ips[0].address}) cannot reach ${to}:\n${state}`)
      }
    }
    const dels = await Promise.all(cs.map((x) => call('DEL', l, x)))
    for (const r of dels) assert.equal(r.exitCode, 0, r.stdout)
    assert.deepEqual(
      (await links()).filter((x: string) => x !== 'nk-busy0'),
      before,
    )
  })
})

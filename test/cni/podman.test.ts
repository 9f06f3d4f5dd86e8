// podman 4.3 with its CNI backend, inside a private sandbox (test/cni/podman.ts): a container gets
// its address, a second one reaches it by address, a published port answers from an outside
// namespace, and after `podman rm` and the sandbox's teardown nothing is left. First with the
// reference plugins (bridge + host-local + portmap), the baseline.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import { PodmanSandbox, podmanUnavailable, REFERENCE_PLUGIN_DIR } from './podman'
import { netnsKitPluginDir, PLUGIN_TYPE } from './plugin'

export const REFERENCE_CONFLIST = {
  cniVersion: '1.0.0',
  plugins: [
    {
      type: 'bridge',
      bridge: 'cni-pm0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.89.7.0/24', gateway: '10.89.7.1' }]], routes: [{ dst: '0.0.0.0/0' }] },
    },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
}

/** The same network for netns-kit-cni: its own IPAM, port mappings as a capability of its own. */
export const NETNS_KIT_CONFLIST = {
  cniVersion: '1.0.0',
  plugins: [
    {
      type: PLUGIN_TYPE,
      bridge: 'nk-pm0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { ranges: [[{ subnet: '10.89.8.0/24', gateway: '10.89.8.1' }]], routes: [{ dst: '0.0.0.0/0' }] },
      capabilities: { portMappings: true },
    },
  ],
}

export interface PodmanScenarioReport {
  ip1: string
  sandboxKey: string
  pingC2toC1: boolean
  published: string
  afterRm: { links: string[]; netns: string[] }
}

/**
 * The podman end-to-end scenario on network `net` (subnet prefix `prefix`): c1 serves HTTP on 80
 * published as 8080; c2 pings c1; an outside namespace fetches 192.0.2.1:8080; c1 is removed.
 */
export async function podmanScenario(pm: PodmanSandbox, net: string, prefix: string): Promise<PodmanScenarioReport> {
  const sb = pm.sandbox
  const r1 = await pm.run({ name: 'c1', network: net, publish: ['8080:80'], cmd: ['httpd', '-f', '-p', '80', '-h', '/www'] })
  assert.equal(r1.code, 0, `podman run c1: ${r1.stderr}`)
  const ip1 = await pm.ip('c1', net)
  assert.ok(ip1.startsWith(prefix), `c1's address ${ip1} is in ${prefix}*`)
  const sandboxKey = await pm.podmanOk(['inspect', 'c1', '--format', '{{.NetworkSettings.SandboxKey}}'])
  // The kernel's view of the container's interface (witness: ip -j -n).
  const nsName = sandboxKey.replace('/run/netns/', '')
  const [eth0] = await sb.ipj('-n', nsName, 'addr', 'show', 'dev', 'eth0')
  assert.ok(
    eth0.addr_info.some((a: { local: string }) => a.local === ip1),
    `eth0 in ${nsName} carries ${ip1}`,
  )
  const routes = await sb.ipj('-n', nsName, 'route', 'show')
  assert.ok(
    routes.some((r: { dst: string }) => r.dst === 'default'),
    'the container has a default route',
  )

  const r2 = await pm.run({ name: 'c2', network: net, detach: false, cmd: ['ping', '-c', '1', '-W', '3', ip1] })
  const pingC2toC1 = r2.code === 0

  const out = await sb.outside()
  const published = await sb.tcp(out.name, out.hostIp, 8080)

  const rm = await pm.podman(['rm', '-f', '-t0', 'c1'])
  assert.equal(rm.code, 0, `podman rm c1: ${rm.stderr}`)
  const links = (await sb.ipj('link', 'show')).map((l: { ifname: string }) => l.ifname)
  const netns = fs.readdirSync(sb.inside('/run/netns'))
  return { ip1, sandboxKey, pingC2toC1, published, afterRm: { links, netns } }
}

/** `it`, or a pending test whose title says in one line why podman tests cannot run here. */
export const podmanIt = (title: string, fn: () => Promise<void>): Mocha.Test => {
  const why = podmanUnavailable()
  return why ? it(`${title} (pending: ${why})`) : it(title, fn)
}

describe('podman 4.3 CNI backend in a private sandbox (reference plugins)', function () {
  this.timeout(240000)
  let pm: PodmanSandbox | undefined

  afterEach(async () => {
    const p = pm
    pm = undefined
    if (!p) return
    const { rm, leaked } = await p.close()
    assert.equal(rm?.code, 0, `podman rm -fa: ${rm?.stderr}`)
    assert.deepEqual(leaked, [], 'no process was left inside the sandbox after podman rm -fa')
    assert.equal(p.sandbox.netnsStillUsed(), false, "the sandbox's network namespace is gone")
    assert.equal(fs.existsSync(p.work), false, 'the work directory is removed')
  })

  podmanIt('bridge + host-local + portmap: address, container to container, published port from outside, nothing left', async () => {
    pm = await PodmanSandbox.start({ conflists: { refnet: REFERENCE_CONFLIST }, pluginDirs: [REFERENCE_PLUGIN_DIR] })
    const r = await podmanScenario(pm, 'refnet', '10.89.7.')
    assert.equal(r.ip1, '10.89.7.2')
    assert.ok(r.pingC2toC1, 'c2 pings c1 by address')
    assert.match(r.published, /hello from the container/)
    assert.deepEqual(r.afterRm.netns, ['outside'], "the containers' namespaces are gone")
    assert.ok(!r.afterRm.links.some((l) => l.startsWith('veth')), `no veth left: ${r.afterRm.links}`)
  })
})

describe('podman 4.3 CNI backend in a private sandbox (netns-kit-cni)', function () {
  this.timeout(300000)
  let pm: PodmanSandbox | undefined

  afterEach(async () => {
    const p = pm
    pm = undefined
    if (!p) return
    const { rm, leaked } = await p.close()
    assert.equal(rm?.code, 0, `podman rm -fa: ${rm?.stderr}`)
    assert.deepEqual(leaked, [], 'no process was left inside the sandbox after podman rm -fa')
    assert.equal(p.sandbox.netnsStillUsed(), false, "the sandbox's network namespace is gone")
  })

  podmanIt('netns-kit-cni: address, container to container, published port from outside; rm leaves no endpoint, rule or veth', async () => {
    pm = await PodmanSandbox.start({ conflists: { nknet: NETNS_KIT_CONFLIST }, pluginDirs: [netnsKitPluginDir(), REFERENCE_PLUGIN_DIR] })
    const r = await podmanScenario(pm, 'nknet', '10.89.8.')
    assert.equal(r.ip1, '10.89.8.2')
    assert.ok(r.pingC2toC1, 'c2 pings c1 by address')
    assert.match(r.published, /hello from the container/)
    assert.deepEqual(r.afterRm.netns, ['outside'], "the containers' namespaces are gone")
    assert.ok(!r.afterRm.links.some((l) => l.startsWith('veth')), `no veth left: ${r.afterRm.links}`)
    // netns-kit's records (the store, read inside the sandbox): the network stays (as the bridge
    // does), no endpoint and no address is left, no intent.
    const rows = JSON.parse(
      await pm.sandbox.run(process.execPath, [
        '-e',
        `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new D('/run/netns-kit/state.db', { readonly: true });
      console.log(JSON.stringify({ networks: db.prepare('SELECT name, state FROM networks').all(), endpoints: db.prepare('SELECT name FROM endpoints').all(),
        allocations: db.prepare('SELECT address FROM allocations').all() }))`,
      ]),
    )
    assert.deepEqual(rows, { networks: [{ name: 'nknet', state: 'ready' }], endpoints: [], allocations: [] })
    const nft = await pm.sandbox.run('nft', ['list', 'table', 'inet', 'netns-kit'])
    assert.ok(!/10\.89\.8\.[2-9]\b/.test(nft), `no rule names a container address:\n${nft}`)
  })
})

// CNI conformance: the same scenarios through the reference plugins (bridge + host-local +
// portmap, containernetworking-plugins) and through netns-kit-cni, each in a private sandbox
// host, compared by the harness (test/cni/harness.ts). The reference run is also the recorded
// baseline: what a runtime sees from the plugins people use today.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import { compareReports, conformanceReport, formatDifferences, REFERENCE, type ConformanceReport, type Difference, type Scenario } from './harness'
import { netnsKitPlugin } from './plugin'

const haveReference = fs.existsSync('/usr/lib/cni/bridge') && process.getuid?.() === 0
const refIt = (title: string, fn: () => Promise<void>) =>
  haveReference ? it(title, fn) : it(`${title} (pending: ${process.getuid?.() !== 0 ? 'needs root' : 'containernetworking-plugins is not installed'})`)

/** A gateway network with masquerading, a published port and DNS settings, as podman writes them. */
export const FULL: Scenario = {
  network: 'confnet',
  cniVersion: '1.0.0',
  bridge: 'cni-conf0',
  subnet: '10.89.3.0/24',
  gateway: '10.89.3.1',
  routes: [{ dst: '0.0.0.0/0' }],
  isGateway: true,
  ipMasq: true,
  hairpinMode: true,
  dns: { nameservers: ['10.89.3.1'], search: ['example.test'] },
  portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
}

/** 0.4.0 (ips carry `version`), an MTU, a range that is a prefix, an extra route, no masquerading. */
export const RANGED: Scenario = {
  network: 'rangenet',
  cniVersion: '0.4.0',
  bridge: 'cni-range0',
  subnet: '10.89.4.0/24',
  gateway: '10.89.4.1',
  rangeStart: '10.89.4.128',
  rangeEnd: '10.89.4.254',
  mtu: 1400,
  routes: [{ dst: '0.0.0.0/0' }, { dst: '198.51.100.0/24', gw: '10.89.4.1' }],
  isGateway: true,
  ipMasq: false,
  hairpinMode: true,
  portMappings: [{ hostPort: 8081, containerPort: 8000, protocol: 'tcp' }],
}

/**
 * Differences from the reference that are known and deliberate, with the reason. The test fails
 * on any other difference, and checks that for these netns-kit-cni is on the right side.
 */
const KNOWN: Record<string, { why: string; ours: (d: Difference) => boolean }> = {
  'IPv6 link-local on the container interface': {
    why: "netns-kit turns IPv6 off on an IPv4-only network's interfaces (Docker's choice): no link-local address, DAD or MLD",
    ours: (d) => d.candidate === false,
  },
  'CHECK succeeds': {
    why: "portmap 1.1.1's CHECK fails when no IPv6 mapping exists ('could not check ipv6 dnat: chain ... not found')",
    ours: (d) => d.candidate === true,
  },
  'per-attachment leftovers after DEL': {
    why: "bridge 1.1.1 returns early from DEL when the namespace is gone and leaves the container's masquerade chain",
    ours: (d) => Array.isArray(d.candidate) && d.candidate.length === 0,
  },
  'spec violations in outputs': {
    why: 'the reference plugins (spec 1.0.0) print errors without cniVersion',
    ours: (d) => Array.isArray(d.candidate) && d.candidate.length === 0,
  },
  'c2 -> host:8080 (published)': {
    why: "portmap's hairpin masquerade covers the container itself, not a neighbour reaching the published port through the host's address",
    ours: (d) => d.candidate === true,
  },
  'c2 -> host:8081 (published)': {
    why: 'as above',
    ours: (d) => d.candidate === true,
  },
}

function unexpected(diffs: Difference[]): Difference[] {
  return diffs.filter((d) => !KNOWN[d.what] || !KNOWN[d.what]!.ours(d))
}

describe('CNI conformance: reference plugins vs netns-kit-cni', function () {
  this.timeout(120000)
  const reports = new Map<string, ConformanceReport>()
  const ref = async (s: Scenario) => {
    const k = `ref:${s.network}`
    if (!reports.has(k)) reports.set(k, await conformanceReport(REFERENCE, s))
    return reports.get(k)!
  }
  const ours = async (s: Scenario) => {
    const k = `ours:${s.network}`
    if (!reports.has(k)) reports.set(k, await conformanceReport(netnsKitPlugin(), s))
    return reports.get(k)!
  }

  refIt('baseline: bridge + host-local + portmap on a gateway network with masquerading and a published port', async () => {
    const r = await ref(FULL)
    assert.deepEqual(r.versions.bridge, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'])
    assert.ok(r.add.ok && r.addSecond.ok, JSON.stringify(r.add))
    // The result: three interfaces (bridge, host veth, container with its sandbox), the address on the container's.
    assert.deepEqual(r.result, {
      cniVersion: '1.0.0',
      keys: ['cniVersion', 'dns', 'interfaces', 'ips', 'routes'],
      interfaces: [
        { role: 'bridge', mac: true, sandbox: false },
        { role: 'host-veth', mac: true, sandbox: false },
        { role: 'container', mac: true, sandbox: true },
      ],
      ips: [{ address: '10.89.3.2/24', gateway: '10.89.3.1', interface: 'container' }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.89.3.1'], search: ['example.test'] },
    })
    assert.deepEqual(r.consistency, [])
    assert.deepEqual(r.container, {
      exists: true,
      kind: 'veth',
      mtu: 1500,
      up: true,
      macMatchesResult: true,
      addresses: ['10.89.3.2/24'],
      ipv6LinkLocal: true,
      routes: ['10.89.3.0/24 dev eth0 scope link src 10.89.3.2', 'default via 10.89.3.1 dev eth0'],
      otherLinks: [],
    })
    assert.deepEqual(r.host, {
      bridge: { exists: true, up: true, mtu: 1500, addresses: ['10.89.3.1/24'] },
      hostVeth: { exists: true, master: 'cni-conf0', hairpin: true, mtu: 1500, up: true, inResult: true },
      ipForward: '1',
    })
    // ADD twice for one (container, ifname): an error, as the spec wants (code 999, no cniVersion).
    assert.deepEqual([r.addAgain.ok, r.addAgain.code, r.addAgain.msg], [false, 999, 'container veth name provided (eth0) already exists'])
    assert.equal(r.check.ok, false, 'portmap 1.1.1 CHECK fails without IPv6 mappings')
    assert.match(r.check.msg ?? '', /could not check ipv6 dnat/)
    // A neighbour on the bridge reaching the published port through the host's address answered
    // in some runs and not in others (with the same rules): not part of the baseline.
    const { 'c2 -> host:8080 (published)': _neighbour, ...reach } = r.reach
    assert.deepEqual(reach, {
      'c1 -> gateway (ping)': true,
      'c2 -> c1 (ping)': true,
      'host -> c1 (ping)': true,
      'c1 -> outside (ping)': true,
      'c1 -> outside: source seen': '192.0.2.1',
      'outside -> host:8080 (published)': true,
      'host -> own address:8080 (published)': true,
      'c1 -> host:8080 (own published port, hairpin)': true,
    })
    assert.ok(r.del.first.ok && r.del.repeat.ok && r.del.netnsGone.ok && r.del.withoutPrevResult.ok)
    assert.deepEqual(r.containerAfterDel, [])
    // The bridge, iptables' nat chains and host-local's lock stay (network state); the masquerade
    // chain of the container whose namespace went first stays too (a reference bug).
    assert.ok(r.leftovers.network.includes('link cni-conf0 bridge'))
    assert.ok(r.leftovers.network.some((x) => x.startsWith('nft chain ip nat CNI-HOSTPORT-DNAT')))
    assert.ok(
      r.leftovers.attachment.some((x) => x.startsWith('nft rule ip nat POSTROUTING') && x.includes('10.89.3.3')),
      r.leftovers.attachment.join('\n'),
    )
    assert.deepEqual(r.leaked, [])
  })

  refIt('baseline: 0.4.0 results carry ips[].version; rangeStart/rangeEnd, MTU and an extra route', async () => {
    const r = await ref(RANGED)
    assert.ok(r.add.ok, JSON.stringify(r.add))
    assert.deepEqual(r.result?.ips, [{ address: '10.89.4.128/24', gateway: '10.89.4.1', interface: 'container', version: '4' }])
    assert.deepEqual(r.result?.routes, [{ dst: '0.0.0.0/0' }, { dst: '198.51.100.0/24', gw: '10.89.4.1' }])
    assert.deepEqual(r.result?.dns, {}, 'an empty dns dictionary when none is configured')
    assert.deepEqual(r.result?.keys, ['cniVersion', 'dns', 'interfaces', 'ips', 'routes'])
    assert.equal(r.container.mtu, 1400)
    assert.ok(r.container.routes.includes('198.51.100.0/24 via 10.89.4.1 dev eth0'), r.container.routes.join('\n'))
    assert.equal(r.reach['c1 -> outside: source seen'], '<c1>', 'no masquerading without ipMasq')
    assert.equal(r.reach['outside -> host:8081 (published)'], true)
    assert.deepEqual(r.problems, ['bridge ADD: error has no cniVersion (spec 1.1 lists it)', 'portmap CHECK: error has no cniVersion (spec 1.1 lists it)'])
  })

  for (const s of [FULL, RANGED]) {
    refIt(`netns-kit-cni behaves as the reference on '${s.network}' (${s.cniVersion}), but for the known differences`, async () => {
      const [a, b] = [await ref(s), await ours(s)]
      const diffs = compareReports(a, b)
      const bad = unexpected(diffs)
      assert.deepEqual(
        bad,
        [],
        `unexpected differences:\n${formatDifferences(bad)}\n\nnetns-kit-cni runs that failed:\n${b.runs
          .filter((x) => x.exitCode)
          .map((x) => `${x.command}: ${x.stdout}${x.stderr}`)
          .join('\n')}`,
      )
      // netns-kit-cni's own bar: conforming output, nothing of the attachments left, nothing leaked.
      assert.deepEqual(b.problems, [])
      assert.deepEqual(b.leftovers.attachment, [])
      assert.deepEqual(b.leaked, [])
      assert.ok(b.check.ok, JSON.stringify(b.check))
    })
  }
})

// netns-kit-cni's parts without the kernel: environment and configuration checks (the spec's
// error codes), rangeStart/rangeEnd as a prefix, result shapes per spec version, the error
// mapping, and the dispatcher's answers that need no privileges (VERSION, refusals).
import { strict as assert } from 'node:assert'
import { parseConfig, rangeToPrefix } from '../../lib/cli/cni/config'
import { parseCniArgs, parseEnv } from '../../lib/cli/cni/env'
import { CniError, toCniError } from '../../lib/cli/cni/errors'
import { runCni } from '../../lib/cli/cni/main'
import { expectedFrom, formatResult, type Attached } from '../../lib/cli/cni/result'
import { checkVerbAllowed, compareVersions } from '../../lib/cli/cni/version'
import { parseIp, parsePrefix } from '../../lib/ipam/ip'
import { NetlinkError, NetnsKitError } from '../../lib/errors'

const conf = (o: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'n1',
    type: 'netns-kit-cni',
    bridge: 'br-n1',
    isGateway: true,
    ipMasq: true,
    ipam: { subnet: '10.1.0.0/24', routes: [{ dst: '0.0.0.0/0' }] },
    ...o,
  })

function code(f: () => unknown): number {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof CniError, String(e))
    return e.code
  }
  assert.fail('did not throw')
}

describe('netns-kit-cni (unit)', () => {
  describe('environment', () => {
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' }
    it('reads the parameters of each verb, as skel requires them', () => {
      const e = parseEnv({ ...env, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.1.0.9' })
      assert.equal(e.command, 'ADD')
      assert.deepEqual(e.path, ['/opt/cni/bin', '/usr/lib/cni'])
      assert.equal(e.args.get('IP'), '10.1.0.9')
      assert.equal(parseEnv({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'a', CNI_IFNAME: 'eth0', CNI_PATH: '/x' }).netns, undefined, 'DEL without CNI_NETNS')
      assert.equal(parseEnv({ CNI_COMMAND: 'VERSION' }).command, 'VERSION')
      assert.equal(parseEnv({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }).command, 'GC')
    })
    it('refuses what the spec forbids with code 4, naming the variables', () => {
      assert.equal(
        code(() => parseEnv({})),
        4,
      )
      assert.throws(() => parseEnv({ CNI_COMMAND: 'ADD' }), /\[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH\] missing/)
      assert.throws(() => parseEnv({ CNI_COMMAND: 'STATUS' }), /\[CNI_PATH\] missing/)
      for (const id of ['-a', '.a', 'a b', 'a/b', 'ä'])
        assert.equal(
          code(() => parseEnv({ ...env, CNI_CONTAINERID: id })),
          4,
          id,
        )
      for (const n of ['.', '..', 'a/b', 'a:b', 'a b', 'x'.repeat(16)])
        assert.equal(
          code(() => parseEnv({ ...env, CNI_IFNAME: n })),
          4,
          n,
        )
      assert.equal(
        code(() => parseCniArgs('IP')),
        4,
      )
      assert.equal(
        code(() => parseEnv({ ...env, CNI_COMMAND: 'INIT' })),
        4,
      )
    })
  })

  describe('configuration', () => {
    it('takes the bridge plugin fields, netns-kit IPAM, capabilities and dns', () => {
      const c = parseConfig(
        conf({
          mtu: 1400,
          hairpinMode: true,
          dns: { nameservers: ['10.1.0.1'], search: ['a.test'] },
          runtimeConfig: {
            portMappings: [
              { hostPort: 8080, containerPort: 80, protocol: 'TCP', hostIP: '' },
              { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
            ],
            mac: '02:00:00:00:00:09',
            ips: ['10.1.0.9/24'],
          },
        }),
        'ADD',
      )
      assert.equal(c.bridge, 'br-n1')
      assert.equal(c.mtu, 1400)
      assert.deepEqual(c.ipam, {
        subnet: '10.1.0.0/24',
        gateway: undefined,
        ipRange: undefined,
        rangeStart: undefined,
        rangeEnd: undefined,
        routes: [{ dst: '0.0.0.0/0' }],
      })
      assert.deepEqual(c.runtimeConfig, {
        portMappings: [
          { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
          { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
        ],
        ips: ['10.1.0.9'],
        mac: '02:00:00:00:00:09',
      })
      assert.deepEqual(c.dns, { nameservers: ['10.1.0.1'], search: ['a.test'] })
      assert.equal(parseConfig(conf({ bridge: undefined }), 'ADD').bridge, 'cni0', "the bridge plugin's default name")
      const dual = parseConfig(
        conf({ ipam: { type: 'netns-kit', ranges: [[{ subnet: '10.2.0.0/16', gateway: '10.2.0.254' }], [{ subnet: 'fd00:2::/64' }]] } }),
        'ADD',
      )
      assert.deepEqual([dual.ipam.subnet, dual.ipam.gateway, dual.ipam.ipv6], ['10.2.0.0/16', '10.2.0.254', { subnet: 'fd00:2::/64', gateway: undefined }])
      const gc = parseConfig(conf({ 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }), 'GC')
      assert.deepEqual(gc.validAttachments, [{ containerID: 'a', ifname: 'eth0' }])
    })
    it('refuses with the spec codes: 6 undecodable, 1 versions, 7 invalid values, 2 unsupported fields', () => {
      assert.equal(
        code(() => parseConfig('{', 'ADD')),
        6,
      )
      assert.equal(
        code(() => parseConfig('[]', 'ADD')),
        6,
      )
      assert.equal(
        code(() => parseConfig(conf({ prevResult: 'x' }), 'DEL')),
        6,
      )
      assert.equal(
        code(() => parseConfig(conf({ 'cni.dev/valid-attachments': [{ containerID: 1 }] }), 'GC')),
        6,
      )
      for (const v of ['0.1.0', '0.2.0', '1.2.0', '2.0.0', undefined])
        assert.equal(
          code(() => parseConfig(conf({ cniVersion: v }), 'ADD')),
          1,
          String(v),
        )
      assert.equal(
        code(() => parseConfig(conf({ cniVersion: 'one' }), 'ADD')),
        6,
      )
      for (const o of [
        { name: '' },
        { name: 'a b' },
        { bridge: 'x'.repeat(16) },
        { mtu: 67 },
        { ipMasq: 1 },
        { ipam: undefined },
        { ipam: { routes: [] } },
        { ipam: { subnet: '10.1.0.1/24' } },
        { ipam: { subnet: '10.1.0.0/24', gateway: '10.2.0.1' } },
        { ipam: { subnet: 'fd00::/64' } },
        { ipam: { subnet: '10.1.0.0/24', routes: [{ dst: '1.2.3.4' }] } },
        { ipam: { subnet: '10.1.0.0/24', routes: [{ dst: '::/0' }] } },
        { ipam: { subnet: '10.1.0.0/24', rangeStart: '10.1.0.20', rangeEnd: '10.1.0.10' } },
        { dns: { nameservers: ['dns.example'] } },
        { runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } },
        { runtimeConfig: { mac: '01:00:5e:00:00:01' } },
        { runtimeConfig: { ips: ['10.1.0.300'] } },
        { stateDir: 'relative' },
        { isGateway: 'yes' },
      ])
        assert.equal(
          code(() => parseConfig(conf(o), 'ADD')),
          7,
          JSON.stringify(o),
        )
      for (const [o, text] of [
        [{ ipam: { type: 'host-local', subnet: '10.1.0.0/24' } }, 'ipam.type: "host-local"'],
        [{ isGateway: false }, 'isGateway: false'],
        [{ hairpinMode: false }, 'hairpinMode: false'],
        [{ promiscMode: true }, 'promiscMode: true'],
        [{ vlan: 5 }, 'vlan: 5'],
        [{ vlanTrunk: [{ id: 5 }] }, 'vlanTrunk'],
        [{ ipam: { subnet: '10.1.0.0/24', resolvConf: '/etc/resolv.conf' } }, 'ipam.resolvConf'],
        [{ ipam: { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.3.0.0/24' }]] } }, 'ipam.ranges[0]'],
      ] as const) {
        const e = (() => {
          try {
            parseConfig(conf(o as Record<string, unknown>), 'ADD')
          } catch (x) {
            return x as CniError
          }
        })()
        assert.equal(e?.code, 2, JSON.stringify(o))
        assert.ok(e!.message.includes(text), `${e!.message} names ${text}`)
      }
    })
    it('rangeStart..rangeEnd is taken when it is a prefix (less the reserved addresses), refused otherwise', () => {
      const sub = parsePrefix('10.1.0.0/24')
      const gw = parseIp('10.1.0.1').value
      const ip = (s: string) => parseIp(s).value
      assert.equal(rangeToPrefix(sub, gw, ip('10.1.0.2'), ip('10.1.0.254')), undefined, 'the whole subnet but network, gateway, broadcast')
      assert.equal(rangeToPrefix(sub, gw, ip('10.1.0.128'), ip('10.1.0.254')), '10.1.0.128/25')
      assert.equal(rangeToPrefix(sub, gw, ip('10.1.0.64'), ip('10.1.0.127')), '10.1.0.64/26')
      assert.equal(rangeToPrefix(sub, gw, ip('10.1.0.1'), ip('10.1.0.127')), '10.1.0.0/25')
      assert.equal(
        code(() => rangeToPrefix(sub, gw, ip('10.1.0.10'), ip('10.1.0.20'))),
        2,
      )
      assert.equal(
        code(() => rangeToPrefix(sub, gw, ip('10.1.0.129'), ip('10.1.0.254'))),
        2,
      )
      const c = parseConfig(conf({ ipam: { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.128', rangeEnd: '10.1.0.254' }]] } }), 'ADD')
      assert.equal(c.ipam.ipRange, '10.1.0.128/25')
    })
  })

  describe('results', () => {
    const a: Attached = {
      bridge: { name: 'br0', mac: '02:00:00:00:00:01', mtu: 1500 },
      host: { name: 'veth1234567', mac: '02:00:00:00:00:02', mtu: 1500 },
      container: { name: 'eth0', mac: '02:42:0a:01:00:02', mtu: 1500, sandbox: '/run/netns/x' },
      ips: [
        { address: '10.1.0.2/24', gateway: '10.1.0.1' },
        { address: 'fd00::2/64', gateway: 'fd00::1' },
      ],
      routes: [{ dst: '0.0.0.0/0' }],
    }
    it('has the shape of the requested version: mtu from 1.1.0, ips[].version before 1.0.0, dns always', () => {
      const v11 = formatResult('1.1.0', a)
      assert.deepEqual(v11.interfaces![2], { name: 'eth0', mac: '02:42:0a:01:00:02', mtu: 1500, sandbox: '/run/netns/x' })
      assert.deepEqual(v11.ips, [
        { address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 2 },
        { address: 'fd00::2/64', gateway: 'fd00::1', interface: 2 },
      ])
      assert.deepEqual(v11.dns, {})
      const v10 = formatResult('1.0.0', a)
      assert.deepEqual(v10.interfaces![0], { name: 'br0', mac: '02:00:00:00:00:01' })
      const v04 = formatResult('0.4.0', a)
      assert.deepEqual(
        v04.ips!.map((x) => x.version),
        ['4', '6'],
      )
      assert.deepEqual(Object.keys(v04), ['cniVersion', 'interfaces', 'ips', 'routes', 'dns'])
    })
    it('keeps a prevResult first and points our addresses at our interface', () => {
      const r = formatResult('1.0.0', a, {
        interfaces: [{ name: 'x0' }],
        ips: [{ address: '192.0.2.1/24', interface: 0 }],
        routes: [{ dst: '192.0.2.0/24' }],
        dns: { nameservers: ['192.0.2.53'] },
      })
      assert.deepEqual(
        r.interfaces!.map((f) => f.name),
        ['x0', 'br0', 'veth1234567', 'eth0'],
      )
      assert.deepEqual(
        r.ips!.map((x) => x.interface),
        [0, 3, 3],
      )
      assert.deepEqual(r.routes, [{ dst: '192.0.2.0/24' }, { dst: '0.0.0.0/0' }])
      assert.deepEqual(r.dns, { nameservers: ['192.0.2.53'] })
      assert.deepEqual(expectedFrom(r as unknown as Record<string, unknown>, 'eth0', '/run/netns/x'), {
        mac: '02:42:0a:01:00:02',
        addresses: ['10.1.0.2/24', 'fd00::2/64'],
        routes: r.routes,
      })
    })
  })

  describe('errors and versions', () => {
    it('maps library failures onto CNI codes', () => {
      assert.equal(toCniError(Object.assign(new TypeError('bad'), { code: 'ERR_INVALID_ARG_VALUE' })).code, 7)
      assert.equal(toCniError(new NetnsKitError('ERR_NETNS_KIT_STORE_CONFLICT', 'busy')).code, 11)
      assert.equal(toCniError(new NetnsKitError('ERR_NETNS_KIT_STORE_BUSY', 'busy')).code, 11)
      // better-sqlite3's own error when a lock escapes the store's retries ("database is locked").
      assert.deepEqual(
        [
          toCniError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })).code,
          toCniError(Object.assign(new Error('x'), { code: 'SQLITE_BUSY_SNAPSHOT' })).code,
        ],
        [11, 11],
      )
      const n = toCniError(new NetlinkError({ errno: -17, syscall: 'RTM_NEWLINK', object: 'br0' }))
      assert.deepEqual([n.code, n.details], [999, 'EEXIST'])
      assert.equal(toCniError(new Error('x')).code, 999)
    })
    it('compares versions and knows when each verb arrived', () => {
      assert.equal(compareVersions('0.4.0', '1.0.0'), -1)
      assert.equal(compareVersions('1.10.0', '1.9.0'), 1)
      assert.doesNotThrow(() => checkVerbAllowed('CHECK', '0.4.0'))
      assert.equal(
        code(() => checkVerbAllowed('CHECK', '0.3.1')),
        1,
      )
      assert.equal(
        code(() => checkVerbAllowed('GC', '1.0.0')),
        1,
      )
      assert.equal(
        code(() => checkVerbAllowed('STATUS', '1.0.0')),
        1,
      )
    })
  })

  describe('dispatcher (no kernel)', () => {
    it('answers VERSION without a configuration and echoes the requested version', async () => {
      assert.deepEqual(JSON.parse((await runCni({ CNI_COMMAND: 'VERSION' }, '')).stdout), {
        cniVersion: '1.1.0',
        supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
      })
      assert.equal(JSON.parse((await runCni({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}')).stdout).cniVersion, '0.4.0')
    })
    it('prints one error object on stdout with the configuration version, a log line on stderr, exit 1', async () => {
      const o = await runCni(
        { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: '/x' },
        conf({ cniVersion: '1.0.0', isGateway: false }),
      )
      assert.equal(o.exitCode, 1)
      const e = JSON.parse(o.stdout)
      assert.deepEqual([e.cniVersion, e.code, e.msg], ['1.0.0', 2, 'unsupported field isGateway: false'])
      assert.match(o.stderr, /^netns-kit-cni: unsupported field isGateway: false/)
      const empty = await runCni({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'a', CNI_IFNAME: 'eth0', CNI_PATH: '/x' }, '')
      assert.deepEqual([empty.exitCode, JSON.parse(empty.stdout).code], [1, 5])
    })
  })
})

// connect's `dns` option (docker --dns/--dns-search/--dns-opt) checked before anything is made,
// and the /etc/netns files a container gets from its endpoints (lib/network/etc-files.ts).
import { strict as assert } from 'node:assert'
import { checkConnectOptions } from '../../lib/network/bridge-options'
import { containerFiles, nsNameOf } from '../../lib/network/etc-files'
import type { EndpointRecord } from '../../lib/ipam/network-store'

function ep(networkId: string, name: string, address: string, more: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: name,
    networkId,
    name,
    aliases: [],
    state: 'connected',
    owner: { pid: 1, start: '1', boot: 'b' },
    ns: { dev: '4', ino: '9', path: '/run/netns/c1' },
    ifname: 'eth0',
    addresses: [{ family: 4, address, subnet: '', prefixLength: 24, gateway: '' }],
    ports: [],
    rules: [],
    gatewayPriority: 0,
    gateway4: true,
    gateway6: false,
    extraHosts: [],
    config: {},
    created: '',
    ...more,
  } as EndpointRecord
}

describe('connect dns option and /etc/netns files', () => {
  it('keeps valid --dns settings and refuses bad ones with ERR_INVALID_ARG_*', () => {
    const ok = checkConnectOptions({ dns: { servers: ['203.0.113.2', 'fd00::53'], search: ['Example.test'], options: ['ndots:2', 'edns0'] } }, 'n', false)
    assert.deepEqual(ok.dns?.servers, ['203.0.113.2', 'fd00::53'])
    assert.deepEqual(ok.dns?.options, ['ndots:2', 'edns0'])
    assert.equal(ok.dns?.search?.length, 1)
    assert.equal(checkConnectOptions({}, 'n', false).dns, undefined)
    const bad: [unknown, string][] = [
      ['8.8.8.8', 'ERR_INVALID_ARG_TYPE'],
      [{ servers: '8.8.8.8' }, 'ERR_INVALID_ARG_TYPE'],
      [{ servers: [53] }, 'ERR_INVALID_ARG_TYPE'],
      [{ servers: ['not-an-ip'] }, 'ERR_INVALID_ARG_VALUE'],
      [{ search: ['bad domain'] }, 'ERR_INVALID_ARG_VALUE'],
      [{ options: ['ndots:2\nnameserver 1.2.3.4'] }, 'ERR_INVALID_ARG_VALUE'],
    ]
    for (const [dns, code] of bad) {
      assert.throws(
        () => checkConnectOptions({ dns } as never, 'n', false),
        (e: Error & { code?: string }) => e.code === code,
        JSON.stringify(dns),
      )
    }
  })

  it("one set of files per container from all its endpoints; the embedded resolver and the endpoint's settings in resolv.conf", () => {
    const files = containerFiles(
      [
        ep('n1', 'web', '10.0.0.2', { aliases: ['www'], dns: { servers: ['203.0.113.2'], search: ['example.test'], options: ['ndots:1'] } }),
        ep('n2', 'web-b', '10.1.0.2', { extraHosts: [{ name: 'gw', ip: '10.9.9.9' }] }),
      ],
      (id) => id === 'n1',
    )
    assert.equal(files.hostname, 'web\n')
    assert.match(files.hosts, /^10\.0\.0\.2\s+web\b/m)
    assert.match(files.hosts, /^10\.1\.0\.2\s+web\b/m)
    assert.match(files.hosts, /\bwww\b/)
    assert.match(files.hosts, /^10\.9\.9\.9\s+gw$/m)
    assert.match(files['resolv.conf'], /^nameserver 127\.0\.0\.11$/m)
    assert.deepEqual(
      files['resolv.conf'].split('\n').filter((l) => l.startsWith('nameserver')),
      ['nameserver 127.0.0.11'],
      'the container asks the resolver',
    )
    assert.match(files['resolv.conf'], /^# Upstream servers: \[203\.0\.113\.2\]$/m, 'which forwards there (as Docker notes its ExtServers)')
    assert.match(files['resolv.conf'], /^search example\.test$/m)
    assert.match(files['resolv.conf'], /ndots:1/)
    // no network with DNS: the endpoint's servers themselves
    const plain = containerFiles([ep('n3', 'db', '10.3.0.2', { dns: { servers: ['203.0.113.2'] } })], () => false)
    assert.match(plain['resolv.conf'], /^nameserver 203\.0\.113\.2$/m)
  })

  it('only a namespace named under /run/netns has /etc/netns files', () => {
    assert.equal(nsNameOf({ path: '/run/netns/c1' }), 'c1')
    assert.equal(nsNameOf({ path: '/proc/123/ns/net' }), undefined)
    assert.equal(nsNameOf({ path: '/run/netns/a/b' }), undefined)
    assert.equal(nsNameOf({}), undefined)
  })
})

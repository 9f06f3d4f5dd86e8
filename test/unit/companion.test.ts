// The companion's pieces that need no root: its name index, its protocol's framing and errors,
// what it reads of a network record and of resolv.conf, where its files are.
import { strict as assert } from 'node:assert'
import { NetlinkError, NetnsKitError } from '../../lib/errors'
import { upstreamsOf } from '../../lib/companion/host-resolv'
import { NameIndex } from '../../lib/companion/names'
import { companionPaths } from '../../lib/companion/paths'
import { fromWire, lineSplitter, toWire } from '../../lib/companion/protocol'
import { netInfo } from '../../lib/companion/server'
import type { EndpointRecord, NetworkRecord } from '../../lib/ipam/network-store'

let n = 0
function ep(networkId: string, name: string, addrs: string[], more: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: `ep${++n}`,
    networkId,
    name,
    aliases: [],
    state: 'connected',
    owner: { pid: 1, start: '1', boot: 'b' },
    ns: { dev: '4', ino: String(n) },
    ifname: 'eth0',
    addresses: addrs.map((a) => ({ family: a.includes(':') ? 6 : 4, address: a, subnet: '', prefixLength: 24, gateway: '' })),
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

describe('companion: name index', () => {
  it('answers names, aliases, hostnames and NAME.NETWORK per network, in any case; PTR with the own name first', () => {
    const idx = new NameIndex()
    const a = ep('n1', 'web', ['10.0.0.2', 'fd00::2'], { aliases: ['www', 'Front'], hostname: 'host-a' })
    idx.set(a, { id: 'n1', name: 'App' })
    assert.deepEqual(idx.lookup('n1', 'WEB.', 4), ['10.0.0.2'])
    assert.deepEqual(idx.lookup('n1', 'front', 6), ['fd00::2'])
    assert.deepEqual(idx.lookup('n1', 'host-a', 4), ['10.0.0.2'])
    assert.deepEqual(idx.lookup('n1', 'www.app', 4), ['10.0.0.2'])
    assert.equal(idx.lookup('n2', 'web', 4), undefined, 'another network knows nothing of it')
    assert.equal(idx.lookup('n1', 'nope', 4), undefined)
    assert.deepEqual(idx.reverse('n1', '10.0.0.2')[0], 'web')
    assert.deepEqual(idx.reverse('n1', 'fd00:0::2')[0], 'web', 'addresses compared canonically')
    // a shared alias resolves to both
    const b = ep('n1', 'web2', ['10.0.0.3'], { aliases: ['www'] })
    idx.set(b, { id: 'n1', name: 'App' })
    assert.deepEqual(idx.lookup('n1', 'www', 4), ['10.0.0.2', '10.0.0.3'])
    // ours without an address of that family: [] (answered empty, not forwarded)
    assert.deepEqual(idx.lookup('n1', 'web2', 6), [])
    idx.delete(a.id)
    assert.deepEqual(idx.lookup('n1', 'www', 4), ['10.0.0.3'])
    assert.equal(idx.lookup('n1', 'front', 4), undefined)
    assert.deepEqual(idx.reverse('n1', '10.0.0.2'), [])
  })

  it('does not answer for an endpoint still connecting; a container on two networks asks its first network first', () => {
    const idx = new NameIndex()
    idx.set(ep('n1', 'db', ['10.0.0.9'], { state: 'connecting' }), { id: 'n1', name: 'one' })
    assert.equal(idx.lookup('n1', 'db', 4), undefined)
    idx.set(ep('n1', 'db2', ['10.0.0.10']), { id: 'n1', name: 'one' })
    idx.set(ep('n2', 'db2', ['10.1.0.10']), { id: 'n2', name: 'two' })
    const order = ['n2', 'n1']
    const view = idx.view(() => order)
    assert.deepEqual(view.lookup('db2', 4), ['10.1.0.10'])
    order.reverse()
    assert.deepEqual(view.lookup('db2', 4), ['10.0.0.10'])
    assert.deepEqual(view.reverse('10.1.0.10'), ['db2', 'db2.two'])
    idx.deleteNetwork('n2')
    assert.equal(idx.lookup('n2', 'db2', 4), undefined)
    assert.equal(idx.size, 2)
  })
})

describe('companion: protocol, network config, resolv.conf, paths', () => {
  it('splits lines across chunks and refuses a line without end', () => {
    const lines: string[] = []
    const feed = lineSplitter((l) => lines.push(l))
    feed(Buffer.from('{"a":1}\n{"b"'))
    feed(Buffer.from(':2}\n\n'))
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}'])
    assert.throws(() => feed(Buffer.alloc(17 * 1024 * 1024, 0x41)), /too long/)
  })

  it("carries errors as the library's classes", () => {
    const k = fromWire(toWire(new NetlinkError({ errno: -98, syscall: 'bind', object: '0.0.0.0:80' })))
    assert.ok(k instanceof NetlinkError)
    assert.equal((k as NetlinkError).code, 'EADDRINUSE')
    assert.match(k.message, /0\.0\.0\.0:80/)
    const s = fromWire(toWire(new NetnsKitError('ERR_NETNS_KIT_NO_ENDPOINT', 'gone')))
    assert.ok(s instanceof NetnsKitError && s.code === 'ERR_NETNS_KIT_NO_ENDPOINT')
    const other = fromWire(toWire(new Error('boom')))
    assert.ok(other instanceof NetnsKitError && other.code === 'ERR_NETNS_KIT_COMPANION' && /boom/.test(other.message))
  })

  it("reads DNS, internal and upstreams from a bridge network's config", () => {
    const rec = (driver: string, config: Record<string, unknown>) => ({ id: 'x', name: 'n', driver, config }) as unknown as NetworkRecord
    assert.deepEqual(netInfo(rec('bridge', { dns: true })), { id: 'x', name: 'n', dns: true, internal: false, upstream: undefined })
    assert.equal(netInfo(rec('bridge', { dns: false })).dns, false)
    assert.equal(netInfo(rec('bridge', {})).dns, false, 'as bridgeConfig(): no dns key, no DNS')
    assert.equal(netInfo(rec('macvlan', { dns: true })).dns, false)
    assert.deepEqual(netInfo(rec('bridge', { dns: true, upstream: ['1.2.3.4', 5], internal: true })).upstream, ['1.2.3.4'])
    assert.equal(netInfo(rec('bridge', { internal: true })).internal, true)
  })

  it("takes the host's nameservers as upstreams, loopback ones included (queries leave from the host)", () => {
    assert.deepEqual(upstreamsOf('nameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch x\n'), ['127.0.0.53', '10.0.0.1'])
    assert.deepEqual(upstreamsOf(''), [])
  })

  it('names one companion per host namespace and store', () => {
    const a = companionPaths({ dev: '4', ino: '4026531840' }, '/run/netns-kit/state.db')
    assert.match(a.socket, /^\/run\/netns-kit\/companion-4026531840-[0-9a-f]{8}\.sock$/)
    assert.equal(a.pid, a.socket.replace(/\.sock$/, '.pid'))
    assert.notEqual(companionPaths({ dev: '4', ino: '4026531840' }, '/tmp/other.db').key, a.key)
    assert.notEqual(companionPaths({ dev: '5', ino: '4026531840' }, '/run/netns-kit/state.db').key, a.key)
    assert.ok(a.socket.length < 108, 'fits sockaddr_un')
  })
})

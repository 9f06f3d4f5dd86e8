// Issue 13's pieces that need no kernel: the names a container on several networks resolves,
// the host's reserved-port list, and the connect options that came with it.
import { strict as assert } from 'node:assert'
import { DnsRecords } from '../../lib/dns'
import { parsePortList } from '../../lib/nat'
import { checkConnectOptions, publishFamily } from '../../lib/network/bridge-options'
import { ContainerNames } from '../../lib/network/dns'
import type { Namespace } from '../../lib/namespace'

function member(networkId: string, name: string, entries: Record<string, string[]>, upstream?: string[]) {
  const records = new DnsRecords()
  for (const [id, addresses] of Object.entries(entries)) records.set(id, { names: [id], addresses })
  return { networkId, endpointId: `ep-${networkId}`, name, records, upstream: upstream && { servers: upstream, namespace: {} as Namespace } }
}

describe('issue 13 (no kernel)', () => {
  it('ContainerNames: the names of every network, NAME.NETWORK, PTR, the first forwarding network', () => {
    const names = new ContainerNames()
    names.members.push(member('a', 'front', { web: ['172.20.0.2', 'fd00::2'], both: ['172.20.0.9'] }))
    names.members.push(member('b', 'back.end', { db: ['172.21.0.3'], both: ['172.21.0.9'] }, ['10.0.0.53']))
    assert.deepEqual(names.lookup('web', 4), ['172.20.0.2'])
    assert.deepEqual(names.lookup('WEB.', 6), ['fd00::2'])
    assert.deepEqual(names.lookup('db', 4), ['172.21.0.3'])
    assert.deepEqual(names.lookup('both', 4), ['172.20.0.9'], 'a name on both networks: the first network answers (as Docker)')
    assert.deepEqual(names.lookup('web.front', 4), ['172.20.0.2'], 'NAME.NETWORK')
    assert.deepEqual(names.lookup('db.back.end', 4), ['172.21.0.3'], 'a network name with a dot')
    assert.deepEqual(names.lookup('both.back.end', 4), ['172.21.0.9'], 'NAME.NETWORK asks that network only')
    assert.equal(names.lookup('db.front', 4), undefined, 'db is not on front: not ours (forwarded)')
    assert.equal(names.owns('db.front'), true, 'but inside a zone of ours: NXDOMAIN, not forwarded')
    assert.equal(names.owns('DB.Front.'), true)
    assert.equal(names.owns('front'), false)
    assert.equal(names.owns('www.example.com'), false)
    assert.equal(names.lookup('front', 4), undefined)
    assert.deepEqual(names.lookup('web', 4), ['172.20.0.2'])
    assert.deepEqual(names.reverse('172.21.0.3'), ['db'])
    assert.deepEqual(names.upstream()?.servers, ['10.0.0.53'], 'the first network that forwards (front is internal)')
    names.members.splice(1, 1)
    assert.equal(names.lookup('db', 4), undefined)
    assert.equal(names.upstream(), undefined)
  })

  it('ip_local_reserved_ports is parsed as the kernel writes it', () => {
    assert.deepEqual(parsePortList(''), [])
    assert.deepEqual(parsePortList('8080\n'), [[8080, 8080]])
    assert.deepEqual(parsePortList('8080,9000-9010,70000,5-3'), [
      [8080, 8080],
      [9000, 9010],
    ])
  })

  it('publishFamily: no hostIp is both families on a dual-stack network; an IPv6 hostIp needs one', () => {
    assert.deepEqual(publishFamily(undefined, true), { family: 4, dualStack: true })
    assert.deepEqual(publishFamily(undefined, false), { family: 4, dualStack: false })
    assert.deepEqual(publishFamily('::', true), { family: 6, dualStack: false })
    assert.deepEqual(publishFamily('0.0.0.0', true), { family: 4, dualStack: false })
    assert.throws(() => checkConnectOptions({ publish: [{ containerPort: 80, hostIp: '::' }] }, 'n4', false), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: /opts\.publish\[0\]\.hostIp.*IPv4.*'n4' has no IPv6 subnet/,
    })
    assert.throws(() => checkConnectOptions({ publish: [{ containerPort: 80, hostIp: '::1' }] }, 'n4', false), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: /IPv4/,
    })
  })

  it('connect options: ifname absent is automatic, defaultRoute, localhost, extraHosts checked before anything', () => {
    const o = checkConnectOptions({}, 'n', false)
    assert.equal(o.ifname, undefined)
    assert.equal(o.defaultRoute, true)
    assert.deepEqual(o.extraHosts, [])
    assert.equal(checkConnectOptions({ defaultRoute: false }, 'n', false).defaultRoute, false)
    assert.throws(() => checkConnectOptions({ defaultRoute: 'no' as unknown as boolean }, 'n', false), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.deepEqual(checkConnectOptions({ publish: [{ containerPort: 80, localhost: false }] }, 'n', false).publish, [
      { protocol: 'tcp', containerPort: 80, hostPort: undefined, hostIp: undefined, localhost: false },
    ])
    assert.throws(() => checkConnectOptions({ publish: [{ containerPort: 80, hostIp: '10.0.0.1', localhost: true }] }, 'n', false), {
      code: 'ERR_INVALID_ARG_VALUE',
    })
    assert.equal(checkConnectOptions({ publish: [{ containerPort: 80, hostIp: '0:0::0' }] }, 'n', true).publish[0]!.hostIp, '::')
    assert.throws(() => checkConnectOptions({ publish: [{ containerPort: 80, hostIp: '::1' }] }, 'n', true), { code: 'ERR_INVALID_ARG_VALUE', message: /::1/ })
    assert.deepEqual(checkConnectOptions({ extraHosts: ['a:10.0.0.1', 'b=fd00::1', 'c:[FD00::2]', 'gw:host-gateway'] }, 'n', false).extraHosts, [
      { name: 'a', ip: '10.0.0.1' },
      { name: 'b', ip: 'fd00::1' },
      { name: 'c', ip: 'fd00::2' },
      { name: 'gw', ip: 'host-gateway' },
    ])
    for (const bad of ['a', ':10.0.0.1', 'a:', 'a b:10.0.0.1', 'a:10.0.0.300']) {
      assert.throws(() => checkConnectOptions({ extraHosts: [bad] }, 'n', false), { code: 'ERR_INVALID_ARG_VALUE' }, bad)
    }
    assert.throws(() => checkConnectOptions({ extraHosts: 'a:1.2.3.4' as unknown as string[] }, 'n', false), { code: 'ERR_INVALID_ARG_TYPE' })
  })
})

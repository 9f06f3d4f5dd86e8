// The one-time import of a 0.1 FileStore directory (written here by the 0.1 FileStore and Ipam)
// into the SQLite store; Network's own records are imported in test/integration/store-import.test.ts.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { FileStore, Ipam } from '../../lib/ipam'
import { SqliteStore } from '../../lib/ipam/sqlite-store'
import { bootId, currentOwner } from '../../lib/ipam/owner'

describe('SqliteStore: import of a 0.1 FileStore', function () {
  this.timeout(20000)
  let root: string
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-import-')) })
  afterEach(() => { fs.rmSync(root, { recursive: true, force: true }) })

  it('IPAM networks, pools, cursors and allocations come over once; the directory is renamed aside', async () => {
    const ipam = new Ipam({ store: new FileStore({ root }) })
    await ipam.createNetwork('mv', { subnet: '10.80.0.0/24', ipRange: '10.80.0.128/25', labels: { k: 'v' } })
    await ipam.createNetwork('dual', { subnet: '10.81.0.0/24', ipv6: { subnet: 'fd00:81::/64' } })
    const a1 = await ipam.allocate('mv', { owner: 'macvlan:1:x:0' })
    const a2 = await ipam.allocate('mv', { owner: 'macvlan:1:x:1' })
    await ipam.allocate('dual', { owner: 'o6', family: 6 })
    const mvId = (await ipam.network('mv')).id
    const s = new SqliteStore({ path: path.join(root, 'state.db') })
    try {
      const nets = await s.networks()
      assert.deepEqual(nets.map((n) => [n.name, n.driver, n.host, n.state]), [['dual', 'ipam', null, 'ready'], ['mv', 'ipam', null, 'ready']])
      const mv = nets.find((n) => n.name === 'mv')!
      assert.deepEqual(mv.pools, [{ family: 4, subnet: '10.80.0.0/24', gateway: '10.80.0.1', ipRange: '10.80.0.128/25' }])
      assert.deepEqual(mv.labels, { k: 'v' })
      assert.equal(mv.id, mvId)
      assert.ok(s.imported)
      assert.deepEqual({ ...s.imported, renamedTo: undefined }, { networks: 2, endpoints: 0, allocations: 3, renamedTo: undefined })
      assert.ok(!fs.existsSync(path.join(root, 'ipam')))
      assert.ok(fs.existsSync(path.join(s.imported.renamedTo, 'networks.json')), 'renamed aside, not deleted')
      // the allocations hold their addresses: the next one follows the imported cursor
      assert.deepEqual([a1.address, a2.address], ['10.80.0.128', '10.80.0.129'])
      const n = await s.beginConnect(mv.id, { name: 'c', ns: { dev: '4', ino: '9' }, addresses: [{ family: 4 }] })
      assert.equal(n.endpoint.addresses[0]!.address, '10.80.0.130')
      await assert.rejects(s.beginConnect(mv.id, { name: 'd', ns: { dev: '4', ino: '10' }, addresses: [{ family: 4, ip: a1.address }] }), { code: 'ERR_NETNS_KIT_IP_IN_USE' })
      // the subnets stay claimed store-wide
      await assert.rejects(s.beginCreateNetwork({ name: 'x', driver: 'bridge', host: { dev: '4', ino: '1' }, pools: [{ subnet: '10.81.0.0/16' }] }), { code: 'ERR_NETNS_KIT_SUBNET_OVERLAP' })
    } finally {
      await s.close()
    }
    // once: a FileStore directory appearing again later is not imported a second time
    await new Ipam({ store: new FileStore({ root }) }).createNetwork('late', { subnet: '10.82.0.0/24' })
    const again = new SqliteStore({ path: path.join(root, 'state.db') })
    try {
      assert.deepEqual((await again.networks()).map((n) => n.name), ['dual', 'mv'])
      assert.equal(again.imported, undefined)
    } finally {
      await again.close()
    }
  })

  it('an endpoint record left connecting by 0.1: owned by its pid only if that process started before the record was written', async () => {
    const fst = new FileStore({ root })
    const ipam = new Ipam({ store: fst })
    const net = await ipam.createNetwork('br', { subnet: '10.83.0.0/24' })
    await ipam.allocate('br', { owner: 'e1' })
    await ipam.allocate('br', { owner: 'e2' })
    const host = { path: '/proc/1/ns/net', dev: '4', ino: '4026531840' }
    const rec = (id: string, pid: number, ip: string) => ({
      id, network: 'br', networkId: net.id, name: id, ip, mac: '02:42:0a:53:00:02', ifname: 'eth0', hostIf: `veth${id}`, aliases: [],
      ns: { path: `/run/netns/${id}`, dev: '4', ino: id === 'e1' ? '4026540001' : '4026540002' }, state: 'connecting', pid, ports: [{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8000 + pid % 1000, containerPort: 80 }], rules: [`rule-${id}`],
    })
    await fst.compareAndSwap('network.br', null, { name: 'br', id: net.id, bridge: 'br-x', subnet: '10.83.0.0/24', gateway: '10.83.0.1', masquerade: true, icc: true, internal: false, dns: true, host, rules: ['masq-1'], created: net.created })
    await fst.compareAndSwap('endpoint.br.e1', null, rec('e1', process.pid, '10.83.0.2'))
    await fst.compareAndSwap('endpoint.br.e2', null, rec('e2', 1, '10.83.0.3'))
    // e1 written (as its time says) long before the process now holding its pid started: a reused pid.
    // e2's pid 1 started before its record was written: taken as its owner.
    fs.utimesSync(path.join(root, 'ipam', 'endpoint.br.e1.json'), new Date(0), new Date(0))
    const s = new SqliteStore({ path: path.join(root, 'state.db') })
    try {
      const [n] = await s.networks({ host })
      assert.equal(n!.driver, 'bridge')
      assert.deepEqual(n!.config, { bridge: 'br-x', masquerade: true, icc: true, internal: false, dns: true })
      assert.deepEqual(n!.rules, ['masq-1'])
      const eps = await s.endpoints(n!.id)
      assert.deepEqual(eps.map((e) => [e.name, e.state, e.addresses[0]?.address, e.rules, e.hostIf]), [
        ['e1', 'connecting', '10.83.0.2', ['rule-e1'], 'vethe1'], ['e2', 'connecting', '10.83.0.3', ['rule-e2'], 'vethe2']])
      assert.deepEqual(eps[0]!.owner, { pid: process.pid, start: 'unknown', boot: bootId() })
      assert.equal(eps[1]!.owner.pid, 1)
      assert.deepEqual((await s.orphans()).map((o) => o.id), ['e1'])
      assert.notDeepEqual(eps[0]!.owner, currentOwner())
      assert.equal((await s.endpointByHostIf(host, 'vethe2'))?.id, 'e2')
    } finally {
      await s.close()
    }
  })
})

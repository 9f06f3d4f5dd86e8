// The one-time import of a 0.1 FileStore directory into the SQLite store: directories the 0.1
// FileStore wrote (test/fixtures/filestore-0.1: IPAM's records, and Network's), and records
// written here in its format (`ROOT/ipam/KEY.json`, `{ revision, value }`).
import { strict as assert } from 'node:assert'
import { randomUUID } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { SqliteStore } from '../../lib/ipam/sqlite-store'
import { bootId, currentOwner } from '../../lib/ipam/owner'

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'filestore-0.1')

/** A 0.1 FileStore directory under `root` (ROOT/ipam) with the records of fixture `name`. */
function fixture(root: string, name: string): void {
  fs.cpSync(path.join(FIXTURES, name), path.join(root, 'ipam'), { recursive: true, filter: (f) => !f.endsWith('.md') })
}

/** Writes one record as the 0.1 FileStore did. */
function write01(root: string, key: string, value: unknown): void {
  fs.mkdirSync(path.join(root, 'ipam'), { recursive: true, mode: 0o700 })
  fs.writeFileSync(path.join(root, 'ipam', `${key}.json`), JSON.stringify({ revision: randomUUID(), value }, null, 1), { mode: 0o600 })
}

describe('SqliteStore: import of a 0.1 FileStore', function () {
  this.timeout(20000)
  let root: string
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-import-'))
  })
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true })
  })

  it('IPAM networks, pools, cursors and allocations come over once; the directory is renamed aside', async () => {
    fixture(root, 'ipam-only')
    const a1 = { address: '10.80.0.128' }
    const a2 = { address: '10.80.0.129' }
    const mvId = '56f50f40-cd75-456c-8376-018b83a3e0f0'
    const s = new SqliteStore({ path: path.join(root, 'state.db') })
    try {
      const nets = await s.networks()
      assert.deepEqual(
        nets.map((n) => [n.name, n.driver, n.host, n.state]),
        [
          ['dual', 'ipam', null, 'ready'],
          ['mv', 'ipam', null, 'ready'],
        ],
      )
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
      await assert.rejects(s.beginConnect(mv.id, { name: 'd', ns: { dev: '4', ino: '10' }, addresses: [{ family: 4, ip: a1.address }] }), {
        code: 'ERR_NETNS_KIT_IP_IN_USE',
      })
      // the subnets stay claimed store-wide
      await assert.rejects(s.beginCreateNetwork({ name: 'x', driver: 'bridge', host: { dev: '4', ino: '1' }, pools: [{ subnet: '10.81.0.0/16' }] }), {
        code: 'ERR_NETNS_KIT_SUBNET_OVERLAP',
      })
    } finally {
      await s.close()
    }
    // once: a FileStore directory appearing again later is not imported a second time
    write01(root, 'networks', {
      networks: {
        late: {
          name: 'late',
          id: randomUUID(),
          pools: [{ family: 4, subnet: '10.82.0.0/24', gateway: '10.82.0.1' }],
          labels: {},
          created: new Date().toISOString(),
        },
      },
    })
    const again = new SqliteStore({ path: path.join(root, 'state.db') })
    try {
      assert.deepEqual(
        (await again.networks()).map((n) => n.name),
        ['dual', 'mv'],
      )
      assert.equal(again.imported, undefined)
    } finally {
      await again.close()
    }
  })

  it('an endpoint record left connecting by 0.1: owned by its pid only if that process started before the record was written', async () => {
    const net = { id: randomUUID(), created: new Date().toISOString() }
    write01(root, 'networks', {
      networks: { br: { name: 'br', id: net.id, pools: [{ family: 4, subnet: '10.83.0.0/24', gateway: '10.83.0.1' }], labels: {}, created: net.created } },
    })
    const at = new Date().toISOString()
    write01(root, 'alloc.br', {
      networkId: net.id,
      pools: { '10.83.0.0/24': { addresses: { '10.83.0.2': { owner: 'e1', at }, '10.83.0.3': { owner: 'e2', at } }, cursor: '10.83.0.3' } },
    })
    const host = { path: '/proc/1/ns/net', dev: '4', ino: '4026531840' }
    const rec = (id: string, pid: number, ip: string) => ({
      id,
      network: 'br',
      networkId: net.id,
      name: id,
      ip,
      mac: '02:42:0a:53:00:02',
      ifname: 'eth0',
      hostIf: `veth${id}`,
      aliases: [],
      ns: { path: `/run/netns/${id}`, dev: '4', ino: id === 'e1' ? '4026540001' : '4026540002' },
      state: 'connecting',
      pid,
      ports: [{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8000 + (pid % 1000), containerPort: 80 }],
      rules: [`rule-${id}`],
    })
    write01(root, 'network.br', {
      name: 'br',
      id: net.id,
      bridge: 'br-x',
      subnet: '10.83.0.0/24',
      gateway: '10.83.0.1',
      masquerade: true,
      icc: true,
      internal: false,
      dns: true,
      host,
      rules: ['masq-1'],
      created: net.created,
    })
    write01(root, 'endpoint.br.e1', rec('e1', process.pid, '10.83.0.2'))
    write01(root, 'endpoint.br.e2', rec('e2', 1, '10.83.0.3'))
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
      assert.deepEqual(
        eps.map((e) => [e.name, e.state, e.addresses[0]?.address, e.rules, e.hostIf]),
        [
          ['e1', 'connecting', '10.83.0.2', ['rule-e1'], 'vethe1'],
          ['e2', 'connecting', '10.83.0.3', ['rule-e2'], 'vethe2'],
        ],
      )
      assert.deepEqual(eps[0]!.owner, { pid: process.pid, start: 'unknown', boot: bootId() })
      assert.equal(eps[1]!.owner.pid, 1)
      assert.deepEqual(
        (await s.orphans()).map((o) => o.id),
        ['e1'],
      )
      assert.notDeepEqual(eps[0]!.owner, currentOwner())
      assert.equal((await s.endpointByHostIf(host, 'vethe2'))?.id, 'e2')
    } finally {
      await s.close()
    }
  })

  it('a bridge network with an endpoint written by Network 0.1: the network, endpoint, address, port and rules come over', async () => {
    fixture(root, 'network')
    const s = new SqliteStore({ path: path.join(root, 'state.db') })
    try {
      const n = await s.networkByName({ dev: '4', ino: '4026532533' }, 'front')
      assert.ok(n, 'the network, in its host namespace')
      assert.equal(n.id, 'b20ec63d-a2b6-4bb3-8d18-7521fd0936f1')
      assert.equal(n.driver, 'bridge')
      assert.equal(n.state, 'ready')
      assert.equal(n.config.bridge, 'br-3c600667a157')
      assert.deepEqual(n.pools, [{ family: 4, subnet: '172.29.0.0/24', gateway: '172.29.0.1' }])
      assert.deepEqual(n.rules, ['9f18af51', 'cd8f2e83'], 'masquerade and isolation')
      const e = await s.endpointByName(n.id, 'WEB')
      assert.ok(e)
      assert.equal(e.state, 'connected')
      assert.equal(e.hostIf, 'veth3543842')
      assert.deepEqual(e.ns, { path: '/run/netns/nk-capc', dev: '4', ino: '4026533305' })
      assert.deepEqual(
        e.addresses.map((a) => a.address),
        ['172.29.0.2'],
      )
      assert.deepEqual(
        e.ports.map((p) => [p.protocol, p.hostIp, p.hostPort, p.containerPort]),
        [['tcp', '0.0.0.0', 18080, 80]],
      )
      assert.deepEqual(e.rules, ['c62425ca'])
      assert.deepEqual(
        (await s.resolve(n.id, 'WWW')).map((x) => x.id),
        [e.id],
      )
      // the address and the port stay claimed
      await assert.rejects(s.beginConnect(n.id, { name: 'x', ns: { dev: '4', ino: '5' }, addresses: [{ family: 4, ip: '172.29.0.2' }] }), {
        code: 'ERR_NETNS_KIT_IP_IN_USE',
      })
      await assert.rejects(
        s.beginConnect(n.id, { name: 'y', ns: { dev: '4', ino: '6' }, addresses: [{ family: 4 }], ports: [{ containerPort: 1, hostPort: 18080 }] }),
        { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' },
      )
      assert.ok(s.imported && fs.existsSync(s.imported.renamedTo))
    } finally {
      await s.close()
    }
  })
})

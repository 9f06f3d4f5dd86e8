// A 0.1 FileStore directory written by Network itself (a bridge network in a throwaway "host"
// namespace, one container connected with a name, an alias and a published port) imported into
// the SQLite store: the records match what the kernel has.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { FileStore, Network } from '../../lib'
import { handleOf } from '../../lib/kernel/handles'
import { SqliteStore } from '../../lib/ipam/sqlite-store'
import { Sandbox, ipj } from '../helpers'

describe('SqliteStore: import of a FileStore written by Network', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  let tmp: string
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-import-net-')) })
  afterEach(async () => {
    await sb.cleanup()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('networks, endpoints, addresses, ports and rules come over; the kernel agrees', async () => {
    const host = await sb.ns()
    const c = await sb.ns()
    const store = new FileStore({ root: tmp })
    const net = await Network.create({ name: 'front', namespace: host, store, subnet: '172.29.0.0/24', dns: false })
    const ep = await net.connect(c, { name: 'Web', aliases: ['www'], publish: [{ containerPort: 80, hostPort: 18080 }] })
    const s = new SqliteStore({ path: path.join(tmp, 'state.db') })
    try {
      const h = handleOf(host)
      const n = await s.networkByName({ dev: String(h.dev), ino: String(h.ino) }, 'front')
      assert.ok(n, 'the network, in its host namespace')
      assert.equal(n.id, net.id)
      assert.equal(n.driver, 'bridge')
      assert.equal(n.config.bridge, net.bridge.name)
      assert.deepEqual(n.pools, [{ family: 4, subnet: '172.29.0.0/24', gateway: '172.29.0.1' }])
      assert.equal(n.rules.length, 2, 'masquerade and isolation')
      const e = await s.endpointByName(n.id, 'web')
      assert.ok(e)
      assert.equal(e.state, 'connected')
      assert.equal(e.hostIf, ep.hostInterface)
      assert.deepEqual(e.ports.map((p) => [p.protocol, p.hostIp, p.hostPort, p.containerPort]), [['tcp', '0.0.0.0', 18080, 80]])
      assert.equal(e.rules.length, 1)
      assert.deepEqual((await s.resolve(n.id, 'WWW')).map((x) => x.id), [e.id])
      // Witnesses: the container has the imported address; the host end is on the bridge.
      const [link] = await ipj(c, 'addr', 'show', 'dev', 'eth0')
      assert.deepEqual(link.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string }) => a.local), [e.addresses[0]!.address])
      const [veth] = await ipj(host, 'link', 'show', 'dev', e.hostIf!)
      assert.equal(veth.master, net.bridge.name)
      // the address and the port stay claimed
      await assert.rejects(s.beginConnect(n.id, { name: 'x', ns: { dev: '4', ino: '5' }, addresses: [{ family: 4, ip: ep.ip }] }), { code: 'ERR_NETNS_KIT_IP_IN_USE' })
      await assert.rejects(s.beginConnect(n.id, { name: 'y', ns: { dev: '4', ino: '6' }, addresses: [{ family: 4 }], ports: [{ containerPort: 1, hostPort: 18080 }] }), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
      assert.ok(s.imported && fs.existsSync(s.imported.renamedTo))
    } finally {
      await s.close()
    }
  })
})

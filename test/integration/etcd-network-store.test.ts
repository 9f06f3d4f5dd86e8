// The NetworkStore contract against EtcdNetworkStore on a real etcd (127.0.0.1, data in a temp
// folder), each test under its own key prefix; then two "hosts" sharing one etcd.
import { strict as assert } from 'node:assert'
import { randomBytes } from 'node:crypto'
import { Etcd3 } from 'etcd3'
import { EtcdNetworkStore } from '../../lib/ipam/etcd-network-store'
import { startEtcd, type LocalEtcd } from '../etcd'
import { sh } from '../helpers'
import { storeContract } from '../store-contract'

let etcd: LocalEtcd | undefined
/** One client for every store of this file (a client per store would leave sockets closing in the background). */
let client: Etcd3 | undefined

describe('EtcdNetworkStore (a real etcd on 127.0.0.1)', function () {
  this.timeout(60000)
  before(async () => {
    etcd = await startEtcd()
    client = new Etcd3({ hosts: etcd.endpoint })
  })
  after(async () => {
    client?.close()
    client = undefined
    await etcd?.stop()
    etcd = undefined
  })

  storeContract('EtcdNetworkStore', async () => new EtcdNetworkStore({ etcd: client!, prefix: `nk-${randomBytes(4).toString('hex')}/`, hostId: 'h1' }))

  it('two hosts share names and subnets of networks of every host; their namespaces and host ports stay apart', async () => {
    const prefix = `nk-${randomBytes(4).toString('hex')}/`
    const h1 = new EtcdNetworkStore({ etcd: client!, prefix, hostId: 'h1' })
    const h2 = new EtcdNetworkStore({ etcd: client!, prefix, hostId: 'h2' })
    try {
      const ov = await h1.beginCreateNetwork({ name: 'ov', driver: 'overlay', host: null, pools: [{ subnet: '10.90.0.0/24' }] })
      await h1.finishCreateNetwork(ov.id)
      await assert.rejects(h2.beginCreateNetwork({ name: 'ov', driver: 'overlay', host: null, pools: [{ subnet: '10.91.0.0/24' }] }), {
        code: 'ERR_NETNS_KIT_NETWORK_EXISTS',
      })
      // the same namespace numbers on two hosts are two namespaces
      const ns = { dev: '4', ino: '4026532100' }
      const host = { dev: '4', ino: '4026531840' }
      const a = await h1.beginConnect(ov.id, {
        name: 'a',
        ns,
        host,
        hostIf: 'veth1',
        ifname: 'eth0',
        addresses: [{ family: 4 }],
        ports: [{ containerPort: 80, hostPort: 8080 }],
      })
      const b = await h2.beginConnect(ov.id, {
        name: 'b',
        ns,
        host,
        hostIf: 'veth1',
        ifname: 'eth0',
        addresses: [{ family: 4 }],
        ports: [{ containerPort: 80, hostPort: 8080 }],
      })
      assert.notEqual(a.endpoint.addresses[0]!.address, b.endpoint.addresses[0]!.address)
      await assert.rejects(
        h1.beginConnect(ov.id, { name: 'c', ns: { dev: '4', ino: '2' }, host, addresses: [{ family: 4 }], ports: [{ containerPort: 80, hostPort: 8080 }] }),
        { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' },
      )
      assert.equal((await h2.endpointByHostIf(host, 'veth1'))?.id, b.endpoint.id)
      await assert.rejects(h2.beginConnect(ov.id, { name: 'A', ns: { dev: '4', ino: '1' }, addresses: [{ family: 4 }] }), {
        code: 'ERR_NETNS_KIT_ENDPOINT_EXISTS',
      })
      // an owner of the other host is foreign here: never an orphan
      assert.deepEqual(
        (await h2.intents()).map((i) => i.ownerState),
        ['alive', 'alive'],
      )
      // Witness: etcdctl sees the endpoint record and the address claim.
      const { stdout } = await sh('etcdctl', ['--endpoints', etcd!.endpoint, 'get', '--prefix', `${prefix}a/`, '--keys-only'])
      assert.equal(stdout.split('\n').filter(Boolean).length, 2)
    } finally {
      await h1.close()
      await h2.close()
    }
  })
})

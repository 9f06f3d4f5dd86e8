// The NetworkStore contract, as one suite run against every store (SQLite, memory, etcd).
import { strict as assert } from 'node:assert'
import { spawn, type ChildProcess } from 'node:child_process'
import type { NetworkStore, NsIdentity, Owner, EndpointSpec } from '../lib/ipam/network-store'
import { bootId, currentOwner, processStartTime } from '../lib/ipam/owner'

const HOST: NsIdentity = { dev: '4', ino: '4026531840', path: '/proc/1/ns/net' }
const HOST2: NsIdentity = { dev: '4', ino: '4026532001' }
let inoCounter = 4026540000
const container = (): NsIdentity => ({ dev: '4', ino: String(inoCounter++), path: '/run/netns/c' })

/** An owner whose pid lives but whose start time is not that process's: a reused pid. */
export const reusedPid = (): Owner => ({ pid: process.pid, start: '1', boot: bootId() })

export function storeContract(label: string, make: () => Promise<NetworkStore>, done?: (s: NetworkStore) => Promise<void>): void {
  describe(`NetworkStore contract: ${label}`, function () {
    this.timeout(20000)
    let s: NetworkStore
    const kids: ChildProcess[] = []
    beforeEach(async () => {
      s = await make()
    })
    afterEach(async () => {
      for (const k of kids.splice(0)) k.kill('SIGKILL')
      if (done) await done(s)
      else await s.close()
    })

    /** A live process that is not this one (an owner that is alive). */
    async function liveOther(): Promise<Owner> {
      const k = spawn('sleep', ['60'], { stdio: 'ignore' })
      kids.push(k)
      await new Promise((r) => k.once('spawn', r))
      return { pid: k.pid!, start: processStartTime(k.pid!)!, boot: bootId() }
    }

    async function ready(
      name = 'n1',
      pools: Parameters<NetworkStore['beginCreateNetwork']>[0]['pools'] = [{ subnet: '10.50.0.0/24' }],
      host: NsIdentity | null = HOST,
    ) {
      const n = await s.beginCreateNetwork({ name, driver: 'bridge', host, pools, config: { bridge: `br-${name}` } })
      return s.finishCreateNetwork(n.id, { rules: [`masq-${n.id}`] })
    }

    async function connected(netId: string, spec: Partial<EndpointSpec> = {}) {
      const r = await s.beginConnect(netId, { name: `ep${inoCounter}`, ns: container(), addresses: [{ family: 4 }], ...spec })
      return { ...r, endpoint: await s.finishConnect(r.endpoint.id) }
    }

    describe('networks', () => {
      it('records a network creating, then ready with its rules and config', async () => {
        const n = await s.beginCreateNetwork({
          name: 'n1',
          driver: 'bridge',
          host: HOST,
          pools: [{ subnet: '10.50.0.0/24' }, { subnet: 'fd00:50::/64' }],
          labels: { a: 'b' },
        })
        assert.equal(n.state, 'creating')
        assert.deepEqual(n.owner, currentOwner())
        assert.deepEqual(n.pools, [
          { family: 4, subnet: '10.50.0.0/24', gateway: '10.50.0.1' },
          { family: 6, subnet: 'fd00:50::/64', gateway: 'fd00:50::1' },
        ])
        const r = await s.finishCreateNetwork(n.id, { rules: ['r1', 'r2'], config: { bridge: 'br0' } })
        assert.equal(r.state, 'ready')
        assert.deepEqual(r.rules, ['r1', 'r2'])
        assert.deepEqual(r.config, { bridge: 'br0' })
        assert.deepEqual(r.labels, { a: 'b' })
        assert.deepEqual((await s.networkByName({ dev: HOST.dev, ino: HOST.ino }, 'n1'))?.id, n.id)
        assert.deepEqual(await s.ruleOwner('r1'), { networkId: n.id })
      })

      it('names are unique per host namespace; subnets may not overlap in one host or with a network of every host', async () => {
        await ready('n1', [{ subnet: '10.50.0.0/24' }])
        await assert.rejects(s.beginCreateNetwork({ name: 'n1', driver: 'bridge', host: HOST, pools: [{ subnet: '10.60.0.0/24' }] }), {
          code: 'ERR_NETNS_KIT_NETWORK_EXISTS',
        })
        await assert.rejects(s.beginCreateNetwork({ name: 'n2', driver: 'bridge', host: HOST, pools: [{ subnet: '10.50.0.128/25' }] }), {
          code: 'ERR_NETNS_KIT_SUBNET_OVERLAP',
        })
        await assert.rejects(s.beginCreateNetwork({ name: 'n2', driver: 'bridge', host: HOST, pools: [{ subnet: '10.0.0.0/8' }] }), {
          code: 'ERR_NETNS_KIT_SUBNET_OVERLAP',
        })
        // another host namespace: same name and subnet are fine
        await ready('n1', [{ subnet: '10.50.0.0/24' }], HOST2)
        // a network of every host overlaps both
        await assert.rejects(s.beginCreateNetwork({ name: 'ov', driver: 'overlay', host: null, pools: [{ subnet: '10.50.0.0/16' }] }), {
          code: 'ERR_NETNS_KIT_SUBNET_OVERLAP',
        })
        await ready('ov', [{ subnet: '10.90.0.0/24' }], null)
        await assert.rejects(s.beginCreateNetwork({ name: 'n3', driver: 'bridge', host: HOST2, pools: [{ subnet: '10.90.0.64/26' }] }), {
          code: 'ERR_NETNS_KIT_SUBNET_OVERLAP',
        })
        assert.deepEqual(
          (await s.networks({ host: HOST })).map((n) => n.name),
          ['n1'],
        )
        assert.equal((await s.networks()).length, 3)
      })

      it('an automatic subnet skips 172.17.0.0/16 (unless default), the excluded prefixes and the networks there', async () => {
        const a = await s.beginCreateNetwork({ name: 'a', driver: 'bridge', host: HOST, pools: [{ auto: true }] })
        assert.equal(a.pools[0]!.subnet, '172.18.0.0/16')
        assert.equal(a.pools[0]!.gateway, '172.18.0.1')
        const b = await s.beginCreateNetwork({ name: 'b', driver: 'bridge', host: HOST, pools: [{ auto: true, exclude: ['172.19.5.0/24'] }] })
        assert.equal(b.pools[0]!.subnet, '172.20.0.0/16')
        const d = await s.beginCreateNetwork({ name: 'bridge', driver: 'bridge', host: HOST, pools: [{ auto: true, allowDefault: true }] })
        assert.equal(d.pools[0]!.subnet, '172.17.0.0/16')
        const x = await s.beginCreateNetwork({
          name: 'x',
          driver: 'bridge',
          host: HOST,
          pools: [{ auto: true, addressPools: [{ base: '10.1.0.0/23', size: 24 }] }],
        })
        assert.equal(x.pools[0]!.subnet, '10.1.0.0/24')
        await s.beginCreateNetwork({ name: 'y', driver: 'bridge', host: HOST, pools: [{ auto: true, addressPools: [{ base: '10.1.0.0/23', size: 24 }] }] })
        await assert.rejects(
          s.beginCreateNetwork({ name: 'z', driver: 'bridge', host: HOST, pools: [{ auto: true, addressPools: [{ base: '10.1.0.0/23', size: 24 }] }] }),
          { code: 'ERR_NETNS_KIT_POOL_EXHAUSTED' },
        )
      })

      it('an aborted create frees the name and the subnet; only its owner may finish or abort it', async () => {
        const n = await s.beginCreateNetwork({ name: 'n1', driver: 'bridge', host: HOST, pools: [{ subnet: '10.50.0.0/24' }] })
        await assert.rejects(s.finishCreateNetwork(n.id, {}, reusedPid()), { code: 'ERR_NETNS_KIT_NOT_OWNER' })
        await s.abortCreateNetwork(n.id)
        await s.abortCreateNetwork(n.id)
        assert.equal(await s.network(n.id), undefined)
        await ready('n1', [{ subnet: '10.50.0.0/24' }])
      })

      it('remove: refused with endpoints unless forced; finished only once they are gone; then name, subnet and addresses are free', async () => {
        const n = await ready()
        const a = await connected(n.id, { name: 'a' })
        await assert.rejects(s.beginRemoveNetwork(n.id), { code: 'ERR_NETNS_KIT_NETWORK_IN_USE' })
        const r = await s.beginRemoveNetwork(n.id, { force: true })
        assert.equal(r.network.state, 'removing')
        assert.deepEqual(
          r.endpoints.map((e) => e.name),
          ['a'],
        )
        await assert.rejects(s.beginConnect(n.id, { name: 'b', ns: container(), addresses: [{ family: 4 }] }), { code: 'ERR_NETNS_KIT_NETWORK_NOT_READY' })
        await assert.rejects(s.finishRemoveNetwork(n.id), { code: 'ERR_NETNS_KIT_NETWORK_IN_USE' })
        assert.equal((await s.beginDisconnect(a.endpoint.id)).status, 'started')
        await s.finishDisconnect(a.endpoint.id)
        await s.finishRemoveNetwork(n.id)
        await s.finishRemoveNetwork(n.id)
        assert.equal(await s.network(n.id), undefined)
        assert.equal(await s.ruleOwner(`masq-${n.id}`), undefined)
        const again = await ready('n1', [{ subnet: '10.50.0.0/24' }])
        assert.equal((await connected(again.id)).endpoint.addresses[0]!.address, '10.50.0.2')
      })
    })

    describe('endpoints', () => {
      it('connect is one step: connecting with addresses (cursor order), ports, names; finish makes it connected', async () => {
        const n = await ready('n1', [{ subnet: '10.50.0.0/24' }, { subnet: 'fd00:50::/64' }])
        const ns = container()
        const r = await s.beginConnect(n.id, {
          name: 'Web',
          aliases: ['www'],
          hostname: 'box',
          ns,
          hostIf: 'vethab',
          addresses: [{ family: 4 }, { family: 6 }],
          ports: [{ containerPort: 80, hostPort: 8080 }],
          dns: { servers: ['203.0.113.2'], search: ['example.com'] },
          extraHosts: [{ name: 'h', ip: '192.0.2.9' }],
        })
        const e = r.endpoint
        assert.equal(e.state, 'connecting')
        assert.equal(e.ifname, 'eth0')
        assert.deepEqual(
          e.addresses.map((a) => a.address),
          ['10.50.0.2', 'fd00:50::2'],
        )
        assert.equal(e.addresses[0]!.prefixLength, 24)
        assert.equal(e.addresses[0]!.gateway, '10.50.0.1')
        assert.deepEqual(e.ports, [{ protocol: 'tcp', family: 4, hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 }])
        assert.deepEqual(e.dns, { servers: ['203.0.113.2'], search: ['example.com'] })
        assert.deepEqual(e.extraHosts, [{ name: 'h', ip: '192.0.2.9' }])
        assert.equal(e.gateway4, true)
        assert.equal(e.gateway6, true)
        assert.deepEqual(await s.resolve(n.id, 'web'), [], 'not resolvable while connecting')
        const done = await s.finishConnect(e.id, { rules: ['p1'], mac: '02:42:0a:32:00:02' })
        assert.equal(done.state, 'connected')
        assert.equal(done.mac, '02:42:0a:32:00:02')
        assert.deepEqual(done.rules, ['p1'])
        for (const q of ['WEB', 'www', 'Box'])
          assert.deepEqual(
            (await s.resolve(n.id, q)).map((x) => x.id),
            [e.id],
            q,
          )
        assert.equal((await s.endpointByName(n.id, 'wEb'))?.id, e.id)
        assert.equal((await s.endpointByHostIf(HOST, 'vethab'))?.id, e.id)
        assert.equal((await s.endpointByAddress(n.id, '10.50.0.2'))?.id, e.id)
        assert.equal((await s.endpointByAddress(n.id, 'fd00:50:0::2'))?.id, e.id)
        assert.deepEqual(
          (await s.endpointsInNamespace(ns)).map((x) => x.id),
          [e.id],
        )
        assert.deepEqual(await s.ruleOwner('p1'), { networkId: n.id, endpointId: e.id })
        // the next addresses follow the cursor
        assert.equal((await connected(n.id)).endpoint.addresses[0]!.address, '10.50.0.3')
      })

      it('endpoint names are unique per network without regard to case; free again after disconnect', async () => {
        const n = await ready()
        const m = await ready('n2', [{ subnet: '10.51.0.0/24' }])
        const a = await connected(n.id, { name: 'web' })
        await assert.rejects(s.beginConnect(n.id, { name: 'WEB', ns: container(), addresses: [{ family: 4 }] }), { code: 'ERR_NETNS_KIT_ENDPOINT_EXISTS' })
        await connected(m.id, { name: 'web' })
        await s.beginDisconnect(a.endpoint.id)
        await s.finishDisconnect(a.endpoint.id)
        await connected(n.id, { name: 'Web' })
      })

      it('concurrent connects with one name: exactly one wins, the others ERR_NETNS_KIT_ENDPOINT_EXISTS', async () => {
        const n = await ready()
        const r = await Promise.allSettled(Array.from({ length: 8 }, () => s.beginConnect(n.id, { name: 'same', ns: container(), addresses: [{ family: 4 }] })))
        assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1)
        for (const x of r) if (x.status === 'rejected') assert.equal((x.reason as { code: string }).code, 'ERR_NETNS_KIT_ENDPOINT_EXISTS')
        assert.equal((await s.endpoints(n.id)).length, 1)
      })

      it('addresses: given, reserved, outside, taken; released ones come back after the others; exhaustion is typed', async () => {
        const n = await ready('n1', [{ subnet: '10.50.0.0/29' }]) // .2 to .6 usable
        const ip = (x: string) => ({ addresses: [{ family: 4 as const, ip: x }] })
        await assert.rejects(s.beginConnect(n.id, { name: 'g', ns: container(), ...ip('10.50.0.1') }), { code: 'ERR_NETNS_KIT_IP_RESERVED' })
        await assert.rejects(s.beginConnect(n.id, { name: 'b', ns: container(), ...ip('10.50.0.7') }), { code: 'ERR_NETNS_KIT_IP_RESERVED' })
        await assert.rejects(s.beginConnect(n.id, { name: 'o', ns: container(), ...ip('10.50.1.2') }), { code: 'ERR_NETNS_KIT_IP_OUTSIDE_SUBNET' })
        await assert.rejects(s.beginConnect(n.id, { name: 'v6', ns: container(), addresses: [{ family: 6 }] }), { code: 'ERR_NETNS_KIT_IP_OUTSIDE_SUBNET' })
        const five = await connected(n.id, { name: 'five', ...ip('10.50.0.5') })
        await assert.rejects(s.beginConnect(n.id, { name: 'dup', ns: container(), ...ip('10.50.0.5') }), { code: 'ERR_NETNS_KIT_IP_IN_USE' })
        const got = [] as string[]
        for (let i = 0; i < 4; i++) got.push((await connected(n.id)).endpoint.addresses[0]!.address)
        assert.deepEqual(got, ['10.50.0.2', '10.50.0.3', '10.50.0.4', '10.50.0.6'])
        await assert.rejects(s.beginConnect(n.id, { name: 'full', ns: container(), addresses: [{ family: 4 }] }), { code: 'ERR_NETNS_KIT_POOL_EXHAUSTED' })
        await s.beginDisconnect(five.endpoint.id)
        await s.finishDisconnect(five.endpoint.id)
        assert.equal((await connected(n.id)).endpoint.addresses[0]!.address, '10.50.0.5')
        // failed connects left nothing behind
        assert.equal((await s.endpoints(n.id)).length, 5)
      })

      it('an ip range limits automatic addresses; the cursor wraps', async () => {
        const n = await ready('n1', [{ subnet: '10.50.0.0/24', ipRange: '10.50.0.8/30' }])
        const got = [] as string[]
        const eps = []
        for (let i = 0; i < 4; i++) {
          const c = await connected(n.id)
          eps.push(c.endpoint)
          got.push(c.endpoint.addresses[0]!.address)
        }
        assert.deepEqual(got, ['10.50.0.8', '10.50.0.9', '10.50.0.10', '10.50.0.11'])
        await s.beginDisconnect(eps[1]!.id)
        await s.finishDisconnect(eps[1]!.id)
        assert.equal((await connected(n.id)).endpoint.addresses[0]!.address, '10.50.0.9')
      })

      it('interfaces: the first free ethN of the container; a clash is ERR_NETNS_KIT_IFNAME_IN_USE', async () => {
        const n = await ready()
        const m = await ready('n2', [{ subnet: '10.51.0.0/24' }])
        const ns = container()
        const a = await connected(n.id, { ns })
        assert.equal(a.endpoint.ifname, 'eth0')
        const b = await connected(m.id, { ns, ifnamesInUse: ['eth1'] })
        assert.equal(b.endpoint.ifname, 'eth2')
        await assert.rejects(s.beginConnect(m.id, { name: 'c', ns, ifname: 'eth0', addresses: [{ family: 4 }] }), { code: 'ERR_NETNS_KIT_IFNAME_IN_USE' })
        await assert.rejects(
          s
            .beginConnect(m.id, { name: 'd', ns: container(), hostIf: 'vethX', addresses: [{ family: 4 }] })
            .then(() => s.beginConnect(n.id, { name: 'e', ns: container(), hostIf: 'vethX', addresses: [{ family: 4 }] })),
          { code: 'ERR_NETNS_KIT_IFNAME_IN_USE' },
        )
      })

      it('CNI attachments (network, container id, ifname) are unique and found by that key', async () => {
        const n = await ready()
        const a = await connected(n.id, { containerId: 'c0ffee', ifname: 'eth0' })
        await assert.rejects(s.beginConnect(n.id, { name: 'x', ns: container(), containerId: 'c0ffee', ifname: 'eth0', addresses: [{ family: 4 }] }), {
          code: 'ERR_NETNS_KIT_ENDPOINT_EXISTS',
        })
        assert.equal((await s.endpointByContainer(n.id, 'c0ffee', 'eth0'))?.id, a.endpoint.id)
        assert.equal(await s.endpointByContainer(n.id, 'c0ffee', 'eth1'), undefined)
      })

      it('published ports: (protocol, host address, port) once; a wildcard excludes its family; automatic ports skip taken and excluded ones', async () => {
        const n = await ready()
        const p = (ports: EndpointSpec['ports']) => s.beginConnect(n.id, { name: `p${inoCounter}`, ns: container(), addresses: [{ family: 4 }], ports })
        const a = await p([
          { containerPort: 80, hostPort: 8080 },
          { containerPort: 53, hostPort: 8080, protocol: 'udp' },
        ])
        await assert.rejects(p([{ containerPort: 80, hostPort: 8080 }]), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
        await assert.rejects(p([{ containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' }]), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
        await p([{ containerPort: 80, hostPort: 8080, hostIp: '::' }])
        await p([{ containerPort: 80, hostPort: 9090, hostIp: '127.0.0.1' }])
        await p([{ containerPort: 80, hostPort: 9090, hostIp: '127.0.0.2' }])
        await assert.rejects(p([{ containerPort: 80, hostPort: 9090 }]), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
        const auto = await p([
          { containerPort: 1, range: [40000, 40003], exclude: [40000] },
          { containerPort: 2, range: [40000, 40003] },
        ])
        assert.deepEqual(auto.endpoint.ports.map((x) => x.hostPort).sort(), [40001, 40002])
        const more = await p([{ containerPort: 3, range: [40000, 40003], exclude: [40000] }])
        assert.equal(more.endpoint.ports[0]!.hostPort, 40003)
        await assert.rejects(p([{ containerPort: 4, range: [40000, 40003], exclude: [40000] }]), { code: 'ERR_NETNS_KIT_NO_FREE_PORT' })
        // released with the endpoint
        await s.abortConnect(a.endpoint.id)
        await p([{ containerPort: 80, hostPort: 8080 }])
      })

      it('dualStack: one port claimed on 0.0.0.0 and :: (free in both families), released together', async () => {
        const n = await ready()
        const p = (ports: EndpointSpec['ports']) => s.beginConnect(n.id, { name: `d${inoCounter}`, ns: container(), addresses: [{ family: 4 }], ports })
        await p([{ containerPort: 80, hostPort: 41000, hostIp: '::' }])
        const a = await p([{ containerPort: 80, range: [41000, 41002], dualStack: true }])
        assert.deepEqual(
          a.endpoint.ports.map((x) => `${x.family} ${x.hostIp} ${x.hostPort}`),
          ['4 0.0.0.0 41001', '6 :: 41001'],
          'skips the port taken in IPv6',
        )
        await assert.rejects(p([{ containerPort: 80, hostPort: 41001, hostIp: '::1' }]), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
        await assert.rejects(p([{ containerPort: 80, hostPort: 41000, dualStack: true }]), { code: 'ERR_NETNS_KIT_PORT_ALLOCATED' })
        await assert.rejects(p([{ containerPort: 80, hostPort: 41000, hostIp: '::', dualStack: true }]), { code: 'ERR_INVALID_ARG_VALUE' })
        await s.abortConnect(a.endpoint.id)
        await p([{ containerPort: 80, hostPort: 41001, hostIp: '::' }])
        await p([{ containerPort: 80, hostPort: 41001 }])
      })

      it('the default route: the first endpoint of a container, or a higher priority; handed on when it leaves; never an internal one', async () => {
        const n = await ready()
        const m = await ready('n2', [{ subnet: '10.51.0.0/24' }])
        const i = await ready('int', [{ subnet: '10.52.0.0/24' }])
        const ns = container()
        const a = await connected(n.id, { ns })
        assert.equal(a.endpoint.gateway4, true)
        const x = await connected(i.id, { ns, gatewayPriority: null })
        assert.equal(x.endpoint.gateway4, false)
        assert.deepEqual(x.moves, [])
        const b = await connected(m.id, { ns, gatewayPriority: 10 })
        assert.equal(b.endpoint.gateway4, true)
        assert.deepEqual(
          b.moves.map((mv) => [mv.endpoint.id, mv.family, mv.provides]),
          [[a.endpoint.id, 4, false]],
        )
        assert.equal((await s.endpoint(a.endpoint.id))?.gateway4, false)
        await s.beginDisconnect(b.endpoint.id)
        const moves = await s.finishDisconnect(b.endpoint.id)
        assert.deepEqual(
          moves.map((mv) => [mv.endpoint.id, mv.family, mv.provides]),
          [[a.endpoint.id, 4, true]],
        )
        assert.equal((await s.endpoint(a.endpoint.id))?.gateway4, true)
        await s.beginDisconnect(a.endpoint.id)
        assert.deepEqual(await s.finishDisconnect(a.endpoint.id), [], 'the internal network never takes it')
      })
    })

    describe('intents and owners', () => {
      it('an intent of a dead owner (a reused pid) is an orphan; a live or foreign owner never is; takeOver moves it once', async () => {
        const n = await ready()
        const dead = reusedPid()
        const live = await liveOther()
        const foreign: Owner = { pid: 1, start: '1', boot: 'another-host-boot-id' }
        const d = await s.beginConnect(n.id, { name: 'd', ns: container(), addresses: [{ family: 4 }], owner: dead })
        const l = await s.beginConnect(n.id, { name: 'l', ns: container(), addresses: [{ family: 4 }], owner: live })
        await s.beginConnect(n.id, { name: 'f', ns: container(), addresses: [{ family: 4 }], owner: foreign })
        const c = await s.beginCreateNetwork({ name: 'half', driver: 'bridge', host: HOST, pools: [{ subnet: '10.60.0.0/24' }], owner: dead })
        const intents = await s.intents()
        assert.equal(intents.length, 4)
        assert.deepEqual(Object.fromEntries(intents.map((i) => [i.id, i.ownerState])), {
          [d.endpoint.id]: 'dead',
          [l.endpoint.id]: 'alive',
          [intents.find((i) => i.endpoint?.name === 'f')!.id]: 'foreign',
          [c.id]: 'dead',
        })
        const orphans = await s.orphans()
        assert.deepEqual(orphans.map((o) => o.id).sort(), [d.endpoint.id, c.id].sort())
        assert.equal(await s.takeOver('endpoint', d.endpoint.id, live), false, 'not its owner')
        assert.equal(await s.takeOver('endpoint', d.endpoint.id, dead), true)
        assert.equal(await s.takeOver('endpoint', d.endpoint.id, dead), false, 'once')
        await s.abortConnect(d.endpoint.id)
        assert.equal(await s.takeOver('network', c.id, dead), true)
        await s.abortCreateNetwork(c.id)
        assert.deepEqual(
          (await s.orphans()).map((o) => o.id),
          [],
        )
        // the live owner's intent cannot be finished or disconnected by another process
        await assert.rejects(s.finishConnect(l.endpoint.id), { code: 'ERR_NETNS_KIT_NOT_OWNER' })
        assert.equal((await s.beginDisconnect(l.endpoint.id)).status, 'busy')
        await s.finishConnect(l.endpoint.id, {}, live)
        assert.equal((await s.beginDisconnect(l.endpoint.id)).status, 'started')
      })

      it('disconnect: absent, busy under another live owner, taken over from a dead one; finish is idempotent', async () => {
        const n = await ready()
        assert.equal((await s.beginDisconnect('nope')).status, 'absent')
        const dead = reusedPid()
        const e = await s.beginConnect(n.id, { name: 'a', ns: container(), addresses: [{ family: 4 }], owner: dead })
        const st = await s.beginDisconnect(e.endpoint.id)
        assert.equal(st.status, 'started')
        assert.equal(st.status === 'started' && st.endpoint.state, 'disconnecting')
        assert.deepEqual(await s.finishDisconnect(e.endpoint.id), [])
        assert.deepEqual(await s.finishDisconnect(e.endpoint.id), [])
        assert.equal(await s.endpoint(e.endpoint.id), undefined)
        assert.equal((await s.endpoints(n.id)).length, 0)
        assert.equal(await s.endpointByAddress(n.id, e.endpoint.addresses[0]!.address), undefined)
        // 10 disconnects of one endpoint at once all resolve
        const f = await connected(n.id)
        const all = await Promise.all(
          Array.from({ length: 10 }, async () => {
            const b = await s.beginDisconnect(f.endpoint.id)
            if (b.status === 'started') await s.finishDisconnect(f.endpoint.id)
            return b.status
          }),
        )
        assert.ok(all.includes('started'))
        assert.equal(await s.endpoint(f.endpoint.id), undefined)
      })

      it('rules belong to one network or endpoint', async () => {
        const n = await ready()
        const a = await connected(n.id)
        await s.addRules({ networkId: n.id, endpointId: a.endpoint.id }, ['x1'])
        await s.addRules({ networkId: n.id, endpointId: a.endpoint.id }, ['x1'])
        await assert.rejects(s.addRules({ networkId: n.id }, ['x1']), { code: 'ERR_NETNS_KIT_RULE_OWNED' })
        assert.deepEqual((await s.endpoint(a.endpoint.id))?.rules, ['x1'])
        await s.beginDisconnect(a.endpoint.id)
        await s.finishDisconnect(a.endpoint.id)
        assert.equal(await s.ruleOwner('x1'), undefined)
      })
    })

    describe('changes', () => {
      it('changesSince gives only what changed after a sequence, the latest state of each record', async () => {
        const n = await ready()
        const a = await connected(n.id, { name: 'a' })
        const seq = (await s.changesSince(0)).seq
        assert.equal(seq, await s.sequence())
        assert.deepEqual((await s.changesSince(seq)).changes, [])
        const b = await connected(n.id, { name: 'b' })
        await s.beginDisconnect(a.endpoint.id)
        await s.finishDisconnect(a.endpoint.id)
        const batch = await s.changesSince(seq)
        assert.equal(batch.reset, false)
        assert.ok(batch.seq > seq)
        assert.deepEqual(
          batch.changes.map((c) => [c.kind, c.id, c.endpoint?.state]),
          [
            ['endpoint', b.endpoint.id, 'connected'],
            ['endpoint', a.endpoint.id, undefined],
          ],
        )
        assert.ok(batch.changes[0]!.seq < batch.changes[1]!.seq)
        assert.deepEqual((await s.changesSince(batch.seq)).changes, [])
      })

      // The bound here only catches a listener never called; the latency across processes is printed by bench/store.ts.
      it('onChange tells a listener of a change', async () => {
        const n = await ready()
        let t0 = 0
        const got = new Promise<number>((resolve) => {
          const off = s.onChange(() => {
            off()
            resolve(Date.now() - t0)
          })
        })
        await new Promise((r) => setTimeout(r, 20))
        t0 = Date.now()
        await connected(n.id)
        const ms = await got
        assert.ok(ms < 5000, `${ms} ms`)
      })
    })
  })
}

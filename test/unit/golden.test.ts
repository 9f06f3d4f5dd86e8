// Golden bytes: the rtnetlink messages our encoders build (native().encode(op)) against what
// iproute2 sends for the same command, captured with strace in throwaway namespaces
// (test/fixtures/rtnl/, made by scripts/capture-rtnl-fixtures.sh; each file names its command).
// Needs no privileges: encode() only builds bytes, and the one namespace handle used (for the
// veth peer's IFLA_NET_NS_FD) is our own /proc/self/ns/net, opened read-only.
//
// Sequence numbers and port ids depend on the socket: they are masked. Where iproute2 sends an
// attribute we do not (or the other way round), or the same attribute in another order, the
// case says so and why; every other attribute must match byte for byte. Cases with no difference
// at all must match the whole message exactly.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import { native, type NativeOp, type NsHandle } from '../../lib/kernel/binding'
import { fdbOp } from '../../lib/fdb'
import { neighbourOp } from '../../lib/neighbour'
import { vxlanData } from '../../lib/vxlan'
import { attrOrder, canonical, FIXTURES, masked, readCapture, RTM, sent } from './netlink-helpers'

interface Case {
  capture: string
  /** Our operation, as lib/ hands it to the addon (ifindexes from the capture's header). */
  op: (ix: Record<string, number>, self: NsHandle) => Omit<NativeOp, 'ns'>
  /** Attribute paths only iproute2 sends, and why they do not matter. */
  onlyIp?: Record<string, string>
  /** Attribute paths only we send, their expected value (hex), and why. */
  onlyOurs?: Record<string, [string, string]>
  /** Paths present in both whose values differ by design: [ours, iproute2's, why]. */
  differ?: Record<string, [string, string, string]>
  /** Attributes in another order than iproute2's (the kernel parses them into a table). */
  reordered?: boolean
}

const KIND_NUL = 'iproute2 sends the kind without its NUL; we send a C string: the kernel copies it with nla_strscpy either way'
const FD = 'a file descriptor: each process has its own number (ours is checked separately)'
const TABLE = 'iproute2 adds RTA_TABLE only for tables >= 256 (rtm_table carries the smaller ones); we always send it, which the kernel prefers over rtm_table'
const hex = (s: string) => Buffer.from(s + '\0', 'latin1').toString('hex')
const le32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b.toString('hex')
}
const ZEROS = '00:00:00:00:00:00'

const cases: Record<string, Case> = {
  'veth create, peer created inside another namespace (IFLA_NET_NS_FD in VETH_INFO_PEER)': {
    capture: 'veth-create-peer-netns',
    op: (_ix, self) => ({ op: 'link.create', kind: 'veth', name: 'veth0', peer: { name: 'eth0', target: self } }),
    differ: {
      'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('veth'), '76657468', KIND_NUL],
      'IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_NET_NS_FD': ['<fd>', '<fd>', FD],
    },
  },
  'veth create with mtu and MAC on both ends': {
    capture: 'veth-create-full',
    op: (_ix, self) => ({
      op: 'link.create',
      kind: 'veth',
      name: 'veth1',
      mtu: 1400,
      mac: '02:00:00:00:01:01',
      peer: { name: 'eth1', mtu: 1400, mac: '02:00:00:00:01:02', target: self },
    }),
    differ: {
      'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('veth'), '76657468', KIND_NUL],
      'IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_NET_NS_FD': ['<fd>', '<fd>', FD],
    },
    reordered: true, // iproute2 adds IFLA_IFNAME after the other link attributes, we add it first
  },
  'bridge create with stp_state and vlan_filtering': {
    capture: 'bridge-create-stp-vlan', // the kernel here lacks VLAN filtering: the request is what counts
    op: () => ({ op: 'link.create', kind: 'bridge', name: 'brv', stp: true, vlanFiltering: true }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('bridge'), '627269646765', KIND_NUL] },
  },
  'bridge create with stp_state': {
    capture: 'bridge-create-stp',
    op: () => ({ op: 'link.create', kind: 'bridge', name: 'br0', stp: true }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('bridge'), '627269646765', KIND_NUL] },
  },
  'bridge create, defaults (no IFLA_INFO_DATA)': {
    capture: 'bridge-create-plain',
    op: () => ({ op: 'link.create', kind: 'bridge', name: 'br1' }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('bridge'), '627269646765', KIND_NUL] },
  },
  'link set master, mtu and up in one message': {
    capture: 'link-set-master-mtu-up',
    op: (ix) => ({ op: 'link.set', index: ix.veth0, master: ix.br0, mtu: 1400, up: true }),
    reordered: true, // iproute2: IFLA_MASTER then IFLA_MTU (argument order); we: IFLA_MTU first
  },
  'link set nomaster': {
    capture: 'link-set-nomaster',
    op: (ix) => ({ op: 'link.set', index: ix.veth0, master: 0 }),
  },
  'link set down': {
    capture: 'link-set-down',
    op: (ix) => ({ op: 'link.set', index: ix.veth0, up: false }),
  },
  'link set address': {
    capture: 'link-set-mac',
    op: (ix) => ({ op: 'link.set', index: ix.veth1, mac: '02:00:00:00:01:03' }),
  },
  'link set alias (no NUL, as iproute2)': {
    capture: 'link-set-alias',
    op: (ix) => ({ op: 'link.set', index: ix.veth1, alias: 'netns-kit:net0:ep0' }),
  },
  'link rename': {
    capture: 'link-rename',
    op: (ix) => ({ op: 'link.set', index: ix.veth1x, name: 'veth1x' }),
  },
  'link set netns': {
    capture: 'link-set-netns',
    op: (_ix, self) => ({ op: 'link.set', index: 3, target: self }), // veth1x had ifindex 3 before it left
    differ: { IFLA_NET_NS_FD: ['<fd>', '<fd>', FD] },
  },
  'bridge port flags hairpin and isolated': {
    capture: 'bridge-port-flags',
    op: (ix) => ({ op: 'link.set', index: ix.veth0, hairpin: true, isolated: true }),
    // `ip link set DEV type bridge_slave ...` names the port kind IFLA_INFO_KIND "bridge_slave";
    // we send IFLA_INFO_SLAVE_KIND "bridge", which is what the kernel reports in its own dumps.
    // On a change the kernel reads neither: IFLA_INFO_SLAVE_DATA goes to the master's
    // slave_changelink. (`bridge link set` differs more: RTM_SETLINK, AF_BRIDGE, IFLA_PROTINFO.)
    onlyIp: { 'IFLA_LINKINFO/IFLA_INFO_KIND': '"bridge_slave": iproute2 names slave kinds this way; ignored on a change' },
    onlyOurs: { 'IFLA_LINKINFO/IFLA_INFO_SLAVE_KIND': [hex('bridge'), 'the port kind as the kernel itself reports it; ignored on a change'] },
  },
  'link delete by index': {
    capture: 'link-del',
    op: () => ({ op: 'link.delete', index: 2 }), // veth0 had ifindex 2 before it was deleted
  },
  'addr add IPv4 with broadcast': {
    capture: 'addr-add-v4',
    op: (ix) => ({ op: 'addr.add', index: ix.br0, address: '10.0.0.1', prefixLength: 24 }),
  },
  'addr add IPv6 nodad': {
    capture: 'addr-add-v6-nodad',
    op: (ix) => ({ op: 'addr.add', index: ix.br0, address: 'fd00::1', prefixLength: 64, nodad: true }),
    // Both set IFA_F_NODAD in ifa_flags. iproute2 adds IFA_FLAGS only for flags above 0xff; we
    // always add it, so flags beyond the 8-bit header field can be set the same way.
    onlyOurs: { IFA_FLAGS: [le32(0x02), 'IFA_F_NODAD again, as a 32-bit attribute'] },
  },
  'addr delete': {
    capture: 'addr-del-v4',
    op: (ix) => ({ op: 'addr.delete', index: ix.br0, address: '10.0.0.1', prefixLength: 24 }),
    onlyIp: { IFA_ADDRESS: 'the same address again; the kernel matches on IFA_LOCAL and the prefix length' },
  },
  'route add default via gateway dev': {
    capture: 'route-add-default-v4',
    op: (ix) => ({ op: 'route.add', family: 4, dstLength: 0, gateway: '10.0.0.254', oif: ix.br0 }),
    onlyOurs: { RTA_TABLE: [le32(254), TABLE] },
  },
  'route add prefix with metric, table and src': {
    capture: 'route-add-prefix-metric-table-src',
    op: (ix) => ({
      op: 'route.add',
      family: 4,
      dst: '10.1.0.0',
      dstLength: 16,
      gateway: '10.0.0.254',
      oif: ix.br0,
      metric: 100,
      table: 100,
      prefsrc: '10.0.0.1',
    }),
    onlyOurs: { RTA_TABLE: [le32(100), TABLE] },
    reordered: true, // iproute2 adds RTA_OIF last
  },
  'route add to a table above 255 (link scope, no gateway)': {
    capture: 'route-add-table-1000',
    op: (ix) => ({ op: 'route.add', family: 4, dst: '10.2.0.0', dstLength: 24, oif: ix.br0, table: 1000 }),
    reordered: true, // iproute2: RTA_TABLE before RTA_OIF
  },
  'route replace with metric': {
    capture: 'route-replace-metric',
    op: () => ({ op: 'route.replace', family: 4, dst: '10.3.0.0', dstLength: 24, gateway: '10.0.0.254', metric: 50 }),
    onlyOurs: { RTA_TABLE: [le32(254), TABLE] },
  },
  'route add IPv6 default with metric': {
    capture: 'route-add-default-v6',
    op: (ix) => ({ op: 'route.add', family: 6, dstLength: 0, gateway: 'fd00::fe', oif: ix.br0, metric: 1024 }),
    onlyIp: { RTA_DST: ':: with rtm_dst_len 0: iproute2 sends the "default" prefix for IPv6; a zero-length prefix matches everything either way' },
    onlyOurs: { RTA_TABLE: [le32(254), TABLE] },
    reordered: true,
  },
  'macvlan create, mode bridge, on a parent by ifindex (IFLA_LINK)': {
    capture: 'macvlan-create-bridge',
    op: (ix) => ({ op: 'link.create', kind: 'macvlan', name: 'mv0', link: ix.veth2, macvlanMode: 4 }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('macvlan'), '6d6163766c616e', KIND_NUL] },
  },
  'macvlan create, mode vepa': {
    capture: 'macvlan-create-vepa',
    op: (ix) => ({ op: 'link.create', kind: 'macvlan', name: 'mv2', link: ix.veth2, macvlanMode: 2 }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('macvlan'), '6d6163766c616e', KIND_NUL] },
  },
  'macvlan create inside another namespace, with MAC, MTU and up, mode private': {
    capture: 'macvlan-create-netns-full',
    op: (ix, self) => ({
      op: 'link.create',
      kind: 'macvlan',
      name: 'mv1',
      link: ix.veth2,
      macvlanMode: 1,
      target: self,
      mac: '02:00:00:00:02:01',
      mtu: 1400,
      up: true,
    }),
    differ: {
      'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('macvlan'), '6d6163766c616e', KIND_NUL],
      IFLA_NET_NS_FD: ['<fd>', '<fd>', FD],
    },
    reordered: true, // iproute2: IFLA_NET_NS_FD, IFLA_ADDRESS, IFLA_MTU, IFLA_LINK, IFLA_IFNAME; we: IFLA_LINK, IFLA_IFNAME, ...
  },
  'vxlan create for an overlay: underlay device, ttl, local, learning off (our defaults: port 4789, nolearning)': {
    capture: 'vxlan-create-overlay',
    op: (ix) => ({
      op: 'link.create',
      kind: 'vxlan',
      name: 'vx0',
      vxlan: { ...vxlanData({ name: 'vx0', vni: 42, local: '10.0.0.1', ttl: 64 }), link: ix.br0 },
    }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('vxlan'), '76786c616e', KIND_NUL] },
  },
  'vxlan create with a unicast remote and learning on': {
    capture: 'vxlan-create-remote',
    op: () => ({ op: 'link.create', kind: 'vxlan', name: 'vx3', vxlan: vxlanData({ name: 'vx3', vni: 43, remote: '10.0.0.2', learning: true }) }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('vxlan'), '76786c616e', KIND_NUL] },
  },
  'vxlan create with a multicast group and every flag': {
    capture: 'vxlan-create-group',
    op: (ix) => ({
      op: 'link.create',
      kind: 'vxlan',
      name: 'vx1',
      vxlan: {
        ...vxlanData({
          name: 'vx1',
          vni: 100,
          group: '239.1.1.1',
          device: 'br0',
          port: 4790,
          learning: true,
          tos: 0x10,
          ageing: 120,
          proxy: true,
          l2miss: true,
          l3miss: true,
          udpCsum: false,
        }),
        link: ix.br0,
      },
    }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('vxlan'), '76786c616e', KIND_NUL] },
  },
  'vxlan create over IPv6 (IFLA_VXLAN_LOCAL6, IFLA_VXLAN_GROUP6)': {
    capture: 'vxlan-create-v6',
    op: () => ({ op: 'link.create', kind: 'vxlan', name: 'vx2', vxlan: vxlanData({ name: 'vx2', vni: 7, local: 'fd00::1', remote: 'fd00::2' }) }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('vxlan'), '76786c616e', KIND_NUL] },
  },
  'fdb add: the all-zeros (flooding) entry of a vxlan to a VTEP': {
    capture: 'fdb-add-vxlan-default',
    op: (ix) => fdbOp('add', ix.vx0!, { mac: ZEROS, dst: '10.0.0.2', self: true, state: 'permanent' }),
  },
  'fdb append: one more VTEP on the all-zeros entry (NLM_F_APPEND)': {
    capture: 'fdb-append-vxlan-default',
    op: (ix) => fdbOp('append', ix.vx0!, { mac: ZEROS, dst: '10.0.0.3' }),
  },
  'fdb replace with vni and port (NLM_F_REPLACE)': {
    capture: 'fdb-replace-vxlan-vni-port',
    op: (ix) => fdbOp('replace', ix.vx0!, { mac: '02:00:00:00:03:01', dst: '10.0.0.2', vni: 42, port: 4789 }),
  },
  'fdb add with an IPv6 VTEP': {
    capture: 'fdb-add-vxlan-v6',
    op: (ix) => fdbOp('add', ix.vx2!, { mac: '02:00:00:00:03:03', dst: 'fd00::3' }),
  },
  'fdb add a static entry to the bridge of a port (master static)': {
    capture: 'fdb-add-master-static',
    op: (ix) => fdbOp('add', ix.veth0!, { mac: '02:00:00:00:04:01', master: true, state: 'static' }),
  },
  'fdb del one destination of a vxlan entry': {
    capture: 'fdb-del-vxlan-dst',
    op: (ix) => fdbOp('delete', ix.vx0!, { mac: ZEROS, dst: '10.0.0.3' }),
  },
  'fdb del from the bridge of a port (master)': {
    capture: 'fdb-del-master',
    op: (ix) => fdbOp('delete', ix.veth0!, { mac: '02:00:00:00:04:01', master: true }),
  },
  'fdb dump of one device (bridge fdb show dev)': {
    capture: 'show-fdb-vxlan',
    op: (ix) => ({ op: 'fdb.list', index: ix.vx0 }),
  },
  'fdb dump of a bridge port': {
    capture: 'show-fdb-port',
    op: (ix) => ({ op: 'fdb.list', index: ix.veth0 }),
  },
  'neigh replace IPv4 nud permanent': {
    capture: 'neigh-replace-v4',
    op: (ix) => ({ ...neighbourOp('replace', { ip: '10.0.0.2', mac: '02:00:00:00:03:01', dev: 'br0' }), index: ix.br0 }),
  },
  'neigh add IPv6 nud permanent router': {
    capture: 'neigh-add-v6-router',
    op: (ix) => ({ ...neighbourOp('add', { ip: 'fd00::2', mac: '02:00:00:00:03:02', dev: 'br0', router: true }), index: ix.br0 }),
  },
  'neigh del': {
    capture: 'neigh-del-v4',
    op: (ix) => ({ ...neighbourOp('delete', { ip: '10.0.0.2', dev: 'br0' }), index: ix.br0 }),
  },
  'neigh dump of one device (NDA_IFINDEX, ndm_ifindex 0 for strict checking)': {
    capture: 'show-neigh',
    op: (ix) => ({ op: 'neigh.list', index: ix.br0 }),
  },
  'veth create in a link group (IFLA_GROUP)': {
    capture: 'link-create-group',
    op: () => ({ op: 'link.create', kind: 'veth', name: 'vg0', group: 7, peer: { name: 'vg1' } }),
    differ: { 'IFLA_LINKINFO/IFLA_INFO_KIND': [hex('veth'), '76657468', KIND_NUL] },
    reordered: true, // iproute2: IFLA_GROUP before IFLA_IFNAME; we add the name first
  },
  'link set group': {
    capture: 'link-set-group',
    op: (ix) => ({ op: 'link.set', index: ix.vg1, group: 7 }),
  },
  'link delete by group (ifi_index 0, IFLA_GROUP: every link of the group in one message)': {
    capture: 'link-del-group',
    op: () => ({ op: 'link.delete', group: 7 }),
  },
  'route delete': {
    capture: 'route-del',
    op: () => ({ op: 'route.delete', family: 4, dst: '10.3.0.0', dstLength: 24, gateway: '10.0.0.254', metric: 50 }),
    onlyOurs: { RTA_TABLE: [le32(254), TABLE] },
  },
}

const FAMILY_HDR: Record<number, number> = { 16: 16, 17: 16, 20: 8, 21: 8, 24: 12, 25: 12, 28: 12, 29: 12, 30: 12 }

describe('golden bytes: our rtnetlink requests against iproute2 (test/fixtures/rtnl)', () => {
  let self: NsHandle

  before(async () => {
    self = await native().openNamespace('/proc/self/ns/net')
  })
  after(async () => {
    await self?.close()
  })

  for (const [title, c] of Object.entries(cases)) {
    it(title, () => {
      const cap = readCapture(c.capture)
      const ours = native().encode(c.op(cap.ifindex, self) as NativeOp)
      assert.equal(ours.length, 1, 'one message')
      const msg = ours[0]!
      const type = msg.readUInt16LE(4)
      const theirs = sent(cap, type).at(-1)
      assert.ok(theirs, `${cap.command}: iproute2 sent no message of type ${type}`)
      assert.equal(msg.readUInt32LE(0), msg.length, 'nlmsg_len is the message length')
      assert.equal(msg.readUInt32LE(8), 0, 'sequence number left for the socket')

      const a = canonical(msg)
      const b = canonical(theirs.bytes)
      for (const [p, why] of Object.entries(c.onlyIp ?? {})) {
        assert.ok(b.has(p), `iproute2 was expected to send ${p} (${why})`)
        assert.ok(!a.has(p), `we were expected not to send ${p}`)
        b.delete(p)
      }
      for (const [p, [value, why]] of Object.entries(c.onlyOurs ?? {})) {
        assert.equal(a.get(p), value, `${p}: ${why}`)
        assert.ok(!b.has(p), `iproute2 was expected not to send ${p}`)
        a.delete(p)
      }
      for (const [p, [ourValue, theirValue, why]] of Object.entries(c.differ ?? {})) {
        if (ourValue === '<fd>') {
          assert.equal(a.get(p), Buffer.from(Uint32Array.of(self.fd).buffer).toString('hex'), `${p} carries our namespace fd`)
          assert.ok(b.has(p), `iproute2 sends ${p}`)
        } else {
          assert.equal(a.get(p), ourValue, `${p} (ours): ${why}`)
          assert.equal(b.get(p), theirValue, `${p} (iproute2): ${why}`)
        }
        a.delete(p)
        b.delete(p)
      }
      assert.deepEqual(Object.fromEntries(a), Object.fromEntries(b), `attribute by attribute, against: ${cap.command}`)

      const sameOrder = attrOrder(msg, FAMILY_HDR[type]!).join() === attrOrder(theirs.bytes, FAMILY_HDR[type]!).join()
      if (c.reordered) {
        assert.ok(!sameOrder, 'marked reordered but the order matches: drop the mark')
      } else if (!c.onlyIp && !c.onlyOurs && !c.differ) {
        assert.ok(sameOrder)
        assert.deepEqual(masked(msg), masked(theirs.bytes), `byte for byte, against: ${cap.command}`)
      }
    })
  }

  it('covers every request capture', () => {
    const used = new Set(Object.values(cases).map((c) => c.capture))
    const requests = ['veth-', 'bridge-', 'link-', 'addr-', 'route-', 'macvlan-', 'vxlan-', 'fdb-', 'neigh-']
    const all = fs.readdirSync(FIXTURES)
    const missing = all.map((f) => f.replace(/\.txt$/, '')).filter((n) => requests.some((p) => n.startsWith(p)) && !used.has(n))
    assert.deepEqual(missing, [])
  })

  it('pipelines nothing extra: link.set with only port flags is one RTM_NEWLINK, with other changes two', () => {
    assert.equal(native().encode({ op: 'link.set', index: 4, hairpin: false } as NativeOp).length, 1)
    const two = native().encode({ op: 'link.set', index: 4, master: 5, hairpin: true } as NativeOp)
    assert.equal(two.length, 2)
    assert.equal(canonical(two[0]!).get('IFLA_MASTER'), le32(5))
    assert.equal(canonical(two[1]!).get('IFLA_LINKINFO/IFLA_INFO_SLAVE_DATA/IFLA_BRPORT_MODE'), '01')
    for (const m of two) assert.equal(m.readUInt16LE(4), RTM.NEWLINK)
  })
})

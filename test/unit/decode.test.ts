// The decoders (native().decode(kind, buffer)) on what the kernel really sent (the replies in
// test/fixtures/rtnl/, captured from iproute2's sessions) and on truncated, lying and random
// input: they never crash and answer null for anything malformed. No privileges needed.
import { strict as assert } from 'node:assert'
import { native } from '../../lib/kernel/binding'
import { nla, nlmsg, NLMSG_DONE, NLMSG_ERROR, readCapture, received, RTM, u32, type Msg } from './netlink-helpers'

type Kind = 'link' | 'addr' | 'route' | 'neigh'
const decode = (kind: Kind | 'ack', b: Buffer) => native().decode(kind, b)
const FAMILY_HDR: Record<Kind, number> = { link: 16, addr: 8, route: 12, neigh: 12 }
const KINDS = ['link', 'addr', 'route', 'neigh'] as const

/** Offsets of the top-level attributes of a message. */
function attrOffsets(msg: Buffer, familyHdr: number): number[] {
  const out: number[] = []
  let off = 16 + familyHdr
  while (off + 4 <= msg.length) {
    out.push(off)
    off += (msg.readUInt16LE(off) + 3) & ~3
  }
  return out
}

/** The value of the first top-level attribute of `type`. */
function attr(msg: Buffer, familyHdr: number, type: number): Buffer | undefined {
  for (const off of attrOffsets(msg, familyHdr)) {
    if ((msg.readUInt16LE(off + 2) & 0x3fff) === type) return msg.subarray(off + 4, off + msg.readUInt16LE(off))
  }
  return undefined
}

function replies(capture: string, type: number): Msg[] {
  return received(readCapture(capture)).filter((m) => m.type === type)
}

/** The link record named `name` among a capture's replies (`ip link show` also fetches the parent / underlay). */
function linkNamed(capture: string, name: string): Record<string, unknown> {
  const l = replies(capture, RTM.NEWLINK)
    .map((m) => decode('link', m.bytes)!)
    .find((x) => x.name === name)
  assert.ok(l, `${capture}: no link named ${name}`)
  return l
}

// The kernel's own messages, one per decoder: a bridge, a bridge port (veth), a macvlan, vxlans,
// both address families, routes from several tables, FDB entries and neighbours.
function samples(): { kind: Kind; msg: Buffer }[] {
  const links = ['show-link-bridge', 'show-link-port', 'show-link-macvlan', 'show-link-vxlan', 'show-link-vxlan-group', 'show-link-vxlan-v6']
  return [
    ...links.flatMap((c) => replies(c, RTM.NEWLINK).map((m) => ({ kind: 'link' as const, msg: m.bytes }))),
    ...['show-fdb-vxlan', 'show-fdb-port', 'show-neigh'].flatMap((c) => replies(c, RTM.NEWNEIGH).map((m) => ({ kind: 'neigh' as const, msg: m.bytes }))),
    ...replies('show-addr', RTM.NEWADDR).map((m) => ({ kind: 'addr' as const, msg: m.bytes })),
    ...replies('show-route-v4', RTM.NEWROUTE).map((m) => ({ kind: 'route' as const, msg: m.bytes })),
  ]
}

/** A small deterministic PRNG (xorshift32), so that failures can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

describe("decoders on the kernel's own messages", () => {
  it('decodes a bridge (ip -d link show br0)', () => {
    const cap = readCapture('show-link-bridge')
    const msg = received(cap)
      .filter((m) => m.type === RTM.NEWLINK)
      .at(-1)!.bytes
    const l = decode('link', msg) as Record<string, unknown>
    assert.ok(l)
    assert.equal(l.name, 'br0')
    assert.equal(l.index, cap.ifindex.br0)
    assert.equal(l.kind, 'bridge')
    assert.equal(l.stp, true) // created with stp_state 1
    assert.equal(l.vlanFiltering, false)
    assert.equal(l.mtu, 1400) // follows its port veth0 (mtu 1400)
    assert.equal(l.mac, [...attr(msg, 16, 1 /* IFLA_ADDRESS */)!].map((b) => b.toString(16).padStart(2, '0')).join(':'))
    assert.equal((l.flags as number) & 1, 1, 'IFF_UP (ip link set br0 up)')
    assert.equal(l.master, 0)
  })

  it('decodes a bridge port with its port flags (ip -d link show veth0)', () => {
    const cap = readCapture('show-link-port')
    const msg = received(cap)
      .filter((m) => m.type === RTM.NEWLINK)
      .find((m) => decode('link', m.bytes)?.name === 'veth0')!.bytes
    const l = decode('link', msg) as Record<string, unknown>
    assert.equal(l.index, cap.ifindex.veth0)
    assert.equal(l.kind, 'veth')
    assert.equal(l.slaveKind, 'bridge')
    assert.equal(l.master, cap.ifindex.br0)
    assert.equal(l.hairpin, true)
    assert.equal(l.isolated, true)
    assert.equal(l.mtu, 1400)
    assert.equal(l.linkNetnsId, 0, 'the peer lives in another namespace (netnsid 0)')
  })

  it('decodes addresses of both families (ip addr show dev br0)', () => {
    const cap = readCapture('show-addr')
    const addrs = replies('show-addr', RTM.NEWADDR).map((m) => decode('addr', m.bytes) as Record<string, unknown>)
    const v4 = addrs.find((a) => a.family === 4)!
    assert.deepEqual(
      { ...v4 },
      { index: cap.ifindex.br0, family: 4, address: '10.0.0.1', prefixLength: 24, scope: 0, flags: 0x80, broadcast: '10.0.0.255', label: 'br0' },
    )
    const v6 = addrs.find((a) => a.family === 6)!
    assert.equal(v6.address, 'fd00::1')
    assert.equal(v6.prefixLength, 64)
    assert.equal((v6.flags as number) & 0x02, 0x02, 'IFA_F_NODAD')
  })

  it('decodes routes from the main, local and numbered tables (ip route show table all)', () => {
    const routes = replies('show-route-v4', RTM.NEWROUTE).map((m) => decode('route', m.bytes) as Record<string, unknown>)
    const find = (dst: string, len: number) => routes.find((r) => r.dst === dst && r.dstLength === len)
    assert.deepEqual(find('', 0), { family: 4, dst: '', dstLength: 0, gateway: '10.0.0.254', oif: 5, table: 254, protocol: 3, scope: 0, type: 1, flags: 16 })
    assert.equal(find('10.1.0.0', 16)?.table, 100)
    assert.equal(find('10.1.0.0', 16)?.metric, 100)
    assert.equal(find('10.1.0.0', 16)?.prefsrc, '10.0.0.1')
    assert.equal(find('10.2.0.0', 24)?.table, 1000, 'RTA_TABLE beyond the 8-bit rtm_table')
    assert.equal(find('10.3.0.0', 24)?.metric, 50)
    assert.equal(find('10.0.0.1', 32)?.type, 2, 'RTN_LOCAL in table local')
    const v6 = routes.find((r) => r.family === 6 && r.dstLength === 0)!
    assert.equal(v6.gateway, 'fd00::fe')
    assert.equal(v6.metric, 1024)
  })

  it('decodes a macvlan: its mode and its parent (ip -d link show mv0)', () => {
    const cap = readCapture('show-link-macvlan')
    const l = linkNamed('show-link-macvlan', 'mv0')
    assert.equal(l.name, 'mv0')
    assert.equal(l.kind, 'macvlan')
    assert.equal(l.macvlanMode, 4, 'MACVLAN_MODE_BRIDGE')
    assert.equal(l.link, cap.ifindex.veth2, 'IFLA_LINK: the parent')
  })

  it('decodes vxlans: VNI, addresses, port, underlay and flags (ip -d link show vx0/vx1/vx2/vx3)', () => {
    const vx = (c: string) => linkNamed(c, readCapture(c).command.split(' ')[6]!).vxlan as Record<string, unknown>
    const ix = readCapture('show-link-vxlan').ifindex
    assert.deepEqual(
      { ...vx('show-link-vxlan') },
      {
        vni: 42,
        local: '10.0.0.1',
        port: 4789,
        link: ix.br0,
        learning: false,
        proxy: false,
        l2miss: false,
        l3miss: false,
        udpCsum: true,
        ttl: 64,
        tos: 0,
        ageing: 300,
      },
    )
    const g = vx('show-link-vxlan-group')
    assert.equal(g.vni, 100)
    assert.equal(g.remote, '239.1.1.1')
    assert.equal(g.local, undefined, 'no local address: the kernel sends none')
    assert.equal(g.port, 4790)
    assert.deepEqual([g.learning, g.proxy, g.l2miss, g.l3miss, g.udpCsum, g.tos, g.ageing], [true, true, true, true, false, 0x10, 120])
    const v6 = vx('show-link-vxlan-v6')
    assert.deepEqual([v6.vni, v6.local, v6.remote], [7, 'fd00::1', 'fd00::2'])
    const r = vx('show-link-vxlan-remote')
    assert.deepEqual([r.vni, r.remote, r.learning, r.link], [43, '10.0.0.2', true, 0])
  })

  it('decodes FDB entries of a vxlan and of a bridge port (bridge fdb show dev vx0 / veth0)', () => {
    const cap = readCapture('show-fdb-vxlan')
    const entries = replies('show-fdb-vxlan', RTM.NEWNEIGH).map((m) => decode('neigh', m.bytes)!)
    assert.ok(entries.every((e) => e.family === 'bridge' && e.index === cap.ifindex.vx0))
    const zeros = entries
      .filter((e) => e.mac === '00:00:00:00:00:00')
      .map((e) => e.dst)
      .sort()
    assert.deepEqual(zeros, ['10.0.0.2', '10.0.0.3'], 'the flood list: add, then append')
    const one = entries.find((e) => e.mac === '02:00:00:00:03:01')!
    // Added with vni 42 port 4789, the device's own: the kernel reports NDA_VNI and NDA_PORT only when they differ.
    assert.deepEqual([one.dst, one.vni, one.port, one.state, one.flags], ['10.0.0.2', undefined, undefined, 0xc0, 0x02])
    const portCap = readCapture('show-fdb-port')
    const port = replies('show-fdb-port', RTM.NEWNEIGH).map((m) => decode('neigh', m.bytes)!)
    const fixed = port.find((e) => e.mac === '02:00:00:00:04:01')!
    assert.equal(fixed.master, portCap.ifindex.br0, 'NDA_MASTER: the bridge holding it')
    // Added as NUD_NOARP | NUD_REACHABLE (`static`); the bridge reports a static entry as NUD_NOARP.
    assert.equal(fixed.state, 0x40)
  })

  it('decodes neighbours (ip neigh show dev br0)', () => {
    const cap = readCapture('show-neigh')
    const ns = replies('show-neigh', RTM.NEWNEIGH).map((m) => decode('neigh', m.bytes)!)
    const v4 = ns.find((n) => n.dst === '10.0.0.2')!
    assert.deepEqual([v4.family, v4.index, v4.mac, v4.state], [4, cap.ifindex.br0, '02:00:00:00:03:01', 0x80])
    const v6 = ns.find((n) => n.dst === 'fd00::2')!
    assert.deepEqual([v6.family, v6.mac, v6.state, v6.flags], [6, '02:00:00:00:03:02', 0x80, 0x80])
  })

  it('reads acks, refusals and the extended-ACK text', () => {
    const ext = received(readCapture('error-extack-mtu'))
      .filter((m) => m.type === NLMSG_ERROR)
      .at(-1)!
    assert.deepEqual(decode('ack', ext.bytes), { errno: -22, extack: 'mtu greater than device maximum' })
    const exist = received(readCapture('error-eexist'))
      .filter((m) => m.type === NLMSG_ERROR)
      .at(-1)!
    assert.deepEqual(decode('ack', exist.bytes), { errno: -17, extack: '' })
    const done = received(readCapture('show-addr')).find((m) => m.type === NLMSG_DONE)!
    assert.deepEqual(decode('ack', done.bytes), { errno: 0, extack: '' })
  })
})

describe('decoders on hand-built messages', () => {
  const ifinfo = (index: number) => {
    const b = Buffer.alloc(16)
    b.writeInt32LE(index, 4)
    return b
  }

  it('keeps a name without its NUL and skips unknown attributes', () => {
    const m = nlmsg(RTM.NEWLINK, ifinfo(7), [nla(3, Buffer.from('abc')), nla(999, [1, 2, 3]), nla(4, u32(9000))])
    const l = decode('link', m)!
    assert.equal(l.name, 'abc')
    assert.equal(l.mtu, 9000)
    assert.equal(l.index, 7)
  })

  it('ignores integer attributes that are too short instead of reading past them', () => {
    const m = nlmsg(RTM.NEWLINK, ifinfo(1), [nla(4, [1, 2]), nla(10, [])])
    const l = decode('link', m)!
    assert.equal(l.mtu, 0)
    assert.equal(l.master, 0)
  })

  it('reports a point-to-point peer when IFA_ADDRESS differs from IFA_LOCAL', () => {
    const h = Buffer.from([2, 32, 0, 0, 3, 0, 0, 0])
    const a = decode('addr', nlmsg(RTM.NEWADDR, h, [nla(2, [10, 0, 0, 1]), nla(1, [10, 0, 0, 2])]))!
    assert.equal(a.address, '10.0.0.1')
    assert.equal(a.peer, '10.0.0.2')
  })

  it('leaves an address of the wrong size empty', () => {
    const h = Buffer.from([2, 32, 0, 0, 3, 0, 0, 0])
    const a = decode('addr', nlmsg(RTM.NEWADDR, h, [nla(2, [10, 0, 0])]))!
    assert.equal(a.address, '')
  })
})

describe('decoders on malformed input', () => {
  const all = samples()

  it('has samples of every kind', () => {
    for (const k of KINDS)
      assert.ok(
        all.some((s) => s.kind === k),
        k,
      )
  })

  it('answers null for every truncation of a message', () => {
    for (const { kind, msg } of all) {
      for (let n = 0; n < msg.length; n++) assert.equal(decode(kind, msg.subarray(0, n)), null, `${kind} cut to ${n} of ${msg.length}`)
    }
  })

  it('answers null when nlmsg_len lies: past the end, shorter than the header or the family header, or inside an attribute', () => {
    for (const { kind, msg } of all) {
      const bounds = new Set([...attrOffsets(msg, FAMILY_HDR[kind]), msg.length])
      for (const len of [0, 1, 15, 16, 16 + FAMILY_HDR[kind] - 1, msg.length + 1, msg.length + 4, 0xffffffff]) {
        const b = Buffer.from(msg)
        b.writeUInt32LE(len >>> 0, 0)
        assert.equal(decode(kind, b), null, `${kind} with nlmsg_len ${len} (buffer ${msg.length})`)
      }
      for (let len = 16 + FAMILY_HDR[kind]; len < msg.length; len++) {
        const b = Buffer.from(msg.subarray(0, len))
        b.writeUInt32LE(len, 0)
        const r = decode(kind, b)
        if (!bounds.has(len) && !bounds.has((len + 3) & ~3)) assert.equal(r, null, `${kind} with nlmsg_len ${len} inside an attribute`)
      }
    }
  })

  it('answers null when an attribute claims bytes past the end, or less than its own header', () => {
    for (const { kind, msg } of all) {
      for (const off of attrOffsets(msg, FAMILY_HDR[kind])) {
        for (const bad of [0, 1, 2, 3, msg.length - off + 1, 0xffff]) {
          const b = Buffer.from(msg)
          b.writeUInt16LE(bad, off)
          assert.equal(decode(kind, b), null, `${kind}: nla_len ${bad} at ${off}`)
        }
      }
    }
  })

  it('answers null when a nested attribute is malformed (IFLA_LINKINFO)', () => {
    for (const { kind, msg } of all.filter((s) => s.kind === 'link')) {
      const li = attrOffsets(msg, 16).find((o) => msg.readUInt16LE(o + 2) === 18)!
      assert.ok(li)
      for (const bad of [0, 3, 0xfff0]) {
        const b = Buffer.from(msg)
        b.writeUInt16LE(bad, li + 4) // the first attribute inside IFLA_LINKINFO
        assert.equal(decode(kind, b), null, `${kind}: inner nla_len ${bad}`)
      }
    }
  })

  it('answers null for the wrong message type, two messages, or nothing', () => {
    const link = all.find((s) => s.kind === 'link')!.msg
    const addr = all.find((s) => s.kind === 'addr')!.msg
    assert.equal(decode('addr', link), null)
    assert.equal(decode('route', link), null)
    assert.equal(decode('link', addr), null)
    assert.equal(decode('neigh', link), null)
    assert.equal(decode('link', all.find((s) => s.kind === 'neigh')!.msg), null)
    assert.equal(decode('link', Buffer.concat([link, link])), null)
    for (const k of KINDS) assert.equal(decode(k, Buffer.alloc(0)), null)
    assert.throws(() => native().decode('nope' as 'link', link), TypeError)
  })

  it('never crashes on random corruption (seeded, replayable)', () => {
    const next = rng(0x5eed)
    let nulls = 0
    let decoded = 0
    for (const { kind, msg } of all) {
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(msg)
        const flips = 1 + (next() % 8)
        for (let f = 0; f < flips; f++) b[next() % b.length] = next() & 0xff
        const r = decode(kind, b)
        if (r === null) nulls++
        else {
          decoded++
          assert.equal(typeof r, 'object')
        }
      }
      for (const k of [...KINDS, 'ack'] as const) {
        const junk = Buffer.alloc(next() % 256)
        for (let j = 0; j < junk.length; j++) junk[j] = next() & 0xff
        decode(k, junk)
      }
    }
    assert.ok(nulls > 0 && decoded > 0, `both outcomes seen (${nulls} null, ${decoded} decoded)`)
  })

  it('reads a short or lying NLMSG_ERROR without reading past it', () => {
    const err = (payload: Buffer, flags = 0) => {
      const h = Buffer.alloc(16)
      h.writeUInt32LE(16 + payload.length, 0)
      h.writeUInt16LE(NLMSG_ERROR, 4)
      h.writeUInt16LE(flags, 6)
      return Buffer.concat([h, payload])
    }
    assert.deepEqual(decode('ack', err(Buffer.from([0xef, 0xff, 0xff, 0xff]))), { errno: -71, extack: '' }, 'EPROTO: shorter than nlmsgerr')
    const capped = Buffer.alloc(20)
    capped.writeInt32LE(-1, 0)
    capped.writeUInt32LE(0xfffffff0, 4) // the echoed header claims a huge length
    assert.deepEqual(decode('ack', err(capped, 0x200)), { errno: -1, extack: '' })
    const tlv = Buffer.concat([capped, Buffer.from([0xff, 0x00, 0x01, 0x00, 0x41, 0x00, 0x00, 0x00])])
    tlv.writeUInt32LE(16, 4)
    assert.deepEqual(decode('ack', err(tlv, 0x300)), { errno: -1, extack: '' }, 'an extack TLV longer than the message is ignored')
  })
})

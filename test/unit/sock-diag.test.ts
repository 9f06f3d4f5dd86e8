// sock_diag without privileges: the requests the addon builds (native().sockDiagEncode, the same
// path listSockets() takes) against what `ss` sends for the same listing (test/fixtures/diag/,
// captured with strace by scripts/capture-diag-fixtures.sh), the decoder on the kernel's replies
// from those captures and on malformed input, the filter checks made before anything is sent,
// and the pure helpers (socketOverlaps, describeSocket).
import { strict as assert } from 'node:assert'
import { Namespace, describeSocket, listSockets, socketOverlaps, type SocketRecord } from '../../lib'
import { native } from '../../lib/kernel/binding'
import '../../lib/kernel/binding-diag-watch'
import { DIAG_FIXTURES, masked, readCapture, splitMessages, type Msg } from './netlink-helpers'

const SOCK_DIAG_BY_FAMILY = 20
const HDR = 16
const REQ = 56 // inet_diag_req_v2
const MSG = 72 // inet_diag_msg
/** Offset of inet_diag_hostcond's 2 padding bytes in a port-filtered request: ss leaves them uninitialised. */
const HOSTCOND_PAD = HDR + REQ + 4 + 4 + 2

function sentBy(capture: string): Buffer[] {
  return readCapture(capture, DIAG_FIXTURES)
    .calls.filter((c) => c.syscall !== 'recvmsg')
    .map((c) => masked(c.bytes))
}

function repliesOf(capture: string): Msg[] {
  return readCapture(capture, DIAG_FIXTURES)
    .calls.filter((c) => c.syscall === 'recvmsg')
    .flatMap((c) => splitMessages(c.bytes))
    .filter((m) => m.type === SOCK_DIAG_BY_FAMILY)
}

const encode = (q: Parameters<ReturnType<typeof native>['sockDiagEncode']>[0]) => native().sockDiagEncode(q)

describe('sock_diag requests against ss (test/fixtures/diag)', () => {
  it('ss -ltn: one dump per family, LISTEN|CLOSE, no bytecode', () => {
    const ss = sentBy('tcp-listen')
    assert.equal(ss.length, 2)
    assert.deepEqual(encode({ family: 4, protocol: 'tcp' }), ss[0])
    assert.deepEqual(encode({ family: 6, protocol: 'tcp' }), ss[1])
    assert.equal(ss[0]!.readUInt16LE(4), SOCK_DIAG_BY_FAMILY)
    assert.equal(ss[0]!.readUInt16LE(6), 0x301, 'NLM_F_REQUEST | NLM_F_DUMP')
  })

  it('ss -lun and ss -Sln (SCTP)', () => {
    const udp = sentBy('udp-unconn')
    assert.deepEqual(encode({ family: 4, protocol: 'udp' }), udp[0])
    assert.deepEqual(encode({ family: 6, protocol: 'udp' }), udp[1])
    assert.deepEqual(encode({ family: 4, protocol: 'sctp' }), sentBy('sctp-listen')[0])
  })

  it("ss 'sport = :P': the same INET_DIAG_BC_S_COND bytecode (host condition padding masked)", () => {
    for (const [capture, protocol, port] of [
      ['tcp-listen-sport', 'tcp', 8080],
      ['udp-unconn-sport', 'udp', 5353],
    ] as const) {
      const ss = sentBy(capture)
      for (const [i, family] of [
        [0, 4],
        [1, 6],
      ] as const) {
        const ours = encode({ family, protocol, port })
        assert.equal(ours.readUInt16LE(HOSTCOND_PAD), 0, 'our padding is zero')
        const theirs = Buffer.from(ss[i]!)
        theirs.writeUInt16LE(0, HOSTCOND_PAD)
        assert.deepEqual(ours, theirs, `${capture} ${family}`)
      }
    }
  })

  it("ss 'sport >= :A and sport <= :B': S_GE then S_LE", () => {
    const ss = sentBy('tcp-listen-sport-range')
    assert.deepEqual(encode({ family: 4, protocol: 'tcp', portFirst: 8000, portLast: 8100 }), ss[0])
    assert.deepEqual(encode({ family: 6, protocol: 'tcp', portFirst: 8000, portLast: 8100 }), ss[1])
  })

  it('refuses queries inet_diag cannot answer, before any job runs', () => {
    assert.throws(() => encode({ family: 5 as 4, protocol: 'tcp' }), TypeError)
    assert.throws(() => encode({ family: 4, protocol: 'icmp' as 'tcp' }), TypeError)
    assert.throws(() => encode({ family: 4, protocol: 'tcp', port: 1, portFirst: 1, portLast: 2 }), TypeError)
    assert.throws(() => encode({ family: 4, protocol: 'tcp', portFirst: 9, portLast: 8 }), TypeError)
    assert.throws(() => encode({ family: 4, protocol: 'tcp', port: 70000 }), RangeError)
  })
})

describe("sock_diag decoder on the kernel's replies", () => {
  const decode = (m: Buffer, p: 'tcp' | 'udp' | 'sctp' = 'tcp') => native().sockDiagDecode(m, p)

  it('listening TCP sockets: specific v4, dual-stack v6 wildcard, v6only v6', () => {
    const socks = repliesOf('tcp-listen').map((m) => decode(m.bytes)!)
    const byPort = new Map(socks.map((s) => [s.port, s]))
    assert.deepEqual([...byPort.keys()].sort(), [8080, 8081, 8082])
    assert.equal(byPort.get(8080)!.address, '127.0.0.1')
    assert.equal(byPort.get(8080)!.family, 4)
    assert.equal(byPort.get(8080)!.v6only, undefined)
    assert.equal(byPort.get(8081)!.address, '::')
    assert.equal(byPort.get(8081)!.v6only, false)
    assert.equal(byPort.get(8082)!.address, '::1')
    assert.equal(byPort.get(8082)!.v6only, true)
    for (const s of socks) {
      assert.equal(s.state, 10)
      assert.equal(s.protocol, 'tcp')
      assert.equal(s.uid, 0)
      assert.ok(s.inode > 0)
      assert.equal(typeof s.cookie, 'bigint')
      assert.equal(s.peer, undefined)
    }
  })

  it('unconnected UDP sockets', () => {
    const socks = repliesOf('udp-unconn').map((m) => decode(m.bytes, 'udp')!)
    assert.deepEqual(socks.map((s) => [s.protocol, s.state, s.address, s.port, s.v6only]).sort(), [
      ['udp', 7, '0.0.0.0', 5353, undefined],
      ['udp', 7, '::', 5354, true],
    ])
  })

  it('refuses truncated, lying and foreign messages with null', () => {
    let n = 0
    for (const m of [...repliesOf('tcp-listen'), ...repliesOf('udp-unconn')]) {
      const b = m.bytes
      for (let cut = 0; cut < b.length; cut++) assert.equal(decode(b.subarray(0, cut)), null, `cut at ${cut}`)
      const short = Buffer.from(b.subarray(0, HDR + MSG - 1))
      short.writeUInt32LE(short.length, 0)
      assert.equal(decode(short), null, 'shorter than inet_diag_msg')
      const lying = Buffer.from(b)
      lying.writeUInt16LE(b.length, HDR + MSG) // the first attribute claims the whole message
      assert.equal(decode(lying), null)
      const other = Buffer.from(b)
      other.writeUInt16LE(18, 4)
      assert.equal(decode(other), null, 'another message type')
      const unix = Buffer.from(b)
      unix[HDR] = 1
      assert.equal(decode(unix), null, 'AF_UNIX')
      n++
    }
    assert.equal(n, 5)
  })
})

describe('listSockets() input checks (before anything is sent)', () => {
  let ns: Namespace
  before(async () => {
    ns = await Namespace.current()
  })
  after(async () => {
    await ns?.close()
  })

  for (const [what, filter] of [
    ['a filter that is not an object', 'tcp'],
    ['an unknown protocol', { protocol: 'icmp' }],
    ['an empty protocol list', { protocol: [] }],
    ['family 5', { family: 5 }],
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['a fractional port', { port: 80.5 }],
    ['a backwards range', { port: { from: 9000, to: 8000 } }],
    ['a range without to', { port: { from: 9000 } }],
  ] as const) {
    it(`refuses ${what}`, async () => {
      await assert.rejects(
        listSockets(ns, filter as never),
        (e: Error & { code?: string }) =>
          (e instanceof TypeError || e instanceof RangeError) && /^ERR_(INVALID_ARG_VALUE|INVALID_ARG_TYPE|OUT_OF_RANGE)$/.test(e.code ?? ''),
      )
    })
  }

  it('refuses a closed namespace', async () => {
    const other = await Namespace.current()
    await other.close()
    await assert.rejects(listSockets(other), { code: 'ERR_NETNS_KIT_CLOSED' })
  })
})

describe('socketOverlaps() and describeSocket()', () => {
  const rec = (family: 4 | 6, address: string, v6only?: boolean): SocketRecord => ({
    protocol: 'tcp',
    family,
    state: 'listen',
    address,
    port: 80,
    wildcard: address === '0.0.0.0' || address === '::',
    uid: 0,
    inode: 1,
    cookie: 1n,
    recvQ: 0,
    sendQ: 128,
    ...(v6only === undefined ? {} : { v6only }),
  })

  it('same family: a wildcard on either side, or the same address', () => {
    assert.ok(socketOverlaps(rec(4, '0.0.0.0'), '10.0.0.1'))
    assert.ok(socketOverlaps(rec(4, '10.0.0.1'), '0.0.0.0'))
    assert.ok(socketOverlaps(rec(4, '10.0.0.1'), '10.0.0.1'))
    assert.ok(!socketOverlaps(rec(4, '10.0.0.1'), '10.0.0.2'))
    assert.ok(socketOverlaps(rec(6, 'fd00::1', true), 'fd00:0:0::1'), 'IPv6 compared as addresses, not strings')
    assert.ok(!socketOverlaps(rec(6, 'fd00::1', true), 'fd00::2'))
    assert.ok(socketOverlaps(rec(6, '::', true), 'fd00::2'))
  })

  it('an IPv6 socket without v6only also holds the IPv4 port', () => {
    assert.ok(socketOverlaps(rec(6, '::', false), '0.0.0.0'))
    assert.ok(socketOverlaps(rec(6, '::', false), '192.0.2.1'))
    assert.ok(!socketOverlaps(rec(6, '::', true), '192.0.2.1'), 'v6only: IPv6 only')
    assert.ok(socketOverlaps(rec(6, '::ffff:192.0.2.1', false), '192.0.2.1'), 'a v4-mapped address is that IPv4 address')
    assert.ok(socketOverlaps(rec(6, '::ffff:192.0.2.1', false), '0.0.0.0'))
    assert.ok(!socketOverlaps(rec(6, '::ffff:192.0.2.1', false), '192.0.2.2'))
    assert.ok(!socketOverlaps(rec(6, 'fd00::1', false), '0.0.0.0'), 'a plain IPv6 address takes no IPv4 port')
  })

  it('an IPv4 socket never holds an IPv6 port', () => {
    assert.ok(!socketOverlaps(rec(4, '0.0.0.0'), '::'))
    assert.ok(!socketOverlaps(rec(4, '0.0.0.0'), 'fd00::1'))
  })

  it('refuses a host address that is not an address', () => {
    assert.throws(() => socketOverlaps(rec(4, '0.0.0.0'), 'localhost'), { code: 'ERR_INVALID_ARG_VALUE' })
  })

  it('describes a socket for messages', () => {
    assert.equal(describeSocket(rec(4, '0.0.0.0')), 'tcp 0.0.0.0:80 (listen, uid 0, inode 1)')
    assert.equal(describeSocket(rec(6, '::', false)), 'tcp [::]:80 (listen, IPv4 too, uid 0, inode 1)')
  })
})

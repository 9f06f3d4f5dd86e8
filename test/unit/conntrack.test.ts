// ctnetlink wire format, without privileges: golden bytes taken from what the conntrack tool
// sends (test/fixtures/ct/capture.sh), and the decoder on the kernel's replies in the same
// captures, checked against the tool's own reading of them.
import { strict as assert } from 'node:assert'
import * as path from 'node:path'
import { native, type NativeCtEntry } from '../../lib/kernel/binding'
import { checkConntrackFilter, conntrackEntry } from '../../lib/conntrack'
import { parseConntrackText, parseStrace, rebuild, splitNetlink, topAttrs, zeroPadding, type Syscall } from '../ct-witness'

const fixtures = path.resolve(__dirname, '..', 'fixtures', 'ct')
const CTA_TUPLE_ORIG = 1
const CTA_ID = 12
const CT_NEW = (1 << 8) | 0
const CT_GET = (1 << 8) | 1
const CT_DELETE = (1 << 8) | 2

function capture(name: string): { calls: Syscall[]; text: string } {
  return parseStrace(path.join(fixtures, name))
}

/** The bytes of a sent message with its sequence number cleared (ours are sent with 0). */
function noSeq(msg: Buffer): Buffer {
  const m = Buffer.from(msg)
  m.writeUInt32LE(0, 8)
  return m
}

/** The conntrack entries (CT_NEW messages) the kernel sent on the dump socket. */
function dumpedEntries(calls: Syscall[]): Buffer[] {
  return calls
    .filter((c) => c.call === 'recvmsg' && c.fd === 3)
    .flatMap((c) => splitNetlink(c.bytes))
    .filter((m) => m.readUInt16LE(4) === CT_NEW)
}

describe('conntrack wire format (golden bytes from the conntrack tool)', () => {
  it('encodes the dump request exactly as `conntrack -L` does, for each family', () => {
    for (const [file, family] of [
      ['list.strace', undefined],
      ['list-ipv4.strace', 4],
      ['list-ipv6.strace', 6],
    ] as const) {
      const sent = capture(file).calls.filter((c) => c.call === 'sendto' && c.fd === 3)
      assert.equal(sent.length, 1, file)
      const theirs = noSeq(sent[0]!.bytes)
      assert.equal(theirs.readUInt16LE(4), CT_GET, file)
      const ours = native().ctEncode(family === undefined ? { op: 'dump' } : { op: 'dump', family })
      assert.equal(ours.toString('hex'), theirs.toString('hex'), file)
    }
  })

  it('encodes the delete of a dumped entry as `conntrack -D -p udp --dport 5000` does (its original tuple)', () => {
    const { calls, text } = capture('delete-udp-dport-5000.strace')
    const entries = dumpedEntries(calls)
    const deletes = calls.filter((c) => c.call === 'sendto' && c.fd === 4).map((c) => c.bytes)
    assert.equal(deletes.length, 2, 'the tool deleted the IPv4 and the IPv6 entry for port 5000')
    assert.match(text, /2 flow entries have been deleted/)
    for (const del of deletes) {
      assert.equal(del.readUInt16LE(4), CT_DELETE)
      const [origType, origAttr] = topAttrs(del)[0]!
      assert.equal(origType, CTA_TUPLE_ORIG)
      // The dumped entry the tool was deleting: the one with the same original tuple.
      const entry = entries.find((m) => topAttrs(m).some(([t, a]) => t === CTA_TUPLE_ORIG && zeroPadding(a, 0).equals(zeroPadding(origAttr, 0))))
      assert.ok(entry, 'the deleted tuple comes from the dump')
      // conntrack also sends CTA_TUPLE_REPLY, CTA_STATUS, CTA_TIMEOUT and CTA_MARK, which the
      // kernel ignores on a delete; we send the original tuple, plus CTA_ID to spare a
      // newer connection that reuses the tuple.
      const expected = zeroPadding(rebuild(del, [origAttr]))
      assert.equal(native().ctEncode({ op: 'delete', entry: entry!, id: false }).toString('hex'), expected.toString('hex'))
      const idAttr = topAttrs(entry!).find(([t]) => t === CTA_ID)![1]
      const withId = zeroPadding(rebuild(del, [origAttr, idAttr]))
      assert.equal(native().ctEncode({ op: 'delete', entry: entry! }).toString('hex'), withId.toString('hex'))
    }
  })

  it('never encodes a delete without a tuple (which would flush the table)', () => {
    assert.throws(() => native().ctEncode({ op: 'delete', entry: Buffer.alloc(20) }), TypeError)
    const entries = dumpedEntries(capture('list.strace').calls)
    for (const e of entries) {
      const del = native().ctEncode({ op: 'delete', entry: e })
      assert.equal(topAttrs(del)[0]![0], CTA_TUPLE_ORIG)
    }
  })
})

describe('conntrack decoder', () => {
  const { calls, text } = capture('list.strace')
  const messages = dumpedEntries(calls)
  const tool = parseConntrackText(text)

  it('reads every entry of a captured dump as the conntrack tool printed it', () => {
    assert.equal(messages.length, 5)
    assert.equal(tool.length, 5)
    const decoded = messages.map((m) => native().ctDecode(m))
    for (const t of tool) {
      const d = decoded.find(
        (e) =>
          e &&
          e.orig.src === t.orig.src &&
          e.orig.dst === t.orig.dst &&
          e.orig.protocol === t.protoNum &&
          (e.orig.srcPort ?? e.orig.icmpId) === Number(t.orig.sport ?? t.orig.id),
      )
      assert.ok(d, `decoded ${JSON.stringify(t)}`)
      const e = d!
      assert.equal(e.family, t.orig.src!.includes(':') ? 6 : 4)
      assert.equal(e.timeout, t.timeout)
      assert.equal(e.mark, t.mark)
      assert.equal(e.use, t.use)
      assert.equal(e.reply!.src, t.reply.src)
      assert.equal(e.reply!.dst, t.reply.dst)
      if (t.protoName === 'udp') {
        assert.equal(e.orig.dstPort, Number(t.orig.dport))
        assert.equal(e.reply!.srcPort, Number(t.reply.sport))
        assert.equal(e.reply!.dstPort, Number(t.reply.dport))
      } else {
        assert.equal(e.orig.icmpType, Number(t.orig.type))
        assert.equal(e.orig.icmpCode, Number(t.orig.code))
        assert.equal(e.reply!.icmpType, Number(t.reply.type))
        assert.equal(e.reply!.icmpId, Number(t.reply.id))
      }
      const pub = conntrackEntry(e)
      assert.equal(pub.protocol, t.protoName)
      assert.equal(pub.flags.includes('seen-reply'), !t.flags.includes('UNREPLIED'))
      assert.equal(pub.flags.includes('assured'), t.flags.includes('ASSURED'))
      assert.ok(pub.flags.includes('confirmed'))
      assert.equal(typeof e.id, 'number')
    }
  })

  it('decodes CTA_ID, CTA_STATUS and CTA_TIMEOUT as big-endian', () => {
    const m = messages[0]!
    const d = native().ctDecode(m)!
    const attr = (type: number) => topAttrs(m).find(([t]) => t === type)![1]
    assert.equal(d.id, attr(12).readUInt32BE(4))
    assert.equal(d.status, attr(3).readUInt32BE(4))
    assert.equal(d.timeout, attr(7).readUInt32BE(4))
  })

  it('returns null for every truncation of a message, never a guess', () => {
    for (const m of messages) {
      for (let n = 0; n < m.length; n++) assert.equal(native().ctDecode(m.subarray(0, n)), null, `cut at ${n}`)
    }
  })

  it('with a consistent shorter length, keeps only whole attributes and needs the original tuple', () => {
    for (const m of messages) {
      const full = native().ctDecode(m)!
      // Each top-level attribute: where it starts, where its data ends, where its padding ends.
      const spans: { start: number; dataEnd: number; padEnd: number }[] = []
      for (let off = 20; off + 4 <= m.length;) {
        const len = m.readUInt16LE(off)
        spans.push({ start: off, dataEnd: off + len, padEnd: off + ((len + 3) & ~3) })
        off += (len + 3) & ~3
      }
      assert.equal(m.readUInt16LE(spans[0]!.start + 2) & 0x3fff, CTA_TUPLE_ORIG)
      for (let n = 16; n < m.length; n++) {
        const cut = Buffer.from(m.subarray(0, n))
        cut.writeUInt32LE(n, 0)
        const d = native().ctDecode(cut)
        const whole = spans.some((sp) => n >= sp.dataEnd && n <= sp.padEnd)
        if (!whole || n < spans[0]!.dataEnd) {
          assert.equal(d, null, `length ${n}: cut inside an attribute, or no whole original tuple`)
          continue
        }
        assert.ok(d, `length ${n}`)
        // what is there is exactly what the whole message says; the rest is absent
        for (const [k, v] of Object.entries(d!) as [keyof NativeCtEntry, unknown][]) assert.deepEqual(v, full[k], `${k} at length ${n}`)
        assert.ok(Object.keys(d!).length < Object.keys(full).length)
      }
    }
  })

  it('refuses lengths that lie, wrong families and wrong message types', () => {
    const m = messages.find((x) => x.readUInt8(16) === 2)! // an IPv4 entry
    // a nested attribute claiming more than its parent holds
    const lying = Buffer.from(m)
    lying.writeUInt16LE(0xff, 24) // CTA_TUPLE_IP inside CTA_TUPLE_ORIG
    assert.equal(native().ctDecode(lying), null)
    // an IPv4 entry announced as IPv6: the address lengths no longer fit
    const v6 = Buffer.from(m)
    v6.writeUInt8(10, 16)
    assert.equal(native().ctDecode(v6), null)
    // not a CT_NEW message
    const other = Buffer.from(m)
    other.writeUInt16LE(CT_DELETE, 4)
    assert.equal(native().ctDecode(other), null)
    // two messages where one is expected
    assert.equal(native().ctDecode(Buffer.concat([m, m])), null)
    assert.ok(native().ctDecode(m))
  })
})

describe('conntrack filter validation', () => {
  const code = (c: string) => (e: NodeJS.ErrnoException) => e.code === c

  it('accepts the documented shapes', () => {
    assert.deepEqual(checkConntrackFilter(undefined), {})
    assert.deepEqual(checkConntrackFilter({ protocol: 'udp', origDstPort: 5000 }), { protocol: 17, origDstPort: 5000 })
    assert.deepEqual(checkConntrackFilter({ protocol: 132, origDst: 'fd00::1' }), { protocol: 132, origDst: 'fd00::1', family: 6 })
    assert.deepEqual(checkConntrackFilter({ family: 4, origSrc: '10.0.0.1', replySrc: '10.0.0.2', replySrcPort: 80, protocol: 'tcp' }), {
      family: 4,
      origSrc: '10.0.0.1',
      replySrc: '10.0.0.2',
      replySrcPort: 80,
      protocol: 6,
    })
  })

  it('refuses bad input with typed errors', () => {
    assert.throws(() => checkConntrackFilter(null), code('ERR_INVALID_ARG_TYPE'))
    assert.throws(() => checkConntrackFilter('udp'), code('ERR_INVALID_ARG_TYPE'))
    assert.throws(() => checkConntrackFilter({ protocol: 'udp', dport: 5000 }), code('ERR_INVALID_ARG_VALUE'), 'unknown key')
    assert.throws(() => checkConntrackFilter({ family: 5 }), code('ERR_INVALID_ARG_VALUE'))
    assert.throws(() => checkConntrackFilter({ protocol: 'icmpx' }), code('ERR_INVALID_ARG_VALUE'))
    assert.throws(() => checkConntrackFilter({ protocol: 256 }), code('ERR_OUT_OF_RANGE'))
    assert.throws(() => checkConntrackFilter({ protocol: 1.5 }), code('ERR_INVALID_ARG_TYPE'))
    assert.throws(() => checkConntrackFilter({ origDstPort: 0 }), code('ERR_OUT_OF_RANGE'))
    assert.throws(() => checkConntrackFilter({ origDstPort: 65536 }), code('ERR_OUT_OF_RANGE'))
    assert.throws(() => checkConntrackFilter({ replySrcPort: '80' }), code('ERR_INVALID_ARG_TYPE'))
    assert.throws(() => checkConntrackFilter({ origDst: '10.0.0.300' }), code('ERR_INVALID_ARG_VALUE'))
    assert.throws(() => checkConntrackFilter({ origDst: '10.0.0.0/24' }), code('ERR_INVALID_ARG_VALUE'))
    assert.throws(() => checkConntrackFilter({ family: 6, origDst: '10.0.0.1' }), code('ERR_INVALID_ARG_VALUE'), 'family vs address')
    assert.throws(() => checkConntrackFilter({ origSrc: 'fd00::1', origDst: '10.0.0.1' }), code('ERR_INVALID_ARG_VALUE'), 'mixed')
    assert.throws(() => checkConntrackFilter({ protocol: 1, origDstPort: 7 }), code('ERR_INVALID_ARG_VALUE'), 'icmp has no ports')
  })
})

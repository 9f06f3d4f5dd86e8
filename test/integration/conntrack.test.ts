// conntrack over ctnetlink, in throwaway namespaces: a client sends UDP (and TCP) to a
// "host" namespace whose conntrack table we read and prune; the conntrack tool, run inside
// the host namespace, is the witness.
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { Namespace, VethPair, conntrack, type ConntrackEntry } from '../../lib'
import { Sandbox, ping } from '../helpers'
import { parseConntrackText, type ToolEntry } from '../ct-witness'

const CLIENT4 = '10.91.0.1'
const HOST4 = '10.91.0.2'
const CLIENT6 = 'fd91::1'
const HOST6 = 'fd91::2'

/** Runs a witness or traffic command with `input` on stdin; resolves with stdout, rejects on failure. */
function runWith(cmd: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => {
      out += d
    })
    p.stderr.on('data', (d) => {
      err += d
    })
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err}`))))
    p.stdin.end(input)
  })
}

/** The host namespace's table through `conntrack -L -o id` (the tool, not us). */
async function witness(ns: Namespace, ...args: string[]): Promise<ToolEntry[]> {
  return parseConntrackText(await runWith('ip', ['netns', 'exec', ns.name!, 'conntrack', '-L', '-o', 'id', ...args]))
}

/** Test fixture: connections are tracked in `ns` only once a rule there uses conntrack. */
async function trackConnections(ns: Namespace, extra = ''): Promise<void> {
  await runWith(
    'ip',
    ['netns', 'exec', ns.name!, 'nft', '-f', '-'],
    `table inet nkct {\n chain in {\n  type filter hook input priority 0;\n  ct state new counter\n }\n}\n${extra}`,
  )
}

/** One UDP datagram from the client to ADDR:PORT (from source port `sport` when given). */
async function udp(client: Namespace, addr: string, port: number, sport?: number): Promise<void> {
  const to = addr.includes(':') ? `UDP6:[${addr}]:${port}` : `UDP:${addr}:${port}`
  await runWith('ip', ['netns', 'exec', client.name!, 'socat', '-u', '-', `${to}${sport ? `,sourceport=${sport}` : ''}`], 'x')
}

/** Waits until the witness sees `n` entries matching `pred`. */
async function until(ns: Namespace, pred: (e: ToolEntry) => boolean, n: number): Promise<ToolEntry[]> {
  let got: ToolEntry[] = []
  for (let i = 0; i < 100; i++) {
    got = (await witness(ns)).filter(pred)
    if (got.length === n) return got
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`expected ${n} conntrack entries, the witness shows ${got.length}`)
}

const udpTo = (port: number, dst?: string) => (e: ToolEntry) => e.protoName === 'udp' && e.orig.dport === String(port) && (!dst || e.orig.dst === dst)

/** Same connection, as we and the tool see it. */
function same(ours: ConntrackEntry, t: ToolEntry): boolean {
  const o = ours.orig
  if (ours.id !== t.id || ours.protocol !== t.protoName || o.src !== t.orig.src || o.dst !== t.orig.dst) return false
  if (t.orig.sport !== undefined && (String(o.srcPort) !== t.orig.sport || String(o.dstPort) !== t.orig.dport)) return false
  if (t.orig.type !== undefined && (String(o.icmpType) !== t.orig.type || String(o.icmpId) !== t.orig.id)) return false
  const r = ours.reply!
  if (r.src !== t.reply.src || r.dst !== t.reply.dst) return false
  if (t.reply.sport !== undefined && (String(r.srcPort) !== t.reply.sport || String(r.dstPort) !== t.reply.dport)) return false
  return ours.mark === t.mark && ours.use === t.use && ours.flags.includes('seen-reply') === !t.flags.includes('UNREPLIED')
}

describe('conntrack (ctnetlink)', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  const children: number[] = []
  afterEach(async () => {
    for (const pid of children.splice(0)) {
      try {
        process.kill(pid)
      } catch {
        /* gone */
      }
    }
    await sb.cleanup()
  })

  async function topology(): Promise<{ client: Namespace; host: Namespace }> {
    const client = await sb.ns()
    const host = await sb.ns()
    const v = await VethPair.create({ name: 'vc', namespace: client, up: true, peer: { name: 'vh', namespace: host, up: true } })
    await v.host.addAddress(`${CLIENT4}/24`)
    await v.peer.addAddress(`${HOST4}/24`)
    await v.host.addAddress(`${CLIENT6}/64`, { nodad: true })
    await v.peer.addAddress(`${HOST6}/64`, { nodad: true })
    await trackConnections(host)
    // Resolve the neighbours first, so the UDP datagrams leave at once (and leave ICMP entries).
    assert.ok(await ping(client, HOST4))
    assert.ok(await ping(client, HOST6))
    return { client, host }
  }

  /** UDP to port 5000 (IPv4 and IPv6) and 5001 (IPv4). */
  async function traffic(client: Namespace, host: Namespace): Promise<void> {
    await udp(client, HOST4, 5000)
    await udp(client, HOST6, 5000)
    await udp(client, HOST4, 5001)
    await until(host, (e) => e.protoName === 'udp', 3)
  }

  it("lists the namespace's entries as `conntrack -L` shows them, IPv4 and IPv6", async () => {
    const { client, host } = await topology()
    await traffic(client, host)
    const tool = await witness(host)
    const ours = await conntrack.list(host)
    assert.equal(ours.length, tool.length, JSON.stringify({ ours, tool }))
    for (const t of tool)
      assert.ok(
        ours.some((o) => same(o, t)),
        `we list ${JSON.stringify(t)}`,
      )
    for (const o of ours) assert.ok(o.timeout! > 0 && o.timeout! <= 30)
    assert.deepEqual(new Set(ours.map((o) => o.protocol)), new Set(['udp', 'icmp', 'icmpv6']))

    // Filters, checked against the witness's own filtered listing.
    const v6 = await conntrack.list(host, { family: 6 })
    assert.deepEqual(v6.map((e) => e.id).sort(), (await witness(host, '-f', 'ipv6')).map((e) => e.id).sort())
    assert.ok(v6.length === 2 && v6.every((e) => e.family === 6))
    const p5001 = await conntrack.list(host, { protocol: 'udp', origDstPort: 5001 })
    assert.equal(p5001.length, 1)
    assert.equal(p5001[0]!.orig.dst, HOST4)
    assert.equal((await conntrack.list(host, { protocol: 'udp', origDst: HOST6 })).length, 1)
    assert.equal((await conntrack.list(host, { protocol: 'udp', origSrc: CLIENT4, replySrcPort: 5000 })).length, 1)
    assert.equal((await conntrack.list(host, { protocol: 'tcp' })).length, 0)
    assert.equal((await conntrack.list(host, { protocol: 1 })).length, 1)

    // The socket lives inside the namespace: the client's table holds none of the host's entries.
    const mine = await conntrack.list(client)
    assert.ok(!mine.some((e) => ours.some((o) => o.id === e.id)))
  })

  it("delete({ protocol: 'udp', origDstPort: P }) removes exactly the entries for P", async () => {
    const { client, host } = await topology()
    await traffic(client, host)
    const before = await witness(host)
    assert.equal(before.filter(udpTo(5000)).length, 2)
    assert.equal(await conntrack.delete(host, { protocol: 'udp', origDstPort: 5000 }), 2)
    const after = await witness(host)
    assert.equal(after.filter(udpTo(5000)).length, 0, 'both families are gone for port 5000')
    // everything else is untouched: the other port's entry and the ICMP entries, same ids
    const others = before.filter((e) => !udpTo(5000)(e))
    assert.deepEqual(after.map((e) => e.id).sort(), others.map((e) => e.id).sort())
    assert.equal(await conntrack.delete(host, { protocol: 'udp', origDstPort: 5000 }), 0, 'nothing left to delete')
  })

  it('IPv6: deletes by family or by original destination address only what matches', async () => {
    const { client, host } = await topology()
    await traffic(client, host)
    assert.equal(await conntrack.delete(host, { protocol: 'udp', origDstPort: 5000, origDst: '10.91.0.99' }), 0)
    assert.equal(await conntrack.delete(host, { protocol: 'udp', origDstPort: 5000, origDst: HOST6 }), 1)
    let left = await witness(host)
    assert.equal(left.filter(udpTo(5000, HOST6)).length, 0)
    assert.equal(left.filter(udpTo(5000, HOST4)).length, 1, 'the IPv4 entry for the same port stays')
    // a fresh IPv6 flow, removed by family
    await udp(client, HOST6, 5002)
    await until(host, udpTo(5002), 1)
    assert.equal(await conntrack.delete(host, { family: 6, protocol: 'udp' }), 1)
    left = await witness(host)
    assert.equal(left.filter((e) => e.protoName === 'udp' && e.orig.src?.includes(':')).length, 0)
    assert.equal(left.filter((e) => e.protoName === 'udp').length, 2, 'IPv4 UDP entries stay')
    assert.equal(left.filter((e) => e.protoName === 'icmpv6').length, 1, 'ICMPv6 stays')
  })

  it('after DNAT, deletes by the HOST port, not the container port (moby#53384)', async () => {
    const client = await sb.ns()
    const host = await sb.ns()
    const v = await VethPair.create({ name: 'vc', namespace: client, up: true, peer: { name: 'vh', namespace: host, up: true } })
    await v.host.addAddress(`${CLIENT4}/24`)
    await v.peer.addAddress(`${HOST4}/24`)
    // A published port as NatRule makes one: host port 8080 -> "container" 10.91.0.2:9090.
    await trackConnections(
      host,
      `table ip nknat {\n chain pre {\n  type nat hook prerouting priority -100; policy accept;\n  udp dport 8080 dnat to ${HOST4}:9090\n }\n}\n`,
    )
    assert.ok(await ping(client, HOST4))
    await udp(client, HOST4, 8080)
    await udp(client, HOST4, 9090) // a direct flow to the container port: unrelated
    await until(host, (e) => e.protoName === 'udp', 2)
    const published = await conntrack.list(host, { protocol: 'udp', origDstPort: 8080 })
    assert.equal(published.length, 1)
    assert.ok(published[0]!.flags.includes('dst-nat'))
    assert.equal(published[0]!.reply!.srcPort, 9090)
    assert.equal((await conntrack.list(host, { protocol: 'udp', replySrcPort: 9090 })).length, 2)
    // The container port selects only the direct flow, never the published one.
    const direct = await conntrack.list(host, { protocol: 'udp', origDstPort: 9090 })
    assert.equal(direct.length, 1)
    assert.ok(!direct[0]!.flags.includes('dst-nat'))
    assert.equal(await conntrack.delete(host, { protocol: 'udp', origDst: HOST4, origDstPort: 8080 }), 1)
    const left = await witness(host)
    assert.equal(left.filter(udpTo(8080)).length, 0)
    assert.equal(left.filter(udpTo(9090)).length, 1, 'the unrelated flow to the container port stays')
  })

  it('reads TCP entries with their state', async () => {
    const { client, host } = await topology()
    const server = host.spawn('socat', ['-u', 'TCP-LISTEN:7000,reuseaddr', '/dev/null'], { stdio: 'ignore' })
    children.push(server.pid!)
    for (let i = 0; ; i++) {
      try {
        await runWith('ip', ['netns', 'exec', client.name!, 'socat', '-u', '-', `TCP:${HOST4}:7000`], 'hello')
        break
      } catch (e) {
        if (i > 40) throw e
        await new Promise((r) => setTimeout(r, 50)) // the server is not listening yet
      }
    }
    const [t] = await until(host, (e) => e.protoName === 'tcp' && e.tcpState === 'TIME_WAIT', 1)
    const [ours] = await conntrack.list(host, { protocol: 'tcp' })
    assert.ok(ours && same(ours, t!), JSON.stringify({ ours, t }))
    assert.equal(ours!.tcpState, 'TIME_WAIT')
    assert.ok(ours!.flags.includes('assured'))
    assert.equal(await conntrack.delete(host, { protocol: 'tcp', origDstPort: 7000 }), 1)
    assert.equal((await witness(host, '-p', 'tcp')).length, 0)
  })

  it('deletes hundreds of entries in one pipelined batch; concurrent deletes never fail nor count twice', async () => {
    const { client, host } = await topology()
    const N = 600
    // N flows from N source ports, sent by one process inside the client namespace.
    const flows = async (port: number) => {
      const script =
        `const d=require('dgram');let n=0;for(let i=0;i<${N};i++){const s=d.createSocket('udp4');` +
        `s.send('x',${port},'${HOST4}',()=>{s.close();if(++n===${N})process.exit(0)})}`
      const p = client.spawn(process.execPath, ['-e', script], { stdio: 'ignore' })
      const code = await new Promise<number | null>((r) => p.on('exit', r))
      assert.equal(code, 0)
      await until(host, udpTo(port), N)
    }
    await udp(client, HOST4, 6001)
    await flows(6000)
    assert.equal(await conntrack.delete(host, { protocol: 'udp', origDstPort: 6000 }), N)
    let left = await witness(host)
    assert.equal(left.filter(udpTo(6000)).length, 0)
    assert.equal(left.filter(udpTo(6001)).length, 1)

    // Four handles on the same namespace (four sockets, four threads) delete at once: an
    // entry another one removed first is ENOENT for the others, which is not an error.
    await flows(6000)
    const handles = await Promise.all([1, 2, 3, 4].map(() => Namespace.open(host.name!)))
    try {
      const counts = await Promise.all(handles.map((h) => conntrack.delete(h, { protocol: 'udp', origDstPort: 6000 })))
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        N,
        `each entry counted once: ${counts}`,
      )
    } finally {
      for (const h of handles) await h.close()
    }
    left = await witness(host)
    assert.equal(left.filter(udpTo(6000)).length, 0)
    assert.equal(left.filter(udpTo(6001)).length, 1)
  })

  it('refuses bad filters and table flushes before anything reaches the kernel', async () => {
    const { client, host } = await topology()
    await traffic(client, host)
    const before = (await witness(host)).map((e) => e.id).sort()
    const code = (c: string) => (e: NodeJS.ErrnoException) => e.code === c
    await assert.rejects(conntrack.delete(host, {}), code('ERR_INVALID_ARG_VALUE'))
    await assert.rejects(conntrack.delete(host, { family: 4 }), code('ERR_INVALID_ARG_VALUE'))
    await assert.rejects(conntrack.delete(host, undefined as never), code('ERR_INVALID_ARG_TYPE'))
    await assert.rejects(conntrack.delete(host, { protocol: 'udp', dport: 5000 } as never), code('ERR_INVALID_ARG_VALUE'))
    await assert.rejects(conntrack.delete(host, { protocol: 'udp', origDstPort: 70000 }), code('ERR_OUT_OF_RANGE'))
    await assert.rejects(conntrack.list(host, { origDst: 'not-an-ip' }), code('ERR_INVALID_ARG_VALUE'))
    await assert.rejects(conntrack.list('host' as never), code('ERR_INVALID_ARG_TYPE'))
    assert.deepEqual((await witness(host)).map((e) => e.id).sort(), before, 'nothing was deleted')
    const other = await Namespace.open(host.name!)
    await other.close()
    await assert.rejects(conntrack.list(other), code('ERR_NETNS_KIT_CLOSED'))
  })
})

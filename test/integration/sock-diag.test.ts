// sock_diag in throwaway namespaces: the sockets holding ports, against `ss -ltnu -e -n` run in
// the same namespace (the witness), with socat listeners (TCP and UDP, IPv4 and IPv6, wildcard and
// specific, v6only and dual-stack, another uid) and sockets that hold no listening port
// (an established TCP connection, a connected UDP socket) that must not be listed.
import { strict as assert } from 'node:assert'
import type { ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import { NetnsKitError, listSockets, openUdpSocket, sockDiagSupport, socketOverlaps, socketOwners, type Namespace, type SocketRecord } from '../../lib'
import { native } from '../../lib/kernel/binding'
import { Sandbox, runIn } from '../helpers'

interface Seen {
  protocol: string
  state: string
  address: string
  port: number
  uid: number
  inode: number
  v6only?: boolean
}

/** `ss -H -ltnu -e -n [FILTER]` inside `ns`, parsed: the witness. */
async function ss(ns: Namespace, filter: string[] = []): Promise<Seen[]> {
  const r = await runIn(ns, 'ss', ['-H', '-ltnu', '-e', '-n', ...filter])
  assert.equal(r.code, 0, r.out)
  const out: Seen[] = []
  for (const line of r.out.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 6 || !/^(tcp|udp)$/.test(f[0]!)) continue // ss also prints cgroup2 warnings here
    const local = f[4]!
    const colon = local.lastIndexOf(':')
    let address = local.slice(0, colon)
    const extra = new Map(
      f
        .slice(6)
        .filter((x) => x.includes(':'))
        .map((x) => [x.slice(0, x.indexOf(':')), x.slice(x.indexOf(':') + 1)]),
    )
    if (address === '*') address = '::' // ss: an IPv6 wildcard without v6only
    address = address.replace(/^\[(.*)\]$/, '$1')
    const seen: Seen = {
      protocol: f[0]!,
      state: f[1] === 'LISTEN' ? 'listen' : f[1] === 'UNCONN' ? 'unconn' : f[1]!,
      address,
      port: Number(local.slice(colon + 1)),
      uid: Number(extra.get('uid') ?? 0),
      inode: Number(extra.get('ino')),
    }
    if (extra.has('v6only')) seen.v6only = extra.get('v6only') === '1'
    out.push(seen)
  }
  return out
}

function ours(records: SocketRecord[]): Seen[] {
  return records.map((r) => {
    const s: Seen = { protocol: r.protocol, state: r.state, address: r.address, port: r.port, uid: r.uid, inode: r.inode }
    if (r.v6only !== undefined) s.v6only = r.v6only
    return s
  })
}

const key = (s: Seen) => JSON.stringify([s.protocol, s.state, s.address, s.port, s.uid, s.inode, s.v6only ?? null])
const sorted = (a: Seen[]) => a.map(key).sort()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(what: string, fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

const fdCount = () => fs.readdirSync('/proc/self/fd').length

describe('sock_diag: listSockets() / ns.sockets()', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  const children: ChildProcess[] = []
  const spawnIn = (ns: Namespace, cmd: string, args: string[]) => {
    const c = ns.spawn(cmd, args, { stdio: 'ignore' })
    children.push(c)
    return c
  }
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL')
    await sb.cleanup()
  })

  it('lists exactly what ss -ltnu lists: TCP and UDP, v4 and v6, wildcard and specific, v6only, uid, inode', async () => {
    const ns = await sb.ns()
    const other = await sb.ns()
    spawnIn(ns, 'socat', ['TCP4-LISTEN:18080,bind=127.0.0.1,reuseaddr,fork', 'EXEC:cat'])
    spawnIn(ns, 'socat', ['TCP4-LISTEN:18081,reuseaddr,fork', 'EXEC:cat'])
    spawnIn(ns, 'socat', ['TCP6-LISTEN:18082,ipv6only=0,reuseaddr,fork', 'EXEC:cat'])
    spawnIn(ns, 'socat', ['TCP6-LISTEN:18083,bind=[::1],ipv6only=1,reuseaddr,fork', 'EXEC:cat'])
    spawnIn(ns, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'socat', 'TCP4-LISTEN:18084,bind=127.0.0.1,fork', 'EXEC:cat'])
    spawnIn(ns, 'socat', ['-u', 'UDP4-RECV:15353', 'OPEN:/dev/null'])
    spawnIn(ns, 'socat', ['-u', 'UDP6-RECV:15354,ipv6only=1', 'OPEN:/dev/null'])
    spawnIn(ns, 'socat', ['-u', 'UDP4-RECV:15355,bind=127.0.0.1', 'OPEN:/dev/null'])
    spawnIn(other, 'socat', ['TCP4-LISTEN:18085,reuseaddr,fork', 'EXEC:cat']) // another namespace's
    await until('8 listeners', async () => (await ss(ns)).length === 8)
    await until("the other namespace's listener", async () => (await ss(other)).length === 1)
    // Sockets holding no listening port: an established TCP connection (both ends) and a connected UDP socket.
    spawnIn(ns, 'socat', ['TCP4:127.0.0.1:18080', 'EXEC:sleep 30'])
    spawnIn(ns, 'socat', ['UDP4:127.0.0.1:15353', 'EXEC:sleep 30'])
    await until('the connections', async () => {
      const r = await runIn(ns, 'ss', ['-H', '-tun', 'state', 'established'])
      return r.out.split('\n').filter((l) => /^(tcp|udp)/.test(l.trim())).length === 3
    })

    const got = await ns.sockets()
    const witness = await ss(ns)
    assert.deepEqual(sorted(ours(got)), sorted(witness))
    assert.equal(got.length, 8)
    const at = (port: number) => got.find((s) => s.port === port)!
    assert.deepEqual([at(18080).family, at(18080).address, at(18080).wildcard], [4, '127.0.0.1', false])
    assert.deepEqual([at(18081).address, at(18081).wildcard], ['0.0.0.0', true])
    assert.deepEqual([at(18082).family, at(18082).address, at(18082).v6only, at(18082).wildcard], [6, '::', false, true])
    assert.deepEqual([at(18083).address, at(18083).v6only], ['::1', true])
    assert.equal(at(18084).uid, 65534)
    assert.deepEqual([at(15353).protocol, at(15353).state, at(15353).address], ['udp', 'unconn', '0.0.0.0'])
    assert.deepEqual([at(15354).family, at(15354).v6only], [6, true])
    assert.equal(at(15355).address, '127.0.0.1')
    assert.ok(
      got.every((s) => s.port !== 18085),
      "the other namespace's socket is not listed",
    )
    assert.equal(at(18081).sendQ, 5, "socat's backlog, as ss's Send-Q")
    // The dual-stack socket holds the IPv4 port too; the v6only one does not.
    assert.ok(socketOverlaps(at(18082), '192.0.2.1'))
    assert.ok(!socketOverlaps(at(18083), '127.0.0.1'))
    // In the other namespace: only its own.
    assert.deepEqual(
      (await listSockets(other)).map((s) => s.port),
      [18085],
    )
  })

  it('asks for TCP LISTEN only (not the established hash every namespace shares), UDP LISTEN|CLOSE as ss -l', async () => {
    // ss -l's CLOSE bit finds no TCP socket (a bound TCP socket that does not listen is in no table
    // inet_diag walks) but makes the kernel walk the whole established hash: about 2 ms per dump
    // on this machine against 0.05 ms; every connect with a published port made one.
    const ns = await sb.ns()
    const addon = native() as unknown as { sockDiag: (h: unknown, queries: { protocol: string; states?: number }[]) => Promise<unknown> }
    const orig = addon.sockDiag
    const seen: { protocol: string; states?: number }[][] = []
    addon.sockDiag = function (this: unknown, h: unknown, queries: { protocol: string; states?: number }[]) {
      seen.push(queries.map((q) => ({ protocol: q.protocol, ...(q.states !== undefined ? { states: q.states } : {}) })))
      return orig.call(this, h, queries)
    }
    try {
      spawnIn(ns, 'socat', ['TCP4-LISTEN:18090,reuseaddr,fork', 'EXEC:cat'])
      // The client only once the listener is there (started together, a loaded machine let the
      // client try first, fail and exit: the wait below then timed out).
      await until('the listener', async () => (await ss(ns)).length === 1)
      spawnIn(ns, 'socat', ['TCP4:127.0.0.1:18090', 'EXEC:sleep 30'])
      await until('listener and connection', async () => (await runIn(ns, 'ss', ['-H', '-tn', 'state', 'established'])).out.trim().split('\n').length === 2)
      const tcp = await listSockets(ns, { protocol: 'tcp' })
      assert.deepEqual(
        tcp.map((s) => [s.port, s.state]),
        [[18090, 'listen']],
      )
      await listSockets(ns, { protocol: 'udp' })
    } finally {
      addon.sockDiag = orig
    }
    assert.deepEqual(seen, [
      [
        { protocol: 'tcp', states: 1 << 10 },
        { protocol: 'tcp', states: 1 << 10 },
      ],
      [{ protocol: 'udp' }, { protocol: 'udp' }],
    ])
  })

  it('filters by port and port range in the kernel (the result is not filtered afterwards)', async () => {
    const ns = await sb.ns()
    // 300 bound UDP sockets the filter must leave out, and listeners on 19000, 19001, 19003.
    const noise = await Promise.all(Array.from({ length: 300 }, () => openUdpSocket({ namespace: ns, address: '127.0.0.1' })))
    try {
      spawnIn(ns, 'socat', ['TCP4-LISTEN:19000,reuseaddr,fork', 'EXEC:cat'])
      spawnIn(ns, 'socat', ['TCP6-LISTEN:19000,ipv6only=1,reuseaddr,fork', 'EXEC:cat'])
      spawnIn(ns, 'socat', ['-u', 'UDP4-RECV:19000', 'OPEN:/dev/null'])
      spawnIn(ns, 'socat', ['TCP4-LISTEN:19001,reuseaddr,fork', 'EXEC:cat'])
      spawnIn(ns, 'socat', ['TCP4-LISTEN:19003,reuseaddr,fork', 'EXEC:cat'])
      await until('5 listeners', async () => (await ss(ns, ['sport', '>=', ':19000', 'and', 'sport', '<=', ':19003'])).length === 5)
      const all = await listSockets(ns)
      assert.ok(all.length >= 305, `every socket: ${all.length}`)
      // listSockets() applies no port filter of its own: what comes back is what the kernel sent.
      const one = await listSockets(ns, { port: 19000 })
      assert.deepEqual(sorted(ours(one)), sorted(await ss(ns, ['sport', '=', ':19000'])))
      assert.deepEqual(one.map((s) => `${s.protocol}${s.family}`).sort(), ['tcp4', 'tcp6', 'udp4'])
      const range = await listSockets(ns, { port: { from: 19000, to: 19002 } })
      assert.deepEqual(sorted(ours(range)), sorted(await ss(ns, ['sport', '>=', ':19000', 'and', 'sport', '<=', ':19002'])))
      assert.deepEqual([...new Set(range.map((s) => s.port))].sort(), [19000, 19001])
      // Family and protocol.
      assert.deepEqual(
        (await listSockets(ns, { port: 19000, family: 6 })).map((s) => s.family),
        [6],
      )
      assert.deepEqual(
        (await listSockets(ns, { port: 19000, protocol: 'udp' })).map((s) => s.protocol),
        ['udp'],
      )
      assert.deepEqual(
        (await listSockets(ns, { port: 19000, protocol: ['tcp'], family: 4 })).map((s) => `${s.protocol}${s.family}`),
        ['tcp4'],
      )
      assert.deepEqual(await listSockets(ns, { port: 19002 }), [])
    } finally {
      for (const s of noise) s.close()
    }
  })

  it('maps an inode to the process holding it (socketOwners), only when asked', async () => {
    const ns = await sb.ns()
    const listener = spawnIn(ns, 'socat', ['TCP4-LISTEN:18090,reuseaddr,fork', 'EXEC:cat'])
    await until('the listener', async () => (await ss(ns)).length === 1)
    const [rec] = await listSockets(ns, { port: 18090 })
    assert.ok(rec)
    const owners = await socketOwners([rec.inode, 2 ** 31 - 7])
    const mine = owners.get(rec.inode)!
    assert.equal(mine.length, 1)
    assert.equal(mine[0]!.pid, listener.pid, 'the socat we started (nk-exec execs it in place)')
    assert.equal(mine[0]!.command, 'socat')
    assert.equal(fs.readlinkSync(`/proc/${listener.pid}/fd/${mine[0]!.fd}`), `socket:[${rec.inode}]`)
    assert.deepEqual(owners.get(2 ** 31 - 7), [], 'an inode nobody holds')
  })

  it('says what the kernel can list; SCTP as far as the kernel has it', async () => {
    const ns = await sb.ns()
    const support = await sockDiagSupport(ns)
    assert.equal(support.tcp, 'supported')
    assert.equal(support.udp, 'supported')
    const protocols = fs.readFileSync('/proc/net/protocols', 'utf8')
    const hasSctp = /^SCTP\s/m.test(protocols)
    if (!hasSctp) {
      // This kernel has no SCTP at all (CONFIG_IP_SCTP off, or the module not loaded): no socket
      // can hold an SCTP port, so there is nothing to list, and it says so.
      assert.equal(support.sctp, 'no-protocol')
      assert.deepEqual(await listSockets(ns, { protocol: 'sctp' }), [])
      console.log("      (this kernel has no SCTP: sockDiagSupport().sctp is 'no-protocol', and SCTP listings are empty)")
    } else if (support.sctp === 'no-diag') {
      await assert.rejects(listSockets(ns, { protocol: 'sctp' }), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_UNSUPPORTED' && /sctp_diag/.test(e.message))
      await assert.rejects(listSockets(ns), { code: 'ERR_NETNS_KIT_UNSUPPORTED' })
    } else {
      spawnIn(ns, 'socat', ['SCTP4-LISTEN:19500,reuseaddr,fork', 'EXEC:cat'])
      await until('the SCTP listener', async () => (await listSockets(ns, { protocol: 'sctp' })).length === 1)
      const [s] = await listSockets(ns, { protocol: 'sctp' })
      assert.deepEqual([s!.protocol, s!.state, s!.port], ['sctp', 'listen', 19500])
    }
    // The default listing (SCTP included) works wherever SCTP sockets can be told apart.
    if (support.sctp !== 'no-diag') await listSockets(ns)
  })

  it('reuses one sock_diag socket per namespace (no fd per call) and refuses a closed namespace', async () => {
    const ns = await sb.ns()
    await listSockets(ns) // opens the namespace's sock_diag socket
    const fds = fdCount()
    for (let i = 0; i < 50; i++) await listSockets(ns, { port: 1 + i })
    assert.equal(fdCount(), fds)
    await ns.close()
    await assert.rejects(listSockets(ns), { code: 'ERR_NETNS_KIT_CLOSED' })
  })
})

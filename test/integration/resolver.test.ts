// The embedded resolver end to end, in throwaway namespaces:
//   U (the outside): a fake upstream DNS server on 10.77.1.2:53 (test/fixtures/fake-dns.js)
//   H (the host):    10.77.1.1/24 towards U, 10.77.2.1/24 towards C; forwarding off
//   C (a container): 10.77.2.2/24, default route via H; the Resolver on 127.0.0.11:53
// C cannot reach U (H does not forward), so forwarded names prove the queries left from H.
import { strict as assert } from 'node:assert'
import type { ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { DnsRecords, Resolver, VethPair, hostsFile, resolvConf, type Namespace } from '../../lib'
import { Sandbox, ping, runIn } from '../helpers'

const fakeDns = path.join(__dirname, '..', 'fixtures', 'fake-dns.js')

interface Logged {
  proto: string
  from: string
  name: string
  type: string
}

const run = runIn

/** Lets the fake upstream's log lines (written before it answers) reach us. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 100))

const dig = (ns: Namespace, ...args: string[]) => run(ns, 'dig', ['@127.0.0.11', '+time=3', '+tries=1', ...args])

describe('Resolver (embedded DNS, end to end)', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  let host: Namespace, outside: Namespace, container: Namespace
  let upstream: ChildProcess
  let log: Logged[]
  let resolver: Resolver | undefined
  let records: DnsRecords
  let tmp: string

  beforeEach(async () => {
    host = await sb.ns()
    outside = await sb.ns()
    container = await sb.ns()
    const hu = await VethPair.create({ name: 'hu0', namespace: host, up: true, peer: { name: 'eth0', namespace: outside, up: true } })
    await hu.host.addAddress('10.77.1.1/24')
    await hu.peer.addAddress('10.77.1.2/24')
    const hc = await VethPair.create({ name: 'hc0', namespace: host, up: true, peer: { name: 'eth0', namespace: container, up: true } })
    await hc.host.addAddress('10.77.2.1/24')
    await hc.peer.addAddress('10.77.2.2/24')
    await container.routes.add({ to: 'default', via: '10.77.2.1' })
    assert.equal(await host.sysctl.get('net.ipv4.ip_forward'), '0')

    log = []
    upstream = outside.spawn(process.execPath, [fakeDns, '10.77.1.2'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines = readline.createInterface({ input: upstream.stdout! })
    await new Promise<void>((resolve, reject) => {
      upstream.once('exit', (c) => reject(new Error(`fake upstream exited (${c})`)))
      lines.on('line', (l) => {
        const m = JSON.parse(l) as Logged & { ready?: boolean }
        if (m.ready) resolve()
        else log.push(m)
      })
    })

    records = new DnsRecords()
    records.set('ep-web', { names: ['web', 'db-alias'], addresses: ['10.77.2.2', 'fd00:77::2'] })
    records.set('ep-v4only', { names: ['other'], addresses: ['10.77.2.3'] })
    resolver = await Resolver.start({ namespace: container, records, upstream: { servers: ['10.77.1.2'], namespace: host, timeout: 700 } })
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-dns-'))
  })

  afterEach(async () => {
    await resolver?.close()
    resolver = undefined
    upstream?.kill('SIGKILL')
    await sb.cleanup()
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('listens on 127.0.0.11:53 (UDP and TCP) inside the container only', async () => {
    assert.equal(resolver!.address, '127.0.0.11')
    assert.equal(resolver!.port, 53)
    const ss = await run(container, 'ss', ['-lnut'])
    assert.match(ss.out, /udp\s+UNCONN.*127\.0\.0\.11:53/)
    assert.match(ss.out, /tcp\s+LISTEN.*127\.0\.0\.11:53/)
    const inHost = await run(host, 'ss', ['-lnut'])
    assert.doesNotMatch(inHost.out, /127\.0\.0\.11:53/)
    // the container really cannot reach the upstream itself
    assert.equal(await ping(container, '10.77.1.2'), false)
  })

  it('answers our names and aliases (A, AAAA, any case, over UDP and TCP) without asking upstream', async () => {
    assert.equal((await dig(container, '+short', 'web', 'A')).out.trim(), '10.77.2.2')
    assert.equal((await dig(container, '+short', 'WeB.', 'A')).out.trim(), '10.77.2.2')
    assert.equal((await dig(container, '+short', 'db-alias', 'AAAA')).out.trim(), 'fd00:77::2')
    assert.equal((await dig(container, '+short', '+tcp', 'DB-ALIAS', 'A')).out.trim(), '10.77.2.2')
    const full = await dig(container, 'web', 'A')
    assert.match(full.out, /status: NOERROR/)
    assert.match(full.out, /flags: qr aa rd ra/)
    assert.match(full.out, /web\.\s+600\s+IN\s+A\s+10\.77\.2\.2/)
    // ours, but no IPv6 address: an empty NOERROR answer, not a forward
    const noAaaa = await dig(container, 'other', 'AAAA')
    assert.match(noAaaa.out, /status: NOERROR/)
    assert.match(noAaaa.out, /ANSWER: 0/)
    assert.equal((await dig(container, '+short', '-x', '10.77.2.2')).out.trim(), 'web.')
    await settled()
    assert.deepEqual(log, [], 'nothing of ours went upstream')
    assert.ok(resolver!.stats.local >= 6)
  })

  it('resolves for getent (glibc) through the resolv.conf and hosts files we generate', async () => {
    const rc = path.join(tmp, 'resolv.conf')
    const hosts = path.join(tmp, 'hosts')
    fs.writeFileSync(rc, resolvConf({ resolver: true, nameservers: ['10.77.1.2'] }))
    fs.writeFileSync(hosts, hostsFile({ hostname: 'c1', addresses: ['10.77.2.2'] }))
    assert.ok(fs.readFileSync(rc, 'utf8').startsWith('nameserver 127.0.0.11\noptions ndots:0\n'))
    // nk-exec gives the command a private mount namespace: these bind mounts go nowhere else
    const script =
      `mount --bind ${rc} /etc/resolv.conf && mount --bind ${hosts} /etc/hosts && ` +
      'getent hosts c1; getent ahostsv4 web | head -n1; getent hosts db-alias; getent ahostsv4 www.upstream.test | head -n1; getent hosts nothere.upstream.test; echo done'
    const r = await run(container, 'sh', ['-c', script])
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
    assert.deepEqual(lines[0], ['10.77.2.2', 'c1'], r.out)
    assert.deepEqual(lines[1]?.slice(0, 2), ['10.77.2.2', 'STREAM'], r.out)
    assert.deepEqual(lines[2], ['fd00:77::2', 'db-alias'], r.out)
    assert.deepEqual(lines[3]?.slice(0, 2), ['198.51.100.7', 'STREAM'], r.out)
    assert.deepEqual(lines[4], ['done'], 'nothere.upstream.test does not resolve')
    await settled()
    assert.ok(log.some((l) => l.name === 'www.upstream.test' && l.type === 'A'))
    // c1 is only in /etc/hosts: glibc asks DNS for its IPv6 address, which goes upstream as Docker's would
    assert.ok(!log.some((l) => /^(web|db-alias)$/i.test(l.name)), `our names never go upstream: ${JSON.stringify(log)}`)
  })

  it('forwards other names upstream from the host namespace, relaying NXDOMAIN and answers', async () => {
    assert.equal((await dig(container, '+short', 'www.upstream.test')).out.trim(), '198.51.100.7')
    const nx = await dig(container, 'nothere.example')
    assert.match(nx.out, /status: NXDOMAIN/)
    await settled()
    const q = log.find((l) => l.name === 'www.upstream.test')!
    assert.equal(q.proto, 'udp')
    assert.equal(q.from, '10.77.1.1', 'the query left from the host namespace')
    assert.ok(log.some((l) => l.name === 'nothere.example'))
    // a client over TCP is forwarded over TCP
    assert.equal((await dig(container, '+short', '+tcp', 'www.upstream.test')).out.trim(), '198.51.100.7')
    await settled()
    assert.equal(log.at(-1)!.proto, 'tcp')
    assert.equal(log.at(-1)!.from, '10.77.1.1')
    assert.equal(resolver!.stats.forwarded, 3)
  })

  it('retries over TCP when the upstream answer is truncated, and truncates for small clients', async () => {
    const big = await dig(container, '+short', 'big.upstream.test')
    assert.equal(big.out.trim().split('\n').length, 30, big.out)
    await settled()
    assert.deepEqual(
      log.filter((l) => l.name === 'big.upstream.test').map((l) => l.proto),
      ['udp', 'tcp'],
    )
    assert.equal(resolver!.stats.tcpFallbacks, 1)
    // a client without EDNS takes 512 bytes: it gets TC, and dig asks again over TCP
    const small = await dig(container, '+noedns', 'big.upstream.test')
    assert.match(small.out, /Truncated, retrying in TCP mode/)
    assert.match(small.out, /ANSWER: 30/)
    assert.ok(resolver!.stats.truncated >= 1)
  })

  it('answers SERVFAIL when the upstream fails or stays silent (per-try timeout)', async () => {
    assert.match((await dig(container, 'fail.upstream.test')).out, /status: SERVFAIL/)
    const t0 = Date.now()
    const slow = await dig(container, 'slow.upstream.test')
    assert.match(slow.out, /status: SERVFAIL/)
    assert.ok(Date.now() - t0 < 2500, 'the 700 ms timeout, not dig giving up')
    assert.ok(resolver!.stats.failed >= 1)
  })

  it('follows record changes; close() frees the port and a new resolver can take it', async () => {
    records.delete('ep-v4only')
    records.set('ep-new', { names: ['newcomer'], addresses: ['10.77.2.9'] })
    assert.match((await dig(container, 'other')).out, /status: NXDOMAIN/, 'no longer ours: forwarded, unknown upstream')
    assert.equal((await dig(container, '+short', 'newcomer')).out.trim(), '10.77.2.9')
    await resolver!.close()
    await resolver!.close()
    assert.doesNotMatch((await run(container, 'ss', ['-lnut'])).out, /127\.0\.0\.11:53/)
    resolver = await Resolver.start({ namespace: container, records })
    assert.equal((await dig(container, '+short', 'newcomer')).out.trim(), '10.77.2.9')
    // without upstreams, other names fail instead of leaking anywhere
    assert.match((await dig(container, 'www.upstream.test')).out, /status: SERVFAIL/)
  })

  it('refuses a second resolver on the same address with a typed error, and bad options before any socket', async () => {
    await assert.rejects(
      Resolver.start({ namespace: container }),
      (e: Error & { code?: string; syscall?: string }) => e.code === 'EADDRINUSE' && e.syscall === 'bind' && e.message.includes('127.0.0.11:53'),
    )
    await assert.rejects(Resolver.start({ namespace: container, upstream: { servers: ['nope'] } }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(Resolver.start({ namespace: container, port: 70000 }), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(Resolver.start({ namespace: container, address: 'localhost' }), { code: 'ERR_INVALID_ARG_VALUE' })
  })
})

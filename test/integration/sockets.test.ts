// Sockets opened inside namespaces by the addon's threads and adopted by Node's net/dgram.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import type * as net from 'node:net'
import { NetlinkError, VethPair, connectTcp, openTcpServer, openUdpSocket, type Namespace } from '../../lib'
import { Sandbox, sh } from '../helpers'

function run(ns: Namespace, cmd: string, args: string[], input?: string): Promise<{ out: string; code: number | null }> {
  const p = ns.spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  p.stdout!.on('data', (d) => {
    out += d
  })
  p.stderr!.on('data', (d) => {
    out += d
  })
  p.stdin!.end(input ?? '')
  return new Promise((resolve) => p.on('close', (code) => resolve({ out, code })))
}

const fdCount = () => fs.readdirSync('/proc/self/fd').length

describe('namespace sockets', function () {
  this.timeout(30000)
  const sb = new Sandbox()
  let a: Namespace, b: Namespace
  beforeEach(async () => {
    a = await sb.ns()
    b = await sb.ns()
    const v = await VethPair.create({ name: 'va', namespace: a, up: true, peer: { name: 'vb', namespace: b, up: true } })
    await v.host.addAddress('10.78.0.1/24')
    await v.peer.addAddress('10.78.0.2/24')
  })
  afterEach(() => sb.cleanup())

  it('openTcpServer(): a net.Server listening inside the namespace, reached by socat from another', async () => {
    const fds = fdCount()
    const server = await openTcpServer({ namespace: a, address: '10.78.0.1', port: 8080 }, (c: net.Socket) => {
      c.once('data', (d) => c.end(`hello ${d.toString().trim()}\n`))
    })
    try {
      assert.deepEqual(server.address(), { address: '10.78.0.1', family: 'IPv4', port: 8080 })
      assert.match((await run(a, 'ss', ['-lnt'])).out, /LISTEN.*10\.78\.0\.1:8080/)
      assert.doesNotMatch((await sh('ss', ['-lnt'])).stdout, /10\.78\.0\.1:8080/, 'not in the root namespace')
      const r = await run(b, 'socat', ['-t', '2', '-', 'TCP:10.78.0.1:8080'], 'from-b\n')
      assert.equal(r.out, 'hello from-b\n')
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
    assert.equal(fdCount(), fds, 'the fd went with the server')
  })

  it('connectTcp(): a net.Socket connected from inside the namespace', async () => {
    const listener = b.spawn('socat', ['TCP-LISTEN:9090,bind=10.78.0.2,reuseaddr', 'EXEC:cat'], { stdio: 'ignore' })
    try {
      let sock: net.Socket | undefined
      for (let i = 0; i < 50 && !sock; i++) {
        sock = await connectTcp({ namespace: a, host: '10.78.0.2', port: 9090 }).catch(() => undefined)
        if (!sock) await new Promise((r) => setTimeout(r, 50))
      }
      assert.ok(sock, 'connected')
      assert.equal(sock.localAddress, '10.78.0.1', 'the connection left from namespace a')
      const echo = new Promise<string>((resolve) => sock!.once('data', (d) => resolve(d.toString())))
      sock.write('ping\n')
      assert.equal(await echo, 'ping\n')
      sock.destroy()
    } finally {
      listener.kill()
    }
    await assert.rejects(connectTcp({ namespace: a, host: '10.78.0.2', port: 9191 }), { code: 'ECONNREFUSED' })
  })

  it('openUdpSocket(): a dgram.Socket bound inside the namespace', async () => {
    const sock = await openUdpSocket({ namespace: a, address: '10.78.0.1', port: 5353 })
    sock.on('message', (m, rinfo) => sock.send(`pong ${m.toString().trim()}`, rinfo.port, rinfo.address))
    try {
      assert.deepEqual(sock.address(), { address: '10.78.0.1', family: 'IPv4', port: 5353 })
      const r = await run(b, 'socat', ['-t', '0.5', '-', 'UDP:10.78.0.1:5353'], 'from-b\n')
      assert.equal(r.out, 'pong from-b')
    } finally {
      sock.close()
    }
  })

  it('refuses an address the namespace does not have (unless freebind), with the errno and where', async () => {
    await assert.rejects(
      openUdpSocket({ namespace: b, address: '10.78.0.1', port: 5353 }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'EADDRNOTAVAIL' && e.syscall === 'bind' && e.message.includes('10.78.0.1:5353'),
    )
    const s = await openUdpSocket({ namespace: b, address: '10.78.0.99', port: 0, freebind: true })
    assert.equal(s.address().address, '10.78.0.99')
    s.close()
    await assert.rejects(openUdpSocket({ namespace: a, address: 'nope' }), { code: 'ERR_INVALID_ARG_VALUE' })
    await b.close()
    await assert.rejects(openUdpSocket({ namespace: b, address: '10.78.0.2' }), { code: 'ERR_NETNS_KIT_CLOSED' })
  })

  it("opens sockets only on the addon's threads: every other thread stays home", async () => {
    const home = fs.readlinkSync('/proc/self/ns/net')
    const foreign: string[] = []
    let stop = false
    const sampler = (async () => {
      while (!stop) {
        for (const tid of fs.readdirSync('/proc/self/task')) {
          try {
            const comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()
            if (comm !== 'nk-netns' && fs.readlinkSync(`/proc/self/task/${tid}/ns/net`) !== home) foreign.push(comm)
          } catch {
            /* ended */
          }
        }
        await new Promise((r) => setImmediate(r))
      }
    })()
    const socks = await Promise.all(Array.from({ length: 40 }, (_, i) => openUdpSocket({ namespace: i % 2 ? a : b, address: '127.0.0.1', port: 0 })))
    stop = true
    await sampler
    for (const s of socks) s.close()
    assert.deepEqual(foreign, [])
    assert.equal(fs.readlinkSync('/proc/thread-self/ns/net'), home)
  })
})

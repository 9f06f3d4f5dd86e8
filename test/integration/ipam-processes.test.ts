// IPAM across processes through the FileStore: no address handed out twice, and a process
// killed while holding the lock does not wedge the others.
import { strict as assert } from 'node:assert'
import { fork, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { FileStore, Ipam } from '../../lib'

const worker = path.join(__dirname, '..', 'fixtures', 'ipam-worker.ts')

function start(args: string[]): ChildProcess {
  return fork(worker, args, { execArgv: ['--require', 'tsx/cjs'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

function next<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { fatal?: string }) => {
      child.off('exit', onExit)
      if (m.fatal) reject(new Error(m.fatal))
      else resolve(m as T)
    }
    const onExit = (c: number | null) => { child.off('message', onMsg); reject(new Error(`worker exited (${c})`)) }
    child.once('message', onMsg)
    child.once('exit', onExit)
  })
}

type Result = { address?: string; owner?: string; error?: string }

describe('IPAM across processes (FileStore)', function () {
  this.timeout(120000)
  let root: string
  const children: ChildProcess[] = []
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-ipam-mp-')) })
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    fs.rmSync(root, { recursive: true, force: true })
  })

  async function race(network: string, processes: number, each: number): Promise<Result[]> {
    const procs = Array.from({ length: processes }, (_, i) => start(['allocate', root, network, String(each), `p${i}`]))
    children.push(...procs)
    await Promise.all(procs.map((p) => next(p)))           // every process loaded and waiting
    const done = procs.map((p) => next<{ results: Result[] }>(p))
    for (const p of procs) p.send('go')                      // all at the same moment
    return (await Promise.all(done)).flatMap((d) => d.results)
  }

  it('8 processes x 50 addresses at once from a /23: 400 distinct addresses', async () => {
    await new Ipam({ store: new FileStore({ root }) }).createNetwork('mp', { subnet: '10.55.0.0/23' })
    const results = await race('mp', 8, 50)
    assert.deepEqual(results.filter((r) => r.error), [])
    const addrs = results.map((r) => r.address!)
    assert.equal(addrs.length, 400)
    assert.equal(new Set(addrs).size, 400, 'no address handed out twice')
    const stored = await new Ipam({ store: new FileStore({ root }) }).allocations('mp')
    assert.equal(stored.length, 400)
    assert.deepEqual(new Set(stored.map((a) => `${a.address} ${a.owner}`)), new Set(results.map((r) => `${r.address} ${r.owner}`)))
  })

  it('8 processes x 50 addresses at once from a /24: exactly the 253 free ones, the rest POOL_EXHAUSTED', async () => {
    const ipam = new Ipam({ store: new FileStore({ root }) })
    await ipam.createNetwork('mp', { subnet: '10.56.0.0/24' })
    const results = await race('mp', 8, 50)
    const ok = results.filter((r) => r.address).map((r) => r.address!)
    assert.equal(ok.length, 253, 'a /24 has 256 addresses: network, gateway and broadcast are reserved')
    assert.equal(new Set(ok).size, 253)
    assert.ok(!ok.includes('10.56.0.0') && !ok.includes('10.56.0.1') && !ok.includes('10.56.0.255'))
    assert.deepEqual([...new Set(results.filter((r) => r.error).map((r) => r.error))], ['ERR_NETNS_KIT_POOL_EXHAUSTED'])
    assert.equal(results.filter((r) => r.error).length, 147)
    // release the odd ones, then every released address can be had again
    const odd = ok.filter((a) => Number(a.split('.')[3]) % 2 === 1)
    await Promise.all(odd.map((a) => ipam.release('mp', a)))
    const again = await Promise.all(odd.map((_a, i) => ipam.allocate('mp', { owner: `again-${i}` })))
    assert.deepEqual(new Set(again.map((a) => a.address)), new Set(odd))
  })

  it('a process killed while holding the lock does not wedge the others', async () => {
    const ipam = new Ipam({ store: new FileStore({ root }) })
    await ipam.createNetwork('mp', { subnet: '10.57.0.0/24' })
    const holder = start(['hold', root])
    children.push(holder)
    const { holding } = await next<{ holding: number }>(holder)
    assert.equal(holding, holder.pid)
    // the lock really is held: a short wait times out
    const impatient = new Ipam({ store: new FileStore({ root, lockTimeout: 300 }) })
    await assert.rejects(impatient.allocate('mp', { owner: 'x' }), { code: 'ERR_NETNS_KIT_LOCK_TIMEOUT' })
    // a waiter queued behind the holder goes through once the holder is killed
    const waiting = new Ipam({ store: new FileStore({ root, lockTimeout: 20000 }) }).allocate('mp', { owner: 'y' })
    await new Promise((r) => setTimeout(r, 200))
    const t0 = Date.now()
    const exited = new Promise((r) => holder.once('exit', r))
    holder.kill('SIGKILL')
    await exited
    const got = await waiting
    assert.equal(got.address, '10.57.0.2')
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms after the kill`)
  })
})

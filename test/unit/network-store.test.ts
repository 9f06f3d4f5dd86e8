// The NetworkStore contract against the SQLite store (a database in a temporary folder) and the
// memory store; the etcd store runs the same suite in test/integration/etcd-network-store.test.ts.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { MemoryNetworkStore } from '../../lib/ipam/memory-network-store'
import { SqliteStore } from '../../lib/ipam/sqlite-store'
import { storeContract } from '../store-contract'

const dirs = new Map<SqliteStore, string>()

storeContract(
  'SqliteStore',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-sqlite-'))
    const s = new SqliteStore({ path: path.join(dir, 'state.db') })
    dirs.set(s, dir)
    return s
  },
  async (s) => {
    await s.close()
    const dir = dirs.get(s as SqliteStore)
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  },
)

storeContract('MemoryNetworkStore', async () => new MemoryNetworkStore())

describe('SqliteStore.changesSince: no read when nothing was committed since', () => {
  let dir: string
  let a: SqliteStore
  let b: SqliteStore
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-sqlite-feed-'))
    a = new SqliteStore({ path: path.join(dir, 'state.db') })
    b = new SqliteStore({ path: path.join(dir, 'state.db') })
  })
  afterEach(async () => {
    await a.close()
    await b.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("answers a follower from PRAGMA data_version, and reads again after another connection's commit or its own", async () => {
    // The companion asks at every request and after every commit it is told of: most asks find nothing.
    const seq = (await a.changesSince(0)).seq
    const calls = a.stats.calls
    assert.deepEqual(await a.changesSince(seq), { seq, changes: [], reset: false })
    assert.equal(a.stats.calls, calls, 'nothing committed since the last read: no SQLite transaction')
    // Another connection (another process in real use) commits: seen.
    const n = await b.beginCreateNetwork({ name: 'n1', driver: 'bridge', host: null, pools: [{ subnet: '10.51.0.0/24' }], config: {} })
    const other = await a.changesSince(seq)
    assert.deepEqual(
      other.changes.map((c) => [c.kind, c.id]),
      [['network', n.id]],
    )
    // Its own commit: seen too (data_version does not change for a connection's own commits).
    await a.finishCreateNetwork(n.id)
    const own = await a.changesSince(other.seq)
    assert.deepEqual(
      own.changes.map((c) => [c.kind, c.id, c.network?.state]),
      [['network', n.id, 'ready']],
    )
    const after = a.stats.calls
    assert.deepEqual((await a.changesSince(own.seq)).changes, [])
    assert.equal(a.stats.calls, after)
    // An older sequence is read again, whatever the version says.
    assert.equal((await a.changesSince(seq)).changes.length, 1)
  })
})

describe('SqliteStore: calls in flight at close(), the feed around the 0.1 import (review of the turn() change)', () => {
  it('close() lets the calls already made finish; later ones get ERR_NETNS_KIT_CLOSED', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-sqlite-close-'))
    const s = new SqliteStore({ path: path.join(dir, 'state.db'), importFileStore: false })
    try {
      await s.networks()
      // Each waits a turn of the event loop before its transaction; close() is called meanwhile.
      const calls = [
        s.networks(),
        s.beginCreateNetwork({ name: 'n1', driver: 'bridge', host: null, pools: [{ subnet: '10.52.0.0/24' }], config: {} }),
        s.changesSince(0),
      ]
      await s.close()
      const settled = await Promise.allSettled(calls)
      assert.deepEqual(
        settled.map((r) => (r.status === 'fulfilled' ? 'ok' : String((r.reason as Error).message))),
        ['ok', 'ok', 'ok'],
      )
      await assert.rejects(s.networks(), { code: 'ERR_NETNS_KIT_CLOSED' })
    } finally {
      await s.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('changesSince() polled while the store imports a 0.1 file store still lists the imported networks after', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-sqlite-import-feed-'))
    fs.cpSync(path.join(__dirname, '../fixtures/filestore-0.1/ipam-only'), path.join(root, 'ipam'), { recursive: true, filter: (f) => !f.endsWith('.md') })
    const s = new SqliteStore({ path: path.join(root, 'state.db') })
    try {
      let stop = false
      const pending: Promise<unknown>[] = []
      const poll = (async () => {
        while (!stop) {
          pending.push(s.changesSince(0))
          await new Promise((r) => setImmediate(r))
        }
        await Promise.all(pending)
      })()
      const nets = await s.networks()
      stop = true
      await poll
      assert.ok(nets.length > 0, 'the fixture imports networks')
      assert.equal((await s.changesSince(0)).changes.length, nets.length)
    } finally {
      await s.close()
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})

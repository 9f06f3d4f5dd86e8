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

describe('SqliteStore: the hot path reads no pass over the endpoints (issue 12: O(log n))', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Driver = require('better-sqlite3') as typeof import('better-sqlite3')
  const growing = /\bSCAN (endpoints|rules|allocations|ports|names|changes)\b/

  it("every statement of connect, disconnect, name lookups, the feed and a network's read uses an index; a network's own rules come from rules_network_own", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-sqlite-plans-'))
    const file = path.join(dir, 'state.db')
    const s = new SqliteStore({ path: file })
    const proto = Driver.prototype as unknown as { prepare: (sql: string) => unknown }
    const prepare = proto.prepare
    const hot = new Set<string>()
    let recording = false
    proto.prepare = function (this: unknown, sql: string) {
      if (recording) hot.add(sql)
      return prepare.call(this, sql)
    }
    try {
      const ns = (i: number) => ({ dev: '4', ino: String(1000 + i), path: `/run/netns/c${i}` })
      const n = await s.beginCreateNetwork({ name: 'plans', driver: 'bridge', host: { dev: '4', ino: '1' }, pools: [{ subnet: '10.0.0.0/16' }] })
      await s.finishCreateNetwork(n.id, { rules: ['masq-1', 'iso-1'] })
      // 300 endpoints with a published port and a rule each: what a network's own rules must not be read through.
      for (let i = 0; i < 300; i++) {
        const r = await s.beginConnect(n.id, { name: `c${i}`, ns: ns(i), addresses: [{ family: 4 }], ports: [{ containerPort: 80 }] })
        await s.finishConnect(r.endpoint.id, { rules: [`port-${i}`] })
      }
      const seq = await s.sequence()
      recording = true
      // Statements are cached by the store: a new store on the file prepares them again, in this phase.
      const t = new SqliteStore({ path: file })
      try {
        const r = await t.beginConnect(n.id, { name: 'x', ns: ns(999), addresses: [{ family: 4 }], ports: [{ containerPort: 81 }] })
        await t.finishConnect(r.endpoint.id, { rules: ['port-x'] })
        assert.deepEqual((await t.network(n.id))!.rules, ['iso-1', 'masq-1'])
        await t.endpointByName(n.id, 'c7')
        await t.resolve(n.id, 'c7')
        await t.endpointsInNamespace(ns(7))
        await t.changesSince(seq)
        await t.beginDisconnect(r.endpoint.id)
        await t.finishDisconnect(r.endpoint.id)
      } finally {
        await t.close()
      }
      recording = false
      assert.ok(hot.size >= 10, `recorded ${hot.size} statements`)
      const db = new Driver(file, { readonly: true })
      try {
        const plan = (sql: string) =>
          (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array((sql.match(/\?/g) ?? []).length).fill('x')) as { detail: string }[])
            .map((p) => p.detail)
            .join(' | ')
        const scans = [...hot].filter((q) => /^\s*(SELECT|UPDATE|DELETE|INSERT)/i.test(q)).map((q) => ({ q: q.replace(/\s+/g, ' '), p: plan(q) }))
        assert.deepEqual(
          scans.filter((x) => growing.test(x.p)),
          [],
        )
        const own = scans.find((x) => /FROM rules WHERE network_id = \? AND endpoint_id IS NULL/.test(x.q))
        assert.ok(own, 'the network read asks for its own rules')
        assert.match(own.p, /USING (COVERING )?INDEX rules_network_own/)
      } finally {
        db.close()
      }
    } finally {
      proto.prepare = prepare
      await s.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a database made before rules_network_own gets it at open, keeps schema version 1, and answers the same', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-sqlite-addidx-'))
    const file = path.join(dir, 'state.db')
    try {
      const s = new SqliteStore({ path: file })
      const n = await s.beginCreateNetwork({ name: 'old', driver: 'bridge', host: { dev: '4', ino: '1' }, pools: [{ subnet: '10.1.0.0/16' }] })
      await s.finishCreateNetwork(n.id, { rules: ['masq-1'] })
      await s.close()
      // As a netns-kit of before the index left it.
      const raw = new Driver(file)
      raw.exec('DROP INDEX rules_network_own')
      raw.close()
      const t = new SqliteStore({ path: file })
      assert.deepEqual((await t.network(n.id))!.rules, ['masq-1'])
      await t.close()
      const check = new Driver(file, { readonly: true })
      try {
        assert.equal(check.prepare(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'rules_network_own'`).pluck().get(), 1)
        assert.equal(check.pragma('user_version', { simple: true }), 1)
      } finally {
        check.close()
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

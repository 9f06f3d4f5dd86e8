// The NetworkStore contract against the SQLite store (a database in a temporary folder) and the
// memory store; the etcd store runs the same suite in test/integration/etcd-network-store.test.ts.
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

// Opening SqliteStore's database (lib/ipam/sqlite-store.ts): the driver, the file's modes, WAL and the schema.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { NetnsKitError } from '../errors'
import { ADDED_INDEXES, SCHEMA, SCHEMA_VERSION } from './sqlite-schema'
import { readFileStore, type FileStoreImport } from './filestore-import'
import { importRecords } from './sqlite-import'
import type { St } from './sqlite-rows'
import type { SqliteStore } from './sqlite-store'
import { backoff, busy, sleep } from './store-logic'

export type Db = BetterSqlite3.Database

function loadDriver(): typeof BetterSqlite3 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('better-sqlite3') as typeof BetterSqlite3
}

export const isBusy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: string })?.code ?? ''))

/**
 * Opens (creating) the database file: its directory 0700, the file 0600 before SQLite opens it, WAL,
 * foreign keys, the schema (SqliteStore's #doOpen; `retry` is its #retry).
 */
export async function openDatabase(file: string, retry: <T>(what: string, fn: () => T) => Promise<T>): Promise<Db> {
  const dir = path.dirname(file)
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 })
  const st = await fs.promises.lstat(dir)
  if (!st.isDirectory()) throw new NetnsKitError('ERR_NETNS_KIT_STORE', `${dir} is not a directory`)
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) await fs.promises.chmod(dir, 0o700)
  // Created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same mode).
  const fh = await fs.promises.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600)
  try {
    if (((await fh.stat()).mode & 0o777) !== 0o600) await fh.chmod(0o600)
  } finally {
    await fh.close()
  }
  const Driver = loadDriver()
  const db = new Driver(file, { timeout: 0 })
  try {
    // Retried as a whole: `synchronous` reads the schema, and a connection opening a database that
    // other processes are creating or recovering (its first use by several at once) gets
    // SQLITE_BUSY or SQLITE_BUSY_RECOVERY from it, as from `journal_mode`.
    await retry('open', () => {
      db.pragma('foreign_keys = ON')
      db.pragma('synchronous = NORMAL')
      db.pragma('wal_autocheckpoint = 256')
      if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL')
    })
    await retry('schema', () => {
      if (Number(db.pragma('user_version', { simple: true })) === SCHEMA_VERSION) return
      db.transaction(() => {
        const v = Number(db.pragma('user_version', { simple: true }))
        if (v === SCHEMA_VERSION) return
        if (v !== 0) throw new NetnsKitError('ERR_NETNS_KIT_STORE', `${file} has schema version ${v}; this netns-kit knows ${SCHEMA_VERSION}`)
        db.exec(SCHEMA)
        db.pragma(`user_version = ${SCHEMA_VERSION}`)
      }).immediate()
    })
    // A database made before the indexes added since gets them (once: a read finds them after).
    await retry('schema', () => {
      const names = [...ADDED_INDEXES.matchAll(/CREATE INDEX IF NOT EXISTS (\w+)/g)].map((m) => m[1]!)
      const have = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?`).pluck()
      if (names.every((n) => have.get(n) !== undefined)) return
      db.transaction(() => db.exec(ADDED_INDEXES)).immediate()
    })
  } catch (e) {
    db.close()
    throw e
  }
  return db
}

/** SqliteStore's #retry: runs a synchronous step, retrying it asynchronously while another process holds the lock; counts into `stats`. */
export async function retryBusy<T>(stats: SqliteStore['stats'], busyTimeoutMs: number, what: string, fn: () => T): Promise<T> {
  const deadline = Date.now() + busyTimeoutMs
  const st = stats
  for (let attempt = 0; ; attempt++) {
    const t0 = performance.now()
    try {
      return fn()
    } catch (e) {
      if (!isBusy(e)) throw e
      st.busyRetries++
    } finally {
      const ms = performance.now() - t0
      st.calls++
      st.totalSyncMs += ms
      if (ms > st.maxSyncMs) st.maxSyncMs = ms
    }
    if (Date.now() >= deadline) throw busy(busyTimeoutMs, what)
    await sleep(backoff(attempt))
  }
}

/**
 * Imports a 0.1 FileStore directory into the open database in one transaction, then renames it
 * aside (SqliteStore's #import; `retry` is its #retry, `st` its statement cache). Undefined: nothing imported.
 */
export async function importFileStoreInto(
  dir: string,
  db: Db,
  retry: <T>(what: string, fn: () => T) => Promise<T>,
  st: St,
): Promise<{ networks: number; endpoints: number; allocations: number; renamedTo: string } | undefined> {
  let data: FileStoreImport | undefined
  try {
    data = await readFileStore(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  if (!data) return undefined
  const counts = await retry('import', () => db.transaction(() => importRecords(data!, st)).immediate())
  // Renamed aside after the commit (a crash in between: the next open sees the marker and only renames).
  const aside = `${dir}.imported-${Date.now()}`
  try {
    await fs.promises.rename(dir, aside)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  return counts ? { ...counts, renamedTo: aside } : undefined
}

// The default IPAM store: one JSON file per record under /run/netns-kit/ipam, written
// atomically (temp file, fsync, rename, fsync of the directory) under flock(2).
import { randomUUID } from 'node:crypto'
import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import { NetnsKitError, invalidArg } from '../errors'
import { tryLockFile } from '../file-lock'
import { checkKey, type IpamStore, type Mutation, type StoreEntry } from './store'

/** Where netns-kit keeps its state by default: tmpfs, so it dies at reboot with the kernel state it describes. */
export const STATE_DIR = '/run/netns-kit'

export interface FileStoreOptions {
  /** The state directory (default /run/netns-kit); records go in its `ipam/` folder. */
  root?: string
  /** How long to wait for the lock before ERR_NETNS_KIT_LOCK_TIMEOUT (ms, default 10000). */
  lockTimeout?: number
}

interface FileRecord { revision: string; value: unknown }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Whether process `pid` exists (it may belong to another user: EPERM still means alive). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * IPAM records as files: `ROOT/ipam/KEY.json`, each `{ revision, value }`. Every change
 * takes an exclusive flock(2) on `ROOT/ipam/.lock`, so processes on this host never
 * interleave a read-modify-write, and the kernel drops the lock of a process that dies
 * holding it. Writes go to a temp file that is fsynced and renamed over the record, so a
 * reader (which takes no lock) sees the old record or the new one, never a torn one.
 * Directories are 0700 and files 0600.
 */
export class FileStore implements IpamStore {
  readonly root: string
  readonly dir: string
  readonly lockTimeout: number
  #ready: Promise<void> | undefined
  #queue: Promise<unknown> = Promise.resolve()
  #swept = false

  constructor(opts: FileStoreOptions = {}) {
    if (opts === null || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const root = opts.root ?? STATE_DIR
    if (typeof root !== 'string' || !path.isAbsolute(root)) throw invalidArg('opts.root', root, 'must be an absolute path')
    const timeout = opts.lockTimeout ?? 10000
    if (typeof timeout !== 'number' || !(timeout >= 0)) throw invalidArg('opts.lockTimeout', timeout, 'must be a number of milliseconds >= 0')
    this.root = path.resolve(root)
    this.dir = path.join(this.root, 'ipam')
    this.lockTimeout = timeout
  }

  #file(key: string): string {
    return path.join(this.dir, `${checkKey(key)}.json`)
  }

  async #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 })
      const st = await fs.lstat(this.dir)
      if (!st.isDirectory()) throw new NetnsKitError('ERR_NETNS_KIT_STORE', `${this.dir} is not a directory`)
    })()
    try {
      await this.#ready
    } catch (e) {
      this.#ready = undefined
      throw e
    }
  }

  async #read(key: string): Promise<StoreEntry | undefined> {
    let text: string
    try {
      text = await fs.readFile(this.#file(key), 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
    let rec: FileRecord
    try {
      rec = JSON.parse(text) as FileRecord
    } catch {
      throw new NetnsKitError('ERR_NETNS_KIT_STORE_CORRUPT', `${this.#file(key)} is not valid JSON`)
    }
    if (!rec || typeof rec !== 'object' || typeof rec.revision !== 'string') {
      throw new NetnsKitError('ERR_NETNS_KIT_STORE_CORRUPT', `${this.#file(key)} is not a netns-kit record`)
    }
    return { key, value: rec.value, revision: rec.revision }
  }

  async #syncDir(): Promise<void> {
    const d = await fs.open(this.dir, 'r')
    try { await d.sync() } finally { await d.close() }
  }

  // Called with the lock held.
  async #write(key: string, value: unknown): Promise<string> {
    const revision = randomUUID()
    const body = JSON.stringify({ revision, value } satisfies FileRecord, null, 1) + '\n'
    const tmp = path.join(this.dir, `.${key}.json.${process.pid}.${revision.slice(0, 8)}.tmp`)
    const fh = await fs.open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(body)
      await fh.sync()
    } catch (e) {
      await fh.close()
      await fs.rm(tmp, { force: true })
      throw e
    }
    await fh.close()
    try {
      await fs.rename(tmp, this.#file(key))
    } catch (e) {
      await fs.rm(tmp, { force: true })
      throw e
    }
    await this.#syncDir()
    return revision
  }

  async #remove(key: string): Promise<void> {
    await fs.rm(this.#file(key), { force: true })
    await this.#syncDir()
  }

  // Temp files left by a process that died between write and rename.
  async #sweep(): Promise<void> {
    for (const name of await fs.readdir(this.dir)) {
      const m = /^\..+\.json\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name)
      if (m && !pidAlive(Number(m[1]))) await fs.rm(path.join(this.dir, name), { force: true })
    }
  }

  /**
   * Runs `fn` holding the store's lock: callers in this process queue behind each other;
   * against other processes, flock(LOCK_EX | LOCK_NB) is retried with jittered backoff.
   */
  async #locked<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.#queue.then(async () => {
      await this.#prepare()
      const fh = await fs.open(path.join(this.dir, '.lock'), 'a', 0o600)
      try {
        const deadline = Date.now() + this.lockTimeout
        for (let i = 0; ; i++) {
          if (tryLockFile(fh.fd, path.join(this.dir, '.lock'))) break
          if (Date.now() >= deadline) {
            throw new NetnsKitError('ERR_NETNS_KIT_LOCK_TIMEOUT', `another process held ${path.join(this.dir, '.lock')} for more than ${this.lockTimeout} ms`)
          }
          await sleep(Math.min(25, 0.5 * 2 ** Math.min(i, 6)) * (0.5 + Math.random()))
        }
        if (!this.#swept) {
          this.#swept = true
          await this.#sweep()
        }
        return await fn()
      } finally {
        await fh.close() // closing the file releases the lock
      }
    })
    this.#queue = run.catch(() => {})
    return run
  }

  /** Reads one record without taking the lock (writes are atomic renames). */
  async get(key: string): Promise<StoreEntry | undefined> {
    checkKey(key)
    await this.#prepare()
    return this.#read(key)
  }

  async list(prefix = ''): Promise<StoreEntry[]> {
    if (typeof prefix !== 'string') throw invalidArg('prefix', prefix, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    await this.#prepare()
    const out: StoreEntry[] = []
    for (const name of (await fs.readdir(this.dir)).sort()) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue
      const key = name.slice(0, -'.json'.length)
      if (!key.startsWith(prefix)) continue
      const e = await this.#read(key)
      if (e) out.push(e)
    }
    return out
  }

  async compareAndSwap(key: string, expected: string | null, value: unknown): Promise<string | null | false> {
    checkKey(key)
    return this.#locked(async () => {
      const cur = await this.#read(key)
      if ((cur?.revision ?? null) !== expected) return false
      if (value === undefined) {
        if (cur) await this.#remove(key)
        return null
      }
      return this.#write(key, value)
    })
  }

  async transact<R>(key: string, fn: (current: StoreEntry | undefined) => Mutation<R> | Promise<Mutation<R>>): Promise<R> {
    checkKey(key)
    return this.#locked(async () => {
      const cur = await this.#read(key)
      const m = await fn(cur)
      if (m.delete) {
        if (cur) await this.#remove(key)
      } else if (m.set !== undefined) {
        await this.#write(key, m.set)
      }
      return m.result
    })
  }
}

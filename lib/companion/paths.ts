// Where a companion process is found: one per host namespace and store, named after both, under
// /run/netns-kit (a 0700 directory on tmpfs: gone at reboot, with the state it serves).
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { NsIdentity } from '../ipam/network-store'

/** The directory of the pid files, sockets and logs (the store's default directory too). */
export const RUN_DIR = '/run/netns-kit'

/** The files of one companion. */
export interface CompanionPaths {
  /** `<host ino>-<8 hex digits of sha256(host dev:ino + store path)>`. */
  key: string
  /** Holds the pid, and the companion's flock(2) for its whole life: one companion per key. */
  pid: string
  /** The unix socket clients talk to (newline-delimited JSON). */
  socket: string
  /** Where a detached companion writes its log (appended to). */
  log: string
}

/**
 * The files of the companion serving `store` (a database path) for the host namespace `host`.
 * @throws never: it only computes paths.
 */
export function companionPaths(host: Pick<NsIdentity, 'dev' | 'ino'>, store: string, runDir = RUN_DIR): CompanionPaths {
  const hash = createHash('sha256')
    .update(`${host.dev}:${host.ino}\n${path.resolve(store)}`)
    .digest('hex')
    .slice(0, 8)
  const key = `${host.ino}-${hash}`
  const base = path.join(runDir, `companion-${key}`)
  return { key, pid: `${base}.pid`, socket: `${base}.sock`, log: `${base}.log` }
}

/** Makes `dir` (0700) when missing and tightens it when it is ours and too open. */
export function ensureRunDir(dir = RUN_DIR): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = fs.lstatSync(dir)
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`)
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(dir, 0o700)
}

/** The pid files of every companion under `dir` (for a stop-them-all at the end of a test run). */
export function companionPidFiles(dir = RUN_DIR): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => /^companion-.+\.pid$/.test(f))
      .map((f) => path.join(dir, f))
  } catch {
    return []
  }
}

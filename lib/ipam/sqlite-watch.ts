// Telling SqliteStore's listeners that the database changed: this process's commits directly,
// other processes' through inotify on the database and its WAL, with a poll of PRAGMA
// data_version (a counter SQLite bumps when another connection commits) as the net under it.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'

interface Watch {
  fsw?: fs.FSWatcher
  timer: NodeJS.Timeout
  version: number
}

export class ChangeWatcher {
  readonly #listeners = new Set<() => void>()
  readonly #file: string
  readonly #pollMs: number
  readonly #open: () => Promise<BetterSqlite3.Database>
  readonly #db: () => BetterSqlite3.Database | undefined
  #watch: Watch | undefined
  #queued = false
  #checkQueued = false
  /** PRAGMA data_version, prepared once per connection (db.pragma() prepares it at every call). */
  #version: { db: BetterSqlite3.Database; st: BetterSqlite3.Statement } | undefined

  constructor(file: string, pollMs: number, open: () => Promise<BetterSqlite3.Database>, db: () => BetterSqlite3.Database | undefined) {
    this.#file = file
    this.#pollMs = pollMs
    this.#open = open
    this.#db = db
  }

  /** Calls the listeners soon (once for any number of changes before they run). */
  notify(): void {
    if (!this.#listeners.size || this.#queued) return
    this.#queued = true
    setImmediate(() => {
      this.#queued = false
      for (const l of [...this.#listeners]) {
        try {
          l()
        } catch {
          /* a listener's failure is its own */
        }
      }
    })
  }

  #dataVersion(db: BetterSqlite3.Database): number {
    if (this.#version?.db !== db) this.#version = { db, st: db.prepare('PRAGMA data_version').pluck() }
    return Number(this.#version.st.get())
  }

  /** One check per turn of the event loop, however many inotify events a commit made (several writes of the WAL each). */
  #checkSoon(): void {
    if (this.#checkQueued) return
    this.#checkQueued = true
    setImmediate(() => {
      this.#checkQueued = false
      this.#check()
    })
  }

  #check(): void {
    const w = this.#watch
    const db = this.#db()
    if (!w || !db) return
    try {
      const v = this.#dataVersion(db)
      if (v !== w.version) {
        w.version = v
        this.notify()
      }
    } catch {
      /* busy or closed: the next tick sees it */
    }
  }

  add(listener: () => void): () => void {
    this.#listeners.add(listener)
    if (!this.#watch) {
      const timer = setInterval(() => this.#check(), this.#pollMs)
      timer.unref()
      const w: Watch = { timer, version: -1 }
      this.#watch = w
      void this.#open().then(
        (db) => {
          if (this.#watch !== w) return
          try {
            w.version = this.#dataVersion(db)
          } catch {
            /* busy: the first check notifies (a version of -1 differs from any) */
          }
          try {
            const base = path.basename(this.#file)
            w.fsw = fs.watch(path.dirname(this.#file), { persistent: false }, (_ev, f) => {
              if (!f || f === base || f === `${base}-wal`) this.#checkSoon()
            })
            w.fsw.on('error', () => {
              w.fsw?.close()
              w.fsw = undefined
            })
          } catch {
            /* no inotify: the poll remains */
          }
        },
        () => {},
      )
    }
    return () => {
      this.#listeners.delete(listener)
      if (!this.#listeners.size) this.close()
    }
  }

  close(): void {
    this.#listeners.clear()
    if (!this.#watch) return
    clearInterval(this.#watch.timer)
    this.#watch.fsw?.close()
    this.#watch = undefined
    this.#version = undefined
  }
}

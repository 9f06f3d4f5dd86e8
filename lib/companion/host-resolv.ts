// The host's resolv.conf, followed: the default upstream servers of the embedded resolvers change
// when the file does (edited in place, replaced by a rename as NetworkManager and resolvconf do,
// or a symlink re-pointed), without restarting anything.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { planResolvConf } from '../container-files'

/** The upstreams an embedded resolver takes from resolv.conf text (loopback servers kept: it asks from the host). */
export function upstreamsOf(text: string): string[] {
  return planResolvConf({ host: text, resolver: true, fallback: [] }).upstreams
}

export class HostResolvConf {
  readonly path: string
  #servers: string[] = []
  #text: string | undefined
  #watchers: fs.FSWatcher[] = []
  #timer: NodeJS.Timeout | undefined
  #poll: NodeJS.Timeout | undefined
  readonly #onChange: (servers: string[]) => void

  /** Reads `file` now and calls `onChange` with the new servers whenever they change. */
  constructor(file: string, onChange: (servers: string[]) => void) {
    this.path = file
    this.#onChange = onChange
    this.#read()
    this.#arm()
    // Inotify misses nothing it watches, but a file replaced between two arms is caught by this net.
    this.#poll = setInterval(() => {
      if (this.#read()) this.#onChange(this.#servers)
    }, 2000)
    this.#poll.unref()
  }

  get servers(): readonly string[] {
    return this.#servers
  }

  #read(): boolean {
    let text = ''
    try {
      text = fs.readFileSync(this.path, 'utf8')
    } catch {
      /* none: no upstreams */
    }
    if (text === this.#text) return false
    this.#text = text
    const servers = upstreamsOf(text)
    const changed = servers.join(' ') !== this.#servers.join(' ')
    this.#servers = servers
    return changed
  }

  /** Watches the file itself (edits in place, bind mounts), its directory (renames) and a symlink's target directory. */
  #arm(): void {
    for (const w of this.#watchers) w.close()
    this.#watchers = []
    const base = path.basename(this.path)
    const add = (target: string, filter?: string) => {
      try {
        const w = fs.watch(target, { persistent: false }, (_ev, f) => {
          if (filter === undefined || !f || f === filter) this.#changed()
        })
        w.on('error', () => {})
        this.#watchers.push(w)
      } catch {
        /* not there (yet) */
      }
    }
    add(this.path)
    add(path.dirname(this.path), base)
    try {
      const real = fs.realpathSync(this.path)
      if (real !== this.path) add(path.dirname(real), path.basename(real))
    } catch {
      /* a dangling link */
    }
  }

  #changed(): void {
    if (this.#timer) return
    // Coalesced: an editor's write, rename and chmod come as one change.
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#arm()
      if (this.#read()) this.#onChange(this.#servers)
    }, 30)
    this.#timer.unref()
  }

  close(): void {
    for (const w of this.#watchers) w.close()
    this.#watchers = []
    clearTimeout(this.#timer)
    clearInterval(this.#poll)
  }
}

// The /etc/netns convention of iproute2: the files of /etc/netns/NAME/ are bind-mounted over
// /etc/ for a process started in the named namespace NAME (`ip netns exec NAME ...`, and
// Namespace.spawn through nk-exec). netns-kit writes a container's hosts, hostname and
// resolv.conf there and removes them again, leaving nothing it did not find: what it created
// (each file, the NAME directory, /etc/netns itself) is recorded under /run/netns-kit/etc-netns/,
// and only that is ever removed. A file that was there before is overwritten but never deleted.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { invalidArg } from './errors'
import { checkNsName } from './validate'

/** Where iproute2 looks. */
export const ETC_NETNS_DIR = '/etc/netns'
/** Where netns-kit records what it created there (tmpfs, with the namespaces themselves). */
export const ETC_NETNS_REGISTRY = '/run/netns-kit/etc-netns'

/** The files netns-kit writes for a container. */
export const ETC_NETNS_FILES = ['hosts', 'hostname', 'resolv.conf'] as const
export type EtcNetnsFile = (typeof ETC_NETNS_FILES)[number]

export interface EtcNetnsOptions {
  /** Default /etc/netns. */
  root?: string
  /** Default /run/netns-kit/etc-netns. */
  registry?: string
}

interface Created {
  /** We made /etc/netns/NAME. */
  dir: boolean
  /** The files we made (not those we found and overwrote). */
  files: string[]
}

const ROOT_MARK = '.root-created'

let defaults: EtcNetnsOptions = {}

/**
 * @internal Where the calls without `root`/`registry` write ({}: /etc/netns and the registry
 * under /run/netns-kit again). Set with the recording fake of the addon (test/fake-binding.ts):
 * its namespaces are not the kernel's, so their files must not land in the machine's /etc/netns.
 */
export function useEtcNetnsDefaults(d: EtcNetnsOptions): void {
  defaults = { ...d }
}

function paths(name: string, opts: EtcNetnsOptions): { root: string; dir: string; reg: string; regFile: string } {
  checkNsName(name, 'name')
  const root = opts.root ?? defaults.root ?? ETC_NETNS_DIR
  const reg = opts.registry ?? defaults.registry ?? ETC_NETNS_REGISTRY
  return { root, dir: path.join(root, name), reg, regFile: path.join(reg, `${name}.json`) }
}

// The files are a few hundred bytes under /etc and /run: each step is a synchronous call (tens
// of microseconds) rather than a trip through libuv's pool of 4 threads, which 8 concurrent
// connects share with every other fs call (measured: 11 ms per connect for these files at 8 at
// a time with async calls; 0.3 ms sequential).
//
// The record is a list of JSON lines, each naming what one call is about to create, appended
// (one write(2) each) before the call creates it: a process killed at any moment leaves a record
// that names everything it made, and at worst something it did not make yet (removal tolerates
// that). No temporary file that a kill could strand, no rewrite that could lose earlier lines.
// The one cost: a file recorded by a writer killed before it made it, and then made by someone
// else before the removal, is taken for ours. Nor is there a lock per name: a removal for a
// namespace just deleted, racing `ip netns add NAME` and a connect of the new one within a few
// microseconds, can remove the new one's files (its next connect or disconnect writes them again).
function readCreated(file: string): Created | undefined {
  // Most calls find no record (a container's first write; the namespace's delete after its last
  // disconnect removed them): asked first, without the cost of an exception.
  if (!fs.existsSync(file)) return undefined
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const c: Created = { dir: false, files: [] }
  for (const line of text.split('\n')) {
    try {
      const l = JSON.parse(line) as Partial<Created>
      if (l.dir === true) c.dir = true
      // Only the names netns-kit writes: a record that names another path ('../x') removes nothing.
      if (Array.isArray(l.files))
        for (const f of l.files) if ((ETC_NETNS_FILES as readonly unknown[]).includes(f) && !c.files.includes(f)) c.files.push(f as string)
    } catch {
      /* empty or torn line: it named nothing that was made */
    }
  }
  return c
}

const exists = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined
/** rm -f of a file: one unlink(2) (fs.rmSync's force is an lstat and an unlink through its rimraf). */
function unlinkIfThere(p: string): void {
  try {
    fs.unlinkSync(p)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
}
/** A directory itself, not a symbolic link to one. */
const isDir = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false })?.isDirectory() === true

/**
 * Writes the container files of the named namespace `name` to /etc/netns/NAME/ (in place, so a
 * process that already bind-mounted them sees the new content), creating what is missing.
 * A folder /etc/netns/NAME or a file in it that is a symbolic link is left as it is (never followed).
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` or `ERR_INVALID_ARG_TYPE` for a bad name, an unknown file or a non-string content.
 * @throws {Error} the `fs` error (`EACCES`, `EROFS`, `ENOSPC`) when /etc/netns cannot be written.
 */
export async function writeEtcNetns(name: string, files: Partial<Record<EtcNetnsFile, string>>, opts: EtcNetnsOptions = {}): Promise<void> {
  const p = paths(name, opts)
  if (!files || typeof files !== 'object') throw invalidArg('files', files, 'must be an object { hosts?, hostname?, resolv.conf? }', 'ERR_INVALID_ARG_TYPE')
  for (const [k, v] of Object.entries(files)) {
    if (!(ETC_NETNS_FILES as readonly string[]).includes(k)) throw invalidArg(`files.${k}`, k, `is not one of ${ETC_NETNS_FILES.join(', ')}`)
    if (typeof v !== 'string') throw invalidArg(`files.${k}`, v, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  }
  fs.mkdirSync(p.reg, { recursive: true, mode: 0o700 })
  const before = readCreated(p.regFile) ?? { dir: false, files: [] }
  // Intent first: what this call will create is recorded before it is created.
  const rootMissing = !exists(p.root)
  const intent: Created = { dir: !before.dir && !exists(p.dir), files: [] }
  for (const k of Object.keys(files)) if (!before.files.includes(k) && (intent.dir || !exists(path.join(p.dir, k)))) intent.files.push(k)
  if (rootMissing) fs.writeFileSync(path.join(p.reg, ROOT_MARK), '')
  // Each line starts on a line of its own: after a record of 0.1 (one object, no newline) or a
  // line a failed write left torn, the new one still parses.
  if (intent.dir || intent.files.length) fs.appendFileSync(p.regFile, `\n${JSON.stringify(intent)}\n`, { mode: 0o600 })
  if (rootMissing) fs.mkdirSync(p.root, { recursive: true, mode: 0o755 })
  try {
    fs.mkdirSync(p.dir, { mode: 0o755 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  // Never through a symbolic link: a folder or a file someone made a link (to the host's
  // resolv.conf, say) is theirs and stays as it is; the link's target is never written.
  if (!isDir(p.dir)) return
  const flag = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW
  for (const [k, v] of Object.entries(files)) {
    let fd: number
    try {
      fd = fs.openSync(path.join(p.dir, k), flag, 0o644)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') continue
      throw e
    }
    try {
      fs.writeFileSync(fd, v)
    } finally {
      fs.closeSync(fd)
    }
  }
}

/**
 * Removes what writeEtcNetns() created for `name`: its files, /etc/netns/NAME once empty, and
 * /etc/netns itself when netns-kit created it and it became empty. Idempotent; touches nothing
 * netns-kit did not create.
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` for a name that is not a valid namespace name.
 * @throws {Error} the `fs` error (`EACCES`, `EROFS`) when a file cannot be removed.
 */
export async function removeEtcNetns(name: string, opts: EtcNetnsOptions = {}): Promise<void> {
  const p = paths(name, opts)
  const created = readCreated(p.regFile)
  if (created) {
    // Recorded but perhaps never made (a writer killed between its record and its work): force.
    // Not through a folder someone replaced with a symbolic link.
    if (isDir(p.dir)) for (const f of created.files) unlinkIfThere(path.join(p.dir, f))
    if (created.dir) {
      try {
        fs.rmdirSync(p.dir)
      } catch {
        /* not empty: files we did not make stay; or never made */
      }
    }
    unlinkIfThere(p.regFile)
  }
  const mark = path.join(p.reg, ROOT_MARK)
  if (exists(mark)) {
    // ENOTEMPTY while other namespaces have files there: the last removal takes it. ENOENT: a
    // writer has marked it and is about to make it (or was killed before it did, and the next
    // write and removal take the mark): the mark stays.
    let gone = true
    try {
      fs.rmdirSync(p.root)
    } catch {
      gone = false
    }
    if (gone) unlinkIfThere(mark)
  }
}

/** The files of /etc/netns/NAME/ that netns-kit wrote (and whose content it manages), for tests and diagnostics. */
export async function etcNetnsFiles(name: string, opts: EtcNetnsOptions = {}): Promise<string[]> {
  const p = paths(name, opts)
  const out: string[] = []
  for (const f of ETC_NETNS_FILES) if (exists(path.join(p.dir, f))) out.push(f)
  return out
}

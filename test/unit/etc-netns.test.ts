// The /etc/netns convention: what netns-kit writes for a named namespace, and that it removes
// exactly what it created (and /etc/netns itself only when it made it), in a temporary root.
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { etcNetnsFiles, removeEtcNetns, writeEtcNetns } from '../../lib/etc-netns'

describe('/etc/netns files (writeEtcNetns, removeEtcNetns)', () => {
  let tmp: string
  let opts: { root: string; registry: string }

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-etcnetns-'))
    opts = { root: path.join(tmp, 'etc', 'netns'), registry: path.join(tmp, 'run', 'etc-netns') }
    fs.mkdirSync(path.join(tmp, 'etc'))
  })
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }))

  it('writes the files, and leaves nothing behind when /etc/netns did not exist', async () => {
    await writeEtcNetns('c1', { hosts: '127.0.0.1\tlocalhost\n', hostname: 'c1\n', 'resolv.conf': 'nameserver 127.0.0.11\n' }, opts)
    await writeEtcNetns('c2', { hostname: 'c2\n' }, opts)
    assert.equal(fs.readFileSync(path.join(opts.root, 'c1', 'resolv.conf'), 'utf8'), 'nameserver 127.0.0.11\n')
    assert.equal(fs.statSync(path.join(opts.root, 'c1', 'hosts')).mode & 0o777, 0o644)
    assert.deepEqual(await etcNetnsFiles('c1', opts), ['hosts', 'hostname', 'resolv.conf'])
    // rewritten in place: a process that bind-mounted the file sees the new content
    const ino = fs.statSync(path.join(opts.root, 'c1', 'hosts')).ino
    await writeEtcNetns('c1', { hosts: '127.0.0.1\tlocalhost\n10.0.0.2\tc1\n' }, opts)
    assert.equal(fs.statSync(path.join(opts.root, 'c1', 'hosts')).ino, ino)
    await removeEtcNetns('c1', opts)
    assert.equal(fs.existsSync(path.join(opts.root, 'c1')), false)
    assert.ok(fs.existsSync(opts.root), 'c2 still has files there')
    await removeEtcNetns('c2', opts)
    assert.equal(fs.existsSync(opts.root), false, 'the /etc/netns we created is gone again')
    assert.deepEqual(fs.readdirSync(path.join(tmp, 'etc')), [])
    await removeEtcNetns('c2', opts) // idempotent
  })

  it('keeps an /etc/netns that was there, and never deletes what it did not create', async () => {
    fs.mkdirSync(path.join(opts.root, 'vpn'), { recursive: true })
    fs.writeFileSync(path.join(opts.root, 'vpn', 'resolv.conf'), 'nameserver 10.9.9.9\n')
    fs.writeFileSync(path.join(opts.root, 'vpn', 'nsswitch.conf'), 'hosts: files\n')
    await writeEtcNetns('vpn', { hosts: 'x\n', 'resolv.conf': 'nameserver 127.0.0.11\n' }, opts)
    await removeEtcNetns('vpn', opts)
    assert.deepEqual(fs.readdirSync(path.join(opts.root, 'vpn')).sort(), ['nsswitch.conf', 'resolv.conf'], "the user's files stay; our hosts went")
    await writeEtcNetns('other', { hostname: 'other\n' }, opts)
    await removeEtcNetns('other', opts)
    assert.deepEqual(fs.readdirSync(opts.root), ['vpn'])
    // a name never written: nothing happens
    await removeEtcNetns('never', opts)
    assert.ok(fs.existsSync(opts.root))
  })

  it('never writes or removes through a symbolic link in place of the folder or a file; leaves them as they are', async () => {
    const victim = path.join(tmp, 'victim')
    fs.writeFileSync(victim, 'untouched\n')
    // A file that is a link (a user's resolv.conf -> the host's stub, say): the others are written.
    fs.mkdirSync(path.join(opts.root, 'c1'), { recursive: true })
    fs.symlinkSync(victim, path.join(opts.root, 'c1', 'resolv.conf'))
    await writeEtcNetns('c1', { hosts: 'x\n', 'resolv.conf': 'nameserver 127.0.0.11\n' }, opts)
    assert.equal(fs.readFileSync(path.join(opts.root, 'c1', 'hosts'), 'utf8'), 'x\n')
    assert.equal(fs.readlinkSync(path.join(opts.root, 'c1', 'resolv.conf')), victim, 'the link stays')
    // The folder is a link: nothing written through it.
    const elsewhere = path.join(tmp, 'elsewhere')
    fs.mkdirSync(elsewhere)
    fs.symlinkSync(elsewhere, path.join(opts.root, 'c2'))
    await writeEtcNetns('c2', { hosts: 'x\n' }, opts)
    assert.deepEqual(fs.readdirSync(elsewhere), [])
    // Ours replaced by a link to a folder afterwards: removal does not delete through it.
    await writeEtcNetns('c3', { hosts: 'x\n', hostname: 'c3\n' }, opts)
    const standIn = path.join(tmp, 'stand-in')
    fs.mkdirSync(standIn)
    fs.writeFileSync(path.join(standIn, 'hosts'), 'theirs\n')
    fs.rmSync(path.join(opts.root, 'c3'), { recursive: true })
    fs.symlinkSync(standIn, path.join(opts.root, 'c3'))
    for (const n of ['c1', 'c2', 'c3']) await removeEtcNetns(n, opts)
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched\n')
    assert.equal(fs.readFileSync(path.join(standIn, 'hosts'), 'utf8'), 'theirs\n')
    assert.equal(fs.existsSync(path.join(opts.root, 'c1', 'hosts')), false, 'our own file went')
  })

  it('refuses names ip netns refuses and files it does not manage', async () => {
    await assert.rejects(writeEtcNetns('../x', { hosts: '' }, opts), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(writeEtcNetns('c', { passwd: 'x' } as never, opts), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(writeEtcNetns('c', { hosts: 1 } as never, opts), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.equal(fs.existsSync(opts.root), false, 'nothing made before the input was checked')
  })

  it('a writer killed after any of its changes leaves nothing that removal misses (intent recorded first)', async function () {
    this.timeout(60_000)
    // CI run of 24c57a6: a connect killed between creating /etc/netns/NAME/ and recording it left
    // the directory, its files and the record's temporary file behind after gc.
    const worker = path.join(__dirname, '..', 'fixtures', 'etc-netns-kill-worker.ts')
    const run = (dir: string, killAt: number) =>
      new Promise<number | 'killed'>((resolve, reject) => {
        const args = ['--require', 'tsx/cjs', worker, path.join(dir, 'etc', 'netns'), path.join(dir, 'run', 'etc-netns')]
        execFile(process.execPath, args, { env: { ...process.env, NK_KILL_AT: String(killAt) } }, (err, stdout, stderr) => {
          if (err && (err as { signal?: string }).signal === 'SIGKILL') return resolve('killed')
          if (err) return reject(new Error(stderr || err.message))
          resolve((JSON.parse(stdout.trim()) as { changes: number }).changes)
        })
      })
    const fresh = (k: number) => {
      const dir = path.join(tmp, `k${k}`)
      fs.mkdirSync(path.join(dir, 'etc'), { recursive: true })
      return dir
    }
    const changes = await run(fresh(0), 0)
    assert.ok(typeof changes === 'number' && changes >= 8, `the writes make ${changes} changes`)
    const ks = Array.from({ length: changes }, (_, i) => i + 1)
    for (let i = 0; i < ks.length; i += 4) {
      await Promise.all(
        ks.slice(i, i + 4).map(async (k) => {
          const dir = fresh(k)
          assert.equal(await run(dir, k), 'killed', `killed after change ${k}`)
          const o = { root: path.join(dir, 'etc', 'netns'), registry: path.join(dir, 'run', 'etc-netns') }
          await removeEtcNetns('c1', o)
          await removeEtcNetns('c2', o)
          assert.deepEqual(fs.readdirSync(path.join(dir, 'etc')), [], `nothing left in etc when killed after change ${k}`)
          // The names work again, and then nothing is left in the registry either (a mark of an
          // /etc/netns that a killed writer never made is taken by the next write and removal).
          await writeEtcNetns('c1', { hostname: 'c1\n' }, o)
          await removeEtcNetns('c1', o)
          assert.deepEqual(fs.readdirSync(path.join(dir, 'etc')), [])
          assert.deepEqual(fs.readdirSync(o.registry), [], `nothing left in the registry when killed after change ${k}`)
        }),
      )
    }
  })

  it('reads and extends a record of 0.1 (one JSON object, no newline)', async () => {
    fs.mkdirSync(path.join(opts.root, 'c1'), { recursive: true })
    fs.writeFileSync(path.join(opts.root, 'c1', 'hosts'), 'x\n')
    fs.mkdirSync(opts.registry, { recursive: true })
    fs.writeFileSync(path.join(opts.registry, 'c1.json'), JSON.stringify({ dir: true, files: ['hosts'] }))
    await writeEtcNetns('c1', { hosts: 'y\n', 'resolv.conf': 'nameserver 127.0.0.11\n' }, opts)
    await removeEtcNetns('c1', opts)
    assert.deepEqual(fs.readdirSync(opts.root), [], 'the old entries and the new one both removed')
  })

  it('a record naming a path other than its three files removes nothing outside /etc/netns/NAME', async () => {
    await writeEtcNetns('c1', { hosts: 'x\n' }, opts)
    const outside = path.join(opts.root, 'keep')
    fs.writeFileSync(outside, 'not ours\n')
    fs.appendFileSync(path.join(opts.registry, 'c1.json'), `\n${JSON.stringify({ dir: false, files: ['../keep', '/etc/passwd'] })}\n`)
    await removeEtcNetns('c1', opts)
    assert.equal(fs.readFileSync(outside, 'utf8'), 'not ours\n')
    assert.deepEqual(fs.readdirSync(opts.root), ['keep'])
  })

  it('a removal that finds /etc/netns missing keeps the mark of a writer about to make it', async () => {
    // A writer has recorded that it creates /etc/netns (the mark) and not made it yet when
    // another namespace's removal runs: the mark must survive, or the /etc/netns made next stays forever.
    fs.mkdirSync(opts.registry, { recursive: true })
    fs.writeFileSync(path.join(opts.registry, '.root-created'), '')
    await removeEtcNetns('other', opts)
    assert.ok(fs.existsSync(path.join(opts.registry, '.root-created')))
    await writeEtcNetns('c1', { hostname: 'c1\n' }, opts)
    await removeEtcNetns('c1', opts)
    assert.equal(fs.existsSync(opts.root), false, 'the /etc/netns netns-kit made is gone')
    assert.deepEqual(fs.readdirSync(opts.registry), [])
  })
})

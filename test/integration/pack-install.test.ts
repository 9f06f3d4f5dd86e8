// The package as a user's project gets it: `npm pack`, then `npm install <tarball>` into an empty
// project, which builds the addon (and better-sqlite3) from source with node-gyp: 3 to 8 minutes on
// 2 cores. Without etcd3 (an optional peer dependency), `require` and `import` of the single-host
// API work and EtcdStore says which package is missing; after installing etcd3, an EtcdStore call
// answers from a throwaway etcd on 127.0.0.1.
// Offline: the tarball is local, and the dependencies come from npm's cache (`--offline`), pinned
// by a lockfile made from ours (the versions `npm install` here put in the cache), so the test
// runs in a sandbox without a network as well as in CI.
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { startEtcd, type LocalEtcd } from '../etcd'

const exec = promisify(execFile)
const root = path.resolve(__dirname, '..', '..')
const NPM_FLAGS = ['--no-audit', '--no-fund', '--offline', '--loglevel=error']

type LockEntry = { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; [k: string]: unknown }

/** The entries of our package-lock.json that `names` need (their dependency closure, resolved as Node does), as a consumer's. */
function lockClosure(names: string[]): Record<string, LockEntry> {
  const all = (JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages
  const out: Record<string, LockEntry> = {}
  const queue = names.map((n) => ['', n] as [string, string])
  while (queue.length) {
    const [from, name] = queue.shift()!
    let base = from
    let key: string | undefined
    for (;;) {
      const k = `${base ? `${base}/` : ''}node_modules/${name}`
      if (all[k]) {
        key = k
        break
      }
      if (!base) break
      const i = base.lastIndexOf('/node_modules/')
      base = i < 0 ? '' : base.slice(0, i)
    }
    if (!key) throw new Error(`package-lock.json has no ${name} (needed by ${from || 'netns-kit'})`)
    if (out[key]) continue
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = all[key] as LockEntry & { dev?: boolean; devOptional?: boolean; peer?: boolean }
    out[key] = entry
    for (const d of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) queue.push([key, d])
  }
  return out
}

/** Writes the project's package.json and package-lock.json: netns-kit from the tarball, plus `extra` (name -> version). */
function writeProject(project: string, tarball: string, extra: Record<string, string>): void {
  const own = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const spec = `file:${path.relative(project, tarball)}`
  const dependencies = { 'netns-kit': spec, ...extra }
  const packages: Record<string, unknown> = {
    '': { name: 'app', version: '1.0.0', dependencies },
    'node_modules/netns-kit': {
      version: own.version,
      resolved: spec,
      hasInstallScript: true,
      license: own.license,
      os: own.os,
      engines: own.engines,
      dependencies: own.dependencies,
      peerDependencies: own.peerDependencies,
      peerDependenciesMeta: own.peerDependenciesMeta,
    },
    ...lockClosure([...Object.keys(own.dependencies), ...Object.keys(extra)]),
  }
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies }, null, 2))
  fs.writeFileSync(
    path.join(project, 'package-lock.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2),
  )
}

async function npm(cwd: string, args: string[], timeout = 15 * 60_000): Promise<string> {
  const r = await exec('npm', args, {
    cwd,
    timeout,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, npm_config_build_from_source: 'true', NODE_DEBUG: '' },
  })
  return r.stdout
}

async function node(cwd: string, args: string[]): Promise<string> {
  return (await exec(process.execPath, args, { cwd, timeout: 60_000 })).stdout.trim()
}

describe('npm pack + npm install into an empty project', function () {
  this.timeout(20 * 60_000)
  let tmp: string
  let project: string
  let etcd: LocalEtcd | undefined
  let tarball: string

  before(async () => {
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) await npm(root, ['run', 'build'])
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-pack-'))
    // --ignore-scripts: `prepare` would rebuild dist/, which the suite's pretest just built.
    const out = await npm(root, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp])
    tarball = path.join(tmp, (JSON.parse(out) as { filename: string }[])[0]!.filename)
    project = path.join(tmp, 'app')
    fs.mkdirSync(project)
    writeProject(project, tarball, {})
    await npm(project, ['install', ...NPM_FLAGS])
  })

  after(async () => {
    await etcd?.stop()
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('installs with the addon built from source and without etcd3 or gRPC', () => {
    const pkgDir = path.join(project, 'node_modules', 'netns-kit')
    assert.ok(fs.existsSync(path.join(pkgDir, 'build', 'Release', 'netns_kit.node')), 'the addon was built')
    assert.ok(fs.existsSync(path.join(pkgDir, 'build', 'Release', 'nk-exec')), 'the exec helper was built')
    for (const p of ['etcd3', '@grpc/grpc-js', 'protobufjs', 'cockatiel'])
      assert.ok(!fs.existsSync(path.join(project, 'node_modules', p)), `${p} is not installed`)
  })

  it('works with require() of the single-host API', async () => {
    const out = await node(project, [
      '-e',
      `
      const { Namespace, Network, NatRule, MemoryStore, SqliteStore, hostsFile } = require('netns-kit')
      const s = new MemoryStore()
      console.log([typeof Namespace.create, typeof Network.create, typeof NatRule.publish, typeof SqliteStore, typeof hostsFile, typeof s.networks].join(','))
      Namespace.list().then((l) => console.log(Array.isArray(l)))`,
    ])
    assert.equal(out, 'function,function,function,function,function,function\ntrue')
  })

  it('works with named ESM imports, and the addon answers', async () => {
    fs.writeFileSync(
      path.join(project, 'main.mjs'),
      [
        "import { Namespace, Network, VethPair } from 'netns-kit'",
        'const ns = await Namespace.current()',
        "console.log(typeof Network.create, typeof VethPair.create, (await ns.links()).some((l) => l.name === 'lo'))",
      ].join('\n'),
    )
    assert.equal(await node(project, ['main.mjs']), 'function function true')
  })

  it('EtcdStore without etcd3 names the missing package', async () => {
    const out = await node(project, [
      '-e',
      `
      const { EtcdStore } = require('netns-kit')
      try { new EtcdStore({ etcd: 'http://127.0.0.1:2379' }) } catch (e) { console.log(e.code + ' ' + e.message) }`,
    ])
    assert.match(out, /^ERR_NETNS_KIT_MISSING_DEPENDENCY .*'etcd3'.*npm install etcd3@/)
  })

  it('without the addon built (installed with --ignore-scripts), the first kernel call says ERR_NETNS_KIT_NOT_BUILT', async () => {
    const build = path.join(project, 'node_modules', 'netns-kit', 'build')
    fs.renameSync(build, `${build}.away`)
    try {
      const out = await node(project, [
        '-e',
        `
        const { Namespace } = require('netns-kit')
        Namespace.current().then((ns) => ns.links()).then(() => console.log('no error'), (e) => console.log(e.code + ' ' + e.message))`,
      ])
      assert.match(out, /^ERR_NETNS_KIT_NOT_BUILT .*npm rebuild netns-kit/)
    } finally {
      fs.renameSync(`${build}.away`, build)
    }
  })

  it('with etcd3 installed, an EtcdStore call answers', async function () {
    etcd = await startEtcd()
    const own = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
    writeProject(project, tarball, { etcd3: own.devDependencies.etcd3 })
    await npm(project, ['install', ...NPM_FLAGS])
    assert.ok(fs.existsSync(path.join(project, 'node_modules', 'etcd3')))
    const out = await node(project, [
      '-e',
      `
      const { EtcdStore } = require('netns-kit')
      const store = new EtcdStore({ etcd: ${JSON.stringify(etcd.endpoint)}, prefix: 'nk-pack/' })
      store.networks().then(async (n) => { console.log(JSON.stringify(n)); await store.close() }, (e) => { console.error(e); process.exit(1) })`,
    ])
    assert.equal(out, '[]')
  })
})

// etcd3 is an optional peer dependency: the single-host API loads without it, and what needs it
// (EtcdStore, OverlayAgent and so the overlay driver) says which package to install, with a code.
// A child process runs with test/fixtures/no-etcd3.cjs preloaded, which makes `etcd3` unresolvable.
import { strict as assert } from 'node:assert'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..', '..')

/** Runs `body` (CommonJS, `k` = the library from lib/) in a process where etcd3 cannot be found; returns its JSON output. */
function withoutEtcd3(body: string): Record<string, unknown> {
  const src = `(async () => { const k = require(${JSON.stringify(path.join(root, 'lib'))}); const out = {};
    ${body}
    out.etcd3Requests = globalThis.__etcd3Requests
    out.etcd3Loaded = Object.keys(require.cache).some((f) => f.includes('/node_modules/etcd3/'))
    console.log(JSON.stringify(out)) })().catch((e) => { console.error(e); process.exit(1) })`
  const out = execFileSync(process.execPath, ['-r', 'tsx/cjs', '-r', path.join(root, 'test', 'fixtures', 'no-etcd3.cjs'), '-e', src], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60000,
  })
  return JSON.parse(out.trim().split('\n').pop()!)
}

describe('etcd3 is an optional peer dependency', function () {
  this.timeout(60000)

  it('is declared as an optional peer (and a devDependency for the tests), not a dependency', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
    assert.equal(pkg.dependencies.etcd3, undefined)
    assert.ok(pkg.peerDependencies.etcd3)
    assert.deepEqual(pkg.peerDependenciesMeta.etcd3, { optional: true })
    assert.ok(pkg.devDependencies.etcd3)
  })

  it('the single-host API loads and works without it, and nothing asks for it', () => {
    const out = withoutEtcd3(`
      new k.MemoryStore()
      out.keys = ['Namespace', 'Network', 'NatRule', 'SqliteStore', 'MemoryStore', 'EtcdStore', 'OverlayAgent', 'OverlayNetwork'].filter((n) => typeof k[n] !== 'function')
    `)
    assert.deepEqual(out.keys, [])
    assert.equal(out.etcd3Requests, 0)
    assert.equal(out.etcd3Loaded, false)
  })

  it('new EtcdStore() throws ERR_NETNS_KIT_MISSING_DEPENDENCY naming etcd3 and how to install it', () => {
    const out = withoutEtcd3(`
      for (const C of [k.EtcdStore, k.EtcdNetworkStore]) {
        try { new C({ etcd: 'http://127.0.0.1:2379' }); out.thrown = 'nothing' } catch (e) {
          (out.errors ??= []).push({ cls: e.constructor.name, code: e.code, message: e.message, isKitError: e instanceof k.NetnsKitError })
        }
      }
    `)
    assert.equal(out.thrown, undefined)
    const errors = out.errors as { cls: string; code: string; message: string; isKitError: boolean }[]
    assert.equal(errors.length, 2)
    for (const e of errors) {
      assert.equal(e.cls, 'NetnsKitError')
      assert.equal(e.isKitError, true)
      assert.equal(e.code, 'ERR_NETNS_KIT_MISSING_DEPENDENCY')
      assert.match(e.message, /optional peer dependency 'etcd3', which is not installed/)
      assert.match(e.message, /npm install etcd3@/)
    }
    assert.ok((out.etcd3Requests as number) >= 1)
  })

  it('OverlayAgent.start() (the overlay driver) rejects with the same error before touching the kernel', () => {
    const out = withoutEtcd3(`
      // A stand-in for a Namespace (validation asks only for equals()): the agent must fail before using it.
      const ns = { name: 'nk-none', path: '/nonexistent', equals: () => true }
      try {
        await k.OverlayAgent.start({ etcd: ['http://127.0.0.1:2379'], hostId: 'h1', underlay: { namespace: ns, address: '10.0.0.1' } })
        out.thrown = 'nothing'
      } catch (e) { out.code = e.code; out.message = e.message }
    `)
    assert.equal(out.thrown, undefined)
    assert.equal(out.code, 'ERR_NETNS_KIT_MISSING_DEPENDENCY', String(out.message))
    assert.match(String(out.message), /'etcd3'/)
  })

  it('loads etcd3 when it is installed (the devDependency)', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-r',
        'tsx/cjs',
        '-e',
        `const { etcd3Module } = require(${JSON.stringify(path.join(root, 'lib', 'ipam', 'etcd-client'))}); console.log(typeof etcd3Module().Etcd3)`,
      ],
      { cwd: root, encoding: 'utf8', timeout: 60000 },
    )
    assert.equal(out.trim(), 'function')
  })
})

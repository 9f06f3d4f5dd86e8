// The package as a dependent project sees it: require, named ESM imports, shipped types.
import { strict as assert } from 'node:assert'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..', '..')

describe('package', function () {
  this.timeout(60000)
  let dir: string

  before(function () {
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' })
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-consumer-'))
    fs.mkdirSync(path.join(dir, 'node_modules'))
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'netns-kit'))
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { 'netns-kit': '*' } }))
  })

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  const names = [
    'Namespace',
    'Link',
    'VethPair',
    'Bridge',
    'Macvlan',
    'Vxlan',
    'NetlinkError',
    'NetnsKitError',
    'PrivilegeError',
    'NatRule',
    'conntrack',
    'SqliteStore',
    'MemoryStore',
    'EtcdStore',
    'chooseSubnet',
    'findFreeSubnet',
    'hostsFile',
    'hostnameFile',
    'resolvConf',
    'parseResolvConf',
    'Resolver',
    'DnsRecords',
    'openUdpSocket',
    'openTcpServer',
    'connectTcp',
  ]

  it('works with require()', () => {
    const out = execFileSync(process.execPath, ['-e', `const k = require('netns-kit'); console.log(JSON.stringify(Object.keys(k)))`], {
      cwd: dir,
      encoding: 'utf8',
    })
    const keys = JSON.parse(out) as string[]
    for (const n of names) assert.ok(keys.includes(n), n)
  })

  it('works with named ESM imports', () => {
    const src = `import { ${names.join(', ')} } from 'netns-kit'; console.log([${names.join(', ')}].map((x) => typeof x).join(','))`
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', src], { cwd: dir, encoding: 'utf8' })
    assert.equal(out.trim(), names.map((n) => (n === 'conntrack' ? 'object' : 'function')).join(','))
  })

  it('ships types a TypeScript project can use', () => {
    fs.writeFileSync(
      path.join(dir, 'use.ts'),
      [
        "import { Namespace, VethPair, Bridge, type LinkInfo } from 'netns-kit'",
        'export async function wire(): Promise<LinkInfo> {',
        "  const host = await Namespace.create('nk-types')",
        "  const br = await Bridge.create({ name: 'br0', namespace: host })",
        "  const v = await VethPair.create({ name: 'veth0', namespace: host, peer: { name: 'eth0' } })",
        '  await br.attach(v.host, { hairpin: true })',
        '  return v.host.info()',
        '}',
        '',
      ].join('\n'),
    )
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'commonjs',
          moduleResolution: 'node',
          target: 'ES2022',
          lib: ['ES2022', 'ESNext.Disposable'],
          types: ['node'],
          typeRoots: [path.join(root, 'node_modules', '@types')],
        },
        files: ['use.ts'],
      }),
    )
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' })
  })
})

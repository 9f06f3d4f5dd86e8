// NODE_DEBUG=netns-kit: one line per trip into the addon on stderr (entry point, namespace,
// operations, duration, error), through util.debuglog; nothing without it. A child process does
// real work in a throwaway namespace (a bridge, a failing duplicate, a NAT rule) and we read its stderr.
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { Namespace } from '../../lib'
import { uniqueName } from '../helpers'

const exec = promisify(execFile)
const root = path.resolve(__dirname, '..', '..')

const SCRIPT = `
const { Namespace, Bridge, NatRule } = require(${JSON.stringify(path.join(root, 'lib'))})
;(async () => {
  const name = process.argv[1]
  const ns = await Namespace.create(name)
  try {
    await Bridge.create({ name: 'nkdbg0', namespace: ns, up: true })
    await Bridge.create({ name: 'nkdbg0', namespace: ns }).catch((e) => console.log('refused', e.code))
    const m = await NatRule.masquerade({ namespace: ns, source: '10.77.0.0/24', notOutInterface: 'nkdbg0' })
    await m.delete()
  } finally {
    await ns.delete()
  }
})().catch((e) => { console.error('FAILED', e); process.exit(1) })
`

async function runChild(env: NodeJS.ProcessEnv, name: string): Promise<{ stdout: string; stderr: string }> {
  return exec(process.execPath, ['-r', 'tsx/cjs', '-e', SCRIPT, name], { cwd: root, env: { ...process.env, ...env }, timeout: 60000 })
}

describe('NODE_DEBUG=netns-kit', function () {
  this.timeout(90000)
  const names: string[] = []
  after(async () => {
    for (const n of names) await (await Namespace.open(n).catch(() => undefined))?.delete()
  })

  it('prints one line per trip: entry point, namespace, operations, duration and the error', async () => {
    const name = uniqueName()
    names.push(name)
    const { stdout, stderr } = await runChild({ NODE_DEBUG: 'netns-kit' }, name)
    assert.match(stdout, /refused EEXIST/)
    const lines = stderr.split('\n').filter((l) => /^NETNS-KIT \d+: /.test(l))
    assert.ok(lines.length >= 5, stderr)
    // util.debuglog's prefix, then "<entry> <namespace> [<ops>] <ms> ms"
    const shape = /^NETNS-KIT \d+: (\w+) (\S+) \[(.*)\] (\d+\.\d{3}) ms( failed: .*)?$/
    for (const l of lines) assert.match(l, shape)
    assert.ok(
      lines.some((l) => new RegExp(`: createNamespace ${name} \\[create /run/netns/${name} lo up\\] `).test(l)),
      stderr,
    )
    assert.ok(
      lines.some((l) => new RegExp(`: rtnl ${name} \\[.*nkdbg0.*\\] [0-9.]+ ms$`).test(l)),
      stderr,
    )
    // The refused duplicate bridge; nft trips the library retries itself (a rule sent before the table exists) may fail too.
    const failed = lines.filter((l) => / rtnl .* failed: /.test(l))
    assert.equal(failed.length, 1, stderr)
    assert.match(failed[0]!, new RegExp(`: rtnl ${name} \\[.*nkdbg0.*\\] [0-9.]+ ms failed: RTM_NEWLINK .*(EEXIST|File exists)`))
    assert.ok(
      lines.some((l) => new RegExp(`: nft ${name} \\[.*\\] `).test(l)),
      `an nft batch is logged:\n${stderr}`,
    )
    assert.ok(
      lines.some((l) => new RegExp(`: deleteNamespace ${name} `).test(l)),
      stderr,
    )
  })

  it('prints nothing without NODE_DEBUG (or with another section)', async () => {
    const name = uniqueName()
    names.push(name)
    const env = { ...process.env, NODE_DEBUG: 'http' }
    const { stdout, stderr } = await runChild(env, name)
    assert.match(stdout, /refused EEXIST/)
    assert.doesNotMatch(stderr, /NETNS-KIT/)
  })
})

// One failure, one error shape: a process without CAP_NET_ADMIN (`capsh --drop=cap_net_admin`)
// gets a PrivilegeError naming it from every entry point, Bridge.create as NatRule.list and
// NatRule.masquerade (which once rejected with a plain Error without a code).
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { Sandbox, isRoot, sh } from '../helpers'

const root = path.resolve(__dirname, '..', '..')

describe('privileges (a process without CAP_NET_ADMIN)', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('Bridge.create, NatRule.list and NatRule.masquerade all reject with PrivilegeError naming CAP_NET_ADMIN, and change nothing', async function () {
    const capsh = await sh('sh', ['-c', 'command -v capsh'], { allowFail: true })
    if (!isRoot() || capsh.code !== 0) this.skip()
    const ns = await sb.ns()
    const script = `
      const { Namespace, Bridge, NatRule } = require(${JSON.stringify(path.join(root, 'lib'))})
      const shape = (e) => ({ name: e.name, code: e.code ?? null, missing: e.missing ?? null })
      ;(async () => {
        const ns = await Namespace.open(${JSON.stringify(ns.name)})
        const out = {}
        for (const [k, f] of Object.entries({
          bridge: () => Bridge.create({ name: 'br-nk', namespace: ns }),
          list: () => NatRule.list({ namespace: ns }),
          masquerade: () => NatRule.masquerade({ namespace: ns, source: '172.30.0.0/16' }),
          sysctl: () => ns.sysctl.set('net.ipv4.ip_forward', 1),
        })) out[k] = await f().then(() => 'resolved', shape)
        console.log(JSON.stringify(out))
      })()`
    const node = [process.execPath, '--require', require.resolve('tsx/cjs'), '-e', script].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
    const { stdout } = await promisify(execFile)('capsh', ['--drop=cap_net_admin', '--', '-c', node], { cwd: root })
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!)
    const expected = { name: 'PrivilegeError', code: 'ERR_NETNS_KIT_PRIVILEGES', missing: ['CAP_NET_ADMIN'] }
    assert.deepEqual(r, { bridge: expected, list: expected, masquerade: expected, sysctl: expected })
    assert.equal((await sh('ip', ['netns', 'exec', ns.name!, 'nft', 'list', 'ruleset'])).stdout.trim(), '')
    assert.equal((await sh('ip', ['-n', ns.name!, 'link', 'show', 'br-nk'], { allowFail: true })).code !== 0, true)
  })
})

// Error mapping: kernel refusals -> NetlinkError (lib/kernel/errors.ts toError), missing capabilities ->
// PrivilegeError (lib/kernel/privileges.ts), library states -> NetnsKitError codes. No privileges needed.
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import fs from 'node:fs' // the module object itself, so that readFileSync can be replaced
import * as path from 'node:path'
import * as util from 'node:util'
import { Namespace, NetlinkError, NetnsKitError, PrivilegeError } from '../../lib'
import { errnoName } from '../../lib/errors'
import { native } from '../../lib/kernel/binding'
import { effectiveCapabilities, missingCapabilities, requireCapabilities } from '../../lib/kernel/privileges'
import { toError } from '../../lib/kernel/errors'

const root = path.resolve(__dirname, '..', '..')
const CAP_NET_ADMIN = 1n << 12n
const CAP_SYS_ADMIN = 1n << 21n

/**
 * Runs fn while /proc/self/status reports CapEff = `capEff` (hex, as the kernel writes it);
 * every other file reads as usual. lib/kernel/privileges.ts reads the file through fs.readFileSync.
 */
function withCapEff<T>(capEff: string | null, fn: () => T): T {
  const real = fs.readFileSync
  const status = real('/proc/self/status', 'utf8')
  const fake = capEff === null ? status.replace(/^CapEff:.*\n/m, '') : status.replace(/^CapEff:.*$/m, `CapEff:\t${capEff}`)
  ;(fs as { readFileSync: unknown }).readFileSync = function (p: fs.PathOrFileDescriptor, ...rest: unknown[]) {
    if (p === '/proc/self/status') return fake
    return (real as (...a: unknown[]) => unknown)(p, ...rest)
  }
  try {
    return fn()
  } finally {
    ;(fs as { readFileSync: unknown }).readFileSync = real
  }
}

describe('errors: NetlinkError', () => {
  it('is shaped like a Node system error', () => {
    const e = new NetlinkError({ errno: 17, syscall: 'RTM_NEWLINK', object: 'veth0', strerror: 'File exists' })
    assert.ok(e instanceof Error)
    assert.equal(e.name, 'NetlinkError')
    assert.equal(e.code, 'EEXIST')
    assert.equal(e.errno, -17, 'negative, as Node')
    assert.equal(e.syscall, 'RTM_NEWLINK')
    assert.equal(e.object, 'veth0')
    assert.equal(e.message, 'RTM_NEWLINK veth0: File exists')
    assert.equal(new NetlinkError({ errno: -17, syscall: 'RTM_NEWLINK' }).errno, -17)
  })

  it('carries the extended ACK in the message and as a property', () => {
    const e = new NetlinkError({ errno: -22, syscall: 'RTM_NEWLINK', object: 'br0', extack: 'mtu greater than device maximum', strerror: 'Invalid argument' })
    assert.equal(e.code, 'EINVAL')
    assert.equal(e.extack, 'mtu greater than device maximum')
    assert.equal(e.message, 'RTM_NEWLINK br0: Invalid argument (mtu greater than device maximum)')
  })

  it("uses the kernel's names, also for errnos libuv does not know", () => {
    assert.equal(new NetlinkError({ errno: -95, syscall: 'x' }).code, 'EOPNOTSUPP')
    assert.equal(new NetlinkError({ errno: -19, syscall: 'x' }).code, 'ENODEV')
    assert.equal(new NetlinkError({ errno: -99, syscall: 'x' }).code, 'EADDRNOTAVAIL')
    assert.equal(new NetlinkError({ errno: -105, syscall: 'x' }).code, 'ENOBUFS')
    assert.equal(new NetlinkError({ errno: -66, syscall: 'x' }).code, 'EREMOTE')
    assert.equal(new NetlinkError({ errno: -524, syscall: 'x' }).code, 'ENOTSUPP', 'the kernel-internal 524 that netlink lets out')
    assert.equal(new NetlinkError({ errno: -3999, syscall: 'x' }).code, 'E3999')
    assert.equal(new NetlinkError({ errno: -133, syscall: 'x' }).code, 'EHWPOISON')
  })

  it("agrees with libuv's names wherever libuv knows the errno (but for EOPNOTSUPP)", () => {
    let compared = 0
    for (let n = 1; n <= 133; n++) {
      const uv = util.getSystemErrorName(-n)
      if (uv.startsWith('Unknown') || n === 95) continue
      assert.equal(errnoName(n), uv, `errno ${n}`)
      compared++
    }
    assert.ok(compared > 60, `compared ${compared}`)
  })
})

describe('errors: toError (lib/kernel/errors.ts)', () => {
  it('maps a refusal from the addon to NetlinkError with errno, syscall, object and extack', () => {
    const e = toError({ errno: -17, syscall: 'RTM_NEWLINK', strerror: 'File exists' }, { object: 'veth0' }) as NetlinkError
    assert.ok(e instanceof NetlinkError)
    assert.deepEqual([e.code, e.errno, e.syscall, e.object], ['EEXIST', -17, 'RTM_NEWLINK', 'veth0'])
    assert.match(e.message, /^RTM_NEWLINK veth0: File exists$/)
    const x = toError(
      { errno: -22, syscall: 'RTM_NEWROUTE', strerror: 'Invalid argument', extack: 'Nexthop has invalid gateway' },
      { object: '10.1.0.0/16 via 10.9.9.9' },
    ) as NetlinkError
    assert.equal(x.extack, 'Nexthop has invalid gateway')
    assert.match(x.message, /RTM_NEWROUTE 10\.1\.0\.0\/16 via 10\.9\.9\.9: Invalid argument \(Nexthop has invalid gateway\)/)
  })

  it("joins the addon's detail to the object and defaults the syscall", () => {
    const e = toError({ errno: -2, detail: '/run/netns/x', strerror: 'No such file or directory' }, { object: 'open' }) as NetlinkError
    assert.equal(e.object, 'open /run/netns/x')
    assert.equal(e.syscall, 'netlink')
    assert.equal(e.code, 'ENOENT')
  })

  it('maps a real refusal from the addon (a bad namespace path) the same way', async () => {
    let err: unknown
    try {
      await native().openNamespace('/proc/self/status') // a file, but not a namespace
    } catch (e) {
      err = toError(e, { object: '/proc/self/status' })
    }
    assert.ok(err instanceof NetlinkError, String(err))
    assert.equal(err.errno < 0, true)
    assert.match(err.message, /\/proc\/self\/status/)
  })

  it("passes the addon's TypeError / RangeError through with Node's codes; anything else without an errno is ERR_NETNS_KIT_INTERNAL, never a bare Error", () => {
    const t = new TypeError('boom')
    assert.equal(toError(t), t)
    assert.equal((t as TypeError & { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
    const r = new RangeError('far')
    assert.equal((toError(r) as RangeError & { code?: string }).code, 'ERR_OUT_OF_RANGE')
    for (const odd of [{ message: 'plain' }, new Error('plain'), 'plain', null]) {
      const e = toError(odd, { object: 'veth0' }) as NetnsKitError
      assert.ok(e instanceof NetnsKitError, String(e))
      assert.equal(e.code, 'ERR_NETNS_KIT_INTERNAL')
      assert.match(e.message, /veth0/)
    }
    const ours = new NetnsKitError('ERR_NETNS_KIT_CLOSED', 'x')
    assert.equal(toError(ours), ours, 'already one of ours')
  })

  it('EPERM/EACCES with all capabilities present is a plain NetlinkError', () => {
    const e = withCapEff('000001ffffffffff', () => toError({ errno: -1, syscall: 'RTM_NEWLINK', strerror: 'Operation not permitted' }, { object: 'veth0' }))
    assert.ok(e instanceof NetlinkError)
    assert.equal((e as NetlinkError).code, 'EPERM')
  })

  it('EPERM/EACCES without CAP_NET_ADMIN becomes a PrivilegeError naming it', () => {
    for (const errno of [-1, -13]) {
      const e = withCapEff('0000000000000000', () => toError({ errno, syscall: 'RTM_NEWLINK' }, { object: 'veth0' })) as PrivilegeError
      assert.ok(e instanceof PrivilegeError, String(e))
      assert.ok(e instanceof NetnsKitError)
      assert.equal(e.code, 'ERR_NETNS_KIT_PRIVILEGES')
      assert.deepEqual(e.missing, ['CAP_NET_ADMIN'])
      assert.match(e.message, /CAP_NET_ADMIN/)
      assert.match(e.message, /RTM_NEWLINK veth0/)
    }
  })

  it('setns, unshare and mount need CAP_SYS_ADMIN too; only the missing ones are named', () => {
    const both = withCapEff('0000000000000000', () => toError({ errno: -1, syscall: 'setns' }, { object: 'nk-1', action: 'enter nk-1' })) as PrivilegeError
    assert.deepEqual(both.missing, ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'])
    assert.match(both.message, /to enter nk-1/)
    const sys = withCapEff(CAP_NET_ADMIN.toString(16).padStart(16, '0'), () => toError({ errno: -1, syscall: 'mount' })) as PrivilegeError
    assert.deepEqual(sys.missing, ['CAP_SYS_ADMIN'])
    const none = withCapEff((CAP_NET_ADMIN | CAP_SYS_ADMIN).toString(16).padStart(16, '0'), () => toError({ errno: -1, syscall: 'unshare' }))
    assert.ok(none instanceof NetlinkError)
  })
})

describe('errors: capabilities (lib/kernel/privileges.ts)', () => {
  it('reads CapEff bit by bit', () => {
    assert.equal(
      withCapEff('0000000000001000', () => effectiveCapabilities()),
      CAP_NET_ADMIN,
    )
    assert.deepEqual(
      withCapEff('0000000000001000', () => missingCapabilities(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'])),
      ['CAP_SYS_ADMIN'],
    )
    assert.deepEqual(
      withCapEff('0000000000200000', () => missingCapabilities(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'])),
      ['CAP_NET_ADMIN'],
    )
    assert.deepEqual(
      withCapEff('000001ffffffffff', () => missingCapabilities(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'])),
      [],
    )
    assert.deepEqual(
      withCapEff('ffffffffffffefff', () => missingCapabilities(['CAP_NET_ADMIN'])),
      ['CAP_NET_ADMIN'],
      'every bit but 12',
    )
  })

  it('treats a status without CapEff as no capabilities', () => {
    assert.equal(
      withCapEff(null, () => effectiveCapabilities()),
      0n,
    )
    assert.deepEqual(
      withCapEff(null, () => missingCapabilities(['CAP_SYS_ADMIN'])),
      ['CAP_SYS_ADMIN'],
    )
  })

  it('requireCapabilities throws one PrivilegeError that says how to fix it', () => {
    assert.doesNotThrow(() => withCapEff('000001ffffffffff', () => requireCapabilities(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'], 'x')))
    assert.throws(
      () => withCapEff('0000000000000000', () => requireCapabilities(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'], "create the namespace 'a'")),
      (e: PrivilegeError) =>
        e instanceof PrivilegeError &&
        e.code === 'ERR_NETNS_KIT_PRIVILEGES' &&
        e.missing.join() === 'CAP_NET_ADMIN,CAP_SYS_ADMIN' &&
        /create the namespace 'a'/.test(e.message) &&
        /setcap/.test(e.message),
    )
  })

  it('a process that really lacks the capabilities gets a PrivilegeError from Namespace.create, and nothing is created', async function () {
    this.timeout(30000)
    // As root: the same node with CAP_NET_ADMIN and CAP_SYS_ADMIN dropped from its bounding set
    // (so root has them in no set); unprivileged, the process lacks them already.
    const name = `nk-unit-${process.pid}`
    const script =
      `require(${JSON.stringify(path.join(root, 'lib'))}).Namespace.create(${JSON.stringify(name)})` +
      `.then(() => { console.log('created'); process.exit(3) }, (e) => { console.log(JSON.stringify({ name: e.name, code: e.code, missing: e.missing })) })`
    const node = [process.execPath, '--require', require.resolve('tsx/cjs'), '-e', script]
    const cmd = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-net_admin,-sys_admin', '--inh-caps', '-all', '--', ...node] : node
    const { stdout } = await util.promisify(execFile)(cmd[0]!, cmd.slice(1), { cwd: root })
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!)
    assert.deepEqual(r, { name: 'PrivilegeError', code: 'ERR_NETNS_KIT_PRIVILEGES', missing: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] })
    assert.ok(!fs.existsSync(`/run/netns/${name}`))
  })
})

describe('errors: NetnsKitError codes', () => {
  it('ERR_NETNS_KIT_CLOSED: a closed namespace is refused before any native call', async () => {
    const ns = await Namespace.current()
    await ns.close()
    await ns.close() // idempotent
    for (const use of [() => ns.links(), () => ns.sysctl.get('net.ipv4.ip_forward'), () => ns.routes.list()]) {
      await assert.rejects(use(), (e: NetnsKitError) => e instanceof NetnsKitError && e.code === 'ERR_NETNS_KIT_CLOSED' && e.name === 'NetnsKitError')
    }
  })

  it('ERR_NETNS_KIT_UNNAMED: delete() of a namespace opened by path', async () => {
    const ns = await Namespace.open('/proc/self/ns/net')
    try {
      await assert.rejects(ns.delete(), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_UNNAMED' && /close\(\) it instead/.test(e.message))
    } finally {
      await ns.close()
    }
  })

  it('ERR_NETNS_KIT_NO_NAMESPACE: opening a name that does not exist', async () => {
    await assert.rejects(Namespace.open(`nk-missing-${process.pid}`), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_NO_NAMESPACE')
    await assert.rejects(Namespace.open('/nonexistent/ns/net'), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_NO_NAMESPACE')
  })
})

import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { once } from 'node:events'
import { Namespace, NetnsKitError } from '../../lib'
import { Sandbox, ipj, sh, uniqueName } from '../helpers'
import { getLink, runOne } from '../../lib/kernel/rtnl'
import { forwardingOn, routeLocalnetOn } from '../../lib/nat/host'

async function output(
  ns: Namespace,
  cmd: string,
  args: string[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const p = ns.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  p.stdout!.on('data', (d) => (stdout += d))
  p.stderr!.on('data', (d) => (stderr += d))
  const [code, signal] = (await once(p, 'exit')) as [number | null, NodeJS.Signals | null]
  return { code, signal, stdout, stderr }
}

describe('Namespace', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('creates a named namespace exactly as `ip netns add` does, with loopback up', async () => {
    const ns = await sb.ns()
    assert.ok(ns.name)
    assert.equal(ns.path, `/run/netns/${ns.name}`)
    const list = (await sh('ip', ['netns', 'list'])).stdout
    assert.match(list, new RegExp(`^${ns.name}\\b`, 'm'))
    const [lo] = await ipj(ns, 'link', 'show', 'lo')
    assert.ok(lo.flags.includes('UP'), 'lo is up')
    // ip netns exec works on ours and sees the same namespace (inode)
    const ino = (await sh('ip', ['netns', 'exec', ns.name!, 'stat', '-L', '-c', '%i', '/proc/self/ns/net'])).stdout.trim()
    assert.equal(BigInt(ino), ns.id)
    assert.equal(BigInt(fs.statSync(ns.path).ino), ns.id)
  })

  it('leaves loopback down when asked', async () => {
    const ns = await sb.ns({ loopback: false })
    const [lo] = await ipj(ns, 'link', 'show', 'lo')
    assert.ok(!lo.flags.includes('UP'))
  })

  it('refuses a name that exists with ERR_NETNS_KIT_NAMESPACE_EXISTS, leaving the existing namespace alone', async () => {
    const ns = await sb.ns()
    await assert.rejects(
      Namespace.create(ns.name!),
      (e: NetnsKitError) => e instanceof NetnsKitError && e.code === 'ERR_NETNS_KIT_NAMESPACE_EXISTS' && e.message.includes(ns.name!),
    )
    const again = await Namespace.open(ns.name!)
    assert.ok(again.equals(ns))
    await again.close()
  })

  it('opens namespaces made by iproute2, by name, path and pid', async () => {
    const name = uniqueName()
    sb.names.add(name)
    await sh('ip', ['netns', 'add', name])
    const byName = await Namespace.open(name)
    const byPath = await Namespace.open(`/run/netns/${name}`)
    assert.ok(byName.equals(byPath))
    assert.equal(byName.name, name)
    assert.equal(byPath.name, name, 'a path under /run/netns is that name')
    assert.equal(byPath.path, `/run/netns/${name}`)
    const child = byName.spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      await new Promise((r) => setTimeout(r, 100))
      const byPid = await Namespace.fromPid(child.pid!)
      assert.ok(byPid.equals(byName))
      await byPid.close()
    } finally {
      child.kill()
    }
    await byName.close()
    await byPath.delete() // opened by path, it knows its name: delete() works
    assert.ok(!(await Namespace.list()).includes(name))
    assert.doesNotMatch((await sh('ip', ['netns', 'list'])).stdout, new RegExp(`^${name}\\b`, 'm'))
    const byProc = await Namespace.open('/proc/self/ns/net')
    assert.equal(byProc.name, undefined)
    await byProc.close()
  })

  it('knows the current namespace and compares namespaces by identity', async () => {
    const cur = await Namespace.current()
    const cur2 = await Namespace.current()
    assert.ok(cur.equals(cur2))
    assert.equal(cur.id, BigInt(fs.statSync('/proc/self/ns/net').ino))
    const ns = await sb.ns()
    assert.ok(!ns.equals(cur))
    await cur.close()
    await cur2.close()
  })

  it('lists named namespaces', async () => {
    const a = await sb.ns()
    const b = await sb.ns()
    const list = await Namespace.list()
    assert.ok(list.includes(a.name!) && list.includes(b.name!))
    assert.deepEqual(list, [...list].sort())
  })

  it('deletes idempotently, and explains a missing namespace', async () => {
    const ns = await sb.ns()
    await ns.delete()
    await ns.delete()
    assert.equal(await Namespace.deleteNamed(ns.name!), false)
    assert.ok(!fs.existsSync(ns.path))
    await assert.rejects(Namespace.open(ns.name!), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_NO_NAMESPACE' && e.message.includes(ns.name!))
  })

  it('refuses to delete a namespace it has no name for', async () => {
    const cur = await Namespace.current()
    await assert.rejects(cur.delete(), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_UNNAMED')
    await cur.close()
  })

  it('refuses a path that is not a network namespace', async () => {
    await assert.rejects(Namespace.open('/etc/hostname'), (e: NodeJS.ErrnoException) => e.code === 'EINVAL')
    await assert.rejects(Namespace.open('/proc/self/ns/uts'), (e: NodeJS.ErrnoException) => e.code === 'EINVAL')
  })

  it('implements Symbol.asyncDispose: deletes what it created, closes what it opened', async () => {
    const name = uniqueName()
    sb.names.add(name)
    {
      await using ns = await Namespace.create(name)
      assert.ok(fs.existsSync(ns.path))
      {
        await using opened = await Namespace.open(name)
        assert.ok(opened.equals(ns))
      }
      assert.ok(fs.existsSync(`/run/netns/${name}`), 'closing an opened handle keeps the namespace')
    }
    assert.ok(!fs.existsSync(`/run/netns/${name}`))
    const ns2 = await sb.ns()
    await ns2[Symbol.asyncDispose]()
    await ns2[Symbol.asyncDispose]()
  })

  describe('spawn', () => {
    it('runs an ordinary ChildProcess inside the namespace, with stdio and exit code', async () => {
      const ns = await sb.ns()
      const r = await output(ns, 'sh', ['-c', 'stat -L -c %i /proc/self/ns/net; echo oops >&2; exit 3'])
      assert.equal(r.code, 3)
      assert.equal(BigInt(r.stdout.trim()), ns.id)
      assert.equal(r.stderr.trim(), 'oops')
    })

    it('sees only the namespace links, in /sys too (like ip netns exec)', async () => {
      const ns = await sb.ns()
      const r = await output(ns, 'ls', ['/sys/class/net'])
      assert.deepEqual(r.stdout.trim().split(/\s+/), ['lo'])
    })

    it('passes stdin and delivers signals', async () => {
      const ns = await sb.ns()
      const p = ns.spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] })
      let out = ''
      p.stdout!.on('data', (d) => (out += d))
      p.stdin!.end('hello\n')
      const [code] = await once(p, 'exit')
      assert.equal(code, 0)
      assert.equal(out, 'hello\n')
      const s = ns.spawn('sleep', ['30'], { stdio: 'ignore' })
      await new Promise((r) => setTimeout(r, 100))
      s.kill('SIGTERM')
      const [c2, sig] = await once(s, 'exit')
      assert.equal(c2, null)
      assert.equal(sig, 'SIGTERM')
    })

    it('leaks no namespace fd into the child', async () => {
      const ns = await sb.ns()
      const r = await output(ns, 'ls', ['-l', '/proc/self/fd/'])
      assert.equal(r.code, 0)
      assert.doesNotMatch(r.stdout, /net:\[/)
      assert.doesNotMatch(r.stdout, /\/run\/netns/)
    })

    it("emits 'error' (ENOENT, then 'close' without 'exit') when the command does not exist, as child_process.spawn does", async () => {
      const ns = await sb.ns()
      const p = ns.spawn('nk-no-such-command', ['x'], { stdio: ['ignore', 'pipe', 'pipe'] })
      const events: string[] = []
      let stderr = ''
      p.stderr!.on('data', (d) => (stderr += d))
      p.on('exit', () => events.push('exit'))
      const failed = once(p, 'error') as Promise<[NodeJS.ErrnoException & { path?: string; spawnargs?: string[] }]>
      p.on('error', () => events.push('error'))
      const closed = new Promise<[number | null]>((resolve) =>
        p.on('close', (c) => {
          events.push('close')
          resolve([c])
        }),
      )
      const [err] = await failed
      const [code] = await closed
      assert.deepEqual(events, ['error', 'close'])
      assert.equal(code, -2)
      assert.equal(err.code, 'ENOENT')
      assert.equal(err.errno, -2)
      assert.equal(err.syscall, 'spawn nk-no-such-command')
      assert.equal(err.path, 'nk-no-such-command')
      assert.deepEqual(err.spawnargs, ['x'])
      assert.equal(err.message, 'spawn nk-no-such-command ENOENT')
      assert.equal(stderr, '', 'the failure is reported as the error, not printed')
      // Not executable: EACCES, as child_process.spawn.
      const file = path.join(os.tmpdir(), `nk-not-exec-${process.pid}`)
      fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 })
      const q = ns.spawn(file, [], { stdio: 'ignore' })
      const [denied] = (await once(q, 'error').finally(() => fs.rmSync(file, { force: true }))) as [NodeJS.ErrnoException]
      assert.equal(denied.code, 'EACCES')
      // A command that starts: 'exit' then 'close', as ever.
      const ok = ns.spawn('true', [], { stdio: 'ignore' })
      const order: string[] = []
      ok.on('exit', () => order.push('exit'))
      await once(ok, 'close')
      order.push('close')
      assert.deepEqual(order, ['exit', 'close'])
    })
  })

  describe('sysctl', () => {
    it('reads and writes net.* inside the namespace only', async () => {
      const ns = await sb.ns()
      const rootBefore = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()
      assert.equal(await ns.sysctl.get('net.ipv4.ip_forward'), '0')
      await ns.sysctl.set('net.ipv4.ip_forward', 1)
      assert.equal(await ns.sysctl.get('net.ipv4.ip_forward'), '1')
      const witness = (await sh('ip', ['netns', 'exec', ns.name!, 'sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()
      assert.equal(witness, '1')
      assert.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), rootBefore)
    })

    it('handles per-interface keys (route_localnet, disable_ipv6)', async () => {
      const ns = await sb.ns()
      await ns.sysctl.set('net.ipv4.conf.lo.route_localnet', '1')
      assert.equal(await ns.sysctl.get('net.ipv4.conf.lo.route_localnet'), '1')
      await ns.sysctl.set('net.ipv6.conf.lo.disable_ipv6', 1)
      const w = (await sh('ip', ['netns', 'exec', ns.name!, 'sysctl', '-n', 'net.ipv6.conf.lo.disable_ipv6'])).stdout.trim()
      assert.equal(w, '1')
    })

    // A path looked up from /proc/sys/net walks every namespace's dentry of its first component
    // (0.007 ms with one namespace, 0.2 ms with 1,000 on the host: Network.connect paid it 3-5
    // times). The addon opens each namespace's /proc/sys/net/FIRST once and looks up from there.
    // That first open walked the chain three times (a lookup that misses: 1-2 ms per connect with
    // 1,000 containers, the most of what grew): it goes through a procfs instance of the
    // namespace's own, mounted nowhere, whose chain holds that namespace's dentry alone.
    it("keeps one fd per namespace and first component (ipv4, ipv6) in a procfs of its own, serves later devices' keys through it, closes it with the handle", async () => {
      const fdsOf = (dir: string) =>
        fs.readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`) === dir
          } catch {
            return false
          }
        })
      // The mount of an fd (its own procfs instance: a mount that no mount table lists).
      const mntOf = (fd: string) => Number(/^mnt_id:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1])
      const mounted = new Set(
        fs
          .readFileSync('/proc/self/mountinfo', 'utf8')
          .trim()
          .split('\n')
          .map((l) => Number(l.split(' ')[0])),
      )
      // In a detached mount the kernel names a file from the instance's root: /sys/net/ipv4.
      const dirFds = (first: string) => fdsOf(`/sys/net/${first}`).length
      const v4 = dirFds('ipv4')
      const v6 = dirFds('ipv6')
      const roots = fdsOf('/sys/net').length
      const shared = fdsOf('/proc/sys/net/ipv4').length + fdsOf('/proc/sys/net/ipv6').length
      const ns = await sb.ns()
      for (let i = 0; i < 3; i++) assert.equal(await ns.sysctl.get('net.ipv4.ip_forward'), '0')
      await ns.sysctl.set('net.ipv4.conf.lo.route_localnet', 1)
      assert.equal(dirFds('ipv4'), v4 + 1, 'one directory for every ipv4 key of the namespace')
      // A device made after the directory was opened: its keys are there.
      await sh('ip', ['-n', ns.name!, 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1'])
      await ns.sysctl.set('net.ipv6.conf.vx0.disable_ipv6', 1)
      assert.equal((await sh('ip', ['netns', 'exec', ns.name!, 'sysctl', '-n', 'net.ipv6.conf.vx0.disable_ipv6'])).stdout.trim(), '1')
      assert.equal(await ns.sysctl.get('net.ipv4.conf.vx0.forwarding'), '0')
      assert.equal(dirFds('ipv6'), v6 + 1)
      // Both through one instance of the namespace's own, mounted nowhere; none through /proc.
      const mine = [...fdsOf('/sys/net/ipv4'), ...fdsOf('/sys/net/ipv6'), ...fdsOf('/sys/net')].map(mntOf)
      assert.equal(fdsOf('/sys/net').length, roots + 1)
      assert.ok(
        mine.every((m) => !mounted.has(m)),
        `in no mount table: ${mine}`,
      )
      const other = await sb.ns()
      await other.sysctl.set('net.ipv6.conf.lo.disable_ipv6', 1)
      assert.equal(await other.sysctl.get('net.ipv6.conf.lo.disable_ipv6'), '1')
      assert.equal(await ns.sysctl.get('net.ipv6.conf.lo.disable_ipv6'), '0', 'each namespace its own keys')
      assert.equal(new Set([...fdsOf('/sys/net/ipv6')].map(mntOf)).size, v6 + 2, 'an instance per namespace')
      assert.equal(fdsOf('/proc/sys/net/ipv4').length + fdsOf('/proc/sys/net/ipv6').length, shared)
      // And gone with it.
      await sh('ip', ['-n', ns.name!, 'link', 'del', 'vx0'])
      await assert.rejects(ns.sysctl.get('net.ipv4.conf.vx0.forwarding'), { code: 'ERR_NETNS_KIT_NO_SYSCTL' })
      await ns.close()
      await other.close()
      assert.equal(dirFds('ipv4'), v4, 'closed with the handle')
      assert.equal(dirFds('ipv6'), v6)
      assert.equal(fdsOf('/sys/net').length, roots)
    })

    // A container runtime mounts /proc/sys read-only; our own procfs instance keeps that policy.
    it('keeps a read-only /proc/sys read-only: a write from a process that sees it so is refused', async () => {
      const ns = await sb.ns()
      const lib = path.resolve(__dirname, '../../lib')
      const script = `require(${JSON.stringify(lib)}).Namespace.open(${JSON.stringify(ns.name)}).then((n) => n.sysctl.set('net.ipv4.conf.lo.route_localnet', 1)).then(() => console.log('written'), (e) => console.log('refused', e.code))`
      const r = await sh(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"',
          'sh',
          process.execPath,
          '--require',
          'tsx/cjs',
          '-e',
          script,
        ],
        { allowFail: true },
      )
      assert.match(r.stdout, /^refused /, r.stdout + r.stderr)
      assert.equal((await sh('ip', ['netns', 'exec', ns.name!, 'sysctl', '-n', 'net.ipv4.conf.lo.route_localnet'])).stdout.trim(), '0')
      // This process sees it writable: the same write goes through.
      await ns.sysctl.set('net.ipv4.conf.lo.route_localnet', 1)
      assert.equal(await ns.sysctl.get('net.ipv4.conf.lo.route_localnet'), '1')
    })

    it('reads forwarding with RTM_GETNETCONF and route_localnet from the link, as the sysctls say', async () => {
      const ns = await sb.ns()
      const netconf = (family: 4 | 6) => runOne({ ns, op: 'netconf.get', family, index: -1 })
      assert.deepEqual(await netconf(4), { forwarding: 0 })
      assert.deepEqual(await netconf(6), { forwarding: 0 })
      assert.equal(await forwardingOn(ns, 4), false)
      await sh('ip', ['netns', 'exec', ns.name!, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'])
      assert.deepEqual(await netconf(4), { forwarding: 1 })
      assert.deepEqual(await netconf(6), { forwarding: 1 })
      assert.equal(await forwardingOn(ns, 6), true)
      // ip netconf show agrees (the witness of the same message).
      assert.match((await sh('ip', ['-4', '-n', ns.name!, 'netconf', 'show'])).stdout, /^inet all forwarding on /m)
      assert.equal((await getLink(ns, 'lo')).routeLocalnet, 0)
      assert.equal(await routeLocalnetOn(ns, 'lo'), false)
      await sh('ip', ['netns', 'exec', ns.name!, 'sysctl', '-qw', 'net.ipv4.conf.lo.route_localnet=1'])
      assert.equal((await getLink(ns, 'lo')).routeLocalnet, 1)
      assert.equal(await routeLocalnetOn(ns, 'lo'), true)
      await assert.rejects(runOne({ ns, op: 'netconf.get', family: 4, index: 999999 }), { code: 'ENODEV' })
    })

    it('reports a missing key as ERR_NETNS_KIT_NO_SYSCTL and refuses keys outside net.*', async () => {
      const ns = await sb.ns()
      await assert.rejects(
        ns.sysctl.get('net.ipv4.conf.nope0.forwarding'),
        (e: NetnsKitError) => e instanceof NetnsKitError && e.code === 'ERR_NETNS_KIT_NO_SYSCTL' && e.message.includes('net.ipv4.conf.nope0.forwarding'),
      )
      await assert.rejects(ns.sysctl.set('net.ipv4.conf.nope0.forwarding', 1), { code: 'ERR_NETNS_KIT_NO_SYSCTL' })
      await assert.rejects(ns.sysctl.get('kernel.hostname'), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE')
      await assert.rejects(ns.sysctl.set('net.ipv4.ip_forward', '1\n0'), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE')
    })
  })
})

describe('Namespace handles', () => {
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('refuses use after close() with ERR_NETNS_KIT_CLOSED, and close is idempotent', async () => {
    const ns = await sb.ns()
    const again = await Namespace.open(ns.name!)
    await again.close()
    await again.close()
    await assert.rejects(again.links(), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_CLOSED')
    await assert.rejects(again.sysctl.get('net.ipv4.ip_forward'), (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_CLOSED')
    assert.throws(
      () => again.spawn('true'),
      (e: NetnsKitError) => e.code === 'ERR_NETNS_KIT_CLOSED',
    )
    // the namespace itself is still there and usable through the other handle
    assert.equal((await ns.links()).length, 1)
  })
})

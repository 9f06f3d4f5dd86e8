// The netns-kit CLI's own syntaxes (docker's -p, --opt, --add-host), where `run` ends and its
// command starts, the exit status of each kind of error, and the dispatcher's usage paths: no
// kernel, no privileges.
import { strict as assert } from 'node:assert'
import { parseAddHost, parseCreateOpts, parseExpose, parsePort, splitCommand } from '../../lib/cli/args'
import { main } from '../../lib/cli/dispatch'
import { run } from '../../lib/cli/run'
import { exitStatusOf, portText, table, UsageError } from '../../lib/cli/output'

function capture(): { io: { out(t: string): void; err(t: string): void }; out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  return {
    io: {
      out: (t) => {
        out.push(t)
      },
      err: (t) => {
        err.push(t)
      },
    },
    out,
    err,
  }
}

describe('netns-kit CLI (unit)', () => {
  it('parsePort: docker -p forms', () => {
    assert.deepEqual(parsePort('8080:80'), { protocol: 'tcp', hostPort: 8080, containerPort: 80 })
    assert.deepEqual(parsePort('80'), { protocol: 'tcp', containerPort: 80 })
    assert.deepEqual(parsePort('53/udp'), { protocol: 'udp', containerPort: 53 })
    assert.deepEqual(parsePort('127.0.0.1:8080:80/UDP'), { protocol: 'udp', hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80 })
    assert.deepEqual(parsePort('127.0.0.1::80'), { protocol: 'tcp', hostIp: '127.0.0.1', containerPort: 80 })
    assert.deepEqual(parsePort('[::1]:8080:80/sctp'), { protocol: 'sctp', hostIp: '::1', hostPort: 8080, containerPort: 80 })
    assert.deepEqual(parsePort('[::1]::80'), { protocol: 'tcp', hostIp: '::1', containerPort: 80 })
    for (const bad of [
      '',
      ':80',
      '8080:',
      'x:80',
      '8080:80/icmp',
      '70000:80',
      '0:80',
      '8080-8081:80',
      '1.2.3:8080:80',
      '::1:8080:80',
      '[1.2.3.4]:1:2',
      'a:b:c:d',
    ]) {
      assert.throws(
        () => parsePort(bad),
        (e: unknown) => e instanceof UsageError,
        bad,
      )
    }
    assert.throws(() => parsePort('8080-8081:80'), /port ranges are not supported/)
    assert.deepEqual(parseExpose('81/udp'), { protocol: 'udp', containerPort: 81 })
    assert.throws(() => parseExpose('8080:81'), UsageError)
  })

  it("parseCreateOpts: the short keys and docker's com.docker.network.* keys", () => {
    assert.deepEqual(parseCreateOpts(['icc=false', 'mtu=1400', 'bridge-name=br0', 'masquerade=false']), {
      icc: false,
      mtu: 1400,
      bridgeName: 'br0',
      masquerade: false,
    })
    assert.deepEqual(
      parseCreateOpts([
        'com.docker.network.bridge.enable_icc=true',
        'com.docker.network.driver.mtu=9000',
        'com.docker.network.bridge.name=x',
        'com.docker.network.bridge.enable_ip_masquerade=false',
      ]),
      { icc: true, mtu: 9000, bridgeName: 'x', masquerade: false },
    )
    for (const bad of ['icc', 'icc=no', 'mtu=big', 'color=blue', '=1']) assert.throws(() => parseCreateOpts([bad]), UsageError, bad)
  })

  it('parseAddHost: NAME:IP, IPv6 too', () => {
    assert.deepEqual(parseAddHost('db:10.0.0.5'), { name: 'db', ip: '10.0.0.5' })
    assert.deepEqual(parseAddHost('db.example:fd00::5'), { name: 'db.example', ip: 'fd00::5' })
    assert.deepEqual(parseAddHost('v6:[fd00::5]'), { name: 'v6', ip: 'fd00::5' })
    for (const bad of ['db', 'db:', ':1.2.3.4', 'db:nope', 'a b:1.2.3.4']) assert.throws(() => parseAddHost(bad), UsageError, bad)
  })

  it("splitCommand: run's options end at --, or at the first argument that is not an option or its value", () => {
    assert.deepEqual(splitCommand(['--network', 'web', '--', 'ls', '-l'], run.options), { ours: ['--network', 'web'], command: ['ls', '-l'] })
    assert.deepEqual(splitCommand(['--network', 'web', '-p', '80', 'ls', '-l', '--', 'x'], run.options), {
      ours: ['--network', 'web', '-p', '80'],
      command: ['ls', '-l', '--', 'x'],
    })
    assert.deepEqual(splitCommand(['-P', 'sh'], run.options), { ours: ['-P'], command: ['sh'] })
    assert.deepEqual(splitCommand(['--name=x'], run.options), { ours: ['--name=x'], command: [] })
    assert.deepEqual(splitCommand(['--', '--weird'], run.options), { ours: [], command: ['--weird'] })
  })

  it('exit statuses: 2 for the command line and input the library refused unsent, 1 for the rest', () => {
    assert.equal(exitStatusOf(new UsageError('x')), 2)
    assert.equal(exitStatusOf(Object.assign(new TypeError('x'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' })), 2)
    assert.equal(exitStatusOf(Object.assign(new TypeError('x'), { code: 'ERR_INVALID_ARG_VALUE' })), 2)
    assert.equal(exitStatusOf(Object.assign(new RangeError('x'), { code: 'ERR_OUT_OF_RANGE' })), 2)
    assert.equal(exitStatusOf(Object.assign(new Error('x'), { code: 'ERR_NETNS_KIT_NO_NETWORK' })), 1)
    assert.equal(exitStatusOf(Object.assign(new Error('x'), { code: 'EPERM' })), 1)
    assert.equal(exitStatusOf('odd'), 1)
  })

  it('tables and ports as docker prints them', () => {
    assert.equal(
      table(
        ['A', 'LONGER'],
        [
          ['xyz', '1'],
          ['q', ''],
        ],
      ),
      'A     LONGER\nxyz   1\nq\n',
    )
    assert.equal(portText({ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 }), '0.0.0.0:8080->80/tcp')
    assert.equal(portText({ protocol: 'udp', hostIp: '::', hostPort: 53, containerPort: 53 }), '[::]:53->53/udp')
  })

  it('the dispatcher: usage errors in one line with their code; --json errors as JSON; -h', async () => {
    for (const [argv, code] of [
      [['frobnicate'], 'ERR_USAGE'],
      [['network', 'frob'], 'ERR_USAGE'],
      [['network', 'create'], 'ERR_USAGE'],
      [['network', 'ls', '--nope'], 'ERR_PARSE_ARGS_UNKNOWN_OPTION'],
      [['network', 'create', '--subnet'], 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'],
      [['run'], 'ERR_USAGE'],
      [['run', '-p', '1:2:3:4', '--', 'true'], 'ERR_USAGE'],
      [['gc', 'x'], 'ERR_USAGE'],
      [['run', '--network', 'host', '--', 'true'], 'ERR_USAGE'],
      [['network', 'create', '--driver', 'overlay', 'x'], 'ERR_USAGE'],
    ] as const) {
      const c = capture()
      assert.equal(await main([...argv], c.io), 2, argv.join(' '))
      assert.deepEqual(c.out, [])
      assert.equal(c.err.length, 1)
      assert.match(c.err[0]!, new RegExp(`^netns-kit[a-z ]*: ${code}: [^\\n]+\\n$`), c.err[0])
    }
    const c = capture()
    assert.equal(await main(['network', 'rm', '--json'], c.io), 2)
    assert.deepEqual(JSON.parse(c.err[0]!), { error: { code: 'ERR_USAGE', message: 'a network name is required', exitStatus: 2 } })
    const h = capture()
    assert.equal(await main(['network', 'connect', '-h'], h.io), 0)
    assert.match(h.out.join(''), /^Usage: netns-kit network connect/)
  })
})

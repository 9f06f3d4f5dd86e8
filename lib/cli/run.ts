// `netns-kit run [OPTIONS] -- CMD ARGS...`: docker run --rm for a network namespace. A new named
// namespace, wired to the network; its hosts, hostname and resolv.conf under /etc/netns/NAME
// (bind-mounted over /etc for CMD, as `ip netns exec` does); CMD run in it with our stdio; and
// everything removed again when CMD exits or when we are interrupted (SIGINT, SIGTERM, SIGHUP:
// the signal is passed to CMD first, a second SIGINT kills it). Exit status: CMD's (128+N when
// a signal N ended it, 127 when it cannot be found, 126 when it cannot be run).
import { randomBytes } from 'node:crypto'
import { constants as osConstants } from 'node:os'
import type { ChildProcess } from 'node:child_process'
import { Namespace, Network, removeEtcNetns, writeEtcNetns, type Endpoint } from '../index'
import { parseAddHost, parseExpose, parsePort, str, strs, type PortSpec } from './args'
import type { Command } from './network-commands'
import { defaultEndpointName } from './network-commands'
import { CliError, describe, UsageError } from './output'

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

function signalNumber(sig: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 0
}

/** The namespace name: --name when given, else `nk-run-` and 8 hex digits. */
function namespaceName(name: string | undefined): string {
  return name ?? `nk-run-${randomBytes(4).toString('hex')}`
}

/** What run made, in the order it is undone. */
interface Made {
  ns?: Namespace
  net?: Network
  ep?: Endpoint
  /** The namespace's name when run wrote its /etc/netns files itself (--network none). */
  etc?: string
}

async function cleanup(m: Made): Promise<string[]> {
  const errors: string[] = []
  const step = async (f: () => Promise<unknown>) => {
    try {
      await f()
    } catch (e) {
      const d = describe(e)
      errors.push(`${d.code}: ${d.message}`)
    }
  }
  if (m.ep && m.net) await step(() => m.net!.disconnect(m.ep!))
  if (m.ns) await step(() => m.ns!.delete())
  if (m.etc) await step(() => removeEtcNetns(m.etc!))
  return errors
}

/** The network: --network NET, or Docker's default network 'bridge' (made on first use, as dockerd has it). */
async function openNetwork(name: string | undefined): Promise<Network> {
  if (name !== undefined) return Network.open(name)
  try {
    return await Network.open('bridge')
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_NETNS_KIT_NO_NETWORK') throw e
  }
  try {
    return await Network.createDefault()
  } catch (e) {
    // Another `run` made it first.
    if ((e as { code?: string }).code !== 'ERR_NETNS_KIT_NETWORK_EXISTS') throw e
    return Network.open('bridge')
  }
}

export const run: Command = {
  usage: 'run [OPTIONS] [--] CMD [ARGS...]',
  summary: 'Run a command in a new namespace on a network; remove everything when it exits (docker run --rm)',
  help: [
    "--network NET       the network (default: 'bridge', made on first use); 'none': loopback only",
    '--name N            the namespace and endpoint name (default nk-run-XXXXXXXX)',
    '--hostname H        the host name in /etc/hosts and /etc/hostname and on the network',
    '-p, --publish P     [IP:][HOSTPORT:]PORT[/PROTO] (repeatable; no HOSTPORT: a free one)',
    '--expose PORT       a port -P publishes (repeatable)',
    '-P, --publish-all   publish every --expose port on a free host port',
    '--ip IP             the IPv4 address (default: the next free one)',
    '--alias A           another name the network resolves to this container (repeatable)',
    '--dns D             a nameserver for /etc/resolv.conf (repeatable)',
    '--add-host H:IP     a line in /etc/hosts (repeatable)',
    "-e, --env K=V       set an environment variable for CMD (repeatable; it inherits this one's)",
    '-i, -t, --rm        accepted for docker compatibility: stdin is always passed, --rm always applies',
    "CMD's stdio and exit status are passed through; Ctrl-C is passed to CMD, and everything is removed.",
  ],
  options: {
    network: { type: 'string' },
    name: { type: 'string' },
    hostname: { type: 'string' },
    publish: { type: 'string', short: 'p', multiple: true },
    expose: { type: 'string', multiple: true },
    'publish-all': { type: 'boolean', short: 'P' },
    ip: { type: 'string' },
    alias: { type: 'string', multiple: true },
    dns: { type: 'string', multiple: true },
    'add-host': { type: 'string', multiple: true },
    env: { type: 'string', short: 'e', multiple: true },
    interactive: { type: 'boolean', short: 'i' },
    tty: { type: 'boolean', short: 't' },
    rm: { type: 'boolean' },
  },
  async run(p, ctx) {
    const command = p.positionals
    if (!command.length) throw new UsageError('a command to run is required (netns-kit run [OPTIONS] -- CMD ARGS...)')
    // Everything the command line says is checked before anything is made.
    const netName = str(p.values.network)
    const none = netName === 'none'
    const publish: PortSpec[] = strs(p.values.publish).map(parsePort)
    if (p.values['publish-all']) publish.push(...strs(p.values.expose).map(parseExpose))
    const addHosts = strs(p.values['add-host']).map(parseAddHost)
    const dns = strs(p.values.dns)
    const ip = str(p.values.ip)
    const aliases = strs(p.values.alias)
    // CMD inherits this environment (as with `ip netns exec`), plus --env KEY=VALUE.
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const e of strs(p.values.env)) {
      const eq = e.indexOf('=')
      if (eq === 0) throw new UsageError(`invalid --env '${e}': expected KEY=VALUE or KEY`)
      if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1)
    }
    if (none && (publish.length || ip || aliases.length)) throw new UsageError('--network none takes no -p, -P, --ip or --alias')
    if (netName === 'host') throw new UsageError('--network host: run the command directly, netns-kit has nothing to do')
    const name = namespaceName(str(p.values.name))
    const hostname = str(p.values.hostname)

    const made: Made = {}
    let child: ChildProcess | undefined
    let interrupted: NodeJS.Signals | undefined
    let kills = 0
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted ??= sig
      if (!child || child.exitCode !== null || child.signalCode !== null) return
      // docker run passes signals to the container; a second Ctrl-C does not wait any longer.
      if (sig === 'SIGINT' && ++kills > 1) child.kill('SIGKILL')
      else child.kill(sig)
    }
    for (const s of SIGNALS) process.on(s, onSignal)
    const finish = async (status: number): Promise<number> => {
      const errors = await cleanup(made)
      for (const s of SIGNALS) process.off(s, onSignal)
      for (const e of errors) ctx.io.err(`netns-kit run: cleanup: ${e}\n`)
      return errors.length && status === 0 ? 1 : status
    }
    const checkInterrupted = () => {
      if (interrupted) throw new CliError('ERR_INTERRUPTED', `interrupted by ${interrupted}`)
    }

    try {
      const net = none ? undefined : await openNetwork(netName)
      checkInterrupted()
      made.ns = await Namespace.create(name)
      checkInterrupted()
      if (net) {
        // connect writes /etc/netns/NAME itself (named namespace): hosts with --add-host,
        // hostname, and a resolv.conf naming the embedded resolver that forwards to --dns.
        made.net = net
        const epName = defaultEndpointName(made.ns)
        made.ep = await net.connect(made.ns, {
          ...(epName ? { name: epName } : {}),
          ...(hostname ? { hostname } : {}),
          ...(ip ? { ip } : {}),
          aliases,
          extraHosts: addHosts.map((h) => `${h.name}:${h.ip.includes(':') ? `[${h.ip}]` : h.ip}`),
          ...(dns.length ? { dns: { servers: dns } } : {}),
          publish: publish.map((x) => ({
            protocol: x.protocol,
            containerPort: x.containerPort,
            ...(x.hostPort ? { hostPort: x.hostPort } : {}),
            ...(x.hostIp ? { hostIp: x.hostIp } : {}),
          })),
        })
      } else {
        made.etc = name
        await writeEtcNetns(name, {
          hosts:
            `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname ?? name}\n` +
            addHosts.map((h) => `${h.ip}\t${h.name}\n`).join(''),
          hostname: `${hostname ?? name}\n`,
          'resolv.conf': dns.map((d) => `nameserver ${d}\n`).join(''),
        })
      }
      checkInterrupted()

      child = made.ns.spawn(command[0]!, command.slice(1), { stdio: 'inherit', env })
      const status = await new Promise<number>((resolve) => {
        child!.once('error', (e: NodeJS.ErrnoException) => {
          ctx.io.err(`netns-kit run: ${e.code ?? 'ERR_UNKNOWN'}: cannot run '${command[0]}': ${e.message}\n`)
          resolve(e.code === 'ENOENT' ? 127 : 126)
        })
        child!.once('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal ?? 'SIGKILL')))
      })
      return await finish(status)
    } catch (e) {
      if (!interrupted) {
        await finish(1)
        throw e
      }
      // Interrupted while setting up: what was made goes, and the status says which signal.
      await finish(0)
      ctx.io.err(`netns-kit run: ERR_INTERRUPTED: interrupted by ${interrupted} before the command started; everything made was removed\n`)
      return 128 + signalNumber(interrupted)
    }
  },
}

// The netns-kit CLI's dispatcher: argv in, exit status out (0 success, 1 the operation failed,
// 2 the command line was wrong). Arguments are parsed with util.parseArgs, command by command.
import { parse, splitCommand } from './args'
import { check } from './check'
import { NETWORK_COMMANDS, TOP_COMMANDS, type Command } from './network-commands'
import { EXIT_USAGE, reportError, UsageError, type Io } from './output'
import { run } from './run'

const PROG = 'netns-kit'

function commandHelp(prefix: string, c: Command): string {
  const lines = [
    `Usage: ${PROG} ${c.usage}`,
    '',
    c.summary,
    '',
    'Options:',
    ...c.help.map((h) => `  ${h}`),
    '  --json            JSON output (errors too, on stderr)',
    '  -h, --help        this help',
  ]
  void prefix
  return `${lines.join('\n')}\n`
}

function list(prefix: string, cmds: Record<string, Command>): string[] {
  const w = Math.max(...Object.keys(cmds).map((k) => k.length))
  return Object.entries(cmds).map(([k, c]) => `  ${prefix}${k.padEnd(w)}   ${c.summary}`)
}

export function topHelp(): string {
  return (
    [
      `Usage: ${PROG} COMMAND [OPTIONS]`,
      '',
      'Container networks from the command line, docker-style, over netns-kit (needs root or CAP_NET_ADMIN + CAP_SYS_ADMIN).',
      '',
      'Commands:',
      ...list('network ', NETWORK_COMMANDS),
      ...list('', { run, ...TOP_COMMANDS, check }),
      '',
      `Every command takes --json and --help. Exit status: 0 success, 1 the operation failed, 2 usage.`,
      `Run '${PROG} COMMAND --help' for a command's options.`,
    ].join('\n') + '\n'
  )
}

function networkHelp(): string {
  return (
    [
      `Usage: ${PROG} network COMMAND`,
      '',
      'Manage networks',
      '',
      'Commands:',
      ...list('', NETWORK_COMMANDS),
      '',
      `Run '${PROG} network COMMAND --help' for a command's options.`,
    ].join('\n') + '\n'
  )
}

/** The version of the package this CLI belongs to. */
function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../package.json') as { version: string }).version
}

export async function main(argv: string[], io: Io): Promise<number> {
  const json = argv.includes('--json')
  let name = PROG
  try {
    const [first, ...rest] = argv
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      if (first === undefined) {
        io.err(topHelp())
        return EXIT_USAGE
      }
      io.out(topHelp())
      return 0
    }
    if (first === '--version' || first === '-v') {
      io.out(`${version()}\n`)
      return 0
    }
    let cmd: Command | undefined
    let args = rest
    if (first === 'network') {
      const [sub, ...r] = rest
      name = `${PROG} network`
      if (sub === undefined || sub === '--help' || sub === '-h') {
        if (sub === undefined) {
          io.err(networkHelp())
          return EXIT_USAGE
        }
        io.out(networkHelp())
        return 0
      }
      cmd = NETWORK_COMMANDS[sub === 'list' ? 'ls' : sub === 'remove' ? 'rm' : sub]
      if (!cmd) throw new UsageError(`unknown command 'network ${sub}'`)
      name = `${PROG} network ${sub}`
      args = r
    } else {
      cmd = first === 'run' ? run : first === 'check' ? check : Object.hasOwn(TOP_COMMANDS, first) ? TOP_COMMANDS[first] : undefined
      if (!cmd) throw new UsageError(first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`)
      name = `${PROG} ${first}`
    }
    let command: string[] = []
    if (cmd === run) ({ ours: args, command } = splitCommand(args, cmd.options))
    const parsed = parse(args, cmd.options)
    if (parsed.values.help) {
      io.out(commandHelp(name, cmd))
      return 0
    }
    if (cmd === run) {
      if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`)
      parsed.positionals = command
    }
    return await cmd.run(parsed, { io, json: parsed.values.json === true })
  } catch (e) {
    return reportError(io, name, e, json)
  }
}

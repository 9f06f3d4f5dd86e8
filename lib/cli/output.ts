// What the netns-kit CLI prints: tables for people, JSON for programs, one-line errors with a
// code, and the exit statuses (0 success, 1 the operation failed, 2 the command line was wrong).

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

/** Where a command writes (process.stdout/stderr in the bin; strings in unit tests). */
export interface Io {
  out(text: string): void
  err(text: string): void
}

/** A command-line mistake: exit status 2, with the command's name to point at its --help. */
export class UsageError extends Error {
  readonly code: string
  constructor(message: string, code = 'ERR_USAGE') {
    super(message)
    this.name = 'UsageError'
    this.code = code
  }
}

/** A failure the CLI itself detects (not the library's): exit status 1. */
export class CliError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'CliError'
    this.code = code
  }
}

/** Node's codes for input the library (or parseArgs) refused before anything reached the kernel. */
const USAGE_CODES = new Set(['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE'])

/** The exit status an error maps to: 2 for bad input of any kind, 1 for the rest. */
export function exitStatusOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE
  const code = (e as { code?: unknown })?.code
  if (typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS_') || USAGE_CODES.has(code))) return EXIT_USAGE
  return EXIT_FAILED
}

/** `{ code, message }` of any error; `code` is ERR_UNKNOWN when it has none. */
export function describe(e: unknown): { code: string; message: string } {
  const err = e as { code?: unknown; message?: unknown }
  const code = typeof err?.code === 'string' ? err.code : 'ERR_UNKNOWN'
  const message = typeof err?.message === 'string' ? err.message : String(e)
  return { code, message: message.replace(/\s*\n\s*/g, ' ').trim() }
}

/**
 * Reports `e` on stderr in one line (`netns-kit CMD: CODE: message`, or the JSON object
 * `{"error":{"code","message"}}` with --json) and returns its exit status.
 */
export function reportError(io: Io, command: string, e: unknown, json: boolean): number {
  const status = exitStatusOf(e)
  const { code, message } = describe(e)
  if (json) io.err(`${JSON.stringify({ error: { code, message, exitStatus: status } })}\n`)
  else io.err(`${command}: ${code}: ${message}${status === EXIT_USAGE ? ` (see '${command} --help')` : ''}\n`)
  return status
}

/** Columns padded as `docker ... ls` prints them (three spaces between columns). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].map((l) => `${l}\n`).join('')
}

/** JSON output: one document, indented as `docker inspect` prints it. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/** A published port as docker ps shows it: `0.0.0.0:8080->80/tcp`. */
export function portText(p: { protocol: string; hostIp: string; hostPort: number; containerPort: number }): string {
  const host = p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp
  return `${host}:${p.hostPort}->${p.containerPort}/${p.protocol}`
}

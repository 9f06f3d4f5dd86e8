// netns-kit demo (`npm run demo`): a tour of the examples, one after another, each in its own
// process with its own throwaway namespaces (removed at its end, also on failure or Ctrl-C).
// First the pieces by hand (bridge, veth, addresses, routes), then Network doing what Docker does.
// Exits non-zero if any stop fails to prove what it set out to.
import { spawn } from 'node:child_process'
import * as path from 'node:path'
import { bold, formatMs, green, red } from './common'

const TOUR: [file: string, what: string][] = [
  ['bridge-by-hand.ts', 'a bridge and two containers by hand, ping both ways'],
  ['network-masquerade.ts', 'a container reaches the outside (masquerade)'],
  ['network-publish.ts', 'the outside reaches a container (-p and -P)'],
  ['network-dns.ts', 'containers on a user-defined network reach each other by name'],
  ['network-isolation.ts', 'two networks isolated from each other'],
  ['network-icc.ts', 'icc=false: containers on one network isolated from each other'],
  ['network-modes.ts', 'host, none and container modes'],
]

function runStop(file: string): Promise<number | null> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, file)], { stdio: 'inherit' })
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)))
}

async function main(): Promise<void> {
  const results: { file: string; what: string; ok: boolean; ms: number }[] = []
  for (const [i, [file, what]] of TOUR.entries()) {
    console.log(bold(`\n=== ${i + 1}/${TOUR.length}: ${what} (npx tsx examples/${file})\n`))
    const t0 = process.hrtime.bigint()
    const code = await runStop(file)
    results.push({ file, what, ok: code === 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 })
  }
  console.log(bold('\ntour summary'))
  for (const r of results) console.log(`  ${r.ok ? green('ok  ') : red('FAIL')} ${r.what.padEnd(66)} ${formatMs(r.ms).padStart(10)}`)
  process.exitCode = results.every((r) => r.ok) ? 0 : 1
}

void main()

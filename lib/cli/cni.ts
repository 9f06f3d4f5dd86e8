#!/usr/bin/env node
// netns-kit-cni: a CNI plugin (spec 1.1: ADD, DEL, CHECK, STATUS, GC, VERSION) over netns-kit.
// A runtime runs it with CNI_COMMAND and friends in the environment and the network
// configuration on stdin; see lib/cli/cni/ for the parts and README "Use from a CNI runtime".
import * as fs from 'node:fs'
import { runCni } from './cni/main'

function readStdin(): string {
  try {
    return fs.readFileSync(0, 'utf8')
  } catch (e) {
    // No stdin at all (closed or a terminal with nothing to read) is an empty request.
    if ((e as { code?: string }).code === 'EAGAIN' || (e as { code?: string }).code === 'EOF') return ''
    throw e
  }
}

runCni(process.env, readStdin()).then(
  (o) => {
    if (o.stderr) fs.writeSync(2, o.stderr)
    if (o.stdout) fs.writeSync(1, o.stdout)
    // Exit now: nothing of the library must keep a plugin process alive after its answer.
    process.exit(o.exitCode)
  },
  (e: unknown) => {
    fs.writeSync(2, `netns-kit-cni: ${String((e as Error)?.stack ?? e)}\n`)
    process.exit(1)
  },
)

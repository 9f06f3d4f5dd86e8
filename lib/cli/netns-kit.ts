#!/usr/bin/env node
// netns-kit: the command-line tool (`netns-kit network create|ls|inspect|rm|prune|connect|
// disconnect`, `run`, `ps`, `gc`, `check`); see lib/cli/dispatch.ts and README "The main job".
import * as fs from 'node:fs'
import { main } from './dispatch'

/** Writes all of `text` to fd, waiting while a pipe is full (EAGAIN). */
function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text)
  while (buf.length) {
    try {
      buf = buf.subarray(fs.writeSync(fd, buf))
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EPIPE') return // the reader went away (`netns-kit ps | head -1`)
      if (code !== 'EAGAIN') throw e
    }
  }
}

main(process.argv.slice(2), { out: (t) => writeAll(1, t), err: (t) => writeAll(2, t) }).then(
  (status) => {
    // Exit now: the library's resolvers and handles must not keep the CLI alive after its answer.
    process.exit(status)
  },
  (e: unknown) => {
    writeAll(2, `netns-kit: ERR_INTERNAL: ${String((e as Error)?.stack ?? e)}\n`)
    process.exit(1)
  },
)

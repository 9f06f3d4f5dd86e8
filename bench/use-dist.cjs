// Preloaded by the benchmarks (`node --require`, through tsx): every module of lib/ they load comes
// from dist/ instead, the library as `npm install netns-kit` delivers it (compiled by `npm run
// build`, which `npm run bench` runs first). What it changes is the companion process: started from
// the TypeScript sources it runs under tsx, which compiles the whole library at its start (~300 ms of
// CPU inside the timed setup, on the 2 cores the run shares); from dist/ it starts as users' does.
// A module with no compiled twin (dist/ missing or older than the sources) is refused: a stale
// build would be measured instead of the code.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const Module = require('node:module')

const root = path.join(__dirname, '..')
const lib = path.join(root, 'lib') + path.sep
const dist = path.join(root, 'dist') + path.sep
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, parent, ...rest) {
  const file = resolve.call(this, request, parent, ...rest)
  if (!file.startsWith(lib) || !file.endsWith('.ts')) return file
  const compiled = dist + file.slice(lib.length).replace(/\.ts$/, '.js')
  let fresh = false
  try {
    fresh = fs.statSync(compiled).mtimeMs >= fs.statSync(file).mtimeMs
  } catch {
    fresh = false
  }
  if (!fresh) throw new Error(`bench/use-dist.cjs: ${path.relative(root, compiled)} is missing or older than ${path.relative(root, file)}: run npm run build`)
  return compiled
}

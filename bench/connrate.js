// New TCP connections per second, for bench/run.ts. Plain Node, started inside a namespace we made
// (ip netns exec NS node connrate.js ...), so the sockets are that namespace's own.
//   node connrate.js server ADDRESS PORT            accepts and closes at once; prints "ready"
//   node connrate.js client HOST PORT SECONDS CONC   connects in CONC loops; prints JSON
'use strict'
const net = require('node:net')

const [mode, host, portStr, secStr, concStr] = process.argv.slice(2)
const port = Number(portStr)

if (mode === 'server') {
  const server = net.createServer((s) => { s.on('error', () => {}); s.end() })
  server.listen({ host, port, backlog: 4096 }, () => process.stdout.write('ready\n'))
  process.on('SIGTERM', () => process.exit(0))
} else {
  const seconds = Number(secStr)
  const conc = Number(concStr) || 8
  const until = Date.now() + seconds * 1000
  let ok = 0, failed = 0
  const one = () => new Promise((resolve) => {
    const s = net.connect({ host, port })
    s.setTimeout(2000, () => s.destroy(new Error('timeout')))
    s.on('error', () => { failed++; resolve() })
    s.on('close', (hadError) => { if (!hadError) ok++; resolve() })
    s.resume()
  })
  const loop = async () => { while (Date.now() < until) await one() }
  const t0 = process.hrtime.bigint()
  Promise.all(Array.from({ length: conc }, loop)).then(() => {
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    process.stdout.write(JSON.stringify({ ok, failed, seconds: s, rate: ok / s }) + '\n')
  })
}

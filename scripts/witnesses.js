// The tools the test suite uses as independent witnesses of what the kernel holds, and the Debian
// package of each. `npm test` runs this first (pretest): one line naming what is missing, and a
// non-zero exit, instead of a failure deep inside a test. Tools whose tests skip themselves when
// they are absent (podman, the CNI reference plugins, capsh) only get a note.
// README's Set-up has the same list as one apt-get line (test/unit/witnesses.test.ts checks it).
'use strict'
const fs = require('node:fs')
const path = require('node:path')

/** command (or absolute path) -> Debian package: the suite fails without these. */
const REQUIRED = {
  ip: 'iproute2', bridge: 'iproute2', ss: 'iproute2', nft: 'nftables', ping: 'iputils-ping', socat: 'socat',
  conntrack: 'conntrack', dig: 'dnsutils', getent: 'libc-bin', etcd: 'etcd-server', etcdctl: 'etcd-client',
  unshare: 'util-linux', nsenter: 'util-linux',
}
/** The tests that use these skip themselves when they are missing. */
const OPTIONAL = {
  podman: 'podman', crun: 'crun', busybox: 'busybox-static', '/usr/lib/cni/bridge': 'containernetworking-plugins', capsh: 'libcap2-bin',
}

function have(cmd) {
  if (cmd.startsWith('/')) return fs.existsSync(cmd)
  return (process.env.PATH || '').split(':').filter(Boolean).some((d) => {
    try {
      fs.accessSync(path.join(d, cmd), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** The missing tools of `table`, and the apt-get line that installs them. */
function missing(table) {
  const cmds = Object.keys(table).filter((c) => !have(c))
  const pkgs = [...new Set(cmds.map((c) => table[c]))].sort()
  return { cmds, pkgs }
}

module.exports = { REQUIRED, OPTIONAL, missing }

if (require.main === module) {
  const req = missing(REQUIRED)
  const opt = missing(OPTIONAL)
  if (opt.cmds.length) {
    console.error(`netns-kit tests: optional witnesses missing (their tests are skipped): ${opt.cmds.join(', ')} (apt-get install -y ${opt.pkgs.join(' ')})`)
  }
  if (req.cmds.length) {
    console.error(`netns-kit tests: missing test witnesses: ${req.cmds.join(', ')}; install them with: apt-get install -y ${req.pkgs.join(' ')}`)
    process.exit(1)
  }
}

// icc=false: containers on the same network do not reach each other (bridge port isolation on
// every port), but still reach the gateway.
//
//   docker network create -o com.docker.network.bridge.enable_icc=false quiet
import { Network } from '../lib'
import { bold, green, ping, red, runExample, type Steps, type Throwaway } from './common'
import { hostAndOutside } from './network-common'

export async function main(t: Throwaway, steps: Steps): Promise<boolean> {
  const { host, store } = await hostAndOutside(t)
  const net = await steps.run('network "quiet" with icc=false', 'docker network create -o com.docker.network.bridge.enable_icc=false quiet', () =>
    Network.create({ name: 'quiet', namespace: host, store, subnet: '172.24.9.0/24', icc: false, dns: false }),
  )
  const a = await net.connect(await t.namespace('a'))
  const b = await net.connect(await t.namespace('b'))
  const gw = await steps.run('a -> gateway', '', () => ping(a.namespace, net.gateway))
  const ab = await steps.run(`a -> b (${b.ip})`, '', () => ping(a.namespace, b.ip))
  const ba = await steps.run(`b -> a (${a.ip})`, '', () => ping(b.namespace, a.ip))
  const ok = gw.ok && !ab.ok && !ba.ok
  console.log(bold('\nproved:'), ok ? green('containers reach the gateway but not each other') : red(`gw ${gw.ok}, a->b ${ab.ok}, b->a ${ba.ok}`))
  await net.remove({ force: true })
  return ok
}

if (require.main === module) void runExample('Network: icc=false isolates containers on one network', main)

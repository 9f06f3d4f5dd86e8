// Two networks isolated from each other: containers on "blue" and "red" each reach their own
// gateway, but not each other (Docker's DOCKER-ISOLATION rules, as nftables rules of netns-kit).
import { Network } from '../lib'
import { bold, green, ping, red, runExample, type Steps, type Throwaway } from './common'
import { hostAndOutside } from './network-common'

export async function main(t: Throwaway, steps: Steps): Promise<boolean> {
  const { host, store } = await hostAndOutside(t)
  const blue = await steps.run('network "blue" 172.23.1.0/24', 'docker network create --subnet 172.23.1.0/24 blue', () =>
    Network.create({ name: 'blue', namespace: host, store, subnet: '172.23.1.0/24', dns: false }),
  )
  const redNet = await steps.run('network "red" 172.23.2.0/24', 'docker network create --subnet 172.23.2.0/24 red', () =>
    Network.create({ name: 'red', namespace: host, store, subnet: '172.23.2.0/24', dns: false }),
  )
  const b = await blue.connect(await t.namespace('blue-c'))
  const r = await redNet.connect(await t.namespace('red-c'))
  const own = await steps.run('blue container -> its gateway', '', () => ping(b.namespace, blue.gateway))
  const cross = await steps.run(`blue container -> red container ${r.ip}`, '', () => ping(b.namespace, r.ip))
  const back = await steps.run(`red container -> blue container ${b.ip}`, '', () => ping(r.namespace, b.ip))
  const ok = own.ok && !cross.ok && !back.ok
  console.log(
    bold('\nproved:'),
    ok ? green('each network reaches its gateway; no traffic crosses between the networks') : red(`own ${own.ok}, blue->red ${cross.ok}, red->blue ${back.ok}`),
  )
  await blue.remove({ force: true })
  await redNet.remove({ force: true })
  return ok
}

if (require.main === module) void runExample('Network: two networks isolated from each other', main)

// Container to the outside (masquerade): a container on a network reaches a server in the
// "outside" namespace, which sees the host's address, not the container's.
//
//   docker network create --subnet 172.20.0.0/24 net ; docker run --network net ... curl outside
import { Network } from '../lib'
import { bold, green, red, runExample, type Steps, type Throwaway } from './common'
import { HOST_WAN, OUT_IP, ask, closeServers, hostAndOutside, whoami } from './network-common'

export async function main(t: Throwaway, steps: Steps): Promise<boolean> {
  const { host, outside, store } = await hostAndOutside(t)
  const net = await steps.run('network "net" 172.20.0.0/24 (bridge, masquerade, isolation)', 'docker network create --subnet 172.20.0.0/24 net', () =>
    Network.create({ name: 'net', namespace: host, store, subnet: '172.20.0.0/24', dns: false }),
  )
  const c = await t.namespace('container')
  const ep = await steps.run('connect a container', 'docker network connect net CONTAINER', () => net.connect(c, { name: 'app' }))
  await whoami(outside, OUT_IP, 9000, 'outside')
  const answer = await steps.run(`container ${ep.ip} -> outside ${OUT_IP}:9000`, `ip netns exec ${c.name} socat - TCP:${OUT_IP}:9000`, () =>
    ask(c, OUT_IP, 9000),
  )
  closeServers()
  const ok = answer === `outside ${HOST_WAN}`
  console.log(bold('\nproved:'), ok ? green(`the outside answered and saw the host's address ${HOST_WAN}, not ${ep.ip}`) : red(`unexpected answer: ${answer}`))
  await net.remove({ force: true })
  return ok
}

if (require.main === module) void runExample('Network: a container reaches the outside through masquerade', main)

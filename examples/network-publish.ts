// The outside to a container (-p and -P): a port published on a fixed host port and one on a
// port the library chooses, both reached from the "outside" namespace through the host's address.
//
//   docker run --network net -p 8080:80 -P ...
import { Network } from '../lib'
import { bold, green, red, runExample, type Steps, type Throwaway } from './common'
import { HOST_WAN, OUT_IP, ask, closeServers, hostAndOutside, whoami } from './network-common'

export async function main(t: Throwaway, steps: Steps): Promise<boolean> {
  const { host, outside, store } = await hostAndOutside(t)
  const net = await steps.run('network "web" 172.21.0.0/24', 'docker network create --subnet 172.21.0.0/24 web', () =>
    Network.create({ name: 'web', namespace: host, store, subnet: '172.21.0.0/24', dns: false }),
  )
  const c = await t.namespace('container')
  const ep = await steps.run('connect with -p 8080:80 and -P for 81', 'docker network connect ... (docker run -p 8080:80 --expose 81 -P)', () =>
    net.connect(c, { name: 'srv', publish: [{ hostPort: 8080, containerPort: 80 }, { containerPort: 81 }] }),
  )
  const dyn = ep.ports[1]!.hostPort
  console.log(`       ports: ${ep.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ')}`)
  await whoami(c, '0.0.0.0', 80, 'port80')
  await whoami(c, '0.0.0.0', 81, 'port81')
  const a = await steps.run(`outside -> ${HOST_WAN}:8080`, `ip netns exec ${outside.name} socat - TCP:${HOST_WAN}:8080`, () => ask(outside, HOST_WAN, 8080))
  const b = await steps.run(`outside -> ${HOST_WAN}:${dyn} (-P)`, `ip netns exec ${outside.name} socat - TCP:${HOST_WAN}:${dyn}`, () =>
    ask(outside, HOST_WAN, dyn),
  )
  await net.disconnect(ep)
  const after = await steps.run('after disconnect: outside -> 8080', '', () => ask(outside, HOST_WAN, 8080))
  closeServers()
  const ok = a === `port80 ${OUT_IP}` && b === `port81 ${OUT_IP}` && after === null
  console.log(
    bold('\nproved:'),
    ok ? green(`the outside reached the container on 8080 and on ${dyn}; nothing answers once disconnected`) : red(`answers: ${a} | ${b} | ${after}`),
  )
  await net.remove()
  return ok
}

if (require.main === module) void runExample('Network: the outside reaches a container through published ports (-p, -P)', main)

// Docker's network modes, one call each: host (the host's namespace itself), none (only
// loopback), container:X (share another container's namespace), and bridge (connect).
import { Network } from '../lib'
import { bold, green, red, runExample, type Steps, type Throwaway } from './common'
import { ask, closeServers, hostAndOutside, whoami } from './network-common'

export async function main(t: Throwaway, steps: Steps): Promise<boolean> {
  const { host, store } = await hostAndOutside(t)
  const h = await steps.run('--network host: the host namespace', '(no command: run in the host namespace)', () => Network.host({ namespace: host }))
  const hostLinks = (await h.links()).map((l) => l.name)
  const none = await steps.run('--network none: a namespace with only loopback', 'ip netns add NAME && ip -n NAME link set lo up', async () => {
    const ns = await Network.none()
    t.names.push(ns.name!)
    t.roles.set(ns.name!, 'none')
    return ns
  })
  const noneLinks = (await none.links()).map((l) => `${l.name}`)
  await none.delete()
  const net = await steps.run('--network bridge: a network and a container on it', 'docker network create m; docker run --network m ...', () =>
    Network.create({ name: 'm', namespace: host, store, subnet: '172.25.9.0/24', dns: false }),
  )
  const first = await net.connect(await t.namespace('first'))
  const second = await steps.run('--network container:first: the same namespace', '', () => Network.container(first))
  await whoami(first.namespace, '127.0.0.1', 7000, 'first')
  const seen = await steps.run('second -> 127.0.0.1:7000 (a server of the first container)', '', () => ask(second, '127.0.0.1', 7000))
  closeServers()
  const ok = h.equals(host) && hostLinks.includes('wan') && noneLinks.join() === 'lo' && second.equals(first.namespace) && seen === 'first 127.0.0.1'
  console.log(`       host mode links: ${hostLinks.join(', ')}; none mode links: ${noneLinks.join(', ')}`)
  console.log(bold('\nproved:'), ok ? green("host is the host namespace, none has only lo, container:X shares X's localhost") : red('a mode did not behave'))
  await net.remove({ force: true })
  return ok
}

if (require.main === module) void runExample('Network: host, none and container modes', main)

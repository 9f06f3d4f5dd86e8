// A user-defined network where containers reach each other by name: the embedded resolver
// (127.0.0.11 inside each container, run by this process) answers names and aliases.
//
//   docker network create app ; docker run --network app --name web ... ; --name db --network-alias database
import { Network } from '../lib'
import { bold, green, ping, red, runExample, type Steps, type Throwaway } from './common'
import { hostAndOutside, lookup } from './network-common'

export async function main(t: Throwaway, steps: Steps): Promise<boolean> {
  const { host, store } = await hostAndOutside(t)
  // No upstream servers: this example never sends a query off the sandbox.
  const net = await steps.run('network "app" 172.22.0.0/24 with the embedded resolver', 'docker network create --subnet 172.22.0.0/24 app', () =>
    Network.create({ name: 'app', namespace: host, store, subnet: '172.22.0.0/24', dns: { upstream: [] } }),
  )
  const [c1, c2] = [await t.namespace('web'), await t.namespace('db')]
  const web = await steps.run('connect "web"', 'docker run --network app --name web ...', () => net.connect(c1, { name: 'web' }))
  const db = await steps.run('connect "db" with the alias "database"', 'docker run --network app --name db --network-alias database ...', () =>
    net.connect(c2, { name: 'db', aliases: ['database'] }),
  )
  const a = await steps.run('web: resolve "db"', `ip netns exec ${c1.name} dig @127.0.0.11 db`, () => lookup(c1, 'db'))
  const b = await steps.run('web: resolve "database"', `ip netns exec ${c1.name} dig @127.0.0.11 database`, () => lookup(c1, 'database'))
  const c = await steps.run('db: resolve "web"', `ip netns exec ${c2.name} dig @127.0.0.11 web`, () => lookup(c2, 'web'))
  const p = await steps.run(`web: ping db (${a[0]})`, `ip netns exec ${c1.name} ping -c1 db`, () => ping(c1, a[0] ?? db.ip))
  console.log(
    '       resolv.conf of web:\n' +
      web
        .resolvConf()
        .split('\n')
        .filter(Boolean)
        .map((l) => `         ${l}`)
        .join('\n'),
  )
  const ok = a[0] === db.ip && b[0] === db.ip && c[0] === web.ip && p.ok
  console.log(
    bold('\nproved:'),
    ok ? green(`web finds db (${db.ip}) by name and alias, db finds web (${web.ip}), and they ping`) : red(`answers: ${a} | ${b} | ${c}; ping ${p.ok}`),
  )
  await net.remove({ force: true })
  return ok
}

if (require.main === module) void runExample('Network: containers reach each other by name (embedded DNS)', main)

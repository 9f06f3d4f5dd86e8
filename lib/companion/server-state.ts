// The companion's state shared by lib/companion/server.ts and the files holding its method bodies.
import type * as fs from 'node:fs'
import type { Resolver } from '../dns'
import type { EndpointRecord, NetworkRecord, NsIdentity } from '../ipam/network-store'
import type { HostResolvConf } from './host-resolv'
import type { NameIndex } from './names'
import type { Reservations } from './reservations'
import type { CompanionServer } from './server'

export interface NetInfo {
  id: string
  name: string
  dns: boolean
  internal: boolean
  upstream: string[] | undefined
}

export interface Container {
  key: string
  ns: NsIdentity
  /** Its endpoints on networks with DNS, first connected first. */
  endpoints: Set<string>
  resolver?: Resolver
  starting?: Promise<void>
  error?: Error
  /** Its namespace file is gone: we let go of it, so the kernel can free it. */
  gone: boolean
}

export const nsKeyOf = (ns: { dev: string; ino: string }) => `${ns.dev}:${ns.ino}`

/** Reads what a network record says about name resolution (the bridge driver's config, as bridgeConfig() in lib/network/state.ts). */
export function netInfo(rec: NetworkRecord): NetInfo {
  const c = rec.config ?? {}
  const dnsCfg = c.dns as unknown
  const upstreamCfg = c.upstream as unknown
  return {
    id: rec.id,
    name: rec.name,
    dns: rec.driver === 'bridge' && dnsCfg === true,
    internal: c.internal === true,
    upstream: Array.isArray(upstreamCfg) ? upstreamCfg.filter((s): s is string => typeof s === 'string') : undefined,
  }
}

/** @internal A CompanionServer's private state, for the functions that hold its method bodies. */
export interface ServerInternals {
  readonly server: CompanionServer
  readonly log: (line: string) => void
  readonly index: NameIndex
  readonly networks: Map<string, NetInfo | null>
  readonly endpoints: Map<string, EndpointRecord>
  readonly containers: Map<string, Container>
  readonly healing: Set<string>
  /** Resolvers being started: a change applied does not wait for its container's resolver (sync() does). */
  readonly starts: Set<Promise<void>>
  readonly dirWatches: Map<string, fs.FSWatcher>
  readonly abort: AbortController
  /** The endpoints that keep it running (DNS or published ports). */
  readonly needy: Set<string>
  /** Endpoints whose ports could not be held, and why. */
  readonly portErrors: Map<string, Error>
  readonly reservations: Reservations
  readonly resolv: HostResolvConf | undefined
  readonly stopping: Promise<void> | undefined
  procPoll: NodeJS.Timeout | undefined
  healed: number
}

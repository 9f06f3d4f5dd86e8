// A container's hosts, hostname and resolv.conf in /etc/netns/NAME/ (the convention of
// `ip netns exec`, which Namespace.spawn follows too), for a container whose namespace is named
// under /run/netns. Written from every endpoint the store has in the namespace (a container on
// several networks has one set of files), rewritten at each connect and disconnect, removed with
// its last endpoint.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { EMBEDDED_RESOLVER, hostnameFile, hostsFile, planResolvConf } from '../container-files'
import { removeEtcNetns, writeEtcNetns, type EtcNetnsFile } from '../etc-netns'
import type { DnsSettings, EndpointRecord, NetworkStore, NsIdentity } from '../ipam'
import { NETNS_RUN_DIR } from '../namespace'
import { hostResolvConf } from './dns'

/** NAME of a namespace recorded as /run/netns/NAME, else undefined (only named namespaces have /etc/netns files). */
export function nsNameOf(ns: { path?: string }): string | undefined {
  const p = ns.path
  if (!p || path.dirname(p) !== NETNS_RUN_DIR) return undefined
  return path.basename(p)
}

/**
 * What /run/netns/NAME is for the recorded namespace `ns` (one stat): still it; gone (deleted);
 * or another namespace made under the name since, whose files are not ours to change.
 */
function namedNow(ns: NsIdentity, name: string): 'same' | 'gone' | 'other' {
  let st: fs.BigIntStats | undefined
  try {
    st = fs.statSync(path.join(NETNS_RUN_DIR, name), { bigint: true, throwIfNoEntry: false })
  } catch {
    return 'gone' // not a file we can read: as nsAlive() judges it
  }
  if (!st) return 'gone'
  return String(st.dev) === ns.dev && String(st.ino) === ns.ino ? 'same' : 'other'
}

/** The resolv.conf of a container: the embedded resolver when one of its networks has DNS, with its endpoints' --dns settings. */
export function resolvConfFor(settings: DnsSettings | undefined, embedded: boolean, ipv6: boolean): string {
  return planResolvConf({
    host: embedded && settings?.servers?.length ? undefined : hostResolvConf(),
    nameservers: settings?.servers,
    search: settings?.search,
    options: settings?.options,
    resolver: embedded ? EMBEDDED_RESOLVER : false,
    ipv6,
  }).content
}

/**
 * The files of a container from its endpoints (first connected first: the first names the
 * host): every address with every name and alias, the --add-host lines, and a resolv.conf.
 */
export function containerFiles(eps: readonly EndpointRecord[], dnsOf: (networkId: string) => boolean): Record<EtcNetnsFile, string> {
  const first = eps[0]!
  const hostname = first.hostname ?? first.name
  const addresses = eps.flatMap((e) => [...e.addresses].sort((a, b) => a.family - b.family).map((a) => a.address))
  const aliases = [...new Set(eps.flatMap((e) => [e.name, ...e.aliases]))].filter((n) => n !== hostname)
  const extraHosts = eps.flatMap((e) => e.extraHosts.map((x) => ({ host: x.name, ip: x.ip })))
  const embedded = eps.some((e) => dnsOf(e.networkId))
  const settings: DnsSettings = {}
  for (const e of eps) {
    settings.servers ??= e.dns?.servers?.length ? e.dns.servers : undefined
    settings.search ??= e.dns?.search
    settings.options ??= e.dns?.options
  }
  const ipv6 = eps.some((e) => e.addresses.some((a) => a.family === 6))
  return {
    hosts: hostsFile({ hostname, addresses, aliases, extraHosts, ipv6: true }),
    hostname: hostnameFile(hostname),
    'resolv.conf': resolvConfFor(settings, embedded, ipv6),
  }
}

/**
 * Brings /etc/netns/NAME up to date for the named namespace `ns` from the store: written from its
 * endpoints (connecting or connected, but for `leaving`), or removed when it has none left.
 * Nothing for an unnamed namespace, or for a name now given to another namespace; a namespace
 * deleted has its files removed, not written again (told apart from one made again under the
 * name by a stat of /run/netns/NAME, not under a lock: see the note in lib/etc-netns.ts). An endpoint
 * that leaves calls it with its own id while its record still exists (disconnecting, or a
 * connect's intent being undone): a process killed at any moment leaves an intent that gc
 * finishes, files included, never files that no record leads to.
 */
export async function etcFilesAfter(store: NetworkStore, ns: NsIdentity, leaving?: string): Promise<void> {
  const name = nsNameOf(ns)
  if (!name) return
  const now = namedNow(ns, name)
  if (now === 'other') return
  // The namespace deleted (its files went with Namespace.delete; `ip netns del` leaves ours):
  // none written again, or a namespace made later under the name would find a dead one's.
  if (now === 'gone') {
    await removeEtcNetns(name)
    return
  }
  const eps = (await store.endpointsInNamespace(ns))
    .filter((e) => e.state !== 'disconnecting' && e.id !== leaving)
    .sort((a, b) => a.created.localeCompare(b.created))
  if (!eps.length) {
    await removeEtcNetns(name)
    return
  }
  const dns = new Map<string, boolean>()
  for (const id of new Set(eps.map((e) => e.networkId))) {
    const n = await store.network(id)
    dns.set(id, n?.driver === 'bridge' && n.config.dns === true)
  }
  await writeEtcNetns(
    name,
    containerFiles(eps, (id) => dns.get(id) === true),
  )
}

/** A connect's part in its container's files (connectEtcFiles). */
export interface ConnectEtcFiles {
  /** Resolves once the files are written; throws what writing them threw. Before the record is finished. */
  written(): Promise<void>
  /** A failed connect, its intent still recorded: the files again without the endpoint (never throws). */
  undo(): Promise<void>
}

/**
 * Starts writing the files of the container `ns` from the store once a connect's intent (`id`)
 * is recorded, while its kernel work runs (they only need the intent). Every driver's connect.
 */
export function connectEtcFiles(store: NetworkStore, ns: NsIdentity, id: string): ConnectEtcFiles {
  const files = etcFilesAfter(store, ns).then(
    () => undefined,
    (e: unknown) => ({ error: e }),
  )
  return {
    async written() {
      const r = await files
      if (r) throw r.error
    },
    async undo() {
      await files
      await etcFilesAfter(store, ns, id).catch(() => {})
    },
  }
}

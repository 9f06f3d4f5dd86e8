// Tracing of every trip into the addon, in one place: each function of lib/kernel that calls the
// addon runs it through trip(). With NODE_DEBUG=netns-kit each trip prints a line (entry point,
// namespace, operations, duration, error); subscribers of the diagnostics channels
// 'netns-kit:<entry>' ('netns-kit:rtnl', 'netns-kit:nft', 'netns-kit:ct', 'netns-kit:ns',
// 'netns-kit:sysctl', 'netns-kit:socket') receive a TripEvent per trip. Nothing is computed
// when nobody listens.
import * as dc from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import * as util from 'node:util'
import { turn } from '../turn'

export type TripChannel = 'rtnl' | 'nft' | 'ct' | 'ns' | 'sysctl' | 'socket'

/** What a diagnostics channel subscriber receives after each trip. */
export interface TripEvent {
  /** The addon's entry point: 'rtnl', 'nft', 'nftList', 'sysctlGet', ... */
  entry: string
  /** The namespace the trip went to (its name or path); undefined for calls without one. */
  namespace: string | undefined
  /** The operations, one short text each ('link.create veth0', 'newsetelem pub4 (3)'). */
  ops: string[]
  durationMs: number
  /** The library's error the trip ended with (after the mapping), if it failed. */
  error?: Error
}

const debug = util.debuglog('netns-kit')
const channels = new Map<TripChannel, dc.Channel>()

function channelOf(name: TripChannel): dc.Channel {
  let c = channels.get(name)
  if (!c) channels.set(name, (c = dc.channel(`netns-kit:${name}`)))
  return c
}

export interface TripInfo {
  channel: TripChannel
  entry: string
  /** The namespace object or its label. */
  ns?: { toString(): string; name?: string; path?: string } | string
  /** The operations, computed only when someone listens. */
  ops?: () => string[]
}

function label(ns: TripInfo['ns']): string | undefined {
  if (ns === undefined) return undefined
  if (typeof ns === 'string') return ns
  return ns.name ?? ns.path ?? String(ns)
}

/**
 * Runs `fn` (one call into the addon, its failures already mapped) and reports it. The caller
 * resumes in a turn of the event loop of its own (lib/turn.ts), not in the callback that settled
 * the addon's promise together with every other trip that finished meanwhile.
 */
export async function trip<T>(info: TripInfo, fn: () => Promise<T>): Promise<T> {
  const channel = channelOf(info.channel)
  if (!debug.enabled && !channel.hasSubscribers) {
    try {
      return await fn()
    } finally {
      await turn()
    }
  }
  const start = performance.now()
  let error: Error | undefined
  try {
    return await fn()
  } catch (e) {
    error = e as Error
    throw e
  } finally {
    const event: TripEvent = {
      entry: info.entry,
      namespace: label(info.ns),
      ops: info.ops?.() ?? [],
      durationMs: performance.now() - start,
      ...(error ? { error } : {}),
    }
    if (debug.enabled) {
      debug(
        '%s %s [%s] %s ms%s',
        event.entry,
        event.namespace ?? '-',
        event.ops.join(', '),
        event.durationMs.toFixed(3),
        error ? ` failed: ${error.message}` : '',
      )
    }
    if (channel.hasSubscribers) channel.publish(event)
    await turn()
  }
}

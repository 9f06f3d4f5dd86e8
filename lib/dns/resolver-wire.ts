// The embedded resolver's wire helpers (lib/dns/resolver.ts): RCODEs, the replies it encodes, PTR names
// and upstream server strings.
import * as dnsPacket from 'dns-packet'
import * as net from 'node:net'
import { invalidArg } from '../errors'
import { canonicalIp } from '../ipam/ip'
import type { UpstreamServer, NameSource } from './resolver'

// RCODEs (RFC 1035 4.1.1) and header bits; dns-packet puts the RCODE in the low bits of `flags`.
export const NOERROR = 0
export const FORMERR = 1
export const SERVFAIL = 2
export const NXDOMAIN = 3
export const NOTIMP = 4
export const REFUSED = 5
export const QR = 0x8000
export const OPCODE_MASK = 0x7800

export function isNameSource(v: unknown): v is NameSource {
  const o = v as NameSource
  return !!o && typeof o === 'object' && typeof o.lookup === 'function' && typeof o.reverse === 'function'
}

export function parseServer(s: unknown, i: number): UpstreamServer {
  const arg = `opts.upstream.servers[${i}]`
  if (typeof s !== 'string') throw invalidArg(arg, s, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  let address = s
  let port = 53
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  const v4 = /^([\d.]+):(\d+)$/.exec(s)
  if (v6) {
    address = v6[1]!
    if (v6[2]) port = Number(v6[2])
  } else if (v4) {
    address = v4[1]!
    port = Number(v4[2])
  }
  if (net.isIP(address) === 0) throw invalidArg(arg, s, "must be 'IP', 'IP:PORT' or '[IPv6]:PORT'")
  if (!(port >= 1 && port <= 65535)) throw invalidArg(arg, s, 'must have a port from 1 to 65535')
  return { address: canonicalIp(address), port }
}

/** The address a PTR question asks about ('4.3.2.1.in-addr.arpa' -> '1.2.3.4'), or undefined. */
export function ptrAddress(name: string): string | undefined {
  const n = name.toLowerCase().replace(/\.$/, '')
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.')
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return undefined
    return parts.reverse().map(Number).join('.')
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.')
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined
    const hex = nibbles.reverse().join('')
    return canonicalIp(hex.match(/.{4}/g)!.join(':'))
  }
  return undefined
}

/** A reply to `query` with `rcode` and `answers` (EDNS answered when the query had it). */
export function encodeReply(query: dnsPacket.DecodedPacket, rcode: number, answers: dnsPacket.Answer[], authoritative: boolean): Buffer {
  const rd = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED
  const hasOpt = query.additionals?.some((a) => a.type === 'OPT')
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags: rd | dnsPacket.RECURSION_AVAILABLE | (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rcode,
    questions: query.questions ?? [],
    answers,
    additionals: hasOpt
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          } as unknown as dnsPacket.Answer,
        ]
      : [],
  })
}

/** An error reply (the query echoed when it decoded). */
export function errorReply(id: number, rcode: number, query?: dnsPacket.DecodedPacket): Buffer {
  return encodeReply(query ?? ({ id, flags: 0, questions: [] } as unknown as dnsPacket.DecodedPacket), rcode, [], false)
}

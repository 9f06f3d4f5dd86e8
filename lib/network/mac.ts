// MAC addresses the drivers give: Docker's scheme for containers, random ones for bridges.
import { randomBytes } from 'node:crypto'
import { ipToBytes } from '../ipam/ip'

/** 02:42:a:b:c:d for the IPv4 address a.b.c.d (Docker's scheme: unique as the address is). */
export function macForIp(ip: string): string {
  return ['02', '42', ...[...ipToBytes(ip)].map((x) => x.toString(16).padStart(2, '0'))].join(':')
}

/** A locally administered unicast MAC, random (bridges: a fixed MAC that does not follow its ports). */
export function randomMac(): string {
  const b = randomBytes(6)
  b[0] = (b[0]! & 0xfe) | 0x02
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

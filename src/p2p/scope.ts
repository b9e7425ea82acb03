/**
 * Which addresses tun takes from whom for P2P: this machine's own addresses, the relay's word
 * about our public address (only a global one, unless the relay itself is on a private or
 * loopback address, as in a lab), and the peer's loopback candidates (only when everything is on
 * this host); and the relay's address as an IP literal. Used by the visitor and the client alike
 * (so neither imports the other's half); no role imports.
 */
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { ipToBytes, refusal, usable, type Candidate } from './addr.js';
import { isLoopback, unmapped } from '../net/ip.js';
import type { Offer } from './candidates.js';

/**
 * This machine's unicast addresses (loopback last), as candidates may carry them. TUN_P2P_ADDRESSES
 * (comma-separated) replaces the interface list, e.g. to keep a test on loopback.
 */
export function localAddresses(env: NodeJS.ProcessEnv = process.env): string[] {
  const given = env.TUN_P2P_ADDRESSES?.split(',').map((a) => a.trim()).filter(Boolean);
  const all = (given ?? Object.values(networkInterfaces()).flatMap((l) => l ?? []).map((i) => i.address)).filter(usable);
  return [...all.filter((a) => !isLoopback(a)), ...all.filter(isLoopback)];
}

/** IPv4 ranges that are not reachable on the internet: [first octet, second octet mask, second octet, third octet or -1]. */
const V4_NOT_GLOBAL: [number, number, number, number][] = [
  [10, 0, 0, -1], // private
  [127, 0, 0, -1], // loopback
  [100, 0xc0, 64, -1], // shared address space (carrier-grade NAT)
  [169, 0xff, 254, -1], // link-local
  [172, 0xf0, 16, -1], // private
  [192, 0xff, 168, -1], // private
  [192, 0xff, 0, 0], // IETF protocol assignments
  [192, 0xff, 0, 2], // documentation
  [198, 0xfe, 18, -1], // benchmarking (198.18.0.0/15)
  [198, 0xff, 51, 100], // documentation
  [203, 0xff, 0, 113], // documentation
];

/** True for an IP literal reachable on the internet: not private, loopback, link-local, shared, documentation, benchmarking, ULA or otherwise special. */
export function isGlobalUnicast(host: string): boolean {
  let b: Buffer;
  try {
    b = ipToBytes(host);
  } catch {
    return false;
  }
  if (refusal(b) !== undefined) return false;
  if (b.length === 4) return !V4_NOT_GLOBAL.some(([a, mask, second, third]) => b[0] === a && (b[1]! & mask) === second && (third < 0 || b[2] === third));
  // IPv6: only 2000::/3 is global unicast; 2001:db8::/32 is documentation.
  if ((b[0]! & 0xe0) !== 0x20) return false;
  return !(b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8);
}

/**
 * An address the relay reports for us (Welcome.observed, an observation-port answer), if we may
 * offer it as a candidate: usable, and global unless the relay itself was reached at a
 * non-global address (`relayAddress`: where we reached it; unknown counts as global). So a relay
 * on the internet cannot make the peer dial or punch a private or loopback address.
 */
export function relayReported(c: Candidate | undefined, relayAddress: string | undefined): Candidate | undefined {
  if (!c || !usable(c.host) || !Number.isInteger(c.port) || c.port < 1 || c.port > 65535) return undefined;
  const host = unmapped(c.host);
  const lab = relayAddress !== undefined && usable(relayAddress) && !isGlobalUnicast(relayAddress);
  return isGlobalUnicast(host) || lab ? { host, port: c.port } : undefined;
}

/**
 * Whether the peer's loopback candidates may be used: only when the relay we reached is on
 * loopback (so the peer that reached it is on this host too) or TUN_P2P_ADDRESSES is set (a test
 * on loopback). Otherwise a loopback candidate could only make us send to our own local ports.
 */
export function peerLoopbackAllowed(relayAddress: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return (relayAddress !== undefined && isLoopback(relayAddress)) || Boolean(env.TUN_P2P_ADDRESSES?.trim());
}

/** The peer's offer without its loopback candidates, unless `loopbackOk`. */
export function fromPeer(o: Offer, loopbackOk: boolean): Offer {
  if (loopbackOk) return o;
  const keep = (l: Candidate[]): Candidate[] => l.filter((c) => !isLoopback(c.host));
  return { ...o, tcp: keep(o.tcp), udp: keep(o.udp) };
}

/** An IP literal for `host` (a name is looked up), or undefined. */
export async function resolveHost(host: string): Promise<string | undefined> {
  if (usable(host)) return unmapped(host);
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch {
    return undefined;
  }
}

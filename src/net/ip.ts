/**
 * IP address text as Node prints and accepts it, for every module that needs an address's bytes
 * or its kind (P2P candidates, PROXY protocol headers, per-source limits, loopback checks): one
 * parser, checked by node:net first, so no module reads address text its own way.
 */
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** "::ffff:1.2.3.4" (how a dual-stack socket reports an IPv4 peer) as "1.2.3.4"; anything else as it is. */
export function unmapped(host: string): string {
  const m = MAPPED_V4.exec(host);
  return m ? m[1]! : host;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for localhost, 127.0.0.0/8, ::1 (any spelling) and ::ffff:127.0.0.0/104. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const v = isIP(host);
  return v !== 0 && LOOPBACK.check(host, v === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The bytes of an IP literal: 4 for IPv4, 16 for IPv6 (an IPv4-mapped address stays 16 bytes; a
 * %zone is dropped); undefined for anything else.
 */
export function ipBytes(host: string): Buffer | undefined {
  if (isIPv4(host)) return Buffer.from(host.split('.').map(Number));
  if (!isIPv6(host)) return undefined;
  const text = host.replace(/%.*$/, '');
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups first.
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const [head, tail] = hex.includes('::') ? (hex.split('::') as [string, string]) : [hex, undefined];
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const out = Buffer.alloc(16);
  h.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  t.forEach((g, i) => out.writeUInt16BE(g, 16 - 2 * (t.length - i)));
  return out;
}

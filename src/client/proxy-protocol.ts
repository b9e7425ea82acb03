/**
 * PROXY protocol headers (HAProxy's spec, versions 1 and 2), written by the client before the
 * first byte of a connection to a local service that opted in (`--proxy-protocol v1|v2` after its
 * `--service`), so the service sees the address the relay saw instead of the client's loopback
 * address. Only the writer: tun never reads these headers. Addresses come from the relay (inside
 * its authenticated control channel); unknown or malformed ones give the spec's "unknown" form
 * (v1 `PROXY UNKNOWN`, v2 LOCAL), which a service treats as "use the connection's own address".
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ipBytes, unmapped } from '../net/ip.js';
import type { ProxyVersion } from '../wire/proxy-version.js';

export { parseProxyVersion, type ProxyVersion } from '../wire/proxy-version.js';

export interface Endpoint {
  addr: string;
  port: number;
}

/** The v2 signature: \r\n\r\n\0\r\nQUIT\n. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

type Family = 4 | 6;

interface Pair {
  family: Family;
  src: Endpoint;
  dst: Endpoint;
}

const validPort = (p: number): boolean => Number.isInteger(p) && p >= 0 && p <= 65535;

/**
 * Both ends in one family: TCP4 when both are IPv4, else TCP6 with an IPv4 end written as its
 * IPv4-mapped IPv6 form; undefined when either end is missing or not an IP address and port.
 */
function pair(src: Endpoint | undefined, dst: Endpoint | undefined): Pair | undefined {
  if (!src || !dst || !validPort(src.port) || !validPort(dst.port)) return undefined;
  const s = unmapped(src.addr);
  const d = unmapped(dst.addr);
  if (isIPv4(s) && isIPv4(d)) return { family: 4, src: { addr: s, port: src.port }, dst: { addr: d, port: dst.port } };
  if (!(isIPv4(s) || isIPv6(s)) || !(isIPv4(d) || isIPv6(d))) return undefined;
  const six = (a: string): string => (isIPv4(a) ? `::ffff:${a}` : a.replace(/%.*$/, ''));
  return { family: 6, src: { addr: six(s), port: src.port }, dst: { addr: six(d), port: dst.port } };
}

/** The v1 (text) header, e.g. `PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n`. */
export function proxyV1(src: Endpoint | undefined, dst: Endpoint | undefined): Buffer {
  const p = pair(src, dst);
  if (!p) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  return Buffer.from(`PROXY TCP${p.family} ${p.src.addr} ${p.dst.addr} ${p.src.port} ${p.dst.port}\r\n`, 'latin1');
}

/** The v2 (binary) header: signature, PROXY command over TCP4/TCP6 with the addresses, or LOCAL when unknown. */
export function proxyV2(src: Endpoint | undefined, dst: Endpoint | undefined): Buffer {
  const p = pair(src, dst);
  if (!p) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  // pair() checked that both are IP addresses of one family (4 or 16 bytes each)
  const addrs = Buffer.concat([ipBytes(p.src.addr)!, ipBytes(p.dst.addr)!, Buffer.alloc(4)]);
  addrs.writeUInt16BE(p.src.port, addrs.length - 4);
  addrs.writeUInt16BE(p.dst.port, addrs.length - 2);
  const head = Buffer.from([0x21, p.family === 4 ? 0x11 : 0x21, 0x00, 0x00]);
  head.writeUInt16BE(addrs.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, addrs]);
}

/** The header of `version` for a connection from `src` to `dst`. */
export function proxyHeader(version: ProxyVersion, src: Endpoint | undefined, dst: Endpoint | undefined): Buffer {
  return version === 'v1' ? proxyV1(src, dst) : proxyV2(src, dst);
}

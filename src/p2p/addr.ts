/**
 * P2P candidate addresses: conversion between text and the 4- or 16-byte wire form, and the
 * checks every candidate passes before tun sends anything to it. Pure; no I/O.
 *
 * Allowed: unicast IPv4 and IPv6 (loopback, private, public) with a port 1..65535. Refused:
 * unspecified (0.0.0.0/8, ::), multicast (224.0.0.0/4, ff00::/8), reserved and broadcast
 * (240.0.0.0/4), IPv4-mapped IPv6 (::ffff:0:0/96: send the IPv4 form) and IPv6 link-local
 * (fe80::/10: unusable without a scope id). So a peer can name only hosts, never a group.
 */
import { ipBytes, unmapped } from '../net/ip.js';
import { TunError } from '../errors.js';

export interface Candidate {
  host: string;
  port: number;
}

function invalid(why: string): TunError {
  return new TunError('MESSAGE_INVALID', `P2P candidate refused: ${why}`);
}

/** Text form (as Node prints it) to wire bytes; throws MESSAGE_INVALID for anything but an IP literal. */
export function ipToBytes(host: string): Buffer {
  const h = unmapped(host);
  const b = ipBytes(h);
  if (!b) throw invalid(`"${h.slice(0, 60)}" is not an IP address`);
  return b;
}

/** Wire bytes to text (IPv6 in its shortest form). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) throw invalid(`an address of ${b.length} bytes (4 or 16 expected)`);
  const words = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  // Longest run of zero words (at least two) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Why an address may not be a candidate, or undefined when it may. */
export function refusal(b: Uint8Array): string | undefined {
  if (b.length === 4) {
    const a = b[0]!;
    if (a === 0) return 'unspecified IPv4 address (0.0.0.0/8)';
    if (a >= 224 && a <= 239) return 'IPv4 multicast';
    if (a >= 240) return 'reserved or broadcast IPv4 address';
    return undefined;
  }
  if (b.length !== 16) return `an address of ${b.length} bytes`;
  if (b.every((x) => x === 0)) return 'unspecified IPv6 address (::)';
  if (b[0] === 0xff) return 'IPv6 multicast';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'IPv6 link-local (needs a scope id)';
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return 'IPv4-mapped IPv6 (send the IPv4 form)';
  return undefined;
}

/** A checked candidate from its wire form; throws MESSAGE_INVALID. */
export function fromWire(ip: Uint8Array, port: number): Candidate {
  const why = refusal(ip);
  if (why) throw invalid(why);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`port ${port}`);
  return { host: bytesToIp(ip), port };
}

/** The wire form of a candidate we send; throws MESSAGE_INVALID for one we must not send. */
export function toWire(c: Candidate): { ip: Buffer; port: number } {
  const ip = ipToBytes(c.host);
  fromWire(ip, c.port);
  return { ip, port: c.port };
}

/** True when `host` may be a candidate (an IP literal that passes refusal()). */
export function usable(host: string): boolean {
  try {
    return refusal(ipToBytes(host)) === undefined;
  } catch {
    return false;
  }
}

/** Candidates without duplicates, in order, at most `max`. */
export function dedupe(list: Candidate[], max: number): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const c of list) {
    const k = `${unmapped(c.host)}|${c.port}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ host: unmapped(c.host), port: c.port });
    if (out.length >= max) break;
  }
  return out;
}

/**
 * Public ports: connections open at once per source, so one address cannot take every slot a
 * public service has (the relay's pre-auth gate does not cover plain-TCP public connections,
 * which are admitted without a handshake). An IPv6 source counts by its /64, the block one
 * subscriber usually holds; an IPv4-mapped IPv6 address counts as its IPv4 address.
 */
import { ipBytes, unmapped } from '../net/ip.js';

/** The key a source address is counted under: the IPv4 address, or the /64 of an IPv6 one. */
export function sourceKey(address: string | undefined): string {
  if (!address) return '?';
  const host = unmapped(address);
  const b = ipBytes(host);
  if (!b || b.length === 4) return host;
  const groups = [0, 2, 4, 6].map((i) => b.readUInt16BE(i).toString(16));
  return `${groups.join(':')}::/64`;
}

/** Counts open connections per source; acquire() refuses above `max`. */
export class SourceLimit {
  readonly #open = new Map<string, number>();
  constructor(readonly max: number) {}

  /** Takes a slot for `address`; returns its release (idempotent), or undefined when that source is at the limit. */
  acquire(address: string | undefined): (() => void) | undefined {
    const key = sourceKey(address);
    const n = this.#open.get(key) ?? 0;
    if (n >= this.max) return undefined;
    this.#open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const m = (this.#open.get(key) ?? 1) - 1;
      if (m <= 0) this.#open.delete(key);
      else this.#open.set(key, m);
    };
  }

  /** Open connections counted for `address` (its source key). */
  count(address: string | undefined): number {
    return this.#open.get(sourceKey(address)) ?? 0;
  }

  /** Sources with at least one connection open. */
  get sources(): number {
    return this.#open.size;
  }
}

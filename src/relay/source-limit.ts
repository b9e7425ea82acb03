/**
 * Public ports: connections open at once per source, so one address cannot take every slot a
 * public service has (the relay's pre-auth gate does not cover plain-TCP public connections,
 * which are admitted without a handshake). An IPv6 source counts by its /64, the block one
 * subscriber usually holds; an IPv4-mapped IPv6 address counts as its IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The key a source address is counted under: the IPv4 address, or the /64 of an IPv6 one. */
export function sourceKey(address: string | undefined): string {
  if (!address) return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, lower-case, without leading zeros. */
function expandIPv6(address: string): string[] {
  const plain = address.replace(/%.*$/, '');
  const [head, tail] = plain.includes('::') ? plain.split('::') as [string, string] : [plain, undefined];
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  // A trailing dotted IPv4 part (::1.2.3.4) is two groups; only the first four groups matter here.
  const fill = tail === undefined ? [] : Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0');
  return [...h, ...fill, ...t].map((g) => (/^[0-9a-f]+$/i.test(g) ? Number.parseInt(g, 16).toString(16) : g));
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

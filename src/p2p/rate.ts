/**
 * Token buckets keyed by source (address), bounded in how many sources they remember: what keeps
 * the relay's observation port and tun's punches from being a reflector or a scanner. Pure: the
 * clock is injected.
 */
export interface RateOptions {
  /** Tokens added per second. */
  perSecond: number;
  /** Most tokens a key can save up. */
  burst: number;
  /** Most keys remembered; the least recently seen is forgotten first. */
  maxKeys: number;
  now?: () => number;
}

export class RateLimiter {
  readonly #o: Required<RateOptions>;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(o: RateOptions) {
    this.#o = { now: Date.now, ...o };
  }

  /** Takes one token for `key`; false when it has none left. */
  take(key: string): boolean {
    const now = this.#o.now();
    let b = this.#buckets.get(key);
    if (b) {
      this.#buckets.delete(key);
      b.tokens = Math.min(this.#o.burst, b.tokens + ((now - b.at) / 1000) * this.#o.perSecond);
      b.at = now;
    } else {
      b = { tokens: this.#o.burst, at: now };
      if (this.#buckets.size >= this.#o.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }
}

/**
 * Capped exponential backoff with jitter: each wait is drawn from [1 - jitter, 1 + jitter] times
 * the step. The spread is wide (±50 %) so that many clients cut off at the same moment (a relay
 * restart) do not come back in lock-step.
 */
export class Backoff {
  #attempt = 0;
  constructor(
    readonly initialMs = 500,
    readonly maxMs = 30_000,
    readonly factor = 2,
    readonly jitter = 0.5,
    /** When set, the first wait after a reset is drawn from [initialMs / 2, firstSpreadMs]. */
    readonly firstSpreadMs?: number,
  ) {}

  next(): number {
    if (this.#attempt === 0 && this.firstSpreadMs !== undefined) {
      this.#attempt++;
      const lo = this.initialMs / 2;
      return Math.round(lo + Math.random() * (this.firstSpreadMs - lo));
    }
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.#attempt);
    this.#attempt++;
    const spread = base * this.jitter;
    return Math.min(this.maxMs, Math.round(base - spread + Math.random() * 2 * spread));
  }

  reset(): void {
    this.#attempt = 0;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

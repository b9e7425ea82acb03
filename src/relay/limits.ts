/** Relay tunables. Tests may lower them; the defaults follow ../docs/security.md. */
export interface RelayLimits {
  /** Absolute deadline from accept to the first authenticated message (control), the visit request, or the join. */
  handshakeMs: number;
  /** How long a visitor waits for the client to join its stream. */
  pairingMs: number;
  /** Unauthenticated connections at once, across the three ports... */
  preAuthMax: number;
  /** ...and from one source address. */
  preAuthPerIp: number;
  /** Visitors waiting for one client's streams at once (per service). */
  pendingPerService: number;
  /** Control heartbeat interval told to clients; a session silent for 3 intervals is closed. */
  heartbeatMs: number;
  /** Connections open at once on one public port from one source (IPv4 address or IPv6 /64). */
  publicPerSource: number;
}

const BASE_LIMITS: RelayLimits = {
  handshakeMs: 5000,
  pairingMs: 10_000,
  preAuthMax: 1024,
  preAuthPerIp: 256,
  pendingPerService: 256,
  heartbeatMs: 10_000,
  publicPerSource: 32,
};

/**
 * Overrides for tests that run the real CLI (the adversarial suite shortens the handshake
 * deadline and the heartbeat): `TUN_RELAY_LIMITS="handshakeMs=1000,heartbeatMs=2000"`. Unknown
 * names and values that are not whole numbers >= 100 (>= 1 for counts) are ignored.
 */
export function relayLimitsFromEnv(text: string | undefined): Partial<RelayLimits> {
  const out: Partial<RelayLimits> = {};
  for (const part of (text ?? '').split(',')) {
    const [name, value] = part.split('=').map((x) => x.trim());
    if (!name || !Object.hasOwn(BASE_LIMITS, name) || !value || !/^\d+$/.test(value)) continue;
    const n = Number(value);
    if (n >= (name.endsWith('Ms') ? 100 : 1)) out[name as keyof RelayLimits] = n;
  }
  return out;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = { ...BASE_LIMITS, ...relayLimitsFromEnv(process.env.TUN_RELAY_LIMITS) };

/**
 * Counts unauthenticated connections in total and per source address. Above half the total cap,
 * new ones are dropped at random with a probability that rises to 1 at the cap (OpenSSH's
 * MaxStartups start:rate:full): a flood then leaves room that a legitimate client retrying with
 * backoff can find, instead of a gate that stays shut for as long as the flood lasts.
 */
export class PreAuthGate {
  #total = 0;
  readonly #perIp = new Map<string, number>();
  constructor(
    readonly limits: Pick<RelayLimits, 'preAuthMax' | 'preAuthPerIp'>,
    readonly random: () => number = Math.random,
  ) {}

  /** Where random early drop starts. */
  get softLimit(): number {
    return Math.floor(this.limits.preAuthMax / 2);
  }

  get pending(): number {
    return this.#total;
  }

  /** Takes a slot; returns a release function (idempotent), or undefined when full. */
  acquire(ip: string): (() => void) | undefined {
    const n = this.#perIp.get(ip) ?? 0;
    if (this.#total >= this.limits.preAuthMax || n >= this.limits.preAuthPerIp) return undefined;
    const soft = this.softLimit;
    if (this.#total >= soft && this.random() < (this.#total - soft + 1) / (this.limits.preAuthMax - soft + 1)) return undefined;
    this.#total++;
    this.#perIp.set(ip, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const m = (this.#perIp.get(ip) ?? 1) - 1;
      if (m <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, m);
    };
  }
}

/** The application side: echo probes through a `tun visit` listener, and the stream held open across the sweep. */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Attempt {
  /** 'pending': still open when the probe stopped waiting for it. */
  how: 'echoed' | 'end' | 'reset' | 'timeout' | 'refused' | 'pending';
  got: number;
  /** Bytes that are not a prefix of what was sent: data corrupted on the way. */
  corrupt?: string;
}

/**
 * One app connection: sends `payload` (optionally in pieces, `gapMs` apart, then half-closes when
 * `end`), and collects what comes back until it equals the payload, the peer ends, or `ms` passes.
 */
export function attempt(port: number, payload: Buffer[], ms: number, opts: { gapMs?: number; end?: boolean; stopOnEcho?: boolean } = {}): { done: Promise<Attempt & { data: Buffer }>; cancel: () => void } {
  const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const want = Buffer.concat(payload);
  let cancel = (): void => {};
  const done = new Promise<Attempt & { data: Buffer }>((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let finished = false;
    let connected = false;
    const finish = (how: Attempt['how']): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const data = Buffer.concat(chunks);
      const corrupt = data.length > 0 && !want.subarray(0, data.length).equals(data.subarray(0, want.length)) ? `sent ${want.toString('hex').slice(0, 64)} got ${data.toString('hex').slice(0, 64)}` : undefined;
      const tooLong = data.length > want.length ? `got ${data.length} bytes back for ${want.length} sent` : undefined;
      resolve({ how, got, data, corrupt: corrupt ?? tooLong });
      s.destroy();
    };
    const timer = setTimeout(() => finish('timeout'), ms);
    cancel = () => finish('pending');
    s.on('connect', () => {
      connected = true;
      void (async () => {
        for (let i = 0; i < payload.length; i++) {
          if (i > 0 && opts.gapMs) await sleep(opts.gapMs);
          if (s.destroyed) return;
          s.write(payload[i]!);
        }
        if (opts.end && !s.destroyed) s.end();
      })();
    });
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (opts.stopOnEcho !== false && got >= want.length) finish('echoed');
    });
    s.on('end', () => finish(got === want.length && Buffer.concat(chunks).equals(want) ? 'echoed' : 'end'));
    s.on('error', () => finish(connected ? 'reset' : 'refused'));
    s.on('close', () => finish('reset'));
  });
  return { done, cancel };
}

export interface ProbeResult {
  ok: boolean;
  /** From the start of the probe to the first correct echo. */
  ms: number;
  attempts: Attempt[];
}

/**
 * Starts an echo attempt every `everyMs` until one echoes correctly or `boundMs` passes (a role
 * that reopens a session with backoff gets a few tries). After the first correct echo (`onOk` is
 * called then) the other attempts get `graceMs` to settle; the ones still open are 'pending'.
 * `giveUp` stops it early (the process it goes through died).
 */
export async function probe(port: number, boundMs: number, onOk: () => void = () => {}, giveUp: () => boolean = () => false, everyMs = 1000, graceMs = 2000): Promise<ProbeResult> {
  const t0 = Date.now();
  const attempts: { done: Promise<Attempt>; cancel: () => void }[] = [];
  let ok = false;
  let okAt = 0;
  let wake: () => void = () => {};
  while (!ok && Date.now() - t0 < boundMs && !giveUp()) {
    const left = boundMs - (Date.now() - t0);
    const a = attempt(port, [randomBytes(24)], left);
    const done = a.done.then((r) => {
      if (r.how === 'echoed' && !r.corrupt && !ok) {
        ok = true;
        okAt = Date.now();
        onOk();
        wake();
      }
      return r;
    });
    attempts.push({ done, cancel: a.cancel });
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, everyMs);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
  if (ok || giveUp()) {
    const grace = setTimeout(() => attempts.forEach((a) => a.cancel()), graceMs);
    await Promise.all(attempts.map((a) => a.done));
    clearTimeout(grace);
  }
  const all = await Promise.all(attempts.map((a) => a.done));
  return { ok, ms: ok ? okAt - t0 : Date.now() - t0, attempts: all.map(({ how, got, corrupt }) => ({ how, got, corrupt })) };
}

/** An app connection held open for the whole sweep, echoed now and then. */
export class HeldStream {
  #s?: Socket;
  #buf = Buffer.alloc(0);
  #ended?: string;
  opened = 0;

  async open(port: number): Promise<void> {
    this.#s?.destroy();
    this.#buf = Buffer.alloc(0);
    this.#ended = undefined;
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    this.#s = s;
    s.on('data', (d: Buffer) => (this.#buf = Buffer.concat([this.#buf, d])));
    s.on('end', () => (this.#ended ??= 'ended by the peer'));
    s.on('error', (e: NodeJS.ErrnoException) => (this.#ended ??= `error ${e.code ?? e.message}`));
    s.on('close', () => (this.#ended ??= 'closed'));
    this.opened++;
    const r = await this.echo(10_000);
    if (r) throw new Error(`the held stream does not echo right after opening: ${r}`);
  }

  /** Undefined when `payload` came back intact within `ms`; otherwise what went wrong. */
  async echo(ms: number): Promise<string | undefined> {
    const s = this.#s;
    if (!s || this.#ended) return `the stream is gone (${this.#ended ?? 'never opened'})`;
    const payload = randomBytes(32);
    this.#buf = Buffer.alloc(0);
    s.write(payload);
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      if (this.#buf.length >= payload.length) return this.#buf.equals(payload) ? undefined : `echo came back altered (${this.#buf.length} bytes)`;
      if (this.#ended) return `the stream was ${this.#ended} after ${Date.now() - t0} ms`;
      await sleep(20);
    }
    return `no echo within ${ms} ms (${this.#buf.length} of ${payload.length} bytes back)`;
  }

  close(): void {
    this.#s?.destroy();
  }
}

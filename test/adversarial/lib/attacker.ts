/**
 * The attacker, run as its own process (so its fds and CPU are not the test's):
 * `node attacker.js '<Plan JSON>'`. It opens every planned connection (bounded in count, at most
 * `concurrency` connects in flight), from `sources` loopback addresses 127.0.0.10.., does what
 * the mode says, and records how long each lived until the relay closed it. It prints one JSON
 * line per second ({"progress":...}) and a final {"done":...} line, then exits. Connections still
 * open after `maxMs` are destroyed and counted as `survived`.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export type Mode = 'hold' | 'random32' | 'close' | 'drip' | 'frame';

export interface Wave {
  port: number;
  mode: Mode;
  count: number;
  /** For 'frame': bytes sent once connected; for 'drip': bytes sent one at a time (base64). */
  frame?: string;
}

export interface Plan {
  waves: Wave[];
  sources: number;
  concurrency: number;
  dripMs?: number;
  maxMs: number;
}

export interface WaveResult {
  port: number;
  mode: Mode;
  planned: number;
  connected: number;
  connectFailed: number;
  /** Closed by the peer (FIN, RST), with the time from connect to close. */
  closedByPeer: number;
  lifeMs: { p50: number; p99: number; max: number };
  survived: number;
}

function pct(v: number[], p: number): number {
  if (v.length === 0) return 0;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function main(plan: Plan): Promise<void> {
  const started = Date.now();
  const open = new Map<Socket, number>();
  const results: (WaveResult & { lives: number[] })[] = plan.waves.map((w) => ({ port: w.port, mode: w.mode, planned: w.count, connected: 0, connectFailed: 0, closedByPeer: 0, lifeMs: { p50: 0, p99: 0, max: 0 }, survived: 0, lives: [] }));
  // Interleave the waves so every port and mode is under attack at the same time.
  const jobs: number[] = [];
  const left = plan.waves.map((w) => w.count);
  while (left.some((n) => n > 0)) left.forEach((n, i) => n > 0 && (jobs.push(i), left[i]!--));
  let next = 0;
  let inFlight = 0;
  let finished = false;
  let source = 0;

  const one = (wi: number): Promise<void> =>
    new Promise((resolve) => {
      const w = plan.waves[wi]!;
      const r = results[wi]!;
      const localAddress = `127.0.0.${10 + (source++ % plan.sources)}`;
      const s = connect({ port: w.port, host: '127.0.0.1', localAddress });
      let connectedAt = 0;
      let drip: NodeJS.Timeout | undefined;
      s.on('error', () => {});
      s.once('connect', () => {
        connectedAt = Date.now();
        r.connected++;
        open.set(s, wi);
        resolve();
        if (w.mode === 'close') return void s.destroy();
        if (w.mode === 'random32') s.write(randomBytes(32));
        if (w.mode === 'frame') s.write(Buffer.from(w.frame!, 'base64'));
        // A drip sends the frame (if any) one byte at a time, so it stays valid-looking; else random bytes.
        const slow = w.frame ? Buffer.from(w.frame, 'base64') : undefined;
        let at = 0;
        if (w.mode === 'drip') drip = setInterval(() => s.write(slow ? slow.subarray(at % slow.length, (at++ % slow.length) + 1) : randomBytes(1)), plan.dripMs ?? 2000);
      });
      s.on('data', () => {});
      s.once('close', () => {
        clearInterval(drip);
        open.delete(s);
        if (!connectedAt) {
          r.connectFailed++;
          resolve();
        } else if (w.mode !== 'close' && !finished) {
          r.closedByPeer++;
          r.lives.push(Date.now() - connectedAt);
        }
      });
    });

  const progress = setInterval(() => console.log(JSON.stringify({ progress: { started: next, open: open.size, ms: Date.now() - started } })), 1000);
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (Date.now() - started > plan.maxMs) return resolve();
      while (inFlight < plan.concurrency && next < jobs.length) {
        inFlight++;
        void one(jobs[next++]!).then(() => {
          inFlight--;
          pump();
        });
      }
      if (next >= jobs.length && inFlight === 0) resolve();
    };
    pump();
  });
  // Wait for the relay to close what is still open, up to maxMs.
  while (open.size > 0 && Date.now() - started < plan.maxMs) await new Promise((r) => setTimeout(r, 100));
  finished = true;
  clearInterval(progress);
  for (const [s, wi] of open) {
    results[wi]!.survived++;
    s.destroy();
  }
  const out: WaveResult[] = results.map(({ lives, ...r }) => ({ ...r, lifeMs: { p50: pct(lives, 50), p99: pct(lives, 99), max: lives.length ? Math.max(...lives) : 0 } }));
  console.log(JSON.stringify({ done: { ms: Date.now() - started, waves: out } }));
}

if (process.argv[2]) {
  void main(JSON.parse(process.argv[2]) as Plan).then(() => process.exit(0));
}

/**
 * The fault sweep: records one clean set-up per port, then faults a fresh set-up at every byte
 * offset (reset, FIN) and every message boundary (stall, inserted byte, flipped byte) of it, in
 * each direction, several injections at once, and checks after each that the roles recovered.
 */
import { HeldStream, probe } from './app.js';
import type { Exchange, PortName } from './exchange.js';
import { checkLines, injectControl, signalRace, injectLocal, injectVisit, type Injection, type Result, type Timing } from './inject.js';
import type { Dir, Kind } from './proxy.js';
import { recordControl, recordLocal, recordVisit } from './record.js';
import { Stack } from './stack.js';

export interface SweepOptions extends Timing {
  /** Lanes running resets, FINs and garbage bytes. */
  lanes: number;
  /** Lanes running stalls (mostly idle: they wait out deadlines). */
  stallLanes: number;
  ports: PortName[];
  kinds: Kind[];
  /** Every `step`-th byte offset for resets and FINs (1: all of them); boundaries always. */
  step: number;
  seed: number;
  /** Check the held stream and the long-lived processes after this many injections. */
  checkEvery: number;
  /** Stop starting injections after this long (the rest are reported as skipped). */
  budgetMs: number;
  log: (line: string) => void;
}

/**
 * Past every deadline of the roles, plus time to reopen: the relay's 5 s handshake deadline, the
 * client's 10 s handshake deadline, the 10 s pairing waits, and a session's keepalive (closed after
 * 3 x TUN_SESSION_KEEPALIVE_MS, default 15 s, without a frame), which is what ends a session
 * stalled after its handshake.
 */
export function defaultStallMs(): number {
  const k = Number(process.env.TUN_SESSION_KEEPALIVE_MS);
  const keepalive = Number.isInteger(k) && k >= 100 ? k : 15_000;
  return Math.max(20_000, 3 * keepalive + 10_000);
}

export const DEFAULTS: SweepOptions = {
  lanes: 4,
  stallLanes: 8,
  ports: ['control', 'visitor', 'tunnel', 'local'],
  kinds: ['reset', 'fin', 'stall', 'insert', 'flip'],
  step: 1,
  seed: 1,
  checkEvery: 20,
  budgetMs: 45 * 60_000,
  recoverMs: 20_000,
  stallMs: defaultStallMs(),
  strictLogs: false,
  log: (l) => process.stderr.write(l + '\n'),
};

/** The app's own bytes on the local service connection: two pieces, 100 ms apart. */
export const LOCAL_PIECES = [12, 12];

export interface CheckFailure {
  at: number;
  what: string;
  /** Injections in flight since the previous check. */
  suspects: number[];
}

export interface SweepResult {
  options: Omit<SweepOptions, 'log'>;
  exchanges: Exchange[];
  results: Result[];
  checks: { run: number; failures: CheckFailure[] };
  skipped: Injection[];
  /** Problems found outside the injections (a daemon that a prompt SIGTERM kills). */
  startup: string[];
  aborted?: string;
  ms: number;
  /** CPU seconds the sweep process itself used (proxies, probes), not counting the tun processes. */
  cpuS: number;
}

/** A small deterministic PRNG (mulberry32), so a failing byte can be replayed with the same seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function plan(exchanges: Exchange[], o: Pick<SweepOptions, 'kinds' | 'step' | 'seed'>): Injection[] {
  const rand = rng(o.seed);
  const out: Injection[] = [];
  const add = (port: PortName, kind: Kind, dir: Dir, offset: number, byte?: number): void => {
    if (o.kinds.includes(kind)) out.push({ id: out.length, port, fault: { kind, dir, offset, byte } });
  };
  for (const ex of exchanges) {
    for (const dir of ['up', 'down'] as const) {
      const bounds = ex.boundaries[dir];
      for (let off = 0; off < ex.bytes[dir].length; off++) {
        if (off % o.step !== 0 && !bounds.includes(off)) continue;
        add(ex.port, 'reset', dir, off);
        add(ex.port, 'fin', dir, off);
      }
      for (const b of bounds) {
        add(ex.port, 'stall', dir, b);
        add(ex.port, 'insert', dir, b, Math.floor(rand() * 256));
        add(ex.port, 'flip', dir, b, 1 + Math.floor(rand() * 255));
      }
    }
  }
  return out;
}

export async function runSweep(opts: Partial<SweepOptions> = {}): Promise<SweepResult> {
  const o: SweepOptions = { ...DEFAULTS, ...opts };
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const stack = new Stack(o.lanes + o.stallLanes, 2);
  const results: Result[] = [];
  const skipped: Injection[] = [];
  const checks: SweepResult['checks'] = { run: 0, failures: [] };
  const held = new HeldStream();
  let aborted: string | undefined;
  try {
    await stack.start();
    o.log(`stack up: relay ports ${JSON.stringify(stack.ports)}, ${stack.lanes.length} lanes, ${stack.localLanes.length} local lanes (${Date.now() - t0} ms)`);
    const lane0 = stack.lanes[0]!;
    const exchanges: Exchange[] = [];
    for (const port of o.ports) {
      const ex = port === 'control' ? await recordControl(stack, lane0) : port === 'local' ? await recordLocal(stack.localLanes[0]!, LOCAL_PIECES) : await recordVisit(stack, lane0, port);
      exchanges.push(ex);
      o.log(`recorded ${port}: up ${ex.bytes.up.length} B in messages [${ex.messages.up.join(', ')}], down ${ex.bytes.down.length} B in messages [${ex.messages.down.join(', ')}]`);
    }
    const startup = await signalRace(stack, lane0);
    for (const p of startup) o.log(`FAIL: ${p}`);
    const all = plan(exchanges, o);
    o.log(`${all.length} injections planned`);
    await held.open(stack.mainVisitorPort);

    const isStall = (i: Injection): boolean => i.fault.kind === 'stall';
    const queues = {
      work: all.filter((i) => i.port !== 'local' && !isStall(i)),
      stall: all.filter((i) => i.port !== 'local' && isStall(i)),
      local: all.filter((i) => i.port === 'local' && !isStall(i)),
      localStall: all.filter((i) => i.port === 'local' && isStall(i)),
    };
    const active = new Map<number, Result | Injection>();
    let finished = 0;
    let lastCheck = Date.now();
    let checkedAt = 0;
    const suspects = new Set<number>();
    const retried = new Set<number>();

    const check = async (): Promise<void> => {
      checks.run++;
      const now = Date.now();
      const sus = [...suspects, ...active.keys()].sort((a, b) => a - b);
      suspects.clear();
      const fail = (what: string): void => {
        checks.failures.push({ at: now, what, suspects: sus });
        o.log(`CHECK FAILED: ${what} (injections in flight since the last check: ${sus.join(', ')})`);
      };
      // A lane's own client is checked by the lane's injections, which know what hit it.
      const lanes = new Set(stack.lanes.map((l) => l.slotClient));
      for (const w of stack.longLived) {
        if (lanes.has(w)) continue;
        const died = await stack.revive(w);
        if (died) fail(died);
        if (w === stack.relay && !w.alive) aborted ??= `the relay died: ${w.evidence()}`;
        if (w === stack.mainVisitor && died) await held.open(stack.mainVisitorPort).catch((err: Error) => fail(`reopening the held stream failed: ${err.message}`));
        const r = { problems: [] as string[], warnings: [] as string[] };
        checkLines(w, r, o);
        for (const p of r.problems) fail(p);
        for (const p of r.warnings) o.log(`warning: ${p}`);
      }
      if (aborted) return;
      const e = await held.echo(10_000);
      if (e) {
        fail(`the stream held open since before the sweep no longer echoes: ${e}`);
        await held.open(stack.mainVisitorPort).catch((err: Error) => fail(`reopening the held stream failed: ${err.message}`));
      }
      const fresh = await probe(stack.mainVisitorPort, 10_000);
      if (!fresh.ok) fail(`a new stream through the long-lived visitor did not echo within 10 s`);
      lastCheck = Date.now();
    };

    const worker = async (queue: Injection[], run: (inj: Injection) => Promise<Result>): Promise<void> => {
      for (;;) {
        const inj = queue.shift();
        if (!inj) return;
        if (aborted || Date.now() - t0 > o.budgetMs) {
          skipped.push(inj);
          continue;
        }
        active.set(inj.id, inj);
        const r = await run(inj).catch((e: Error): Result => ({ inj, lane: '?', start: Date.now(), end: Date.now(), triggered: false, problems: [`harness error: ${e.stack ?? e.message}`], warnings: [] }));
        active.delete(inj.id);
        suspects.add(inj.id);
        if (r.inconclusive && !retried.has(inj.id)) {
          retried.add(inj.id);
          o.log(`inconclusive #${inj.id} ${describe(inj)}: ${r.inconclusive}; running it again later`);
          queue.push(inj);
          continue;
        }
        results.push(r);
        finished++;
        if (r.problems.length) o.log(`FAIL #${inj.id} ${describe(inj)}: ${r.problems.join('; ')}`);
        if (finished % 50 === 0) o.log(`${finished}/${all.length} injections done (${Math.round((Date.now() - t0) / 1000)} s)`);
      }
    };

    const workers: Promise<void>[] = [];
    stack.lanes.forEach((lane, k) => {
      const q = k < o.lanes ? queues.work : queues.stall;
      workers.push(worker(q, (inj) => (inj.port === 'control' ? injectControl(stack, lane, inj, o) : injectVisit(stack, lane, inj, o))));
    });
    workers.push(worker(queues.local, (inj) => injectLocal(stack, stack.localLanes[0]!, inj, o, LOCAL_PIECES)));
    workers.push(worker(queues.localStall, (inj) => injectLocal(stack, stack.localLanes[1]!, inj, o, LOCAL_PIECES)));
    let running = true;
    const monitor = (async () => {
      while (running) {
        await new Promise((r) => setTimeout(r, 250));
        if (finished - checkedAt >= o.checkEvery || Date.now() - lastCheck > 15_000) {
          checkedAt = finished;
          await check();
        }
      }
    })();
    await Promise.all(workers);
    running = false;
    await monitor;
    await check();
    const cpu = process.cpuUsage(cpu0);
    return { options: strip(o), exchanges, results, checks, skipped, startup, aborted, ms: Date.now() - t0, cpuS: (cpu.user + cpu.system) / 1e6 };
  } finally {
    held.close();
    await stack.stop();
  }
}

function strip(o: SweepOptions): Omit<SweepOptions, 'log'> {
  const { log: _log, ...rest } = o;
  return rest;
}

export function describe(inj: Injection): string {
  const f = inj.fault;
  const byte = f.byte === undefined ? '' : f.kind === 'insert' ? ` byte 0x${f.byte.toString(16).padStart(2, '0')}` : ` mask 0x${f.byte.toString(16).padStart(2, '0')}`;
  return `${inj.port} port, ${f.dir}, offset ${f.offset}, ${f.kind}${byte}`;
}

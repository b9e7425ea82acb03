/**
 * One injection: arm a fault on the right proxy, cause a fresh set-up through it, and check that the
 * roles recover. Nothing here knows the protocol: a fresh set-up is a new `tun client` (control
 * port), a new `tun visit` (visitor and tunnel ports) or a new app connection (local service).
 */
import { randomBytes } from 'node:crypto';
import { attempt, probe, sleep, type Attempt, type ProbeResult } from './app.js';
import type { PortName } from './exchange.js';
import type { Conn, Fault } from './proxy.js';
import { CLIENT_READY, VISIT_READY, type Lane, type LocalLane, type Stack } from './stack.js';
import { Watch } from './watch.js';

export interface Injection {
  id: number;
  port: PortName;
  fault: Fault;
}

export interface Result {
  inj: Injection;
  lane: string;
  start: number;
  end: number;
  /** False when the connection never reached the fault's offset (the exchange differed from the recording). */
  triggered: boolean;
  problems: string[];
  /** Non-log stderr lines while logs are checked leniently. */
  warnings: string[];
  recoverMs?: number;
  /** Stalls: when each end of the stalled connection closed it, ms after the stall began. */
  stallEnds?: { a?: number; b?: number };
  /** How the app connection the fault hit ended. */
  hit?: string;
  /** Why this run proved nothing either way (a process too slow to start): it is run once more. */
  inconclusive?: string;
}

export interface Timing {
  /** How long roles get to recover from a reset, FIN or garbage byte. */
  recoverMs: number;
  /** How long a stall lasts at most (past every role deadline). */
  stallMs: number;
  strictLogs: boolean;
}

/**
 * How long a fault may take to recover from. A stall, and a garbage byte (a corrupted length header
 * is a stall to the receiver, waiting for bytes that never come), may last until the roles'
 * longest deadline; a reset or a FIN gets `recoverMs`.
 */
function boundFor(kind: Fault['kind'], t: Timing): number {
  return kind === 'stall' || kind === 'insert' || kind === 'flip' ? t.stallMs : t.recoverMs;
}

/** How long a new tun process gets to print its ready line (the machine may be loaded). */
const READY_MS = 30_000;

function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(t));
}

function newResult(inj: Injection, lane: string): Result {
  return { inj, lane, start: Date.now(), end: 0, triggered: false, problems: [], warnings: [] };
}

/** Counts of attempt outcomes, e.g. "reset×2 echoed×1". */
function summarize(attempts: Attempt[]): string {
  const n = new Map<string, number>();
  for (const a of attempts) n.set(a.how, (n.get(a.how) ?? 0) + 1);
  return [...n].map(([k, v]) => `${k}×${v}`).join(' ');
}

/** Problems an app saw in its attempts: altered data, or a cut stream that looked complete. */
function attemptProblems(pr: ProbeResult, sent = 24): string[] {
  const out: string[] = [];
  for (const a of pr.attempts) {
    if (a.corrupt) out.push(`an app connection received altered data: ${a.corrupt}`);
    else if (a.how === 'end' && a.got > 0 && a.got < sent) out.push(`an app connection ended cleanly after ${a.got} of ${sent} bytes (a cut stream must be reset)`);
  }
  return out;
}

/** Checks an extra process after the injection: alive, stops cleanly, stderr only log lines. */
async function settleExtra(w: Watch, r: Result, t: Timing): Promise<void> {
  if (r.inconclusive && w.alive) {
    await w.stop(0);
    return;
  }
  if (!w.alive) {
    r.problems.push(`${w.name} died (${w.exitDescription}): ${w.evidence()}`);
    return;
  }
  // A SIGTERM in the first moments after the ready line kills a tun process (the signal handlers
  // are installed after that line is printed); the sweep reports that once (signalRace), not here.
  if (w.readyAt) await sleep(w.readyAt + 500 - Date.now());
  const code = await w.stop();
  if (code === 'killed') r.problems.push(`${w.name} did not exit within 4 s of SIGTERM (killed); its last lines: ${w.evidence(3)}`);
  else if (code !== 0) r.problems.push(`${w.name} ended with ${w.exitDescription} on SIGTERM: ${w.evidence()}`);
  checkLines(w, r, t);
}

export function checkLines(w: Watch, r: Pick<Result, 'problems' | 'warnings'>, t: Timing): void {
  const bad = w.takeBad();
  if (bad.length === 0) return;
  const text = `${w.name} wrote ${bad.length} non-log stderr line(s): ${bad
    .slice(0, 4)
    .map((l) => JSON.stringify(l.text.slice(0, 160)))
    .join(' | ')}`;
  if (t.strictLogs || bad.some((l) => l.kind === 'stack')) r.problems.push(text);
  else r.warnings.push(text);
}

/** The long-lived processes an injection could have hurt: each one that died is a problem of this injection (and is restarted). */
async function stake(stack: Stack, r: Result, watches: Watch[]): Promise<void> {
  for (const w of watches) {
    const what = await stack.revive(w);
    if (what) r.problems.push(what);
  }
}

/** Before a lane's injection: its own client must be up (it is restarted if an earlier injection killed it). */
async function laneReady(stack: Stack, lane: Lane, r: Result): Promise<boolean> {
  await stack.revive(lane.slotClient);
  if (!lane.slotClient.alive) r.inconclusive = `the lane's client ${lane.slotClient.name} could not be restarted`;
  return lane.slotClient.alive;
}

/** Marks a run whose fault never took effect and that found nothing wrong as inconclusive. */
function untriggered(r: Result): void {
  if (!r.triggered && r.problems.length === 0) r.inconclusive ??= 'the connection never reached the fault offset';
}

/**
 * Holds a stalled connection until the roles recovered and both ends closed it, or `ms` passed;
 * then resets it. A stall that no end closes is a hang.
 */
async function holdStall(conn: Conn, recovered: () => boolean, r: Result, ms: number, needEnds: boolean): Promise<void> {
  const t0 = Date.now();
  while (conn.triggered === undefined && Date.now() - t0 < READY_MS && !conn.closed) await within(conn.changed(), 200);
  const t = conn.triggered ?? Date.now();
  while (Date.now() - t < ms) {
    if (recovered() && (!needEnds || (conn.aEnded && conn.bEnded))) break;
    await within(conn.changed(), 200);
  }
  r.stallEnds = { a: conn.aEnded && conn.aEnded.at - t, b: conn.bEnded && conn.bEnded.at - t };
  if (needEnds && conn.triggered !== undefined && !conn.aEnded && !conn.bEnded) r.problems.push(`hang: neither end closed the stalled connection within ${ms} ms`);
  conn.release();
}

/**
 * SIGTERM right after the ready line, `runs` times for a `tun client` and a `tun visit`: each must
 * exit 0 (the CLI contract). Returns one problem per role that did not.
 */
export async function signalRace(stack: Stack, lane: Lane, runs = 4): Promise<string[]> {
  const roles: [string, string[], RegExp][] = [
    ['tun client', stack.clientArgs(lane.extraGate.host, lane.extraKey, [[lane.extraService, `127.0.0.1:${stack.echo.port}`]]), CLIENT_READY],
    ['tun visit', stack.visitArgs(lane.extraGate.host, stack.mainKey, lane.visitorKey, 'echo'), VISIT_READY],
  ];
  const out: string[] = [];
  for (const [name, args, ready] of roles) {
    const bad: string[] = [];
    for (let i = 0; i < runs; i++) {
      const w = new Watch(name, args, ready);
      await w.waitReady();
      const code = await w.stop();
      if (code !== 0) bad.push(code === 'killed' ? 'did not exit in 4 s' : w.exitDescription);
    }
    if (bad.length) out.push(`${name} sent SIGTERM right after its ready line: ${bad.length} of ${runs} did not exit 0 (${[...new Set(bad)].join(', ')}); the signal handlers seem to be installed only after the ready line is printed`);
  }
  return out;
}

export async function injectControl(stack: Stack, lane: Lane, inj: Injection, t: Timing): Promise<Result> {
  const r = newResult(inj, lane.id);
  if (!(await laneReady(stack, lane, r))) return r;
  const connP = lane.extraGate.control.arm(inj.fault);
  const w = new Watch(`extra client ${lane.extraService}`, stack.clientArgs(lane.extraGate.host, lane.extraKey, [[lane.extraService, `127.0.0.1:${stack.echo.port}`]]), CLIENT_READY);
  let conn: Conn | undefined;
  try {
    conn = await within(connP, READY_MS);
    if (!conn) {
      if (w.alive) r.inconclusive = `the extra client did not connect to the control port within ${READY_MS} ms`;
      else r.problems.push(`the extra client died before it connected: ${w.evidence()}`);
      return r;
    }
    const bound = boundFor(inj.fault.kind, t);
    let ready = false;
    const readyP = w.waitReady(bound + 2000).then(
      () => (ready = true),
      () => false,
    );
    if (inj.fault.kind === 'stall') await holdStall(conn, () => ready, r, t.stallMs, true);
    await readyP;
    r.triggered = conn.triggered !== undefined;
    if (ready) r.recoverMs = Date.now() - (conn.triggered ?? r.start);
    else if (w.alive) r.problems.push(`the extra client did not come online within ${bound} ms after the fault: ${w.evidence(3)}`);
    // (a client that exited is reported by settleExtra, with its last words)
  } finally {
    lane.extraGate.control.disarm();
    conn?.release();
    await settleExtra(w, r, t);
    await stake(stack, r, [stack.relay, lane.slotClient]);
    untriggered(r);
    r.end = Date.now();
  }
  return r;
}

export async function injectVisit(stack: Stack, lane: Lane, inj: Injection, t: Timing): Promise<Result> {
  const r = newResult(inj, lane.id);
  if (!(await laneReady(stack, lane, r))) return r;
  const proxy = inj.port === 'visitor' ? lane.extraGate.visitor : lane.slotGate.tunnel;
  const connP = proxy.arm(inj.fault);
  const [client, service] = inj.port === 'visitor' ? [stack.mainKey, 'echo'] : [lane.slotKey, lane.slotService];
  const w = new Watch(`extra visit ${service}`, stack.visitArgs(lane.extraGate.host, client, lane.visitorKey, service), VISIT_READY);
  let conn: Conn | undefined;
  try {
    const m = await w.waitReady(READY_MS).catch(() => undefined);
    if (!m) {
      if (w.alive) r.inconclusive = `the extra visit was not ready within ${READY_MS} ms`;
      else r.problems.push(`the extra visit died before it was ready: ${w.evidence()}`);
      return r;
    }
    const stall = inj.fault.kind === 'stall';
    const bound = boundFor(inj.fault.kind, t);
    let recovered = false;
    const target = inj.port === 'visitor' ? stack.mainClient : lane.slotClient;
    const probeP = probe(Number(m[1]), bound, () => (recovered = true), () => !w.alive || !target.alive || !stack.relay.alive);
    conn = await within(connP, READY_MS);
    if (conn && stall) await holdStall(conn, () => recovered, r, t.stallMs, true);
    const pr = await probeP;
    r.triggered = conn?.triggered !== undefined;
    r.hit = pr.attempts[0]?.how;
    if (pr.ok) r.recoverMs = pr.ms;
    else r.problems.push(`no app connection through the extra visit echoed within ${bound} ms after the fault (attempts: ${summarize(pr.attempts)})`);
    r.problems.push(...attemptProblems(pr));
  } finally {
    proxy.disarm();
    conn?.release();
    await settleExtra(w, r, t);
    await stake(stack, r, [stack.relay, lane.slotClient, ...(inj.port === 'visitor' ? [stack.mainClient] : [])]);
    untriggered(r);
    r.end = Date.now();
  }
  return r;
}

export async function injectLocal(stack: Stack, ll: LocalLane, inj: Injection, t: Timing, pieces: number[]): Promise<Result> {
  const r = newResult(inj, ll.id);
  const connP = ll.proxy.arm(inj.fault);
  const stall = inj.fault.kind === 'stall';
  const app = attempt(
    ll.port,
    pieces.map((n) => randomBytes(n)),
    t.recoverMs + (stall ? t.stallMs : 0),
    { gapMs: 100, end: true, stopOnEcho: false },
  );
  let conn: Conn | undefined;
  try {
    conn = await within(connP, READY_MS);
    if (!conn) {
      r.problems.push(`the client never connected to the local service within ${READY_MS} ms`);
      return r;
    }
    if (stall) {
      // No role has a deadline on a slow service; other streams must flow meanwhile.
      let ok = false;
      const side = probe(ll.port, t.stallMs, () => (ok = true));
      await holdStall(conn, () => ok, r, t.stallMs, false);
      if (!(await side).ok) r.problems.push(`while one connection to the local service stalled, no other app connection echoed within ${t.stallMs} ms`);
    }
    const out = await app.done;
    r.triggered = conn.triggered !== undefined;
    r.hit = out.how;
    const down = conn.bytes('down');
    if (out.how === 'timeout') r.problems.push(`the app connection did not end within ${t.recoverMs} ms after its local service connection was faulted (got ${out.got} bytes)`);
    if (!down.subarray(0, out.data.length).equals(out.data) || out.data.length > down.length) r.problems.push(`the app received bytes the local service never sent: service sent ${down.toString('hex')}, app got ${out.data.toString('hex')}`);
    else if ((inj.fault.kind === 'insert' || inj.fault.kind === 'flip') && (out.how === 'reset' || out.data.length !== down.length)) r.problems.push(`the app got ${out.data.length} of the ${down.length} bytes the local service sent, then ${out.how}`);
    const next = await probe(ll.port, t.recoverMs);
    if (next.ok) r.recoverMs = next.ms;
    else r.problems.push(`the next app connection did not echo within ${t.recoverMs} ms (attempts: ${summarize(next.attempts)})`);
    r.problems.push(...attemptProblems(next));
  } finally {
    ll.proxy.disarm();
    conn?.release();
    await stake(stack, r, [stack.mainClient, ll.visitor]);
    untriggered(r);
    r.end = Date.now();
  }
  return r;
}


/**
 * Recording: one clean set-up per port through the proxies, cut where the application starts
 * sending. The app connects, waits until the connection has been quiet for a moment, and only then
 * writes, so everything before that is set-up, whatever the protocol version says it is.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { attempt, sleep } from './app.js';
import { makeExchange, type Exchange } from './exchange.js';
import type { Chunk, Conn, FaultProxy } from './proxy.js';
import { CLIENT_READY, VISIT_READY, type Lane, type LocalLane, type Stack } from './stack.js';
import { Watch } from './watch.js';

const QUIET_MS = 600;

async function accepted(p: Promise<Conn>, ms: number, what: string): Promise<Conn> {
  let t: NodeJS.Timeout;
  const c = await Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(t));
  if (!c) throw new Error(`recording: no connection to the ${what} within ${ms} ms`);
  return c;
}

/** Waits until `conn` carried bytes both ways and then none for QUIET_MS; returns the chunks so far. */
async function quiet(conn: Conn, ms: number, what: string): Promise<Chunk[]> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (conn.seen.up > 0 && conn.seen.down > 0 && Date.now() - conn.lastByte >= QUIET_MS) return conn.chunks.slice();
    await sleep(50);
  }
  throw new Error(`recording: the ${what} connection did not settle within ${ms} ms (up ${conn.seen.up} B, down ${conn.seen.down} B)`);
}

async function stopped(w: Watch): Promise<void> {
  const alive = w.alive;
  const code = await w.stop();
  if (!alive || code !== 0) throw new Error(`recording: ${w.name} ${alive ? `exited ${code} on SIGTERM` : `died (${w.exitDescription})`}: ${w.evidence()}`);
}

export async function recordControl(stack: Stack, lane: Lane): Promise<Exchange> {
  const connP = lane.extraGate.control.arm(undefined, true);
  const w = new Watch('recording client', stack.clientArgs(lane.extraGate.host, lane.extraKey, [[lane.extraService, `127.0.0.1:${stack.echo.port}`]]), CLIENT_READY);
  try {
    await w.waitReady();
    const conn = await accepted(connP, 1000, 'control port');
    return makeExchange('control', await quiet(conn, 10_000, 'control'));
  } finally {
    lane.extraGate.control.disarm();
    await stopped(w);
  }
}

/** The visitor port (a new `tun visit` to the long-lived client) or the tunnel port (to the lane's client). */
export async function recordVisit(stack: Stack, lane: Lane, port: 'visitor' | 'tunnel'): Promise<Exchange> {
  const proxy: FaultProxy = port === 'visitor' ? lane.extraGate.visitor : lane.slotGate.tunnel;
  const connP = proxy.arm(undefined, true);
  const [client, service] = port === 'visitor' ? [stack.mainKey, 'echo'] : [lane.slotKey, lane.slotService];
  const w = new Watch('recording visit', stack.visitArgs(lane.extraGate.host, client, lane.visitorKey, service), VISIT_READY);
  try {
    const m = await w.waitReady();
    await sleep(QUIET_MS);
    const app = connect({ port: Number(m[1]), host: '127.0.0.1' });
    app.on('error', () => {});
    try {
      const conn = await accepted(connP, 10_000, `${port} port`);
      const chunks = await quiet(conn, 10_000, port);
      const payload = randomBytes(24);
      const back = new Promise<Buffer>((resolve) => {
        let got = Buffer.alloc(0);
        app.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length >= payload.length) resolve(got);
        });
        setTimeout(() => resolve(got), 10_000);
      });
      app.write(payload);
      const got = await back;
      if (!got.equals(payload)) throw new Error(`recording: the app connection through the ${port} port did not echo (${got.length} bytes back)`);
      return makeExchange(port, chunks);
    } finally {
      app.destroy();
    }
  } finally {
    proxy.disarm();
    await stopped(w);
  }
}

/** The local service: an app connection writing `pieces` 100 ms apart, then half-closing. */
export async function recordLocal(ll: LocalLane, pieces: number[]): Promise<Exchange> {
  const connP = ll.proxy.arm(undefined, true);
  try {
    const out = await attempt(
      ll.port,
      pieces.map((n) => randomBytes(n)),
      10_000,
      { gapMs: 100, end: true, stopOnEcho: false },
    ).done;
    if (out.how !== 'echoed') throw new Error(`recording: the app connection to the local service did not echo (${out.how}, ${out.got} bytes)`);
    const conn = await accepted(connP, 1000, 'local service');
    return makeExchange('local', conn.chunks.slice());
  } finally {
    ll.proxy.disarm();
  }
}

#!/usr/bin/env node
/**
 * A test agent run inside a namespace (`ip netns exec NS node agent.js`): the test sends it one
 * JSON command per line on stdin and gets one JSON answer per line on stdout ({id, ...} or
 * {id, failed}). It is the app side of tun (streams to the visitor's port, a service behind the
 * client) and the plain-tools side of the topology self-test (TCP and UDP probes across NATs).
 *
 * Service protocol (op "serve"): the first byte of a connection picks the mode.
 *   'E' echo the rest; 'S' sink: hash everything until EOF, answer the sha256 hex and end;
 *   'G' + 8-byte length + 16-byte seed: send that many bytes of AES-128-CTR keystream, then end.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import { drainOrClose } from '../../helpers/net.js';

type Cmd = Record<string, unknown> & { id: number; op: string };
type Answer = Record<string, unknown>;

const CHUNK = 256 * 1024;
const MAX_BYTES = 1024 * 1024 * 1024;

/** Deterministic bytes from a seed: AES-128-CTR over zeros, produced chunk by chunk. */
export class Keystream {
  readonly #cipher;
  readonly #zero = Buffer.alloc(CHUNK);
  constructor(seed: Buffer) {
    this.#cipher = createCipheriv('aes-128-ctr', seed.subarray(0, 16), Buffer.alloc(16));
  }
  next(n: number): Buffer {
    return this.#cipher.update(n === CHUNK ? this.#zero : this.#zero.subarray(0, n));
  }
}

function sha256Of(seed: Buffer, bytes: number): string {
  const ks = new Keystream(seed);
  const h = createHash('sha256');
  for (let left = bytes; left > 0; left -= CHUNK) h.update(ks.next(Math.min(CHUNK, left)));
  return h.digest('hex');
}

function dial(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, allowHalfOpen: true, noDelay: true });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Writes `bytes` of keystream with backpressure; stops early if the socket dies. */
async function pump(s: Socket, ks: Keystream, bytes: number, h?: ReturnType<typeof createHash>): Promise<void> {
  for (let left = bytes; left > 0 && !s.destroyed; left -= CHUNK) {
    const piece = ks.next(Math.min(CHUNK, left));
    h?.update(piece);
    if (!s.write(piece)) await drainOrClose(s);
  }
}

/** How a connection ended: 'end' (clean EOF), 'reset' (error or close without EOF) or 'timeout'. */
function ending(s: Socket, ms: number, onData?: (d: Buffer) => void): Promise<{ how: string; error?: string; at: number }> {
  return new Promise((resolve) => {
    let ended = false;
    let done = false;
    const finish = (how: string, error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolve({ how, error, at: Date.now() });
    };
    const t = setTimeout(() => {
      finish('timeout');
      s.destroy();
    }, ms);
    if (onData) s.on('data', onData);
    s.on('end', () => {
      ended = true;
      finish('end');
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish('reset', e.code ?? e.message));
    s.on('close', () => finish(ended ? 'end' : 'reset'));
  });
}

// ---- the service -------------------------------------------------------------------------------

function serveConnection(c: Socket): void {
  c.on('error', () => {});
  c.setNoDelay(true);
  c.once('data', (first: Buffer) => {
    const mode = String.fromCharCode(first[0]!);
    const rest = first.subarray(1);
    if (mode === 'E') {
      if (rest.length) c.write(rest);
      c.pipe(c);
    } else if (mode === 'S') {
      const h = createHash('sha256');
      h.update(rest);
      c.on('data', (d: Buffer) => h.update(d));
      c.on('end', () => c.end(h.digest('hex') + '\n'));
    } else if (mode === 'G') {
      let head = rest;
      const start = (): void => {
        const bytes = Number(head.readBigUInt64BE(0));
        if (bytes > MAX_BYTES) return void c.destroy();
        void pump(c, new Keystream(head.subarray(8, 24)), bytes).then(() => c.end());
      };
      if (head.length >= 24) return start();
      const more = (d: Buffer): void => {
        head = Buffer.concat([head, d]);
        if (head.length < 24) return;
        c.off('data', more);
        start();
      };
      c.on('data', more);
    } else {
      c.destroy();
    }
  });
}

async function serve(cmd: Cmd): Promise<Answer> {
  const srv = createServer({ allowHalfOpen: true, noDelay: true }, serveConnection);
  await new Promise<void>((r) => srv.listen(Number(cmd.port ?? 0), String(cmd.host ?? '127.0.0.1'), 1024, r));
  return { port: (srv.address() as AddressInfo).port };
}

// ---- app-side streams --------------------------------------------------------------------------

async function up(cmd: Cmd): Promise<Answer> {
  const bytes = Number(cmd.bytes);
  const t0 = performance.now();
  const s = await dial(String(cmd.host), Number(cmd.port), 10_000);
  let reply = '';
  const end = ending(s, Number(cmd.timeoutMs ?? 120_000), (d) => (reply += d.toString('latin1')));
  const h = createHash('sha256');
  s.write('S');
  await pump(s, new Keystream(Buffer.from(String(cmd.seed), 'hex')), bytes, h);
  if (!s.destroyed) s.end();
  const e = await end;
  return { ms: performance.now() - t0, how: e.how, error: e.error, sent: h.digest('hex'), got: reply.trim() };
}

async function down(cmd: Cmd): Promise<Answer> {
  const bytes = Number(cmd.bytes);
  const seed = Buffer.from(String(cmd.seed), 'hex');
  const t0 = performance.now();
  const s = await dial(String(cmd.host), Number(cmd.port), 10_000);
  const head = Buffer.alloc(25);
  head.write('G', 0, 'latin1');
  head.writeBigUInt64BE(BigInt(bytes), 1);
  seed.copy(head, 9);
  const h = createHash('sha256');
  let got = 0;
  let firstMs = -1;
  const end = ending(s, Number(cmd.timeoutMs ?? 120_000), (d) => {
    if (firstMs < 0) firstMs = performance.now() - t0;
    got += d.length;
    h.update(d);
  });
  s.end(head);
  const e = await end;
  return { ms: performance.now() - t0, firstMs, how: e.how, error: e.error, bytes: got, got: h.digest('hex'), expected: sha256Of(seed, bytes) };
}

async function echo(cmd: Cmd): Promise<Answer> {
  const bytes = Number(cmd.bytes ?? 1024);
  const t0 = performance.now();
  let s: Socket;
  try {
    s = await dial(String(cmd.host), Number(cmd.port), Number(cmd.timeoutMs ?? 10_000));
  } catch (e) {
    return { ok: false, how: 'connect-failed', error: (e as Error).message, ms: performance.now() - t0 };
  }
  const data = new Keystream(Buffer.from(String(cmd.seed ?? '00'.repeat(16)), 'hex')).next(Math.min(bytes, CHUNK));
  const chunks: Buffer[] = [];
  const end = ending(s, Number(cmd.timeoutMs ?? 10_000), (d) => chunks.push(d));
  s.end(Buffer.concat([Buffer.from('E'), data]));
  const e = await end;
  const back = Buffer.concat(chunks);
  return { ok: e.how === 'end' && back.equals(data), how: e.how, error: e.error, ms: performance.now() - t0, bytes: back.length };
}

/** n sequential new connections: connect, send 'E' + one byte, time to the first echoed byte. */
async function firstByte(cmd: Cmd): Promise<Answer> {
  const samples: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < Number(cmd.n ?? 1); i++) {
    const t0 = performance.now();
    try {
      const s = await dial(String(cmd.host), Number(cmd.port), Number(cmd.timeoutMs ?? 10_000));
      const ms = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no first byte')), Number(cmd.timeoutMs ?? 10_000));
        s.once('data', () => {
          clearTimeout(t);
          resolve(performance.now() - t0);
        });
        s.once('error', (e) => reject(e));
        s.write('Ex');
      });
      s.destroy();
      samples.push(ms);
    } catch (e) {
      failures.push((e as Error).message);
    }
    if (cmd.gapMs) await new Promise((r) => setTimeout(r, Number(cmd.gapMs)));
  }
  return { samples, failures };
}

interface Held {
  socket: Socket;
  pings: number;
  lastOk: number;
  how?: string;
  error?: string;
  endedAt?: number;
}
const held = new Map<number, Held>();

/** Opens an echo stream and keeps a 16-byte ping going every everyMs; its end is recorded. */
async function hold(cmd: Cmd): Promise<Answer> {
  const s = await dial(String(cmd.host), Number(cmd.port), 10_000);
  const h: Held = { socket: s, pings: 0, lastOk: Date.now() };
  held.set(cmd.id, h);
  let pending = 0;
  s.write('E');
  void ending(s, 3_600_000, (d) => {
    pending -= d.length;
    if (pending <= 0) {
      h.pings++;
      h.lastOk = Date.now();
    }
  }).then((e) => {
    h.how = e.how;
    h.error = e.error;
    h.endedAt = e.at;
    clearInterval(timer);
  });
  const timer = setInterval(() => {
    if (s.destroyed || pending > 0) return;
    pending = 16;
    s.write(Buffer.alloc(16, 0x61));
  }, Number(cmd.everyMs ?? 100));
  return { hid: cmd.id };
}

function heldStatus(cmd: Cmd): Answer {
  const h = held.get(Number(cmd.hid));
  if (!h) throw new Error(`no held stream ${String(cmd.hid)}`);
  return { open: h.how === undefined, how: h.how, error: h.error, endedAt: h.endedAt, pings: h.pings, lastOk: h.lastOk };
}

// ---- plain-tools probes for the topology self-test ---------------------------------------------

/** A TCP server that tells each caller the address it sees, then ends. */
async function tcpObserve(cmd: Cmd): Promise<Answer> {
  const srv = createServer((c) => {
    c.on('error', () => {});
    c.end(`${c.remoteAddress}:${c.remotePort}\n`);
  });
  await new Promise<void>((r) => srv.listen(Number(cmd.port ?? 0), String(cmd.host ?? '0.0.0.0'), r));
  return { port: (srv.address() as AddressInfo).port };
}

async function tcpAsk(cmd: Cmd): Promise<Answer> {
  try {
    const s = await dial(String(cmd.host), Number(cmd.port), Number(cmd.timeoutMs ?? 3000));
    let text = '';
    const e = await ending(s, Number(cmd.timeoutMs ?? 3000), (d) => (text += d.toString()));
    return { ok: e.how === 'end', text: text.trim() };
  } catch (e) {
    return { ok: false, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}

interface Udp {
  socket: UdpSocket;
  got: { from: string; text: string }[];
}
const udps = new Map<number, Udp>();

/** Binds a UDP socket; with observe: true it answers every datagram with the sender's address. */
async function udpBind(cmd: Cmd): Promise<Answer> {
  const socket = createSocket('udp4');
  const u: Udp = { socket, got: [] };
  socket.on('message', (m, r) => {
    const from = `${r.address}:${r.port}`;
    u.got.push({ from, text: m.toString() });
    if (cmd.observe) socket.send(`${from}`, r.port, r.address);
  });
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.bind(Number(cmd.port ?? 0), String(cmd.host ?? '0.0.0.0'), r));
  udps.set(cmd.id, u);
  return { sid: cmd.id, port: socket.address().port };
}

function udpOf(cmd: Cmd): Udp {
  const u = udps.get(Number(cmd.sid));
  if (!u) throw new Error(`no UDP socket ${String(cmd.sid)}`);
  return u;
}

async function udpSend(cmd: Cmd): Promise<Answer> {
  const u = udpOf(cmd);
  const count = Math.min(Number(cmd.count ?? 1), 1000);
  for (let i = 0; i < count; i++) {
    await new Promise<void>((r) => u.socket.send(String(cmd.text ?? 'x'), Number(cmd.port), String(cmd.host), () => r()));
    if (i + 1 < count) await new Promise((r) => setTimeout(r, Number(cmd.everyMs ?? 50)));
  }
  return { sent: count };
}

function udpRecv(cmd: Cmd): Answer {
  return { got: udpOf(cmd).got };
}

/** GET http://host:port/path; answers the status and the body (for a daemon's /metrics). */
function httpGet(cmd: Cmd): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get({ host: String(cmd.host), port: Number(cmd.port), path: String(cmd.path ?? '/'), timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

const ops: Record<string, (c: Cmd) => Promise<Answer> | Answer> = {
  serve, up, down, echo, firstbyte: firstByte, hold, held: heldStatus,
  'http-get': httpGet, 'tcp-observe': tcpObserve, 'tcp-ask': tcpAsk, 'udp-bind': udpBind, 'udp-send': udpSend, 'udp-recv': udpRecv,
};

createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd: Cmd;
  try {
    cmd = JSON.parse(line) as Cmd;
  } catch {
    return;
  }
  const op = ops[cmd.op];
  Promise.resolve()
    .then(() => {
      if (!op) throw new Error(`unknown op ${cmd.op}`);
      return op(cmd);
    })
    .then(
      (a) => process.stdout.write(JSON.stringify({ id: cmd.id, ...a }) + '\n'),
      (e: Error) => process.stdout.write(JSON.stringify({ id: cmd.id, failed: e.message }) + '\n'),
    );
}).on('close', () => process.exit(0));
process.stdout.write('agent ready\n');

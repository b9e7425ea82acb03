/** Test-side sockets: an echo service, connections that collect what they receive, and proxies. */
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export function listenOn(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The kernel's ephemeral range: outgoing connections take their local ports from it. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/**
 * A port nothing listens on right now (bound and released), for a process to bind later. It comes
 * from below the ephemeral range, so the outgoing connections of tests running meanwhile cannot
 * take it (a port the kernel picked for us could be handed to one of them: EADDRINUSE later).
 */
export async function freePort(): Promise<number> {
  const high = Math.min(ephemeralLow(), 65536);
  for (let i = 0; i < 50 && high > 20_000; i++) {
    const port = 20_000 + Math.floor(Math.random() * (high - 20_000));
    const srv = createServer();
    const ok = await listenOn(srv, port).then(() => true, () => false);
    if (ok) {
      await close(srv);
      return port;
    }
  }
  const srv = createServer();
  const port = await listenOn(srv);
  await close(srv);
  return port;
}

/** Echoes bytes and half-close (ends its write side when the peer ends). Records how each connection ended. */
function tracked(server: Server): Set<Socket> {
  const set = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    set.add(s);
    s.once('close', () => set.delete(s));
  });
  return set;
}

export interface EchoConnection {
  chunks: Buffer[];
  /** How the peer ended it: clean 'end', 'reset', or undefined while open. */
  how?: 'end' | 'reset';
}

/** Echoes bytes and half-close (ends its write side when the peer ends). Records how each connection ended. */
export class EchoService {
  readonly server: Server;
  readonly connections: EchoConnection[] = [];
  readonly #sockets: Set<Socket>;
  port = 0;
  constructor() {
    this.server = createServer({ allowHalfOpen: true }, (s) => {
      const c: EchoConnection = { chunks: [] };
      this.connections.push(c);
      s.on('data', (d: Buffer) => c.chunks.push(d));
      s.pipe(s);
      s.on('error', () => (c.how ??= 'reset'));
      s.on('end', () => (c.how ??= 'end'));
      s.on('close', () => (c.how ??= 'reset'));
    });
    this.#sockets = tracked(this.server);
  }
  /** What each connection sent, in accept order. */
  get received(): Buffer[] {
    return this.connections.map((c) => Buffer.concat(c.chunks));
  }
  async start(): Promise<this> {
    this.port = await listenOn(this.server);
    return this;
  }
  stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return close(this.server);
  }
}

export interface Outcome {
  data: Buffer;
  /** 'end' for a clean EOF, 'reset' for ECONNRESET (or another socket error), 'timeout'. */
  how: 'end' | 'reset' | 'timeout';
  error?: string;
}

export function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * Collects everything `s` receives until it ends, errors, or `ms` passes.
 *
 * A reset that arrives while this side is still writing can surface as EOF on the read side (the
 * kernel hands ECONNRESET to the write instead). So on EOF with our write side still open, a probe
 * byte is written: a peer that half-closed cleanly accepts it, a reset connection fails it.
 */
export function collect(s: Socket, ms = 20_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    let ended = false;
    const finish = (how: Outcome['how'], error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolve({ data: Buffer.concat(chunks), how, error });
    };
    const t = setTimeout(() => {
      finish('timeout');
      s.destroy();
    }, ms);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      ended = true;
      if (s.writableEnded) return finish('end');
      s.write('?');
      setTimeout(() => finish('end'), 500);
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish('reset', e.code ?? e.message));
    s.on('close', (hadError) => finish(hadError || !ended ? 'reset' : 'end', hadError ? 'error' : undefined));
  });
}

/** Writes `data` in pieces with backpressure, then ends the write side (unless `end` is false). */
export async function send(s: Socket, data: Buffer, end = true): Promise<void> {
  const piece = 256 * 1024;
  for (let off = 0; off < data.length; off += piece) {
    if (s.destroyed) return;
    if (!s.write(data.subarray(off, off + piece))) await drainOrClose(s);
  }
  if (end && !s.destroyed) s.end();
}

/** Resolves when `s` drains or closes (whichever comes first). */
export function drainOrClose(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

export type Direction = 'up' | 'down';

/**
 * A TCP proxy in front of a target port. `tamper` sees every chunk per direction with the byte
 * offset it starts at and returns what to forward ('cut' ends both sides cleanly with FIN).
 */
export class Proxy {
  readonly server: Server;
  readonly #sockets: Set<Socket>;
  readonly recorded: Record<Direction, Buffer[]> = { up: [], down: [] };
  port = 0;
  constructor(target: number, tamper?: (dir: Direction, chunk: Buffer, offset: number) => Buffer | 'cut') {
    this.server = createServer({ allowHalfOpen: true }, (a) => {
      const b = connect({ port: target, host: '127.0.0.1', allowHalfOpen: true });
      const offsets: Record<Direction, number> = { up: 0, down: 0 };
      const wire = (from: Socket, to: Socket, dir: Direction): void => {
        from.on('data', (chunk: Buffer) => {
          this.recorded[dir].push(Buffer.from(chunk));
          const out = tamper ? tamper(dir, chunk, offsets[dir]) : chunk;
          offsets[dir] += chunk.length;
          if (out === 'cut') {
            a.end();
            b.end();
            a.pause();
            b.pause();
            return;
          }
          if (!to.write(out)) {
            from.pause();
            to.once('drain', () => from.resume());
          }
        });
        from.on('end', () => to.end());
        from.on('error', () => to.destroy());
        from.on('close', () => setTimeout(() => to.destroy(), 100));
      };
      wire(a, b, 'up');
      wire(b, a, 'down');
    });
    this.#sockets = tracked(this.server);
  }
  async start(): Promise<this> {
    this.port = await listenOn(this.server);
    return this;
  }
  all(dir: Direction): Buffer {
    return Buffer.concat(this.recorded[dir]);
  }
  stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return close(this.server);
  }
}

/** Opens a connection to `port`, sends `data`, shuts the write side and collects the answer. */
export async function roundTrip(port: number, data: Buffer): Promise<Outcome> {
  const s = await dial(port);
  const out = collect(s);
  await send(s, data);
  return out;
}

/** Polls `cond` every 20 ms; throws when it is still false after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

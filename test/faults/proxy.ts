/**
 * A fault-injecting TCP proxy. It listens on one address and forwards every connection to a target
 * port on 127.0.0.1. Each accepted connection takes the next armed plan (or forwards cleanly) and
 * keeps a record of what it saw, so the sweep can both record a clean exchange and fault one
 * connection at an exact byte offset without knowing anything about the protocol on it.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export type Dir = 'up' | 'down';
export type Kind = 'reset' | 'fin' | 'stall' | 'insert' | 'flip';

export interface Fault {
  kind: Kind;
  dir: Dir;
  /** Byte offset in `dir`: the fault happens before the byte at this offset is forwarded. */
  offset: number;
  /** insert: the byte inserted; flip: the XOR mask (non-zero). */
  byte?: number;
}

export interface Chunk {
  dir: Dir;
  at: number;
  data: Buffer;
}

/** How one side of a proxied connection ended, as the proxy saw it. */
export type Ending = { how: 'end' | 'reset' | 'close'; at: number };

/** One proxied connection: the plan it got, what happened, and (when recording) every chunk. */
export class Conn {
  readonly opened = Date.now();
  readonly chunks: Chunk[] = [];
  readonly forwarded: Record<Dir, Buffer[]> = { up: [], down: [] };
  readonly seen: Record<Dir, number> = { up: 0, down: 0 };
  /** When the fault took effect (ms epoch), undefined while it has not. */
  triggered?: number;
  /** The ends of the visitor/client side (`a`) and the relay/service side (`b`). */
  aEnded?: Ending;
  bEnded?: Ending;
  lastByte = Date.now();
  #a: Socket;
  #b: Socket;
  #stalled = false;
  #cut = false;
  #onChange: (() => void)[] = [];

  constructor(a: Socket, target: number, readonly fault: Fault | undefined, readonly record: boolean) {
    this.#a = a;
    this.#b = connect({ port: target, host: '127.0.0.1', allowHalfOpen: true });
    this.#wire(this.#a, this.#b, 'up');
    this.#wire(this.#b, this.#a, 'down');
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** Calls `f` once both sockets are closed. */
  onClose(f: () => void): void {
    let n = 0;
    const one = (): void => {
      if (++n === 2) f();
    };
    this.#a.once('close', one);
    this.#b.once('close', one);
  }

  get closed(): boolean {
    return this.#a.destroyed && this.#b.destroyed;
  }

  /** Resolves on the next event (bytes, an end, the fault); for pollers. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#onChange.push(resolve));
  }

  /** Ends a stall (or anything else): both sides are reset. */
  release(): void {
    this.#stalled = false;
    this.#cut = true;
    this.#a.resetAndDestroy();
    this.#b.resetAndDestroy();
  }

  destroy(): void {
    this.#a.destroy();
    this.#b.destroy();
  }

  bytes(dir: Dir): Buffer {
    return Buffer.concat(this.forwarded[dir]);
  }

  #notify(): void {
    const w = this.#onChange;
    this.#onChange = [];
    for (const f of w) f();
  }

  #wire(from: Socket, to: Socket, dir: Dir): void {
    from.on('data', (chunk: Buffer) => this.#data(from, to, dir, chunk));
    const ended = (how: Ending['how']): void => {
      const e = { how, at: Date.now() };
      if (from === this.#a) this.aEnded ??= e;
      else this.bEnded ??= e;
      this.#notify();
    };
    from.on('end', () => {
      ended('end');
      if (!this.#stalled && !this.#cut) to.end();
    });
    from.on('error', () => {
      ended('reset');
      if (!this.#stalled && !this.#cut) to.resetAndDestroy();
    });
    from.on('close', () => {
      ended('close');
      if (!this.#stalled && !this.#cut) setTimeout(() => to.destroy(), 200);
    });
  }

  #data(from: Socket, to: Socket, dir: Dir, chunk: Buffer): void {
    const start = this.seen[dir];
    this.seen[dir] += chunk.length;
    this.lastByte = Date.now();
    if (this.record) this.chunks.push({ dir, at: Date.now(), data: Buffer.from(chunk) });
    if (this.#stalled || this.#cut) return this.#notify();
    const f = this.fault;
    if (!f || this.triggered !== undefined || f.dir !== dir || start + chunk.length <= f.offset) {
      this.#forward(from, to, dir, chunk);
      return this.#notify();
    }
    this.triggered = Date.now();
    const k = f.offset - start;
    const before = chunk.subarray(0, k);
    const rest = chunk.subarray(k);
    switch (f.kind) {
      case 'insert':
        this.#forward(from, to, dir, Buffer.concat([before, Buffer.from([f.byte!]), rest]));
        break;
      case 'flip': {
        const out = Buffer.from(chunk);
        out[k] = out[k]! ^ f.byte!;
        this.#forward(from, to, dir, out);
        break;
      }
      case 'stall':
        if (before.length) this.#forward(from, to, dir, before);
        this.#stalled = true;
        break;
      case 'reset':
        this.#cut = true;
        this.#writeThen(to, dir, before, () => {
          this.#a.resetAndDestroy();
          this.#b.resetAndDestroy();
        });
        break;
      case 'fin':
        this.#cut = true;
        this.#writeThen(to, dir, before, () => {
          // FIN both ways; keep reading (and dropping) so the kernel does not turn close into RST.
          this.#a.end();
          this.#b.end();
          setTimeout(() => this.destroy(), 2000);
        });
        break;
    }
    this.#notify();
  }

  #forward(from: Socket, to: Socket, dir: Dir, data: Buffer): void {
    this.forwarded[dir].push(Buffer.from(data));
    if (!to.write(data)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  }

  #writeThen(to: Socket, dir: Dir, data: Buffer, then: () => void): void {
    if (data.length === 0) return then();
    this.forwarded[dir].push(Buffer.from(data));
    to.write(data, () => then());
  }
}

/** A listener on `host:port` that forwards to `127.0.0.1:target`, faulting connections as armed. */
export class FaultProxy {
  readonly server: Server;
  readonly #live = new Set<Conn>();
  readonly #plans: { fault?: Fault; record: boolean; take: (c: Conn) => void }[] = [];
  port = 0;

  constructor(readonly host: string, readonly target: number) {
    this.server = createServer({ allowHalfOpen: true }, (a) => {
      a.on('error', () => {});
      const plan = this.#plans.shift();
      const c = new Conn(a, this.target, plan?.fault, plan?.record ?? false);
      this.#live.add(c);
      c.onClose(() => this.#live.delete(c));
      plan?.take(c);
    });
  }

  /** The next connection accepted gets `fault` (or is recorded); resolves with it once accepted. */
  arm(fault: Fault | undefined, record = false): Promise<Conn> {
    return new Promise((take) => this.#plans.push({ fault, record, take }));
  }

  /** Drops plans nobody connected for (the caller gave up); their promises never resolve. */
  disarm(): void {
    this.#plans.length = 0;
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    for (const c of this.#live) c.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

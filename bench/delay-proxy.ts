/**
 * A userspace delay proxy (netem is not available): every byte, and each end of stream, reaches
 * the other side `delayMs` after it arrived, in order, in both directions. The upstream connection
 * is opened `delayMs` after accept, as a SYN would arrive one link delay later. What it cannot do:
 * the kernel completes the client's own TCP handshake at once, so a WAN connect() round trip is
 * not included.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** Bytes waiting in one direction before the source is paused (bounded memory). */
const HIGH_WATER = 4 * 1024 * 1024;

type Item = { due: number; chunk: Buffer } | { due: number; end: true } | { due: number; close: true };

/**
 * One direction of one connection: a FIFO of delayed chunks written to `target()` when due, then
 * the end of stream, then the source's close (which resets the target only if it was not ended
 * cleanly first). `target()` is undefined while not dialled yet, null once it never will be.
 */
class DelayLine {
  readonly #queue: Item[] = [];
  #head = 0;
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #awaitingDrain = false;

  constructor(readonly source: Socket, readonly target: () => Socket | undefined | null, readonly delayMs: number) {
    source.on('data', (chunk: Buffer) => this.#push({ due: performance.now() + delayMs, chunk }));
    source.on('end', () => this.#push({ due: performance.now() + delayMs, end: true }));
    source.on('close', () => this.#push({ due: performance.now() + delayMs, close: true }));
  }

  #push(item: Item): void {
    this.#queue.push(item);
    if ('chunk' in item) this.#queued += item.chunk.length;
    if (this.#queued + (this.target()?.writableLength ?? 0) > HIGH_WATER) this.source.pause();
    this.#schedule();
  }

  #schedule(): void {
    const next = this.#queue[this.#head];
    if (this.#timer || !next) return;
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, next.due - performance.now()));
  }

  #flush(): void {
    this.#timer = undefined;
    const to = this.target();
    if (to === null) {
      this.#queue.length = this.#head = 0; // never dialled: nothing will be delivered
      return;
    }
    if (to === undefined) {
      this.#timer = setTimeout(() => this.#flush(), 1);
      return;
    }
    const now = performance.now();
    for (let item = this.#queue[this.#head]; item && item.due <= now + 0.5; item = this.#queue[this.#head]) {
      this.#head++;
      if ('end' in item) to.end();
      else if ('close' in item) {
        if (!to.writableEnded) to.destroy();
      } else {
        this.#queued -= item.chunk.length;
        to.write(item.chunk);
      }
    }
    if (this.#head > 1024) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    this.#maybeResume(to);
    this.#schedule();
  }

  #maybeResume(to: Socket): void {
    if (!this.source.isPaused() || this.#queued > HIGH_WATER / 2 || this.#awaitingDrain) return;
    if (to.writableLength <= HIGH_WATER / 2) return void this.source.resume();
    this.#awaitingDrain = true;
    to.once('drain', () => {
      this.#awaitingDrain = false;
      this.#maybeResume(to);
    });
  }
}

export interface DelayRoute {
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
}

export class DelayProxy {
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  constructor(readonly delayMs: number) {}

  /** Listens on the route's address; resolves with the port it got (useful with port 0). */
  add(route: DelayRoute): Promise<number> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (a) => this.#join(a, route));
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: route.listenPort, host: route.listenHost, backlog: 4096 }, () => resolve((server.address() as AddressInfo).port));
    });
  }

  #join(a: Socket, route: DelayRoute): void {
    let b: Socket | undefined | null;
    this.#track(a);
    a.setNoDelay(true);
    new DelayLine(a, () => b, this.delayMs);
    const dial = setTimeout(() => {
      b = connect({ port: route.targetPort, host: route.targetHost, allowHalfOpen: true });
      this.#track(b);
      b.setNoDelay(true);
      new DelayLine(b, () => a, this.delayMs);
    }, this.delayMs);
    a.once('close', () => {
      if (b === undefined) {
        clearTimeout(dial);
        b = null;
      }
    });
  }

  #track(s: Socket): void {
    this.#sockets.add(s);
    s.on('error', () => s.destroy());
    s.once('close', () => this.#sockets.delete(s));
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return Promise.all(this.#servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {});
  }
}

/**
 * Streams inside one session, with per-stream credit windows (as ssh channels, yamux and HTTP/2
 * do). The Mux knows nothing of crypto or of the path: it takes plaintext frames in (`receive`)
 * and hands plaintext frames to a sink (`FrameSink.send`), so the same code runs over an
 * encrypted relay join, a direct path, or a plain socket in a benchmark.
 *
 * Flow control: a sender may have at most `window` bytes of DATA unacknowledged per stream; the
 * receiver returns credit (WINDOW) only for bytes its application accepted without backpressure.
 * So a stalled application stalls only its own stream and holds at most one window in memory; the
 * session's socket is always read, and every other stream keeps its speed.
 */
import type { Socket } from 'node:net';
import { TunError } from '../errors.js';
import type { Logger } from '../log.js';
import { reset } from '../net/socket.js';
import { DATA_MAX, FrameKind, MAX_STREAM_ID, decodeFrame, encode, type SessionFrame } from './frames.js';

/** Credit each side has on a new stream before any WINDOW frame (protocol constant). */
export const INITIAL_WINDOW = 64 * 1024;
/** Bytes of DATA per frame we send: one 32 KiB wire frame (measured faster than 64 KiB ones). */
export const DATA_SEND_MAX = Math.min(DATA_MAX, 32 * 1024 - 5 - 16 - 2);

export interface MuxLimits {
  /** Streams open at once in one session; an OPEN beyond it is refused with `busy`. */
  maxStreams: number;
  /** Receive windows are sized so that all streams' windows together stay near this... */
  sessionBudget: number;
  /** ...each between INITIAL_WINDOW and this. */
  maxWindow: number;
  /** Send PING after this long without sending; close after 3x this without receiving. */
  keepaliveMs: number;
}

export const DEFAULT_MUX_LIMITS: MuxLimits = {
  maxStreams: 8192,
  sessionBudget: 32 * 1024 * 1024,
  maxWindow: 8 * 1024 * 1024,
  keepaliveMs: envMs(process.env.TUN_SESSION_KEEPALIVE_MS) ?? 15_000,
};

function envMs(v: string | undefined): number | undefined {
  const n = Number(v);
  return v && Number.isInteger(n) && n >= 100 ? n : undefined;
}

/** A new stream on a session silent for this long first probes it with a PING... */
const PROBE_AFTER_QUIET_MS = 1000;
/** ...and a PING unanswered (no frame at all) for this long (or the keepalive, if shorter) ends the session. */
const PROBE_TIMEOUT_MS = 10_000;

export interface FrameSink {
  /**
   * Sends one plaintext frame — `frame`, or `frame` then `body` (a DATA head and its bytes, kept
   * apart so they are never copied into one buffer); false when the path is above its high-water mark.
   */
  send(frame: Buffer, body?: Buffer): boolean;
  /** Runs `fn`, whose sends may leave in one write to the path (a corked batch). */
  batch?(fn: () => void): void;
}

export interface MuxOptions {
  /** Only the visitor opens streams; the client answers them. */
  role: 'visitor' | 'client';
  sink: FrameSink;
  log: Logger;
  /** Client: a stream the visitor opened; call accept() or refuse() on it. */
  onOpen?: (stream: MuxStream, service: string) => void;
  /** Once, when the session ends for any reason (streams have been reset by then). */
  onClose: (reason: TunError) => void;
  limits?: Partial<MuxLimits>;
}

export type StreamEnd = { ok: true } | { ok: false; code: string; message: string; remote: boolean };

export class Mux {
  readonly limits: MuxLimits;
  readonly #o: MuxOptions;
  readonly #streams = new Map<number, MuxStream>();
  /** Streams paused because the path is congested; resumed on drain. */
  readonly #waitingForPath = new Set<MuxStream>();
  #nextId = 1;
  #lastOpened = 0;
  #congested = false;
  #closed: TunError | undefined;
  #lastSent = Date.now();
  #lastReceived = Date.now();
  /** When our oldest unanswered PING went out: any frame from the peer answers it. */
  #probeSentAt: number | undefined;
  readonly #timer: NodeJS.Timeout;
  /** Counters for logs and tests. */
  readonly stats = { opened: 0, refused: 0, bytesIn: 0, bytesOut: 0 };

  constructor(options: MuxOptions) {
    this.#o = options;
    this.limits = { ...DEFAULT_MUX_LIMITS, ...options.limits };
    const tick = Math.max(50, Math.floor(this.limits.keepaliveMs / 3));
    this.#timer = setInterval(() => this.#tick(), tick);
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  get congested(): boolean {
    return this.#congested;
  }

  /** Visitor: opens a stream to `service` and bridges `app` to it. Data may flow at once (0-RTT). */
  open(service: string, app: Socket, onEnd?: (end: StreamEnd) => void): MuxStream {
    if (this.#o.role !== 'visitor') throw new TunError('PROTOCOL_VIOLATION', 'only the visitor opens streams');
    if (this.#closed) throw this.#closed;
    if (this.#nextId > MAX_STREAM_ID) throw new TunError('BUSY', 'this session has used every stream id; it must be reopened');
    const stream = new MuxStream(this, this.#nextId++, onEnd);
    this.#streams.set(stream.id, stream);
    this.stats.opened++;
    this.sendFrame(encode.open(stream.id, service));
    // A session quiet for a while may be dead (a relay that stopped forwarding, a path that
    // stalled mid-frame): probe it, so a new stream finds out within the probe timeout.
    if (Date.now() - this.#lastReceived > PROBE_AFTER_QUIET_MS) this.ping();
    stream.attach(app);
    return stream;
  }

  /** One decrypted frame from the peer. Throws on a protocol violation: the caller closes the session. */
  receive(plain: Buffer): void {
    if (this.#closed) return;
    this.#lastReceived = Date.now();
    this.#probeSentAt = undefined;
    const f = decodeFrame(plain);
    if (f.id === 0) return this.#sessionFrame(f);
    if (f.kind === FrameKind.OPEN) return this.#opened(f.id, f.service);
    const stream = this.#streams.get(f.id);
    if (!stream) {
      // Late frames for a stream we already closed are normal; frames for ids never opened are not.
      if (f.id > (this.#o.role === 'visitor' ? this.#nextId - 1 : this.#lastOpened)) throw new TunError('PROTOCOL_VIOLATION', `frame for stream ${f.id}, which was never opened`);
      return;
    }
    stream.frame(f);
  }

  /** The path drained: streams paused for it go on. */
  drained(): void {
    this.#congested = false;
    for (const s of this.#waitingForPath) {
      this.#waitingForPath.delete(s);
      s.pathDrained();
      if (this.#congested) break;
    }
  }

  /** Ends the session with an authenticated CLOSE, then aborts every stream. */
  close(code: string, message: string): void {
    if (this.#closed) return;
    try {
      this.sendFrame(encode.close(code, message));
    } catch {
      /* the path may be gone */
    }
    this.abort(new TunError(code === 'timeout' ? 'TIMEOUT' : code === 'protocol_violation' ? 'PROTOCOL_VIOLATION' : 'SESSION_CLOSED', message));
  }

  /** The session is over (path lost, failed authentication, our own close): every open stream's application sees a reset. */
  abort(reason: TunError): void {
    if (this.#closed) return;
    this.#closed = reason;
    clearInterval(this.#timer);
    for (const s of [...this.#streams.values()]) s.fail(reasonCode(reason), reason.message, false, false);
    this.#streams.clear();
    this.#waitingForPath.clear();
    this.#o.onClose(reason);
  }

  // ---- used by MuxStream ----------------------------------------------------------------------

  sendFrame(frame: Buffer, body?: Buffer): boolean {
    if (this.#closed) return false;
    this.#lastSent = Date.now();
    const ok = this.#o.sink.send(frame, body);
    if (!ok) this.#congested = true;
    return ok;
  }

  /** Runs `fn` with the path corked when the sink can batch, so its frames leave in one write. */
  batch(fn: () => void): void {
    if (this.#o.sink.batch) this.#o.sink.batch(fn);
    else fn();
  }

  waitForPath(stream: MuxStream): void {
    this.#waitingForPath.add(stream);
  }

  forget(stream: MuxStream): void {
    this.#streams.delete(stream.id);
    this.#waitingForPath.delete(stream);
  }

  /** The receive window a stream should have now: the budget shared out, within bounds. */
  targetWindow(): number {
    const share = Math.floor(this.limits.sessionBudget / Math.max(1, this.#streams.size));
    return Math.max(INITIAL_WINDOW, Math.min(this.limits.maxWindow, share));
  }

  get log(): Logger {
    return this.#o.log;
  }

  // ---- private --------------------------------------------------------------------------------

  #opened(id: number, service: string): void {
    if (this.#o.role !== 'client') throw new TunError('PROTOCOL_VIOLATION', 'the client sent OPEN');
    if (id <= this.#lastOpened) throw new TunError('PROTOCOL_VIOLATION', `OPEN for stream ${id}, not above the last one (${this.#lastOpened})`);
    this.#lastOpened = id;
    const stream = new MuxStream(this, id);
    if (this.#streams.size >= this.limits.maxStreams) {
      this.stats.refused++;
      this.#o.log.rateLimited('warn', 'mux-max-streams', `a visitor has ${this.#streams.size} streams open in one session; refusing more`, 5000);
      this.sendFrame(encode.reset(id, 'busy', `at most ${this.limits.maxStreams} streams per session`));
      return;
    }
    this.#streams.set(id, stream);
    this.stats.opened++;
    this.#o.onOpen?.(stream, service);
  }

  #sessionFrame(f: SessionFrame): void {
    switch (f.kind) {
      case FrameKind.PING:
        this.sendFrame(encode.pong(f.data));
        return;
      case FrameKind.PONG:
      case FrameKind.REKEY: // handled below us, by the cipher layer
        return;
      case FrameKind.CLOSE:
        this.abort(new TunError(f.error.code === 'version_mismatch' ? 'VERSION_MISMATCH' : 'SESSION_CLOSED', `the peer closed the session: ${f.error.code}${f.error.message ? ` (${f.error.message})` : ''}`));
        return;
      default:
        throw new TunError('PROTOCOL_VIOLATION', `frame kind ${f.kind} on stream 0`);
    }
  }

  #tick(): void {
    const now = Date.now();
    const k = this.limits.keepaliveMs;
    if (now - this.#lastReceived > 3 * k) {
      this.close('timeout', `nothing arrived in the session for ${(3 * k) / 1000} s (the relay or the network stopped forwarding)`);
      return;
    }
    const probeMs = Math.min(PROBE_TIMEOUT_MS, k);
    if (this.#probeSentAt !== undefined && now - this.#probeSentAt > probeMs) {
      this.close('timeout', `no answer to a keepalive probe within ${probeMs / 1000} s (the relay or the network stopped forwarding)`);
      return;
    }
    if (now - this.#lastSent >= k) this.ping();
  }

  ping(): void {
    this.#probeSentAt ??= Date.now();
    const data = Buffer.allocUnsafe(8);
    data.writeDoubleBE(Date.now());
    this.sendFrame(encode.ping(data));
  }
}

function reasonCode(reason: TunError): string {
  return reason.code === 'TIMEOUT' ? 'timeout' : reason.code === 'DECRYPT_FAILED' ? 'tampered' : 'session_lost';
}

/**
 * One stream: a credit window each way, bridged to an application socket (visitor: the app
 * connection; client: the local service connection, attached once dialled). The stream owns the
 * application socket once attached and destroys it on every path.
 */
export class MuxStream {
  readonly id: number;
  readonly #mux: Mux;
  #app: Socket | undefined;
  #onEnd: ((end: StreamEnd) => void) | undefined;
  /** Bytes we may still send. */
  #sendCredit = INITIAL_WINDOW;
  /** Bytes the peer may still send us. */
  #recvWindow = INITIAL_WINDOW;
  /** App bytes waiting for credit (at most one app chunk: the app is paused meanwhile). */
  #out: Buffer[] = [];
  /** Peer bytes that arrived before the application was attached (bounded by the window). */
  #early: Buffer[] | undefined = [];
  #appBlocked = false;
  #appCorked = false;
  #appEnded = false;
  #sentFin = false;
  #gotFin = false;
  #done = false;

  constructor(mux: Mux, id: number, onEnd?: (end: StreamEnd) => void) {
    this.#mux = mux;
    this.id = id;
    this.#onEnd = onEnd;
  }

  /** Bridges `app` to this stream; from now on the stream owns it. */
  attach(app: Socket, onEnd?: (end: StreamEnd) => void): void {
    if (onEnd) this.#onEnd = onEnd;
    if (this.#done) {
      reset(app);
      return;
    }
    this.#app = app;
    app.on('error', (err) => this.#mux.log.debug(`stream ${this.id}: application socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    app.on('data', (chunk: Buffer) => this.#fromApp(chunk));
    app.on('end', () => this.#appEnd());
    app.on('close', () => this.#appClosed());
    app.on('drain', () => this.#appDrained());
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const data of early) this.#toApp(data);
    if (this.#gotFin) app.end();
    if (!app.destroyed) app.resume();
  }

  /** True once the stream has finished or failed (an application given to attach() now is reset). */
  get done(): boolean {
    return this.#done;
  }

  /** Client: refuses an opened stream with a code the visitor shows its user. */
  refuse(code: string, message: string): void {
    this.fail(code, message, false, true);
  }

  frame(f: SessionFrame): void {
    switch (f.kind) {
      case FrameKind.DATA:
        return this.#data(f.data);
      case FrameKind.WINDOW:
        if (this.#sendCredit + f.increment > 2 ** 32) throw new TunError('PROTOCOL_VIOLATION', `stream ${this.id}: window above 4 GiB`);
        this.#sendCredit += f.increment;
        return this.#flush();
      case FrameKind.FIN:
        if (this.#gotFin) throw new TunError('PROTOCOL_VIOLATION', `stream ${this.id}: second FIN`);
        this.#gotFin = true;
        if (this.#app) this.#app.end();
        return this.#maybeDone();
      case FrameKind.RESET:
        this.#mux.log.debug(`stream ${this.id} reset by the peer: ${f.error.code}`);
        return this.fail(f.error.code, f.error.message ?? f.error.code, true, false);
      default:
        throw new TunError('PROTOCOL_VIOLATION', `frame kind ${f.kind} on stream ${this.id}`);
    }
  }

  #data(data: Buffer): void {
    if (this.#gotFin) throw new TunError('PROTOCOL_VIOLATION', `stream ${this.id}: DATA after FIN`);
    if (data.length > this.#recvWindow) throw new TunError('PROTOCOL_VIOLATION', `stream ${this.id}: ${data.length} bytes of DATA with ${this.#recvWindow} bytes of window left`);
    this.#recvWindow -= data.length;
    this.#mux.stats.bytesIn += data.length;
    if (this.#early) this.#early.push(Buffer.from(data));
    else this.#toApp(data);
  }

  #toApp(data: Buffer): void {
    const app = this.#app!;
    if (app.destroyed) return;
    // DATA frames decrypted from one read of the path reach the app in one write.
    if (!this.#appCorked) {
      this.#appCorked = true;
      app.cork();
      process.nextTick(this.#uncorkApp);
    }
    if (!app.write(data)) this.#appBlocked = true;
    else this.#grant();
  }

  readonly #uncorkApp = (): void => {
    this.#appCorked = false;
    this.#app?.uncork();
  };

  #appDrained(): void {
    this.#appBlocked = false;
    this.#grant();
  }

  /** Returns credit for what the application took, once a good part of the window is used. */
  #grant(): void {
    if (this.#appBlocked || this.#gotFin || this.#done) return;
    const target = this.#mux.targetWindow();
    const increment = target - this.#recvWindow;
    if (increment < target / 4) return;
    this.#recvWindow = target;
    this.#mux.sendFrame(encode.window(this.id, increment));
  }

  #fromApp(chunk: Buffer): void {
    if (this.#done || this.#sentFin) return;
    this.#out.push(chunk);
    this.#flush();
    if (this.#out.length > 0) this.#app!.pause();
    else if (this.#mux.congested) {
      this.#app!.pause();
      this.#mux.waitForPath(this);
    }
  }

  pathDrained(): void {
    if (!this.#done && this.#out.length === 0) this.#app?.resume();
  }

  /** Sends what credit allows; FIN once everything before it is out. */
  #flush(): void {
    if (this.#out.length > 1 || (this.#out[0]?.length ?? 0) > DATA_SEND_MAX) this.#mux.batch(() => this.#sendData());
    else this.#sendData();
    if (this.#done) return;
    if (this.#out.length === 0) {
      if (this.#appEnded && !this.#sentFin) {
        this.#sentFin = true;
        this.#mux.sendFrame(encode.fin(this.id));
        this.#maybeDone();
      } else if (this.#app?.isPaused() && !this.#mux.congested) {
        this.#app.resume();
      } else if (this.#app?.isPaused()) {
        this.#mux.waitForPath(this);
      }
    }
  }

  /** DATA frames for what credit allows. */
  #sendData(): void {
    while (this.#out.length > 0 && this.#sendCredit > 0 && !this.#done) {
      const head = this.#out[0]!;
      const n = Math.min(head.length, this.#sendCredit, DATA_SEND_MAX);
      // State first, then the send: a path may deliver synchronously and re-enter us (a WINDOW).
      this.#sendCredit -= n;
      this.#mux.stats.bytesOut += n;
      if (n === head.length) this.#out.shift();
      else this.#out[0] = head.subarray(n);
      this.#mux.sendFrame(encode.dataHead(this.id), head.subarray(0, n));
    }
  }

  #appEnd(): void {
    this.#appEnded = true;
    this.#flush();
  }

  #appClosed(): void {
    if (this.#done) return;
    // Both directions ended cleanly: what the application sent last may still wait for credit;
    // it goes out (then FIN) as WINDOW frames arrive.
    if (this.#appEnded && this.#gotFin) return this.#maybeDone();
    this.fail('peer_reset', 'the application at the other end reset its connection', false, true);
  }

  #maybeDone(): void {
    if (this.#done || !this.#sentFin || !this.#gotFin) return;
    this.#done = true;
    this.#mux.forget(this);
    this.#onEnd?.({ ok: true });
  }

  /**
   * Aborts the stream: the application sees a reset, the peer a RESET frame (when `tell`), and
   * the stream leaves the session.
   */
  fail(code: string, message: string, remote: boolean, tell: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#out = [];
    this.#early = undefined;
    if (tell) this.#mux.sendFrame(encode.reset(this.id, code, message));
    this.#mux.forget(this);
    if (this.#app) reset(this.#app);
    this.#onEnd?.({ ok: false, code, message, remote });
  }
}

/**
 * `tun visit --stdio`: one stream to one service, carried over standard input and output instead
 * of a listening port, so that `ssh -o ProxyCommand='tun visit --stdio ... --service %h' host`
 * reaches a service with no local port (as `cloudflared access ssh` does). The stream rides the
 * visitor's usual end-to-end session. Standard output carries only the stream's bytes (logs go
 * to stderr); end of input is the stream's FIN; the stream's end decides the outcome.
 */
import type { Socket } from 'node:net';
import { Duplex, type Readable, type Writable } from 'node:stream';
import { TunError } from '../errors.js';
import { HINTS } from '../session/handshake.js';
import type { StreamEnd } from '../session/mux.js';
import { Visitor, type VisitorOptions } from './visitor.js';

/** How much of standard input is read ahead of the stream's flow control. */
const READ_AHEAD = 256 * 1024;

/**
 * Standard input and output as one duplex connection, shaped like the application socket a
 * stream bridges: data, end (stdin EOF), write/drain (stdout), end() (the peer's FIN: nothing is
 * written after it), and destroy (a reset: the process ends with a failure).
 */
export class StdioConnection extends Duplex {
  readonly #input: Readable;
  readonly #output: Writable;
  #inputEnded = false;
  /** Why the local side failed (an output that went away), for the final line. */
  problem: string | undefined;

  constructor(input: Readable, output: Writable) {
    super({ allowHalfOpen: true, readableHighWaterMark: READ_AHEAD, writableHighWaterMark: READ_AHEAD });
    this.#input = input;
    this.#output = output;
    input.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause();
    });
    input.once('end', () => this.#endInput());
    input.on('error', (err: NodeJS.ErrnoException) => this.#fail(`standard input failed: ${err.code ?? err.message}`));
    // An output whose reader went away (EPIPE) must not kill the process: the stream is reset.
    output.on('error', (err: NodeJS.ErrnoException) => this.#fail(`standard output failed: ${err.code ?? err.message}`));
    input.pause();
  }

  override _read(): void {
    this.#input.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#output.write(chunk, (err) => done(err ?? null));
  }

  /**
   * The peer's FIN: everything before it has been written and standard output gets nothing more.
   * What standard input still sends is not read: it is the end of the stream both ways (the
   * reader of standard output learns it when the process exits), so a service that closes first
   * (sshd after logout) ends the process, not only a reader that closes first.
   */
  override _final(done: (err?: Error | null) => void): void {
    done();
    this.#endInput();
  }

  #endInput(): void {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    this.#input.pause();
    this.#input.removeAllListeners('data');
    this.push(null);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#input.pause();
    this.#input.removeAllListeners('data');
    done(err);
  }

  #fail(problem: string): void {
    this.problem ??= problem;
    this.destroy();
  }
}

export interface StdioVisitOptions extends Omit<VisitorOptions, 'services'> {
  service: string;
  input: Readable;
  output: Writable;
}

/** How a --stdio visit ended: cleanly (the stream finished both ways), or the reason it did not. */
export type StdioOutcome = { ok: true } | { ok: false; reason: TunError };

/**
 * Opens the session, carries one stream between `input`/`output` and `service`, and settles with
 * the outcome once the stream is over. The visitor is stopped before it settles.
 */
export async function visitStdio(o: StdioVisitOptions): Promise<StdioOutcome> {
  const visitor = new Visitor({ ...o, services: [] });
  await visitor.start();
  const conn = new StdioConnection(o.input, o.output);
  const outcome = await new Promise<StdioOutcome>((resolve) => {
    let ended: StreamEnd | undefined;
    const finish = (): void => {
      if (ended?.ok) return void (conn.writableFinished ? resolve({ ok: true }) : conn.once('finish', () => resolve({ ok: true })));
      resolve({ ok: false, reason: failure(o.service, ended, conn.problem) });
    };
    visitor.carry(o.service, conn as unknown as Socket, (end) => {
      ended = end;
      finish();
    });
    // Reset before its stream was opened: the session could not be set up (logged above).
    conn.once('close', () => {
      if (ended === undefined) setImmediate(() => ended === undefined && finish());
    });
    visitor.ended?.catch((err: unknown) => resolve({ ok: false, reason: err instanceof TunError ? err : new TunError('STREAM_TRUNCATED', String(err)) }));
  });
  await visitor.stop();
  return outcome;
}

/** The one line that says why the stream did not end cleanly, and what to do. */
function failure(service: string, end: StreamEnd | undefined, problem: string | undefined): TunError {
  if (problem) return new TunError('STREAM_TRUNCATED', `stream to ${service} reset: ${problem}`, 'the program reading standard output went away');
  if (end === undefined) return new TunError('STREAM_TRUNCATED', `no stream to ${service}: the session to the client could not be opened`, 'see the error above; run with --log-level info for more');
  if (end.ok) return new TunError('STREAM_TRUNCATED', `stream to ${service} ended`);
  const who = end.remote ? 'reset by the client' : 'reset';
  return new TunError('STREAM_TRUNCATED', `stream to ${service} ${who}: ${end.code}: ${end.message}`, HINTS[end.code] ?? 'run with --log-level info for more');
}

/**
 * The local admin socket: a Unix socket, mode 0600 (only the daemon's user, and root, can connect),
 * that answers one small request per connection. `status\n` gets the role's live state as one JSON
 * line; anything else gets `{"error": ...}`. Bounded: a request is at most REQUEST_MAX bytes and
 * must arrive within REQUEST_MS, the answer ends the exchange, and nothing lasts past ANSWER_MS.
 * It never carries a secret.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync, type Stats } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { TunError, printable } from '../errors.js';
import type { Status } from './observer.js';

const REQUEST_MAX = 256;
const REQUEST_MS = 2000;
/** The whole exchange, answer included, ends within this. */
const ANSWER_MS = 10_000;
/** The most a status answer may be (a relay with very many sessions lists only some, see Observer). */
export const ANSWER_MAX = 4 * 1024 * 1024;
const MAX_CONNECTIONS = 8;

export interface AdminServer {
  path: string;
  close(): Promise<void>;
}

/** Listens on `path` (mode 0600, its folder created 0700 if missing) and answers status requests. */
export async function serveAdmin(path: string, status: () => Status): Promise<AdminServer> {
  await clearStale(path);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw adminError(path, `cannot create its folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'pick a path in a folder you can write, such as $XDG_RUNTIME_DIR/tun/NAME.sock');
  }
  const server = createServer((s) => answer(s, status));
  server.maxConnections = MAX_CONNECTIONS;
  await listenPrivately(server, path);
  const made = checkMode(server, path);
  return {
    path,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Remove the socket file only if it is still the one this process made.
        const now = statOrUndefined(path);
        if (now && now.ino === made.ino && now.dev === made.dev) unlinkSync(path);
      }),
  };
}

/** Binds with umask 0177 so the socket is never reachable by others, not even for a moment. */
function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(adminError(path, `cannot listen: ${err.code ?? err.message}`, err.code === 'EACCES' ? 'pick a path in a folder you can write' : 'pick a shorter path (Unix socket paths are limited to about 100 bytes) in a folder you can write')));
    const old = process.umask(0o177);
    try {
      // A Unix socket path is bound synchronously inside listen(): the umask covers it.
      server.listen({ path }, () => {
        server.on('error', () => {});
        resolve();
      });
    } finally {
      process.umask(old);
    }
  });
}

/** chmod 0600 again and check it took: a socket others could reach would leak the live state. */
function checkMode(server: Server, path: string): Stats {
  chmodSync(path, 0o600);
  const st = lstatSync(path);
  const uid = process.getuid?.();
  if (!st.isSocket() || (st.mode & 0o777) !== 0o600 || (uid !== undefined && st.uid !== uid)) {
    server.close();
    throw adminError(path, `the socket was created with mode ${(st.mode & 0o777).toString(8)} (owner ${st.uid}) instead of 600`, 'use a folder on a local file system that honours permissions');
  }
  return st;
}

/** A leftover socket from a daemon that died is removed; a live one, or any other file, is not touched. */
async function clearStale(path: string): Promise<void> {
  const st = statOrUndefined(path);
  if (!st) return;
  if (!st.isSocket()) throw adminError(path, 'the path exists and is not a socket', 'remove it or pick another --admin path');
  const live = await new Promise<boolean>((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw adminError(path, 'another running process answers on this socket', 'stop it, or give each daemon its own --admin path');
  unlinkSync(path);
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function adminError(path: string, what: string, hint: string): TunError {
  return new TunError('CONFIG_INVALID', `--admin ${printable(path, 200)}: ${what}`, hint);
}

function answer(socket: Socket, status: () => Status): void {
  socket.on('error', () => {});
  // Absolute deadlines, not idle ones: a peer sending a byte now and then cannot hold a connection.
  const deadline = setTimeout(() => socket.destroy(), REQUEST_MS);
  const cutoff = setTimeout(() => socket.destroy(), ANSWER_MS);
  socket.once('close', () => {
    clearTimeout(deadline);
    clearTimeout(cutoff);
  });
  let got = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    got += chunk;
    const end = got.indexOf('\n');
    if (end < 0) {
      if (got.length <= REQUEST_MAX) return;
      clearTimeout(deadline);
      return reply(socket, { error: `request longer than ${REQUEST_MAX} bytes` });
    }
    clearTimeout(deadline);
    const request = got.slice(0, end).trim();
    if (request === 'status') reply(socket, status());
    else reply(socket, { error: `unknown request "${printable(request)}"; this socket answers "status"` });
  });
}

function reply(socket: Socket, body: unknown): void {
  socket.removeAllListeners('data');
  socket.pause();
  socket.end(JSON.stringify(body) + '\n');
}

/** Asks the daemon on `path` for its status (what `tun status` does). */
export function queryAdmin(path: string, timeoutMs = 5000): Promise<Status> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: TunError): void => {
      s.destroy();
      reject(err);
    };
    s.setTimeout(timeoutMs, () => fail(new TunError('TIMEOUT', `the daemon on ${printable(path, 200)} did not answer within ${timeoutMs} ms`, 'is it stuck? check its log')));
    s.on('error', (err: NodeJS.ErrnoException) => fail(queryError(path, err)));
    s.on('connect', () => s.write('status\n'));
    s.on('data', (d: Buffer) => {
      size += d.length;
      if (size > ANSWER_MAX) return fail(new TunError('MESSAGE_TOO_LARGE', `the answer on ${printable(path, 200)} is larger than ${ANSWER_MAX} bytes`, 'is this a tun admin socket?'));
      chunks.push(d);
    });
    s.on('end', () => {
      s.destroy();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Status & { error?: string };
        if (typeof body !== 'object' || body === null || typeof body.role !== 'string') throw new Error(body?.error ?? 'no role in it');
        resolve(body);
      } catch (err) {
        reject(new TunError('MESSAGE_INVALID', `the answer on ${printable(path, 200)} is not a tun status: ${printable((err as Error).message, 200)}`, 'is this a tun admin socket? both ends should run the same tun version'));
      }
    });
  });
}

function queryError(path: string, err: NodeJS.ErrnoException): TunError {
  const where = printable(path, 200);
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return new TunError('CONNECT_REFUSED', `no tun daemon answers on ${where} (${err.code})`, 'start the daemon with --admin PATH, or check the path');
  if (err.code === 'EACCES' || err.code === 'EPERM') return new TunError('CONNECT_FAILED', `not permitted to use ${where}`, "the socket is readable only by the daemon's user: run tun status as that user (or root)");
  return new TunError('CONNECT_FAILED', `cannot connect to ${where}: ${err.code ?? err.message}`, 'check the --admin path');
}

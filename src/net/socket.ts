/** Socket helpers with no crypto: dial with a deadline, listen, and tidy teardown. */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TunError } from '../errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses HOST:PORT, [v6]:PORT or HOST (with a default port). */
export function parseHostPort(text: string, defaultPort?: number, what = 'address'): HostPort {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] !== undefined ? Number(m[2]) : defaultPort;
  if (!m || port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TunError('CONFIG_INVALID', `${what} "${text}" is not HOST:PORT`, defaultPort ? `for example 127.0.0.1:${defaultPort}` : 'for example 127.0.0.1:8080');
  }
  return { host: m[1]!, port };
}

/** A local address: HOST:PORT, or just PORT / :PORT for 127.0.0.1 (never all interfaces by default). */
export function parseLocalAddress(text: string, what: string): HostPort {
  const short = /^:?(\d+)$/.exec(text);
  return parseHostPort(short ? `127.0.0.1:${short[1]}` : text, undefined, what);
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Tunes a socket tun owns: no Nagle (interactive latency), and half-close left to the owner. */
export function tune(socket: Socket): Socket {
  socket.setNoDelay(true);
  return socket;
}

/**
 * Stays on every socket dial() creates, from its first moment: an 'error' event (a reset that
 * arrives before the caller adopted the socket, or after) is then never unhandled and never kills
 * the process. Callers add their own listener for what they need; 'close' still reports it.
 */
const keepErrorHandled = (): void => {};

/** What each connect errno means for a person, and what to do about it. */
const CONNECT_ERRORS: Record<string, [string, string]> = {
  ENOTFOUND: ['host name not found', 'check the host name (DNS)'],
  EAI_AGAIN: ['host name lookup failed for now', 'check DNS; it will be retried'],
  EHOSTUNREACH: ['no route to the host', 'check the address and the network (firewall, VPN, routes)'],
  ENETUNREACH: ['network unreachable', 'check the address and that this machine is online'],
  EADDRNOTAVAIL: ['the address cannot be used from this machine', 'check the address'],
  ECONNRESET: ['reset while connecting', 'the other side or a firewall cut the connection; check it accepts connections from here'],
  EACCES: ['not permitted', 'a local firewall or policy forbids this connection'],
  EPERM: ['not permitted', 'a local firewall or policy forbids this connection'],
};

/** A connect failure as a TunError: CONNECT_REFUSED, TIMEOUT (the kernel gave up), or CONNECT_FAILED naming the errno. */
export function connectError(err: NodeJS.ErrnoException, target: HostPort, what: string): TunError {
  const where = `${what} ${formatHostPort(target)}`;
  const code = err.code ?? 'unknown';
  if (code === 'ECONNREFUSED') {
    return new TunError('CONNECT_REFUSED', `cannot connect to ${where}: connection refused (nothing listens there)`, 'check that it is running and that the host and port are right', { cause: err });
  }
  if (code === 'ETIMEDOUT') return new TunError('TIMEOUT', `cannot connect to ${where}: timed out`, 'check the address and that a firewall does not drop the connection', { cause: err });
  const [meaning, hint] = CONNECT_ERRORS[code] ?? [err.message, 'check the address and the network'];
  return new TunError('CONNECT_FAILED', `cannot connect to ${where}: ${code} (${meaning})`, hint, { cause: err });
}

/** Connects within `timeoutMs`; rejects with a TunError naming the target and the cause. */
/**
 * Socket buffers before write() says "wait": Node's 16 KiB default is less than one 32 KiB tun
 * record, so every record would pause its source and every drain resume it. A few records' worth
 * keeps bulk transfers streaming; it bounds what one socket holds in user space all the same.
 */
export const SOCKET_HIGH_WATER_MARK = 256 * 1024;

export function dial(target: HostPort, timeoutMs: number, what: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // writableHighWaterMark is a Duplex option net.Socket passes on; @types/node does not list it.
    const options = { host: target.host, port: target.port, allowHalfOpen: true, writableHighWaterMark: SOCKET_HIGH_WATER_MARK };
    const socket = connect(options);
    socket.on('error', keepErrorHandled);
    const timer = setTimeout(() => fail(new TunError('TIMEOUT', `${what} ${formatHostPort(target)} did not answer within ${timeoutMs} ms`, 'check the address and that it is reachable from here')), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.destroy();
      reject(err instanceof TunError ? err : connectError(err as NodeJS.ErrnoException, target, what));
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(tune(socket));
    });
  });
}

const LISTEN_BACKLOG = 4096;

/** Listens and resolves once bound; port 0 picks a free port (read it from server.address()). */
export function listen(hp: HostPort, onConnection: (s: Socket) => void, what: string, onAcceptError: (err: NodeJS.ErrnoException) => void = () => {}, option = 'the matching --*-port option'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false, highWaterMark: SOCKET_HIGH_WATER_MARK }, (s) => onConnection(tune(s)));
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new TunError('CONFIG_INVALID', `cannot listen on ${formatHostPort(hp)} for ${what}: ${err.code ?? err.message}`, err.code === 'EADDRINUSE' ? `another program uses that port; pick another with ${option}` : err.code === 'EACCES' ? 'ports below 1024 need privileges; pick a higher port' : undefined, { cause: err }));
    };
    server.once('error', onError);
    // A deeper accept queue than Node's 511: bursts of hundreds of connections at once (a browser,
    // a load test, every client reconnecting after a relay restart) must not overflow it.
    server.listen({ port: hp.port, host: hp.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      // Accept errors (EMFILE, ENFILE) must never stop the listener or the process. Out of fds,
      // libuv does not spin: it closes a reserved fd, accepts and closes the pending connections,
      // and reports nothing (measured on Node 20: ~1 % CPU at the limit, no 'error' event), so
      // this handler sees only what libuv passes on.
      server.on('error', onAcceptError);
      resolve(server);
    });
  });
}

export function boundPort(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/**
 * Resets a socket (RST) so the application sees an abort, never a clean end.
 *
 * Not after end(): with a shutdown in flight, libuv refuses the reset (EINVAL) and Node 20 then
 * drops the handle without closing it, which makes the process spin forever at exit. tun calls
 * end() on an application socket only after an authenticated FIN, so that EOF was genuine and a
 * plain destroy is right.
 */
export function reset(socket: Socket): void {
  if (socket.destroyed) return;
  const handle = (socket as unknown as { _handle?: unknown })._handle;
  if (typeof socket.resetAndDestroy === 'function' && handle && !socket.writableEnded) socket.resetAndDestroy();
  else socket.destroy();
}

/** The sockets one owner answers for; each leaves the set when it closes. */
export class SocketSet {
  readonly #sockets = new Set<Socket>();

  add(socket: Socket): Socket {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  /** Aborts every socket still open: its application sees a reset (see reset()). */
  resetAll(): void {
    for (const s of [...this.#sockets]) reset(s);
  }

  destroyAll(): void {
    for (const s of [...this.#sockets]) s.destroy();
  }
}

/** Ends our side gracefully (flushing what was written) and destroys the socket after `ms` whatever the peer does. */
export function endSoon(socket: Socket, ms = 1000): void {
  socket.end();
  setTimeout(() => socket.destroy(), ms).unref();
}

/** Stops a server listening; resolves once its last connection has closed (their owners close them). */
export function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

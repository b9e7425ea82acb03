/** App-side sockets of the bench: open, one echoed byte, readiness, free ports. */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { sleep } from './proc.js';

export function open(host: string, port: number, ms = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, allowHalfOpen: true });
    s.setNoDelay(true);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${ms} ms`));
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('error', () => {}); // resets after a measurement (roles shutting down) are not errors here
  });
}

/** Resolves when the next byte arrives on `s`; fails on close, error or after `ms`. */
export function nextData(s: Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(t);
      s.off('data', onData);
      s.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onData = (): void => done();
    const onClose = (): void => done(new Error('closed before the echo'));
    const t = setTimeout(() => done(new Error(`no echo within ${ms} ms`)), ms);
    s.once('data', onData);
    s.once('close', onClose);
  });
}

/** Opens a stream, sends one byte and waits for its echo: milliseconds from connect() to that byte. */
export async function echoOnce(host: string, port: number, ms = 10_000): Promise<{ ms: number; socket: Socket }> {
  const t0 = performance.now();
  const s = await open(host, port, ms);
  const echoed = nextData(s, ms);
  s.write('x');
  try {
    await echoed;
  } catch (e) {
    s.destroy();
    throw e;
  }
  return { ms: performance.now() - t0, socket: s };
}

/** Waits until a whole path echoes (roles may still be connecting to each other). */
export async function waitEcho(host: string, port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; ; i++) {
    try {
      (await echoOnce(host, port, 3000)).socket.destroy();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${host}:${port} never echoed within ${ms} ms: ${(e as Error).message}`);
      await sleep(Math.min(500, 50 * (i + 1)));
    }
  }
}

/** A port free on `host` right now (bound and released). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Ports free on both 127.0.0.1 and the WAN proxy address (the proxies reuse the numbers). */
export async function freePorts(n: number, alsoOn?: string): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < n && tries < 50; tries++) {
    const p = await freePort();
    if (out.includes(p)) continue;
    if (alsoOn && !(await freePort(alsoOn).then(() => true, () => false))) continue;
    out.push(p);
  }
  if (out.length < n) throw new Error('could not find free loopback ports');
  return out;
}

/** Reads the one line a counting port answers with (the echo service's open connections). */
export async function readCount(port: number): Promise<number> {
  const s = await open('127.0.0.1', port);
  return new Promise((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => (s.destroy(), reject(new Error('no answer from the echo service count port'))), 5000);
    s.setEncoding('utf8').on('data', (d: string) => (text += d));
    s.once('end', () => {
      clearTimeout(t);
      s.destroy();
      resolve(Number(text.trim()));
    });
  });
}

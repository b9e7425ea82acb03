/**
 * The measurements, each against one endpoint, with the app in this process: echo transfers
 * (throughput and CPU per GB of the path's processes), sequential new streams (first-byte
 * latency and rate), streams 32 at once, and the memory an idle open stream costs.
 * Every loop is bounded in count and each step has a timeout.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { cpuSeconds, pssBytes, sleep } from './proc.js';
import { echoOnce, nextData, open } from './sockets.js';
import type { Endpoint } from './paths/types.js';

const BLOCK = randomBytes(1024 * 1024);

/** Sends `bytes` and reads the echo at the same time; resolves when all of it came back. */
function pump(s: Socket, bytes: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const t = setTimeout(() => fail(new Error(`echo transfer stalled: ${got} of ${bytes} bytes back after ${ms} ms`)), ms);
    const fail = (e: Error): void => {
      clearTimeout(t);
      s.destroy();
      reject(e);
    };
    s.on('data', (d: Buffer) => (got += d.length));
    s.once('end', () => {
      clearTimeout(t);
      if (got === bytes) resolve();
      else fail(new Error(`echo returned ${got} of ${bytes} bytes`));
    });
    s.once('close', () => got !== bytes && fail(new Error(`stream closed after ${got} of ${bytes} bytes`)));
    let sent = 0;
    const write = (): void => {
      while (sent < bytes) {
        const n = Math.min(BLOCK.length, bytes - sent);
        sent += n;
        if (!s.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) return void s.once('drain', write);
      }
      s.end();
    };
    write();
  });
}

export interface TransferResult {
  /** MB/s each way (1 MB = 10^6 bytes). */
  mbPerS: number;
  /** CPU seconds per GB carried (both directions counted), per role and in total. */
  cpuPerGB: Record<string, number>;
}

const cpuOf = (ep: Endpoint): number[] => ep.roles.map((r) => cpuSeconds(r.pid, r.tree));

export async function transfer(ep: Endpoint, totalBytes: number, streams: number): Promise<TransferResult> {
  const per = Math.floor(totalBytes / streams);
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < streams; i++) sockets.push(await open(ep.host, ep.port));
    const cpu0 = cpuOf(ep);
    const t0 = performance.now();
    const ms = 30_000 + per / 10_000; // at least 10 MB/s, or something is wrong
    await Promise.all(sockets.map((s) => pump(s, per, ms)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuOf(ep);
    const gb = (2 * per * streams) / 1e9;
    const cpuPerGB: Record<string, number> = {};
    let total = 0;
    ep.roles.forEach((r, i) => {
      const used = cpu1[i]! - cpu0[i]!;
      total += used;
      cpuPerGB[r.name] = used / gb;
    });
    if (ep.roles.length > 0) cpuPerGB.total = total / gb;
    return { mbPerS: (per * streams) / 1e6 / seconds, cpuPerGB };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

export interface FirstByteResult {
  /** connect() to first echoed byte, milliseconds, in order. */
  samples: number[];
  /** New streams per second, one after another (open, one byte echoed, close). */
  perSecond: number;
}

export async function firstBytes(ep: Endpoint, n: number): Promise<FirstByteResult> {
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const { ms, socket } = await echoOnce(ep.host, ep.port);
    samples.push(ms);
    socket.destroy();
  }
  return { samples, perSecond: (n * 1000) / (performance.now() - t0) };
}

/** New streams per second with `width` of them in flight at a time, `total` in all. */
export async function concurrentStreams(ep: Endpoint, total: number, width: number): Promise<number> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      (await echoOnce(ep.host, ep.port)).socket.destroy();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: width }, worker));
  return (total * 1000) / (performance.now() - t0);
}

const pssOf = (ep: Endpoint): number => ep.roles.reduce((sum, r) => sum + pssBytes(r.pid, r.tree), 0);

/** Opens `n` streams, `width` at a time, with `opener`; on any failure closes what it opened. */
async function openMany(n: number, opener: () => Promise<Socket>, width = 64): Promise<Socket[]> {
  const out: Socket[] = [];
  while (out.length < n) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(width, n - out.length) }, opener));
    for (const b of batch) if (b.status === 'fulfilled') out.push(b.value);
    const failed = batch.find((b) => b.status === 'rejected');
    if (failed) {
      for (const s of out) s.destroy();
      throw (failed as PromiseRejectedResult).reason;
    }
  }
  return out;
}

/** Waits until `count()` reaches `target`; fails when it stops rising for `stallMs` (or after 5 min). */
async function until(count: () => Promise<number>, target: number, stallMs: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  let last = -1;
  let rose = Date.now();
  for (let n = await count(); n < target; n = await count()) {
    if (n > last) [last, rose] = [n, Date.now()];
    if (Date.now() - rose > stallMs || Date.now() > deadline) throw new Error(`only ${n} of ${target} streams reached the echo service (stalled ${stallMs} ms)`);
    await sleep(Math.min(100, 2 + (Date.now() - rose) / 10));
  }
}

/** Waits (at most 20 s) until `count()` stays the same for a second; returns it. */
async function steady(count: () => Promise<number>): Promise<number> {
  let n = await count();
  for (let i = 0; i < 20; i++) {
    await sleep(1000);
    const m = await count();
    if (m === n) return m;
    n = m;
  }
  return n;
}

export interface MemoryResult {
  /** PSS bytes per stream at each count, streams that never carried data. */
  fresh: Record<number, number>;
  /** PSS bytes per stream at the largest count after one byte was echoed on each. */
  used: number;
}

/**
 * PSS bytes (all the path's processes) per idle open stream: streams are opened without data
 * and held, 64 at a time, each batch once the echo service holds the previous ones (`echoOpen`
 * tells how many it holds); each count in `counts` (ascending) is measured. Then each stream
 * echoes one byte and the largest count is measured again.
 */
export async function idleMemory(ep: Endpoint, counts: number[], echoOpen: () => Promise<number>, settleMs = 1500): Promise<MemoryResult> {
  const held: Socket[] = [];
  const fresh: Record<number, number> = {};
  const baseOpen = await steady(echoOpen);
  try {
    await sleep(settleMs);
    const base = pssOf(ep);
    for (const count of counts) {
      // 64 at a time, each batch through to the service before the next: a deeper burst can
      // overflow a listen queue (sshd's is 128), leaving connections the client thinks are open
      while (held.length < count) {
        held.push(...(await openMany(Math.min(64, count - held.length), () => open(ep.host, ep.port, 20_000))));
        await until(echoOpen, baseOpen + held.length, 20_000);
      }
      await sleep(settleMs);
      fresh[count] = (pssOf(ep) - base) / count;
    }
    for (let i = 0; i < held.length; i += 64) {
      await Promise.all(held.slice(i, i + 64).map((s) => {
        const echoed = nextData(s, 20_000);
        s.write('x');
        return echoed;
      }));
    }
    await sleep(settleMs);
    return { fresh, used: (pssOf(ep) - base) / held.length };
  } finally {
    for (const s of held) s.destroy();
    // the next measurement starts once the path closed these at the echo service too (bounded)
    for (let i = 0; i < 600 && (await echoOpen()) > baseOpen; i++) await sleep(100);
    await sleep(settleMs);
  }
}

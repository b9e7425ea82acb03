/**
 * Tunnel figures over loopback with real processes: a 64 MiB echo transfer (both ways at once) and
 * the time from connect() to the first echoed byte of a new stream, through
 *   direct     app -> echo service
 *   plain hop  app -> a Node process that only pipes bytes -> echo (what a relay's join costs)
 *   tun        app -> tun visit -> tun server -> tun client -> echo (end-to-end Noise)
 * Every service runs in its own process; ratios are against `direct`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { KeyDir } from '../test/helpers/keys.js';
import { startClient, startRelay, startVisitor, type TunProcess } from '../test/helpers/proc.js';

const MiB = 1024 * 1024;

const ECHO = `const s=require('net').createServer({allowHalfOpen:true},c=>{c.setNoDelay(true);c.on('error',()=>{});c.pipe(c)}).listen(0,'127.0.0.1',()=>console.log(s.address().port))`;
const PIPE = (target: number): string =>
  `const net=require('net');const s=net.createServer({allowHalfOpen:true},a=>{a.setNoDelay(true);const b=net.connect({port:${target},host:'127.0.0.1',allowHalfOpen:true});b.setNoDelay(true);a.pipe(b);b.pipe(a);a.on('error',()=>b.destroy());b.on('error',()=>a.destroy())}).listen(0,'127.0.0.1',()=>console.log(s.address().port))`;

function nodeServer(code: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ child, port: Number(d.toString().trim()) }));
    child.once('exit', (c) => reject(new Error(`helper exited ${c}`)));
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
    s.on('error', () => {}); // a reset after the measurement (roles shutting down) is not an error here
  });
}

/** Sends `data` and reads the echo at the same time; seconds until all of it came back. */
async function echoTransfer(port: number, data: Buffer): Promise<number> {
  const s = await open(port);
  const t0 = performance.now();
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    s.on('data', (d: Buffer) => (got += d.length));
    s.on('end', () => (got === data.length ? resolve() : reject(new Error(`echo returned ${got} of ${data.length} bytes`))));
    s.on('error', reject);
  });
  for (let off = 0; off < data.length; off += MiB) {
    if (!s.write(data.subarray(off, off + MiB))) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  await done;
  s.destroy();
  return (performance.now() - t0) / 1000;
}

/** Milliseconds from connect() to the first echoed byte on a brand-new connection. */
async function firstByte(port: number): Promise<number> {
  const t0 = performance.now();
  const s = await open(port);
  s.write('x');
  await new Promise((resolve, reject) => {
    s.once('data', resolve);
    s.once('error', reject);
  });
  const ms = performance.now() - t0;
  s.destroy();
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

export async function tunnelBench(): Promise<void> {
  const size = Number(process.env.TUN_BENCH_MIB ?? 64) * MiB;
  const data = randomBytes(size);
  const keys = new KeyDir();
  const children: ChildProcess[] = [];
  const procs: TunProcess[] = [];
  try {
    const echo = await nodeServer(ECHO);
    children.push(echo.child);
    const pipe = await nodeServer(PIPE(echo.port));
    children.push(pipe.child);
    const relayKey = keys.key('relay');
    const clientKey = keys.key('client');
    const visitorKey = keys.key('visitor');
    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line]), '--log-level', 'warn']);
    procs.push(relay.proc);
    procs.push(await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors.list', [visitorKey.line]), '--log-level', 'warn']));
    const visitor = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--log-level', 'warn']);
    procs.push(visitor.proc);

    const paths: [string, number][] = [
      ['direct (app -> echo)', echo.port],
      ['plain Node hop (no crypto)', pipe.port],
      ['tun (visit -> relay -> client, Noise e2e)', visitor.port],
    ];
    console.log(`\n${size / MiB} MiB echoed (sent and received at once), best of 3`);
    let base = 0;
    for (const [name, port] of paths) {
      await echoTransfer(port, data.subarray(0, MiB)); // warm-up
      const best = Math.min(await echoTransfer(port, data), await echoTransfer(port, data), await echoTransfer(port, data));
      const mbs = size / MiB / best;
      base ||= mbs;
      console.log(`  ${name.padEnd(44)} ${best.toFixed(2).padStart(6)} s ${mbs.toFixed(0).padStart(7)} MiB/s each way  ${(mbs / base).toFixed(2)}x`);
    }
    console.log('\nnew stream: connect() to first echoed byte, 200 sequential connections');
    let baseMs = 0;
    for (const [name, port] of paths) {
      for (let i = 0; i < 20; i++) await firstByte(port); // warm-up
      const xs: number[] = [];
      for (let i = 0; i < 200; i++) xs.push(await firstByte(port));
      const med = median(xs);
      baseMs ||= med;
      console.log(`  ${name.padEnd(44)} p50 ${med.toFixed(2).padStart(6)} ms  p90 ${p90(xs).toFixed(2).padStart(6)} ms  ${(med / baseMs).toFixed(2)}x`);
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    for (const c of children) c.kill();
    keys.remove();
  }
}

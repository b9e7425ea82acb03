/**
 * The crypto-free baseline's relay (its own process): joins each visitor connection (an agent's
 * multiplexed session) with a connection the client agent opens for it, as tun's relay does.
 *   control: the client agent connects once; the relay announces `tunnel PORT`, then sends one
 *            `ID` line per waiting visitor.
 *   visitor: each connection waits (paused) for its tunnel connection.
 *   tunnel:  the client agent's connection starts with `ID\n`; then bytes are piped both ways.
 * Usage: node join-relay.js CONTROL_PORT VISITOR_PORT TUNNEL_PORT (0 = any); prints `ready C V T`.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

const MAX_WAITING = 20_000;
const WAIT_MS = 15_000;

const waiting = new Map<number, Socket>();
let control: Socket | undefined;
let nextId = 1;

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => resolve((server.address() as AddressInfo).port));
  });
}

function socketDefaults(s: Socket): void {
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
}

function join(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
}

const [cPort, vPort, tPort] = process.argv.slice(2).map(Number);
const tunnelServer = createServer({ allowHalfOpen: true }, (t) => {
  socketDefaults(t);
  let head = Buffer.alloc(0);
  const onData = (d: Buffer): void => {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(10);
    if (nl < 0) return void (head.length > 32 && t.destroy());
    t.off('data', onData);
    t.pause();
    const v = waiting.get(Number(head.subarray(0, nl).toString()));
    if (!v) return void t.destroy();
    waiting.delete(Number(head.subarray(0, nl).toString()));
    if (head.length > nl + 1) v.write(head.subarray(nl + 1));
    join(v, t);
  };
  t.on('data', onData);
});
const tunnel = await listen(tunnelServer, tPort ?? 0);

const controlServer = createServer((c) => {
  socketDefaults(c);
  control?.destroy();
  control = c;
  c.write(`tunnel ${tunnel}\n`);
  c.on('data', () => {}); // nothing is expected from the agent
});
const controlPort = await listen(controlServer, cPort ?? 0);

const visitorServer = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (v) => {
  socketDefaults(v);
  if (!control || waiting.size >= MAX_WAITING) return void v.destroy();
  const id = nextId++;
  waiting.set(id, v);
  const t = setTimeout(() => waiting.get(id) === v && (waiting.delete(id), v.destroy()), WAIT_MS);
  v.once('close', () => {
    clearTimeout(t);
    if (waiting.get(id) === v) waiting.delete(id);
  });
  control.write(`${id}\n`);
});
const visitorPort = await listen(visitorServer, vPort ?? 0);

console.log(`ready ${controlPort} ${visitorPort} ${tunnel}`);
process.on('SIGTERM', () => process.exit(0));

/** The loopback topology every case starts from: relay, client, visitor and an echo service, each a real process (the echo service runs here). */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { KeyDir, type TestKey } from '../../helpers/keys.js';
import { EchoService, collect, dial, send, type Outcome } from '../../helpers/net.js';
import { TunProcess } from '../../helpers/proc.js';
import type { Plan, WaveResult } from './attacker.js';
import { isRoot, raiseNofile } from './env.js';
import { percentile } from './measure.js';

export interface RelayHandle {
  proc: TunProcess;
  pid: number;
  control: number;
  visitor: number;
  tunnel: number;
  args: string[];
}

/** Starts `tun server`; `limits` goes to TUN_RELAY_LIMITS (for example "handshakeMs=1000"). */
export async function startRelay(args: string[], limits = ''): Promise<RelayHandle> {
  const full = ['server', '--bind', '127.0.0.1', '--control-port', '0', '--visitor-port', '0', '--tunnel-port', '0', ...args];
  const proc = new TunProcess(full, { TUN_RELAY_LIMITS: limits });
  const m = await proc.waitFor(/tun server ready: relay \w+ control (\d+) visitor (\d+) tunnel (\d+)/);
  return { proc, pid: proc.child.pid!, control: Number(m[1]), visitor: Number(m[2]), tunnel: Number(m[3]), args: full };
}

export interface TopologyOptions {
  relayLimits?: string;
  relayArgs?: string[];
  /** More client keys the relay authorizes (started by the case itself). */
  extraClients?: string[];
  /** Where the client and the visitor connect (default the relay's ports), e.g. a recording proxy. */
  via?: (relay: RelayHandle) => Promise<{ control?: number; visitor?: number }>;
}

/** Things a case started that must not outlive it (pingers, attackers): Topology.stop() ends them. */
const disposers = new Set<() => void>();
export function disposeAll(): void {
  for (const d of disposers) d();
  disposers.clear();
}

/** relay + client (service "echo") + visitor (one --listen port), all on 127.0.0.1. */
export class Topology {
  readonly keys = new KeyDir();
  readonly echo = new EchoService();
  readonly relayKey: TestKey;
  readonly clientKey: TestKey;
  readonly visitorKey: TestKey;
  relay!: RelayHandle;
  client!: TunProcess;
  visitor!: TunProcess;
  visitorPort = 0;
  readonly #procs: TunProcess[] = [];

  constructor(readonly options: TopologyOptions = {}) {
    this.relayKey = this.keys.key('relay');
    this.clientKey = this.keys.key('client');
    this.visitorKey = this.keys.key('visitor');
    for (const name of options.extraClients ?? []) this.extra.push(this.keys.key(name));
  }

  readonly extra: TestKey[] = [];

  get authorized(): string {
    return this.keys.list('clients.list', [this.clientKey.line, ...this.extra.map((k) => k.line)]);
  }

  async start(): Promise<this> {
    await this.echo.start();
    this.relay = await startRelay(['--key', this.relayKey.key, '--authorized', this.authorized, ...(this.options.relayArgs ?? [])], this.options.relayLimits);
    this.#procs.push(this.relay.proc);
    const via = (await this.options.via?.(this.relay)) ?? {};
    this.client = this.track(new TunProcess(this.clientArgs(`127.0.0.1:${via.control ?? this.relay.control}`)));
    await this.client.waitFor(/tun client ready/);
    this.visitor = this.track(new TunProcess(['visit', '--listen', '127.0.0.1:0', '--server', `127.0.0.1:${via.visitor ?? this.relay.visitor}`, '--pubkey', this.clientKey.pub, '--key', this.visitorKey.key, '--service', 'echo']));
    this.visitorPort = Number((await this.visitor.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
    return this;
  }

  clientArgs(server = `127.0.0.1:${this.relay.control}`): string[] {
    return ['client', '--server', server, '--pubkey', this.relayKey.pub, '--key', this.clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${this.echo.port}`, '--allow', this.keys.list('visitors.list', [this.visitorKey.line])];
  }

  track(p: TunProcess): TunProcess {
    this.#procs.push(p);
    return p;
  }

  get clientPid(): number {
    return this.client.child.pid!;
  }

  /** One stream through visitor -> relay -> client -> echo: sends `size` random bytes, expects them back and a clean end. */
  async stream(size = 1024, ms = 20_000): Promise<Outcome & { ok: boolean }> {
    const data = randomBytes(size);
    const s = await dial(this.visitorPort);
    const out = collect(s, ms);
    await send(s, data);
    const o = await out;
    return { ...o, ok: o.how === 'end' && o.data.equals(data) };
  }

  async stop(): Promise<void> {
    disposeAll();
    await Promise.all(this.#procs.map((p) => p.stop()));
    await this.echo.stop();
    this.keys.remove();
  }
}

/** An established stream that echoes a small message every `everyMs` and records each round trip. */
export class Pinger {
  readonly rtts: number[] = [];
  failures = 0;
  #timer?: NodeJS.Timeout;
  #socket!: Socket;
  static async open(port: number, everyMs = 50): Promise<Pinger> {
    const p = new Pinger();
    p.#socket = await dial(port);
    p.#socket.on('error', () => {});
    await p.#roundTrip(5000);
    p.rtts.length = 0;
    p.#timer = setInterval(() => void p.#tick(), everyMs);
    disposers.add(() => p.stop());
    return p;
  }
  #busy = false;
  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.#roundTrip(10_000);
    } catch {
      this.failures++;
    }
    this.#busy = false;
  }
  #roundTrip(ms: number): Promise<void> {
    const msg = randomBytes(16);
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      let got = Buffer.alloc(0);
      const t = setTimeout(() => done(new Error('no echo')), ms);
      const onData = (d: Buffer): void => {
        got = Buffer.concat([got, d]);
        if (got.length < msg.length) return;
        done(got.subarray(0, 16).equals(msg) ? undefined : new Error('wrong echo'));
      };
      const done = (err?: Error): void => {
        clearTimeout(t);
        this.#socket.off('data', onData);
        if (err) return reject(err);
        this.rtts.push(performance.now() - t0);
        resolve();
      };
      this.#socket.on('data', onData);
      this.#socket.write(msg);
    });
  }
  /** Stops pinging; returns p50/p99/max of the round trips in ms. */
  stop(): { n: number; p50: number; p99: number; max: number; failures: number } {
    clearInterval(this.#timer);
    this.#socket.destroy();
    return { n: this.rtts.length, p50: percentile(this.rtts, 50), p99: percentile(this.rtts, 99), max: Math.max(...this.rtts), failures: this.failures };
  }
}

const ATTACKER = join(dirname(fileURLToPath(import.meta.url)), 'attacker.js');

export interface AttackerRun {
  pid: number;
  result: Promise<{ ms: number; waves: WaveResult[] }>;
}

/** Starts the attacker process; as root its open-files limit is raised as far as it goes (see raiseNofile). */
export function startAttacker(plan: Plan): AttackerRun {
  const child = spawn(process.execPath, [ATTACKER, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (isRoot) raiseNofile(child.pid!);
  let buf = '';
  const result = new Promise<{ ms: number; waves: WaveResult[] }>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const m = /\{"done":(.*)\}\n/.exec(buf);
      if (m) resolve(JSON.parse(m[1]!) as { ms: number; waves: WaveResult[] });
    });
    child.once('exit', (code) => setTimeout(() => reject(new Error(`attacker exited ${code} without a result:\n${buf.slice(-2000)}`)), 100));
  });
  result.catch(() => {});
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  disposers.add(kill);
  return { pid: child.pid!, result };
}

export function describeWave(w: WaveResult): string {
  return `:${w.port} ${w.mode}: ${w.connected}/${w.planned} connected, ${w.connectFailed} refused, ${w.closedByPeer} closed by the relay (life p50 ${w.lifeMs.p50} ms, p99 ${w.lifeMs.p99} ms, max ${w.lifeMs.max} ms), ${w.survived} still open at the end`;
}

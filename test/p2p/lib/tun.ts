/**
 * tun's roles in a P2P topology, each a real CLI process in its own namespace: the relay in the
 * public namespace (fixed ports, the namespace is ours), a client with a service agent next to
 * it, and visitors with an app agent next to each (the agent dials the visitor's local port).
 * Visitor logs are read for the P2P contract's lines: `path: KIND ...` and `streams by path: ...`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CLI } from '../../helpers/paths.js';
import { KeyDir, type TestKey } from '../../helpers/keys.js';
import { Agent } from './agent-client.js';
import { RelayCounters, type RelayPorts } from './counters.js';
import { NsProc } from './sh.js';
import { RELAY_IP, type Topology } from './topology.js';

export const PORTS: RelayPorts = { control: 8009, visitor: 8007, tunnel: 8008, udp: 8009 };
export const MiB = 1024 * 1024;

export type PathKind = 'relay' | 'direct-tcp' | 'direct-udp';

export interface PathChange {
  kind: PathKind;
  detail: string;
  /** Log timestamp (ms since epoch). */
  at: number;
  /** Offset of the line in the visitor's output. */
  offset: number;
}

export interface ByPath {
  relay: number;
  'direct-tcp': number;
  'direct-udp': number;
}

export class Visitor {
  constructor(readonly proc: NsProc, readonly agent: Agent, readonly port: number, readonly name: string) {}

  get host(): string {
    return '127.0.0.1';
  }

  /** Every `path:` line so far, in order. */
  paths(): PathChange[] {
    const out: PathChange[] = [];
    const re = /^(\S+) \S+ \w+: path: (relay|direct-tcp|direct-udp)\b ?(.*)$/gm;
    for (let m = re.exec(this.proc.output); m; m = re.exec(this.proc.output)) {
      out.push({ kind: m[2] as PathKind, detail: m[3] ?? '', at: Date.parse(m[1]!), offset: m.index });
    }
    return out;
  }

  /** Waits for a `path:` line of a kind matching `kind` at or after output offset `from`. */
  async waitPath(kind: RegExp, ms: number, from = 0): Promise<PathChange> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.paths().find((p) => p.offset >= from && kind.test(p.kind));
      if (hit) return hit;
      if (this.proc.child.exitCode !== null) throw new Error(`visitor ${this.name} exited (${this.proc.child.exitCode}) before a path line matching ${kind}:\n${this.proc.output.slice(-3000)}`);
      if (Date.now() > deadline) {
        const other = this.paths().filter((p) => p.offset >= from && p.kind !== 'relay').map((p) => `${p.kind} ${p.detail}`);
        const took = other.length ? ` (it took ${other.join(', then ')} instead)` : '';
        throw new Error(`visitor ${this.name}: no "path: ${kind.source}" line within ${ms} ms${took}; its log:\n${this.proc.output.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The last `streams by path:` line, or undefined. */
  byPath(): ByPath | undefined {
    const all = [...this.proc.output.matchAll(/streams by path: relay (\d+), direct-tcp (\d+), direct-udp (\d+)/g)];
    const m = all.at(-1);
    return m ? { relay: Number(m[1]), 'direct-tcp': Number(m[2]), 'direct-udp': Number(m[3]) } : undefined;
  }

  get mark(): number {
    return this.proc.output.length;
  }

  echo(bytes = 1024, timeoutMs = 10_000): Promise<{ ok: boolean; how: string; ms: number; error?: string; bytes: number }> {
    return this.agent.call('echo', { host: this.host, port: this.port, bytes, timeoutMs, seed: randomBytes(16).toString('hex') }, timeoutMs + 5000) as never;
  }

  /** Sends `bytes` to the service's sink; returns the time and both sha256 digests. */
  upload(bytes: number, timeoutMs = 120_000): Promise<{ ms: number; how: string; sent: string; got: string; error?: string }> {
    return this.agent.call('up', { host: this.host, port: this.port, bytes, timeoutMs, seed: randomBytes(16).toString('hex') }, timeoutMs + 5000) as never;
  }

  /** Fetches `bytes` from the service's generator; returns the time and both sha256 digests. */
  download(bytes: number, timeoutMs = 120_000): Promise<{ ms: number; firstMs: number; how: string; bytes: number; got: string; expected: string; error?: string }> {
    return this.agent.call('down', { host: this.host, port: this.port, bytes, timeoutMs, seed: randomBytes(16).toString('hex') }, timeoutMs + 5000) as never;
  }

  firstByte(n: number, gapMs = 0, timeoutMs = 10_000): Promise<{ samples: number[]; failures: string[] }> {
    return this.agent.call('firstbyte', { host: this.host, port: this.port, n, gapMs, timeoutMs }, n * (timeoutMs + gapMs) + 5000) as never;
  }

  /** Opens a held echo stream with a ping every `everyMs`; returns a status getter. */
  async hold(everyMs = 100): Promise<() => Promise<{ open: boolean; how?: string; error?: string; endedAt?: number; pings: number; lastOk: number }>> {
    const { hid } = await this.agent.call<{ id: number; hid: number }>('hold', { host: this.host, port: this.port, everyMs });
    return () => this.agent.call('held', { hid }) as never;
  }

  async stop(): Promise<void> {
    await this.proc.stop();
    await this.agent.stop();
  }
}

export interface ClientOptions {
  args?: string[];
  env?: Record<string, string>;
}

/** A tun deployment on a topology: keys, relay, client (service "svc"), visitors. */
export class TunNet {
  readonly keys = new KeyDir();
  readonly relayKey: TestKey;
  readonly clientKey: TestKey;
  readonly visitorKeys: TestKey[] = [];
  relay!: NsProc;
  client!: NsProc;
  service!: Agent;
  counters!: RelayCounters;
  readonly #stops: (() => Promise<unknown>)[] = [];

  constructor(readonly topo: Topology, visitors = 4) {
    this.relayKey = this.keys.key('relay');
    this.clientKey = this.keys.key('client');
    for (let i = 0; i < visitors; i++) this.visitorKeys.push(this.keys.key(`visitor${i}`));
  }

  /** Starts `tun server` on the relay address with fixed ports and installs the byte counters. */
  async startRelay(args: string[] = [], env: Record<string, string> = {}): Promise<NsProc> {
    const authorized = this.keys.list('clients.list', [this.clientKey.line]);
    const full = [CLI(), 'server', '--key', this.relayKey.key, '--authorized', authorized, '--bind', RELAY_IP, '--control-port', String(PORTS.control), '--visitor-port', String(PORTS.visitor), '--tunnel-port', String(PORTS.tunnel), ...args];
    if (relayHasMetrics()) full.push('--metrics', '127.0.0.1:0');
    this.relay = this.#track(new NsProc(this.topo.publicNs, process.execPath, full, env, 'relay'));
    await this.relay.waitFor(/tun server ready/);
    this.counters = new RelayCounters(this.topo, PORTS);
    const m = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(this.relay.output);
    if (m) {
      this.#metricsPort = Number(m[1]);
      this.#relayAgent = await Agent.start(this.topo.publicNs, 'metrics');
      const agent = this.#relayAgent;
      this.#stops.push(() => agent.stop());
    }
    return this.relay;
  }

  #metricsPort = 0;
  #relayAgent?: Agent;

  /** The relay's own count of bytes it relayed (sum of tun_bytes_total), when it serves metrics. */
  async relayReported(): Promise<number | undefined> {
    if (!this.#relayAgent) return undefined;
    const r = await this.#relayAgent.call<{ id: number; status: number; body: string }>('http-get', { host: '127.0.0.1', port: this.#metricsPort, path: '/metrics' });
    if (r.status !== 200) throw new Error(`relay /metrics answered ${r.status}`);
    let sum = 0;
    for (const m of r.body.matchAll(/^tun_bytes_total(?:\{[^}]*\})? (\S+)$/gm)) sum += Number(m[1]);
    return sum;
  }

  /** Starts the service agent and `tun client` on host `hostName`. */
  async startClient(hostName: string, opts: ClientOptions = {}): Promise<NsProc> {
    const ns = this.topo.host(hostName).ns;
    this.service = await Agent.start(ns, 'service');
    this.#stops.push(() => this.service.stop());
    const { port } = await this.service.call<{ id: number; port: number }>('serve', { host: '127.0.0.1' });
    const allow = this.keys.list('visitors.list', this.visitorKeys.map((k) => k.line));
    const full = [CLI(), 'client', '--server', `${RELAY_IP}:${PORTS.control}`, '--pubkey', this.relayKey.pub, '--key', this.clientKey.key, '--service', 'svc', '--local', `127.0.0.1:${port}`, '--allow', allow, ...(opts.args ?? [])];
    this.client = this.#track(new NsProc(ns, process.execPath, full, opts.env ?? {}, 'client'));
    await this.client.waitFor(/tun client ready/, 20_000);
    return this.client;
  }

  /** Starts `tun visit` (with key number `keyNo`) and an app agent on host `hostName`. */
  async startVisitor(hostName: string, opts: ClientOptions & { keyNo?: number } = {}): Promise<Visitor> {
    const ns = this.topo.host(hostName).ns;
    const key = this.visitorKeys[opts.keyNo ?? 0]!;
    const full = [CLI(), 'visit', '--server', `${RELAY_IP}:${PORTS.visitor}`, '--pubkey', this.clientKey.pub, '--key', key.key, '--service', 'svc', '--listen', '127.0.0.1:0', ...(opts.args ?? [])];
    const label = `visitor@${hostName}${opts.args?.includes('--no-p2p') ? ' --no-p2p' : ''}`;
    // The app agent first, so a caller can open the first stream the moment the visitor is ready.
    const agent = await Agent.start(ns, `app@${hostName}`);
    this.#stops.push(() => agent.stop());
    const proc = this.#track(new NsProc(ns, process.execPath, full, opts.env ?? {}, label));
    const port = Number((await proc.waitFor(/tun visit ready: listening on port (\d+)/, 20_000))[1]);
    return new Visitor(proc, agent, port, label);
  }

  #track(p: NsProc): NsProc {
    this.#stops.push(() => p.stop());
    return p;
  }

  async stop(): Promise<void> {
    for (const s of this.#stops.splice(0).reverse()) await s().catch(() => {});
    this.keys.remove();
  }
}

let metricsFlag: boolean | undefined;
/** Whether this build's relay has --metrics (its own byte counters; added by the observability work). */
function relayHasMetrics(): boolean {
  metricsFlag ??= spawnSync(process.execPath, [CLI(), 'server', '--help'], { encoding: 'utf8' }).stdout.includes('--metrics ');
  return metricsFlag;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** MB/s (10^6 bytes per second) for `bytes` in `ms`. */
export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

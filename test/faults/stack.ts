/**
 * The stack the sweep runs against: one relay bound to 127.0.0.1 and fault proxies in front of its
 * ports on other loopback addresses, with the same port numbers (a client dials the tunnel port on
 * the host it was given in --server, with the port number the relay announces).
 *
 * - gate 127.0.0.2: the long-lived client (services `echo`, and `l0`, `l1`... whose --local goes
 *   through a local-service fault proxy) and the long-lived visitors;
 * - per lane k: gate 127.0.1.k for the extra processes an injection starts, and gate 127.0.2.k for
 *   the lane's own long-lived client, whose tunnel connections the tunnel-port faults hit.
 * Each lane runs one injection at a time, so "the next connection on this gate's port" is always
 * the connection the injection meant.
 */
import { KeyDir, type TestKey } from '../helpers/keys.js';
import { EchoService } from '../helpers/net.js';
import type { TunProcess } from '../helpers/proc.js';
import { FaultProxy } from './proxy.js';
import { Watch } from './watch.js';

export class Gate {
  readonly control: FaultProxy;
  readonly visitor: FaultProxy;
  readonly tunnel: FaultProxy;
  constructor(readonly host: string, ports: RelayPorts) {
    this.control = new FaultProxy(host, ports.control);
    this.visitor = new FaultProxy(host, ports.visitor);
    this.tunnel = new FaultProxy(host, ports.tunnel);
  }
  async listen(ports: RelayPorts): Promise<this> {
    await this.control.listen(ports.control);
    await this.visitor.listen(ports.visitor);
    await this.tunnel.listen(ports.tunnel);
    return this;
  }
  close(): Promise<unknown> {
    return Promise.all([this.control.close(), this.visitor.close(), this.tunnel.close()]);
  }
}

export interface RelayPorts {
  control: number;
  visitor: number;
  tunnel: number;
}

export interface Lane {
  id: string;
  extraGate: Gate;
  slotGate: Gate;
  slotKey: TestKey;
  slotService: string;
  slotClient: Watch;
  extraKey: TestKey;
  extraService: string;
  visitorKey: TestKey;
}

export interface LocalLane {
  id: string;
  service: string;
  proxy: FaultProxy;
  visitor: Watch;
  port: number;
}

export const CLIENT_READY = /tun client ready/;
export const VISIT_READY = /tun visit ready: listening on port (\d+)/;

const two = (n: number): string => String(n).padStart(2, '0');

export class Stack {
  readonly keys = new KeyDir();
  readonly echo = new EchoService();
  readonly relayKey = this.keys.key('relay');
  readonly mainKey = this.keys.key('main');
  readonly mainVisitorKey = this.keys.key('visitor-main');
  ports!: RelayPorts;
  relay!: Watch;
  gate0!: Gate;
  mainClient!: Watch;
  mainVisitor!: Watch;
  mainVisitorPort = 0;
  lanes: Lane[] = [];
  localLanes: LocalLane[] = [];
  #allow = '';
  /** Every long-lived process started, so stop() finds them even when start() failed half-way. */
  readonly #started: Watch[] = [];
  #gates: Gate[] = [];

  constructor(readonly laneCount: number, readonly localLaneCount: number) {}

  /** Every process that must live through the whole sweep. */
  get longLived(): Watch[] {
    return [this.relay, this.mainClient, this.mainVisitor, ...this.localLanes.map((l) => l.visitor), ...this.lanes.map((l) => l.slotClient)];
  }

  async start(): Promise<void> {
    await this.echo.start();
    const laneKeys = Array.from({ length: this.laneCount }, (_, k) => ({
      slot: this.keys.key(`slot${two(k)}`),
      extra: this.keys.key(`extra${two(k)}`),
      visitor: this.keys.key(`visitor${two(k)}`),
    }));
    const localVisitorKeys = Array.from({ length: this.localLaneCount }, (_, k) => this.keys.key(`visitor-l${k}`));
    const clients = this.keys.list('clients.list', [this.mainKey.line, ...laneKeys.flatMap((l) => [l.slot.line, l.extra.line])]);
    this.#allow = this.keys.list('visitors.list', [this.mainVisitorKey.line, ...localVisitorKeys.map((k) => k.line), ...laneKeys.map((l) => l.visitor.line)]);

    this.relay = new Watch('relay', ['server', '--key', this.relayKey.key, '--authorized', clients, '--bind', '127.0.0.1', '--control-port', '0', '--visitor-port', '0', '--tunnel-port', '0'], /tun server ready: relay \w+ control (\d+) visitor (\d+) tunnel (\d+)/);
    const m = await this.relay.waitReady();
    this.ports = { control: Number(m[1]), visitor: Number(m[2]), tunnel: Number(m[3]) };

    this.gate0 = await this.#gate('127.0.0.2');
    const locals = await Promise.all(
      localVisitorKeys.map(async (key, k) => {
        const proxy = new FaultProxy('127.0.0.2', this.echo.port);
        await proxy.listen(0);
        return { key, k, proxy };
      }),
    );
    this.mainClient = await this.#client('main', '127.0.0.2', this.mainKey, [['echo', `127.0.0.1:${this.echo.port}`], ...locals.map((l): [string, string] => [`l${l.k}`, `127.0.0.2:${l.proxy.port}`])]);
    const mv = await this.visit('visitor-main', '127.0.0.2', this.mainKey, this.mainVisitorKey, 'echo');
    this.mainVisitor = mv.watch;
    this.mainVisitorPort = mv.port;
    for (const l of locals) {
      const v = await this.visit(`visitor-l${l.k}`, '127.0.0.2', this.mainKey, l.key, `l${l.k}`);
      this.localLanes.push({ id: `local${l.k}`, service: `l${l.k}`, proxy: l.proxy, visitor: v.watch, port: v.port });
    }
    // Four lanes at a time: starting every client at once on a loaded machine is slow.
    for (let k0 = 0; k0 < laneKeys.length; k0 += 4) {
      const batch = await Promise.all(
        laneKeys.slice(k0, k0 + 4).map(async (keys, i) => {
          const k = k0 + i;
          const extraGate = await this.#gate(`127.0.1.${k + 1}`);
          const slotGate = await this.#gate(`127.0.2.${k + 1}`);
          const slotService = `s${two(k)}`;
          const slotClient = await this.#client(`slot${two(k)}`, slotGate.host, keys.slot, [[slotService, `127.0.0.1:${this.echo.port}`]]);
          return { id: `lane${two(k)}`, extraGate, slotGate, slotKey: keys.slot, slotService, slotClient, extraKey: keys.extra, extraService: `x${two(k)}`, visitorKey: keys.visitor };
        }),
      );
      this.lanes.push(...batch);
    }
  }

  /** Args of a `tun client` for `key` through the gate at `host`, offering `services`. */
  clientArgs(host: string, key: TestKey, services: [string, string][]): string[] {
    return ['client', '--server', `${host}:${this.ports.control}`, '--pubkey', this.relayKey.pub, '--key', key.key, ...services.flatMap(([s, l]) => ['--service', s, '--local', l]), '--allow', this.#allow];
  }

  visitArgs(host: string, client: TestKey, key: TestKey, service: string): string[] {
    // Faults are injected on the relay path: the visitor stays on it (--no-p2p).
    return ['visit', '--listen', '127.0.0.1:0', '--server', `${host}:${this.ports.visitor}`, '--pubkey', client.pub, '--key', key.key, '--service', service, '--no-p2p'];
  }

  async visit(name: string, host: string, client: TestKey, key: TestKey, service: string): Promise<{ watch: Watch; port: number }> {
    const watch = new Watch(name, this.visitArgs(host, client, key, service), VISIT_READY);
    this.#started.push(watch);
    const m = await watch.waitReady(30_000);
    return { watch, port: Number(m[1]) };
  }

  async #client(name: string, host: string, key: TestKey, services: [string, string][]): Promise<Watch> {
    const watch = new Watch(name, this.clientArgs(host, key, services), CLIENT_READY);
    this.#started.push(watch);
    await watch.waitReady(30_000);
    return watch;
  }

  async #gate(host: string): Promise<Gate> {
    const g = await new Gate(host, this.ports).listen(this.ports);
    this.#gates.push(g);
    return g;
  }

  readonly #reviving = new Map<Watch, Promise<unknown>>();
  readonly #reported = new Set<TunProcess>();

  /**
   * If the long-lived `w` died: returns what happened (once per death) and starts it again, so the
   * sweep goes on (the visitors' new listen ports are picked up). A dead relay is only reported.
   * A restart that does not come up is killed and tried again on the next call.
   */
  async revive(w: Watch): Promise<string | undefined> {
    const busy = this.#reviving.get(w);
    if (busy) await busy;
    if (w.alive) return undefined;
    const what = this.#reported.has(w.proc) ? undefined : `long-lived ${w.name} died (${w.exitDescription}): ${w.evidence()}`;
    this.#reported.add(w.proc);
    if (w === this.relay) return what;
    const p = w.restart(30_000).then(
      (m) => {
        if (w === this.mainVisitor) this.mainVisitorPort = Number(m[1]);
        for (const l of this.localLanes) if (l.visitor === w) l.port = Number(m[1]);
      },
      async () => {
        this.#reported.add(w.proc);
        await w.stop(0);
      },
    );
    this.#reviving.set(w, p);
    await p;
    this.#reviving.delete(w);
    return what;
  }

  async stop(): Promise<void> {
    if (this.relay) this.#started.unshift(this.relay);
    await Promise.all([...this.#started].reverse().map((w) => w.stop()));
    await Promise.all([...this.#gates.map((g) => g.close()), ...this.localLanes.map((l) => l.proxy.close())]);
    await this.echo.stop();
    this.keys.remove();
  }
}

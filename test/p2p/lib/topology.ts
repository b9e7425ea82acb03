/**
 * Network-namespace topologies for the P2P scenarios (root only).
 *
 *   "public" namespace (the internet, and the relay on 198.18.0.1, fixed on its loopback)
 *     |-- 198.18.1x.0/24 --> NAT router namespace of LAN x (home = 1, laptop = 2): WAN 198.18.1x.2,
 *     |                       a bridge 192.168.x.1/24, hosts 192.168.x.10, .11, ... each its own namespace
 *     `-- 198.18.2j.0/24 --> public host j (its own namespace, address 198.18.2j.2, no NAT)
 *
 * The public namespace routes between its links (so traffic between the NATs crosses its FORWARD
 * chain, where `blackhole` cuts it) and knows no route to the private LANs. Routers MASQUERADE
 * on their WAN (optionally `--random-fully`) and either drop unsolicited inbound packets
 * (conntrack: ESTABLISHED,RELATED accepted, everything else from the WAN dropped, on INPUT and
 * FORWARD, as OpenWrt does) or accept them (no filter rules). Every name carries this process's
 * pid and a run number; every namespace is deleted by `down()`, on exit (also after an uncaught
 * exception) and on SIGINT/SIGTERM, and namespaces left by a process that was killed outright are
 * swept by the next run. A namespace that cannot be created throws.
 */
import { existsSync } from 'node:fs';
import { requireNamespaces, run, tryRun } from './sh.js';

export const RELAY_IP = '198.18.0.1';
const PREFIX = 'tp2p-';

/** How a NAT router treats its WAN side. */
export interface NatSpec {
  /** 'drop': unsolicited inbound dropped (the punch-friendly router); 'accept': no filter at all. */
  inbound: 'drop' | 'accept';
  /** `MASQUERADE --random-fully`: a new random outside port per mapping (punching must fail). */
  randomFully?: boolean;
}

export interface LanSpec {
  /** Short name, also used in namespace names: "home", "laptop". */
  name: string;
  nat: NatSpec;
  /** Host names on this LAN, e.g. ["client", "visitor"]. */
  hosts: string[];
}

export interface TopologySpec {
  lans: LanSpec[];
  /** Hosts with a public address (no NAT), e.g. ["client"]. */
  publicHosts?: string[];
}

export interface Host {
  name: string;
  ns: string;
  ip: string;
  /** The address the internet (and the relay) sees for this host: its router's WAN, or its own. */
  publicIp: string;
  lan?: string;
}

export interface Router {
  lan: string;
  ns: string;
  wanIp: string;
  lanIp: string;
  nat: NatSpec;
}

let runNo = 0;
const all = new Set<Topology>();
process.once('exit', () => {
  for (const t of all) t.down();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const t of all) t.down();
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  });
}

export class Topology {
  readonly id: string;
  readonly publicNs: string;
  readonly hosts = new Map<string, Host>();
  readonly routers = new Map<string, Router>();
  readonly #namespaces: string[] = [];
  readonly #blackholes = new Set<string>();

  private constructor() {
    this.id = `${process.pid}-${++runNo}`;
    this.publicNs = this.#nsName('pub');
  }

  /** Builds the whole topology; throws (after deleting what it made) if any step fails. */
  static create(spec: TopologySpec): Topology {
    requireNamespaces();
    sweepStale();
    const t = new Topology();
    all.add(t);
    try {
      t.#build(spec);
    } catch (e) {
      t.down();
      throw new Error(`cannot build the P2P test topology: ${(e as Error).message}`);
    }
    return t;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host "${name}" in this topology (have ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  router(lan: string): Router {
    const r = this.routers.get(lan);
    if (!r) throw new Error(`no LAN "${lan}" in this topology`);
    return r;
  }

  get namespaces(): readonly string[] {
    return this.#namespaces;
  }

  /** Runs a command inside a namespace and returns its stdout. */
  exec(ns: string, cmd: string, args: string[]): string {
    return run('ip', ['netns', 'exec', ns, cmd, ...args]);
  }

  iptables(ns: string, args: string[]): string {
    return this.exec(ns, 'iptables', ['-w', ...args]);
  }

  /**
   * Cuts (or restores) all traffic between two hosts' public addresses in the public namespace's
   * FORWARD chain, both ways, silently (no RST, no ICMP); only `proto` when given (a network that
   * blocks UDP between them, say). Their traffic to the relay is untouched.
   */
  blackhole(a: Host, b: Host, on: boolean, proto?: 'tcp' | 'udp'): void {
    const key = [a.publicIp, b.publicIp, proto ?? 'all'].sort().join('|');
    if (on === this.#blackholes.has(key)) return;
    const op = on ? '-I' : '-D';
    const p = proto ? ['-p', proto] : [];
    this.iptables(this.publicNs, [op, 'FORWARD', ...p, '-s', a.publicIp, '-d', b.publicIp, '-j', 'DROP']);
    this.iptables(this.publicNs, [op, 'FORWARD', ...p, '-s', b.publicIp, '-d', a.publicIp, '-j', 'DROP']);
    if (on) this.#blackholes.add(key);
    else this.#blackholes.delete(key);
  }

  /** Deletes every namespace of this topology (idempotent; their veths go with them). */
  down(): void {
    for (const ns of this.#namespaces.splice(0).reverse()) tryRun('ip', ['netns', 'del', ns]);
    all.delete(this);
  }

  #nsName(role: string): string {
    return `${PREFIX}${this.id}-${role}`;
  }

  #addNs(role: string): string {
    const ns = this.#nsName(role);
    run('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  #sysctl(ns: string, key: string, value: string): void {
    this.exec(ns, 'sh', ['-c', `echo ${value} > /proc/sys/${key.replaceAll('.', '/')}`]);
  }

  /** A veth pair from `ns1` (named `if1`) to `ns2` (named `if2`), both up. */
  #link(ns1: string, if1: string, ns2: string, if2: string): void {
    run('ip', ['link', 'add', if1, 'netns', ns1, 'type', 'veth', 'peer', 'name', if2, 'netns', ns2]);
    run('ip', ['-n', ns1, 'link', 'set', if1, 'up']);
    run('ip', ['-n', ns2, 'link', 'set', if2, 'up']);
  }

  #build(spec: TopologySpec): void {
    const pub = this.#addNs('pub');
    run('ip', ['-n', pub, 'addr', 'add', `${RELAY_IP}/32`, 'dev', 'lo']);
    this.#sysctl(pub, 'net.ipv4.ip_forward', '1');
    spec.lans.forEach((lan, i) => this.#buildLan(lan, i + 1));
    (spec.publicHosts ?? []).forEach((name, j) => this.#buildPublicHost(name, j + 1));
  }

  #buildLan(lan: LanSpec, i: number): void {
    if (i > 9) throw new Error('at most 9 LANs');
    const pub = this.publicNs;
    const ns = this.#addNs(`r-${lan.name}`);
    const net = `198.18.1${i}`;
    this.#link(pub, `lan${i}`, ns, 'wan');
    run('ip', ['-n', pub, 'addr', 'add', `${net}.1/24`, 'dev', `lan${i}`]);
    run('ip', ['-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', 'wan']);
    run('ip', ['-n', ns, 'route', 'add', 'default', 'via', `${net}.1`]);
    run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
    const lanIp = `192.168.${i}.1`;
    run('ip', ['-n', ns, 'addr', 'add', `${lanIp}/24`, 'dev', 'br0']);
    this.#sysctl(ns, 'net.ipv4.ip_forward', '1');
    this.#natRules(ns, lan.nat);
    const router: Router = { lan: lan.name, ns, wanIp: `${net}.2`, lanIp, nat: lan.nat };
    this.routers.set(lan.name, router);
    lan.hosts.forEach((name, k) => {
      const hns = this.#addNs(name);
      const ip = `192.168.${i}.${10 + k}`;
      this.#link(ns, `h${k}`, hns, 'eth0');
      run('ip', ['-n', ns, 'link', 'set', `h${k}`, 'master', 'br0']);
      run('ip', ['-n', hns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      run('ip', ['-n', hns, 'route', 'add', 'default', 'via', lanIp]);
      this.#addHost({ name, ns: hns, ip, publicIp: router.wanIp, lan: lan.name });
    });
  }

  #buildPublicHost(name: string, j: number): void {
    if (j > 9) throw new Error('at most 9 public hosts');
    const ns = this.#addNs(name);
    const net = `198.18.2${j}`;
    this.#link(this.publicNs, `pub${j}`, ns, 'eth0');
    run('ip', ['-n', this.publicNs, 'addr', 'add', `${net}.1/24`, 'dev', `pub${j}`]);
    run('ip', ['-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', 'eth0']);
    run('ip', ['-n', ns, 'route', 'add', 'default', 'via', `${net}.1`]);
    this.#addHost({ name, ns, ip: `${net}.2`, publicIp: `${net}.2` });
  }

  #addHost(h: Host): void {
    if (this.hosts.has(h.name)) throw new Error(`host name "${h.name}" used twice`);
    this.hosts.set(h.name, h);
  }

  #natRules(ns: string, nat: NatSpec): void {
    this.iptables(ns, ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(nat.randomFully ? ['--random-fully'] : [])]);
    if (nat.inbound === 'accept') return;
    for (const chain of ['INPUT', 'FORWARD']) {
      this.iptables(ns, ['-A', chain, '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
      this.iptables(ns, ['-A', chain, '-i', 'wan', '-j', 'DROP']);
    }
  }
}

/** Deletes namespaces a killed run left behind (their pid no longer exists). */
export function sweepStale(): void {
  let list = '';
  try {
    list = run('ip', ['netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && Number(m[1]) !== process.pid && !existsSync(`/proc/${m[1]}`)) tryRun('ip', ['netns', 'del', name]);
  }
}

/** Namespaces of this process still present (for the clean-up check). */
export function ownNamespaces(): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${PREFIX}${process.pid}-`));
}

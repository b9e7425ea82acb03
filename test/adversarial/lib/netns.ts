/**
 * A network namespace for the client, joined to the root namespace by a veth pair with a private
 * /30 that is free on this machine. Created and deleted by the case (also on exit), so nothing
 * outlives it. Needs root and `ip`.
 */
import { execFileSync } from 'node:child_process';
import { run } from './env.js';

export class ClientNamespace {
  readonly ns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostIp: string;
  readonly nsIp: string;

  constructor() {
    const id = process.pid % 100_000;
    this.ns = `tun-${id}-c`;
    this.hostIf = `tv${id}a`;
    this.nsIf = `tv${id}b`;
    ({ hostIp: this.hostIp, nsIp: this.nsIp } = freeBlock(id));
  }

  up(): void {
    this.down();
    process.once('exit', () => this.down());
    run('ip', ['netns', 'add', this.ns]);
    run('ip', ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf]);
    run('ip', ['link', 'set', this.nsIf, 'netns', this.ns]);
    run('ip', ['addr', 'add', `${this.hostIp}/30`, 'dev', this.hostIf]);
    run('ip', ['link', 'set', this.hostIf, 'up']);
    run('ip', ['-n', this.ns, 'addr', 'add', `${this.nsIp}/30`, 'dev', this.nsIf]);
    run('ip', ['-n', this.ns, 'link', 'set', this.nsIf, 'up']);
    run('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[]): string {
    return run('ip', ['netns', 'exec', this.ns, cmd, ...args]);
  }

  /** Drops everything between the client and the relay, both ways, without a FIN or RST. */
  blackhole(on: boolean): void {
    const op = on ? '-I' : '-D';
    this.exec('iptables', [op, 'INPUT', '-s', this.hostIp, '-j', 'DROP']);
    this.exec('iptables', [op, 'OUTPUT', '-d', this.hostIp, '-j', 'DROP']);
  }

  /** Deletes the namespace and the veth (idempotent; errors ignored). */
  down(): void {
    for (const args of [['netns', 'del', this.ns], ['link', 'del', this.hostIf]]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // not there
      }
    }
  }
}

/** A /30 in 10.213.0.0/16 that no interface here uses, starting from one derived from `seed`. */
function freeBlock(seed: number): { hostIp: string; nsIp: string } {
  const used = run('ip', ['-o', '-4', 'addr', 'show']);
  for (let k = 0; k < 16384; k++) {
    const block = (seed + k) % 16384;
    const prefix = `10.213.${block >> 6}.`;
    const first = (block & 63) * 4;
    const hostIp = prefix + (first + 1);
    const nsIp = prefix + (first + 2);
    if (!used.includes(` ${hostIp}/`) && !used.includes(` ${nsIp}/`)) return { hostIp, nsIp };
  }
  throw new Error('no free /30 in 10.213.0.0/16');
}

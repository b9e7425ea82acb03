/**
 * The relay's byte counters, from iptables in the relay's namespace: one rule per relay port and
 * direction in a chain jumped to from INPUT and OUTPUT (so only traffic the relay itself sends or
 * receives counts; traffic the public namespace forwards between NATs does not).
 */
import type { Topology } from './topology.js';

export interface RelayPorts {
  control: number;
  visitor: number;
  tunnel: number;
  /** The UDP observation port (the contract's default: the control port number). */
  udp: number;
}

export interface Bytes {
  visitor: number;
  tunnel: number;
  control: number;
  udp: number;
}

const CHAIN = 'TUNP2P';

export class RelayCounters {
  constructor(readonly topo: Topology, readonly ports: RelayPorts) {
    const ipt = (args: string[]): string => topo.iptables(topo.publicNs, args);
    ipt(['-N', CHAIN]);
    ipt(['-I', 'INPUT', '-j', CHAIN]);
    ipt(['-I', 'OUTPUT', '-j', CHAIN]);
    const rules: [keyof Bytes, string, number][] = [['visitor', 'tcp', ports.visitor], ['tunnel', 'tcp', ports.tunnel], ['control', 'tcp', ports.control], ['udp', 'udp', ports.udp]];
    for (const [name, proto, port] of rules) {
      ipt(['-A', CHAIN, '-p', proto, '--dport', String(port), '-m', 'comment', '--comment', `${name}-in`, '-j', 'RETURN']);
      ipt(['-A', CHAIN, '-p', proto, '--sport', String(port), '-m', 'comment', '--comment', `${name}-out`, '-j', 'RETURN']);
    }
  }

  /** Bytes (IP packets, both directions) through each relay port so far. */
  read(): Bytes {
    const out = this.topo.iptables(this.topo.publicNs, ['-L', CHAIN, '-v', '-x', '-n']);
    const b: Bytes = { visitor: 0, tunnel: 0, control: 0, udp: 0 };
    for (const line of out.split('\n')) {
      const m = /^\s*\d+\s+(\d+)\s.*\/\* (visitor|tunnel|control|udp)-(in|out) \*\//.exec(line);
      if (m) b[m[2] as keyof Bytes] += Number(m[1]);
    }
    return b;
  }

  /** Stream bytes the relay carried between two readings: the visitor and tunnel ports. */
  static streamBytes(before: Bytes, after: Bytes): number {
    return after.visitor - before.visitor + (after.tunnel - before.tunnel);
  }

  static describe(before: Bytes, after: Bytes): string {
    const d = (k: keyof Bytes): string => kib(after[k] - before[k]);
    return `relay moved visitor port ${d('visitor')}, tunnel port ${d('tunnel')}, control ${d('control')}, udp ${d('udp')}`;
  }
}

export function kib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1048576).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

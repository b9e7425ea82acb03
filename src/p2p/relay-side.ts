/** What the relay adds to Welcome for P2P: the address it sees the client's control connection come from, and its UDP observation port. */
import type { Socket } from 'node:net';
import type { WireCandidate } from '../wire/messages.js';
import { toWire, usable } from './addr.js';
import { unmapped } from '../net/ip.js';

export function observedFor(socket: Socket, udpPort: number): { observed?: WireCandidate; udpPort: number } {
  const host = unmapped(socket.remoteAddress ?? '');
  const port = socket.remotePort ?? 0;
  return { observed: usable(host) && port > 0 ? toWire({ host, port }) : undefined, udpPort };
}

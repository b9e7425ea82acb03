/**
 * Joins two sockets and copies bytes both ways with backpressure (pipe honours write() === false
 * and 'drain'), half-close propagated (end on one side ends the other's write side), and an abort
 * on either side resetting the other. The relay uses this and nothing more once a stream is joined.
 */
import type { Socket } from 'node:net';
import { reset } from './socket.js';

export function splice(a: Socket, b: Socket, onDone?: (bytesAtoB: number, bytesBtoA: number) => void): void {
  let closed = 0;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    onDone?.(a.bytesRead, b.bytesRead);
  };
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => reset(b));
  b.on('error', () => reset(a));
  const onClose = (self: Socket, other: Socket) => (hadError: boolean): void => {
    // A socket that closed without a clean end on both directions aborts its partner.
    if (hadError || !self.readableEnded) reset(other);
    if (++closed === 2) finish();
  };
  a.once('close', onClose(a, b));
  b.once('close', onClose(b, a));
}

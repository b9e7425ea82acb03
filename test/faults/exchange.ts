/**
 * A recorded set-up exchange: the bytes one new connection carried in each direction before it
 * carried application data, and where its messages start. On the relay's ports every byte is inside
 * a frame (2-byte big-endian length, then that many bytes), so message boundaries follow from the
 * bytes alone; on the local service's side the application's own chunks are the messages.
 */
import type { Chunk, Dir } from './proxy.js';

export type PortName = 'control' | 'visitor' | 'tunnel' | 'local';

export interface Exchange {
  port: PortName;
  bytes: Record<Dir, Buffer>;
  /** Offsets (in each direction) where a message starts; always includes 0 when there are bytes. */
  boundaries: Record<Dir, number[]>;
  /** Message sizes in order, for the report. */
  messages: Record<Dir, number[]>;
}

/** Frame starts in `bytes`; throws if the bytes do not split into whole frames. */
export function frameBoundaries(bytes: Buffer, what: string): number[] {
  const out: number[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < 2) throw new Error(`${what}: ${bytes.length - off} stray byte(s) at offset ${off}, not a frame header`);
    const len = bytes.readUInt16BE(off);
    if (len === 0 || off + 2 + len > bytes.length) throw new Error(`${what}: frame at offset ${off} (length ${len}) runs past the recorded ${bytes.length} bytes`);
    out.push(off);
    off += 2 + len;
  }
  return out;
}

function chunkBoundaries(chunks: Chunk[], dir: Dir): number[] {
  const out: number[] = [];
  let off = 0;
  for (const c of chunks) {
    if (c.dir !== dir) continue;
    out.push(off);
    off += c.data.length;
  }
  return out;
}

function sizes(boundaries: number[], total: number): number[] {
  return boundaries.map((b, i) => (boundaries[i + 1] ?? total) - b);
}

export function makeExchange(port: PortName, chunks: Chunk[]): Exchange {
  const bytes = {
    up: Buffer.concat(chunks.filter((c) => c.dir === 'up').map((c) => c.data)),
    down: Buffer.concat(chunks.filter((c) => c.dir === 'down').map((c) => c.data)),
  };
  const boundaries =
    port === 'local'
      ? { up: chunkBoundaries(chunks, 'up'), down: chunkBoundaries(chunks, 'down') }
      : { up: frameBoundaries(bytes.up, `${port} port, up`), down: frameBoundaries(bytes.down, `${port} port, down`) };
  return { port, bytes, boundaries, messages: { up: sizes(boundaries.up, bytes.up.length), down: sizes(boundaries.down, bytes.down.length) } };
}

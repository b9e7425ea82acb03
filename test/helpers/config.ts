/** What the config e2e tests share: a key folder that config files live in, the processes and services they start, and paced streams. */
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { TestKey } from './keys.js';
import { Lab } from './lab.js';
import { TunProcess } from './proc.js';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A Lab whose config files live in the key folder. */
export class ConfigLab extends Lab {
  /** Writes a file in the key folder (config paths are relative to it); returns its path. */
  file(name: string, text: string): string {
    return this.keys.file(name, text);
  }

  /** As an editor saves: a new file renamed over the old one. */
  replace(name: string, text: string): void {
    writeFileSync(join(this.keys.dir, `${name}.new`), text);
    renameSync(join(this.keys.dir, `${name}.new`), join(this.keys.dir, name));
  }

  /** A relay-path visitor (--no-p2p: one session to count) of one service, with its session open. */
  async visitor(relayVisitorPort: number, client: TestKey, key: TestKey, service: string): Promise<{ proc: TunProcess; port: number }> {
    const proc = this.track(new TunProcess(['visit', '--server', `127.0.0.1:${relayVisitorPort}`, '--pubkey', client.pub, '--key', key.key, '--service', service, '--listen', '127.0.0.1:0', '--no-p2p']));
    const port = Number((await proc.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
    await proc.waitFor(/session to client \w+ open/);
    return { proc, port };
  }
}

/** Sends `data` in 256 KiB pieces `gapMs` apart (a stream that flows for a while), then ends. */
export async function paced(s: Socket, data: Buffer, gapMs: number): Promise<void> {
  for (let off = 0; off < data.length && !s.destroyed; off += 256 * 1024) {
    if (!s.write(data.subarray(off, off + 256 * 1024))) await new Promise((r) => s.once('drain', r));
    await new Promise((r) => setTimeout(r, gapMs));
  }
  if (!s.destroyed) s.end();
}

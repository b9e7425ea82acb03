/** What an e2e file sets up and tears down: a key folder, the `tun` processes it starts and its echo services. */
import { KeyDir } from './keys.js';
import { EchoService } from './net.js';
import type { TunProcess } from './proc.js';

export class Lab {
  readonly keys = new KeyDir();
  readonly procs: TunProcess[] = [];
  readonly echoes: EchoService[] = [];

  /** Keeps `p` to be stopped by cleanup(); returns it. */
  track<T extends TunProcess>(p: T): T {
    this.procs.push(p);
    return p;
  }

  /** A started echo service, stopped by cleanup(). */
  async echo(): Promise<EchoService> {
    return (await this.newEcho().start());
  }

  /** An echo service not started yet (a before hook starts it), stopped by cleanup(). */
  newEcho(): EchoService {
    const e = new EchoService();
    this.echoes.push(e);
    return e;
  }

  /** Stops every process, then runs `between` (what else the file made: proxies, servers), then stops the echo services and removes the key folder. */
  async cleanup(between?: () => unknown): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    await between?.();
    await Promise.all(this.echoes.map((e) => e.stop()));
    this.keys.remove();
  }
}

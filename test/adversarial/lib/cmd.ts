/** A child process (any command, e.g. `ip netns exec NS node tun.js ...`) whose output can be awaited. */
import { WatchedChild } from '../../helpers/child.js';

export class Cmd extends WatchedChild {
  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    super(cmd, args, { env });
  }
}

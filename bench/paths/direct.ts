/** The floor: the app talks to the echo service itself. */
import type { Path, StartOptions } from './types.js';

export async function startDirect(opts: StartOptions): Promise<Path> {
  const ep = { host: '127.0.0.1', port: opts.echoPort, roles: [] };
  return { id: 'direct', label: 'direct', description: 'app -> echo service', bulk: ep, latency: ep, stop: async () => {} };
}

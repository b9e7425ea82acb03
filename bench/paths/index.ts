/** Every measured path by id, with the function that starts it (the bench and bench:ab share this). */
import { startDirect } from './direct.js';
import { startMux } from './mux.js';
import { startSsh } from './ssh.js';
import { startTun } from './tun.js';
import type { PathId, StartOptions, Started } from './types.js';

export const STARTERS: Record<PathId, (o: StartOptions) => Promise<Started>> = { direct: startDirect, mux: startMux, ssh: startSsh, tun: startTun };

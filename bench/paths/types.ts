/** What a measured path gives the measurements: where the app connects and which processes carry it. */

export type PathId = 'direct' | 'mux' | 'ssh' | 'tun';
export const PATH_IDS: PathId[] = ['direct', 'mux', 'ssh', 'tun'];

/** A process of a path; `tree` counts its descendants too (sshd forks one per connection). */
export interface Role {
  name: string;
  pid: number;
  tree?: boolean;
}

export interface Endpoint {
  host: string;
  port: number;
  roles: Role[];
}

export interface Path {
  id: PathId;
  /** Column heading and a one-line description of what the path is. */
  label: string;
  description: string;
  /** Where bulk transfers go (ssh: `ssh -N -R`). */
  bulk: Endpoint;
  /** Where latency, stream-rate and memory figures come from (ssh: `ssh -tt -R`). */
  latency: Endpoint;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The shared echo service's port on 127.0.0.1. */
  echoPort: number;
  /** With a delay, the path's long legs go through delay proxies on 127.0.0.3 (see each path). */
  wanDelayMs?: number;
}

/** A path that cannot run here says why instead. */
export type Started = Path | { skipped: string };

/** The daemons' observability flags: --metrics HOST:PORT [--metrics-public] and --admin PATH. */
import type { Command } from 'commander';
import type { Logger } from '../log.js';
import { parseHostPort } from '../net/socket.js';
import { serveAdmin } from '../observe/admin.js';
import { checkMetricsHost, serveMetrics } from '../observe/metrics-server.js';
import type { Observer } from '../observe/observer.js';

export interface ObserveFlags {
  metrics?: string;
  metricsPublic?: boolean;
  admin?: string;
}

export function withObserveOptions(cmd: Command): Command {
  return cmd
    .option('--metrics <host:port>', 'serve Prometheus metrics on http://HOST:PORT/metrics (off by default; loopback only unless --metrics-public)')
    .option('--metrics-public', 'allow --metrics on an address that is not loopback (metrics show who is connected and how much they move)', false)
    .option('--admin <path>', 'answer `tun status --admin PATH` on this Unix socket (mode 0600; off by default)');
}

/**
 * Starts what the flags ask for, before the role itself (so a bad address fails the start), and
 * returns what stops it again. A flag error is a CONFIG_INVALID TunError.
 */
export async function startObserving(obs: Observer, flags: ObserveFlags, log: Logger): Promise<() => Promise<void>> {
  const at = flags.metrics === undefined ? undefined : parseHostPort(flags.metrics, undefined, '--metrics');
  if (at) checkMetricsHost(at.host, flags.metricsPublic === true);
  const closers: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(closers.map((c) => c().catch(() => {})));
  };
  try {
    if (at) {
      // prom-client loads only when metrics are asked for: a daemon without --metrics never pays for it.
      const { buildRegistry } = await import('../observe/metrics.js');
      const server = await serveMetrics(buildRegistry(obs), at);
      closers.push(server.close);
      const host = at.host.includes(':') ? `[${at.host}]` : at.host;
      log.info(`metrics on http://${host}:${server.port}/metrics`);
      if (flags.metricsPublic) log.warn(`metrics are served on ${at.host}: whoever reaches that address sees who is connected and how much they move`);
    }
    if (flags.admin !== undefined) {
      const admin = await serveAdmin(flags.admin, () => obs.snapshot());
      closers.push(admin.close);
      log.info(`admin socket ${admin.path} (tun status --admin ${admin.path})`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

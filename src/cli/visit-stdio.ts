/** The CLI end of `tun visit --stdio`: quiet by default, one stream, the exit code from how it ended. */
import { initCrypto } from '../crypto/index.js';
import { TunError } from '../errors.js';
import { parseHostPort } from '../net/socket.js';
import { visitStdio } from '../visitor/stdio.js';
import { loadKeyPair, loadPublicKey, roleLogger, type LogFlags } from './common.js';
import { EXIT } from './errors.js';
import { tuneGcForStreaming } from './gc.js';

export interface StdioFlags extends LogFlags {
  server: string;
  pubkey: string;
  key: string;
  metrics?: string;
  admin?: string;
}

/**
 * Runs one --stdio visit and exits: 0 once the stream ended cleanly both ways, 1 with a one-line
 * reason on stderr otherwise. Without --log-level (or $TUN_LOG) only errors are logged, so a
 * terminal running `ssh` through it shows nothing of tun unless something goes wrong.
 */
export async function runStdioVisit(o: StdioFlags, service: string): Promise<void> {
  if (o.metrics !== undefined || o.admin !== undefined) throw new TunError('CONFIG_INVALID', `--${o.metrics !== undefined ? 'metrics' : 'admin'} does not go with --stdio`, 'a --stdio visit lives as long as one stream; watch a long-running tun visit --listen, or the client and relay, instead');
  const log = roleLogger('visit', { logLevel: o.logLevel ?? (process.env.TUN_LOG ? undefined : 'error'), logFormat: o.logFormat });
  tuneGcForStreaming();
  const onSignal = (): never => process.exit(EXIT.FAILED);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await initCrypto();
  const outcome = await visitStdio({
    server: parseHostPort(o.server, 8007, '--server'),
    clientKey: loadPublicKey(o.pubkey),
    key: loadKeyPair(o.key),
    service,
    log,
    input: process.stdin,
    output: process.stdout,
    // One stream never moves to another path: looking for a direct one would only cost (--no-p2p or not).
    p2p: { enabled: false },
  });
  if (!outcome.ok) log.error(outcome.reason);
  // Nothing may keep the process alive once the stream is over (stdin is still open after a FIN
  // from the service); what was written to stdout is flushed by then.
  process.exit(outcome.ok ? EXIT.OK : EXIT.FAILED);
}

/** --stdio takes exactly one --service and no --listen. */
export function stdioService(names: string[], listens: number): string {
  if (names.length !== 1) throw new TunError('CONFIG_INVALID', `--stdio carries one stream: give exactly one --service (got ${names.length})`, 'for ssh: --stdio --service %h in ProxyCommand');
  if (listens > 0) throw new TunError('CONFIG_INVALID', '--stdio and --listen do not go together', 'drop --listen: with --stdio the stream is standard input and output');
  return names[0]!;
}

/** What the role commands share: loading keys for a role, log level, and running until a signal. */
import { X25519KeyPair, initCrypto } from '../crypto/index.js';
import { TunError } from '../errors.js';
import { readPrivateKeyFile, readPublicKeyFile } from '../identity/keys.js';
import { createLogger, parseLevel, type Logger } from '../log.js';

export function loadKeyPair(path: string): X25519KeyPair {
  const m = readPrivateKeyFile(path);
  const pair = new X25519KeyPair(m.privateKey, m.publicKey);
  m.privateKey.fill(0);
  return pair;
}

export function loadPublicKey(path: string): Buffer {
  return readPublicKeyFile(path).publicKey;
}

export const LOG_LEVEL_HELP = 'error, warn, info or debug (default info, or $TUN_LOG)';

export function roleLogger(role: string, level: string | undefined): Logger {
  if (level !== undefined && parseLevel(level, 'debug') !== level) {
    throw new TunError('CONFIG_INVALID', `unknown log level "${level}"`, `use one of: ${LOG_LEVEL_HELP}`);
  }
  return createLogger(role, parseLevel(level ?? process.env.TUN_LOG));
}

export function parsePort(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new TunError('CONFIG_INVALID', `${what} "${text}" is not a port number`, 'use 0..65535 (0 picks a free port)');
  return n;
}

/** Prepares crypto, starts a daemon, prints `ready` on stdout and stops it cleanly on SIGINT/SIGTERM. */
export async function runDaemon(start: () => Promise<{ ready: string; stop: () => Promise<void>; done?: boolean }>): Promise<void> {
  await initCrypto();
  const { ready, stop, done } = await start();
  if (ready) process.stdout.write(ready + '\n');
  if (done) return;
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      stop().then(resolve, resolve);
      // Whatever still holds the loop (a peer slow to close) must not keep us alive.
      setTimeout(resolve, 3000).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

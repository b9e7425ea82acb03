/** What the role commands share: loading keys for a role, log level, and running until a signal. */
import { X25519KeyPair, initCrypto } from '../crypto/index.js';
import { Option, type Command } from 'commander';
import { TunError, printable } from '../errors.js';
import { readPrivateKeyFile, readPublicKeyFile } from '../identity/keys.js';
import { createLogger, parseFormat, parseLevel, type Logger } from '../log.js';

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
export const LOG_FORMAT_HELP = 'text (one line per event) or json (one object per line) (default text, or $TUN_LOG_FORMAT)';

/** The logging flags of a role command, as commander hands them over. */
export interface LogFlags {
  logLevel?: string;
  logFormat?: string;
}

export const logLevelOption = (): Option => new Option('--log-level <level>', LOG_LEVEL_HELP);
export const logFormatOption = (): Option => new Option('--log-format <format>', LOG_FORMAT_HELP);

/** Registers --log-level and --log-format on a role command; read them with roleLogger(role, opts). */
export function withLogOptions(cmd: Command): Command {
  return cmd.addOption(logLevelOption()).addOption(logFormatOption());
}

/** The role's logger from its flags (or, for a flag not given, $TUN_LOG / $TUN_LOG_FORMAT); a bad value is CONFIG_INVALID. */
export function roleLogger(role: string, flags: LogFlags | string | undefined): Logger {
  const { logLevel: level, logFormat: format } = typeof flags === 'object' ? flags : { logLevel: flags, logFormat: undefined };
  if (level !== undefined && parseLevel(level, 'debug') !== level) {
    throw new TunError('CONFIG_INVALID', `unknown log level "${printable(level)}"`, `use one of: ${LOG_LEVEL_HELP}`);
  }
  const fmt = format ?? process.env.TUN_LOG_FORMAT;
  if (fmt !== undefined && fmt !== '' && parseFormat(fmt, 'json') !== fmt) {
    throw new TunError('CONFIG_INVALID', `unknown log format "${printable(fmt)}"`, `use one of: ${LOG_FORMAT_HELP}`);
  }
  return createLogger(role, parseLevel(level ?? process.env.TUN_LOG), undefined, parseFormat(fmt));
}

export function parsePort(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new TunError('CONFIG_INVALID', `${what} "${printable(text)}" is not a port number`, 'use 0..65535 (0 picks a free port)');
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

/** What the role commands share: loading keys for a role, log level, and running until a signal. */
import { X25519KeyPair, initCrypto } from '../crypto/index.js';
import { Option, type Command } from 'commander';
import { TunError, printable } from '../errors.js';
import { readPrivateKeyFile, readPublicKeyFile } from '../identity/keys.js';
import { createLogger, parseFormat, parseLevel, type Logger } from '../log.js';
import { EXIT, fatalFormat, reportFatal } from './errors.js';
import { tuneGcForStreaming } from './gc.js';

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

/**
 * A commander option parser that hands each value to `record` as it is given, so repeated
 * per-service flags (--service A --local X --service B --local Y) keep their order and pairing.
 */
export const inOrder = (record: (v: string) => void) => (v: string): string => {
  record(v);
  return v;
};

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

/** What a role's start() hands to runDaemon. */
export interface Daemon {
  /** Printed on stdout once started (nothing when empty). */
  ready: string;
  /** Stops the role cleanly; called once, on the first SIGINT/SIGTERM or after the role ended. */
  stop: () => Promise<void>;
  /**
   * Settles when the role ends on its own (a listener lost, a relay that refuses the client): a
   * rejection carries the reason. The process then logs it on one line and exits with EXIT.FAILED.
   */
  ended?: Promise<void>;
  /** Where the reason goes (in the role's log format); without it, one `tun: ...` line on stderr. */
  log?: Logger;
  /** One-shot: nothing to wait for after ready. */
  done?: boolean;
}

/** How long a stop may take before the process exits anyway (a peer slow to close must not keep it alive). */
export const STOP_GRACE_MS = 3000;

type Outcome = { kind: 'signal' } | { kind: 'ended'; reason: unknown };

/**
 * Prepares crypto, starts a daemon and prints `ready` on stdout. The process then ends in one of
 * three ways: the first SIGINT/SIGTERM stops the role cleanly (exit 0); the role's `ended` settles
 * first, and the reason is logged on one line (exit 1); a second SIGINT/SIGTERM while stopping exits
 * at once (exit 130). Signal handlers are in place before start(): a signal while starting exits 0
 * at once (nothing serves yet), and one just after `ready` is printed can no longer meet the
 * default action (death by signal) before the handler is installed.
 */
export async function runDaemon(start: () => Promise<Daemon>): Promise<void> {
  tuneGcForStreaming();
  let signalled: () => void = () => {};
  let signals = 0;
  let started = false;
  const signal = new Promise<Outcome>((resolve) => (signalled = () => resolve({ kind: 'signal' })));
  const onSignal = (): void => {
    if (++signals > 1) process.exit(EXIT.INTERRUPTED);
    // Still starting (a client retrying an unreachable relay): nothing is serving yet, so there is
    // nothing to stop; leave now rather than after a start that may never finish.
    if (!started) process.exit(EXIT.OK);
    signalled();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await initCrypto();
    const daemon = await start();
    started = true;
    if (daemon.ready) process.stdout.write(daemon.ready + '\n');
    if (daemon.done) return;
    const ended = daemon.ended ?? new Promise<never>(() => {});
    const outcome = await Promise.race([signal, ended.then((): Outcome => ({ kind: 'ended', reason: undefined }), (reason: unknown): Outcome => ({ kind: 'ended', reason }))]);
    if (outcome.kind === 'ended') reportEnd(outcome.reason, daemon.log);
    const code = outcome.kind === 'signal' ? EXIT.OK : EXIT.FAILED;
    process.exitCode = code;
    const stopped = await Promise.race([daemon.stop().then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), STOP_GRACE_MS).unref())]);
    if (!stopped) process.exit(code);
    // Whatever still holds the event loop (a peer slow to close) must not keep the process alive.
    setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
  } finally {
    if (signals === 0) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

/** The one line that says why a role ended by itself. */
function reportEnd(reason: unknown, log: Logger | undefined): void {
  const err = reason instanceof TunError ? reason : new TunError('STREAM_TRUNCATED', reason === undefined ? 'stopped: the role ended on its own' : `stopped: ${reason instanceof Error ? reason.message : String(reason)}`, 'see the lines above for what happened; restart it when the cause is fixed');
  if (log) log.error(err);
  else reportFatal(err, process.stderr, fatalFormat(process.argv));
}

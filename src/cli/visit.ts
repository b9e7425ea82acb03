import type { Command } from 'commander';
import { visitHangup } from '../config/live.js';
import { visitSettings } from '../config/visit-config.js';
import { TunError } from '../errors.js';
import { parseHostPort, parseLocalAddress, type HostPort } from '../net/socket.js';
import { Observer } from '../observe/observer.js';
import { Visitor, type VisitedService } from '../visitor/visitor.js';
import { SERVICE_NAME } from '../wire/index.js';
import { runStdioVisit, stdioService, type StdioFlags } from './visit-stdio.js';
import { inOrder, loadKeyPair, logFormatOption, logLevelOption, loadPublicKey, roleLogger, runDaemon } from './common.js';
import { startObserving, withObserveOptions, type ObserveFlags } from './observe.js';

interface VisitOpts extends ObserveFlags {
  config?: string;
  server?: string;
  pubkey?: string;
  key?: string;
  p2p: boolean;
  logLevel?: string;
  logFormat?: string;
  stdio?: boolean;
}

/** --service and --listen repeat in pairs: the n-th --listen belongs to the n-th --service. */
class VisitFlags {
  readonly #names: string[] = [];
  readonly #listens: HostPort[] = [];
  service = (name: string): void => {
    if (!SERVICE_NAME.test(name)) throw new TunError('CONFIG_INVALID', `service name "${name.slice(0, 70)}" is not valid`, 'use 1-64 letters, digits, ".", "_" or "-", exactly as the client names it');
    this.#names.push(name);
  };
  listen = (addr: string): void => {
    this.#listens.push(parseLocalAddress(addr, '--listen'));
  };
  get count(): number {
    return this.#names.length;
  }
  finish(): VisitedService[] {
    if (this.#names.length === 0) throw new TunError('CONFIG_INVALID', 'no service given', 'add --service NAME --listen HOST:PORT');
    if (this.#names.length !== this.#listens.length) throw new TunError('CONFIG_INVALID', `${this.#names.length} --service but ${this.#listens.length} --listen`, 'give each --service its own --listen HOST:PORT');
    return this.#names.map((name, i) => ({ name, listen: this.#listens[i]! }));
  }
  stdio(): string {
    return stdioService(this.#names, this.#listens.length);
  }
}

export function registerVisit(program: Command): void {
  const flags = new VisitFlags();
  const cmd = program
    .command('visit')
    .description("reach a client's services: one end-to-end encrypted session through the relay carries every local connection")
    .option('--config <file>', 'a TOML config file (docs/config.md); flags win over its keys, and --service flags replace its [[service]] list')
    .option('--server <host[:port]>', 'relay visitor address (default port 8007)')
    .option('--pubkey <file>', "the client's .pub file: the only key that may answer")
    .option('--key <file>', "this visitor's private key")
    .option('--service <name>', 'a service of that client to reach (repeatable)', inOrder(flags.service))
    .option('--listen <host:port>', 'local address for the service before it: HOST:PORT, or PORT for 127.0.0.1', inOrder(flags.listen))
    .option('--no-p2p', 'stay on the relay: never look for a direct path to the client')
    .option('--stdio', 'carry one stream to the one --service over stdin/stdout instead of listening (ssh ProxyCommand)')
    .addOption(logLevelOption()).addOption(logFormatOption());
  withObserveOptions(cmd)
    .action((given: VisitOpts, command: Command) => {
      const settings = visitSettings(given, command, flags.count);
      const o = settings.opts;
      return o.stdio ? runStdioVisit(o as StdioFlags, flags.stdio()) : runDaemon(async () => {
        const services = settings.services ?? flags.finish();
        const log = roleLogger('visit', o);
        if (settings.overridden.length) log.info(`command-line flags override ${given.config} keys: ${settings.overridden.join(', ')}`);
        visitHangup(log);
        const observer = new Observer('visit');
        const visitor = new Visitor({
          server: parseHostPort(o.server!, 8007, '--server'),
          clientKey: loadPublicKey(o.pubkey!),
          key: loadKeyPair(o.key!),
          services,
          log,
          observer,
          p2p: { enabled: o.p2p },
        });
        const stopObserving = await startObserving(observer, o, log);
        await visitor.start().catch(async (err: unknown) => {
          await stopObserving();
          throw err;
        });
        return { ready: `tun visit ready: listening on port ${visitor.ports.join(', ')}`, stop: () => visitor.stop().finally(stopObserving), ended: visitor.ended, log };
      });
    });
}

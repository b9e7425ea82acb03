import type { Command } from 'commander';
import { Client, type ServiceSpec } from '../client/client.js';
import { proxyVersionFlag } from './proxy-flag.js';
import { clientSettings } from '../config/client-config.js';
import { watchClient } from '../config/live.js';
import { TunError } from '../errors.js';
import { Observer } from '../observe/observer.js';
import { parseHostPort, parseLocalAddress } from '../net/socket.js';
import { SERVICE_NAME } from '../wire/index.js';
import { P2P_SERVICE } from '../p2p/candidates.js';
import { inOrder, loadKeyPair, logFormatOption, logLevelOption, loadPublicKey, parsePort, roleLogger, runDaemon } from './common.js';
import { startObserving, withObserveOptions, type ObserveFlags } from './observe.js';

interface ClientOpts extends ObserveFlags {
  config?: string;
  server?: string;
  pubkey?: string;
  key?: string;
  allow?: string;
  p2p: boolean;
  p2pPort: string;
  logLevel?: string;
}

/**
 * --service, --local and --public-port may repeat; each --local and --public-port belongs to the
 * --service before it, so `--service web --local :8080 --service ssh --local :22` offers two.
 */
class ServiceFlags {
  readonly specs: Partial<ServiceSpec>[] = [];
  service = (name: string): void => {
    if (!SERVICE_NAME.test(name)) throw new TunError('CONFIG_INVALID', `service name "${name}" is not valid`, 'use 1-64 letters, digits, ".", "_" or "-"');
    if (name === P2P_SERVICE) throw new TunError('CONFIG_INVALID', `service name ${name} is reserved for tun's P2P control stream`, 'pick another name');
    if (this.specs.some((s) => s.name === name)) throw new TunError('CONFIG_INVALID', `service ${name} is given twice`);
    this.specs.push({ name });
  };
  local = (addr: string): void => {
    this.#last('--local').local = parseLocalAddress(addr, '--local');
  };
  publicPort = (port: string): void => {
    this.#last('--public-port').publicPort = parsePort(port, '--public-port');
  };
  proxyProtocol = (version: string): void => {
    this.#last('--proxy-protocol').proxy = proxyVersionFlag(version);
  };
  #last(flag: string): Partial<ServiceSpec> {
    const s = this.specs.at(-1);
    if (!s) throw new TunError('CONFIG_INVALID', `${flag} must follow the --service it belongs to`, 'for example: --service web --local 127.0.0.1:8080');
    return s;
  }
  finish(): ServiceSpec[] {
    if (this.specs.length === 0) throw new TunError('CONFIG_INVALID', 'no service given', 'add --service NAME --local HOST:PORT');
    for (const s of this.specs) if (!s.local) throw new TunError('CONFIG_INVALID', `service ${s.name} has no --local`, `add --local HOST:PORT right after --service ${s.name}`);
    return this.specs as ServiceSpec[];
  }
}

export function registerClient(program: Command): void {
  const flags = new ServiceFlags();
  const cmd = program
    .command('client')
    .description('connect to a relay and offer local services to the visitors you allow')
    .option('--config <file>', 'a TOML config file (docs/config.md); flags win over its keys, and --service flags replace its [[service]] list')
    .option('--server <host[:port]>', 'relay control address (default port 8009)')
    .option('--pubkey <file>', "the relay's .pub file: the only relay key this client accepts")
    .option('--key <file>', "this client's private key")
    .option('--service <name>', 'a service name visitors ask for (repeatable)', inOrder(flags.service))
    .option('--local <host:port>', 'where the service before it listens: HOST:PORT, or PORT for 127.0.0.1', inOrder(flags.local))
    .option('--public-port <port>', 'also publish the service before it on this relay port as plain TCP (needs relay --public and a permitlisten grant; the relay sees that traffic)', inOrder(flags.publicPort))
    .option('--proxy-protocol <v1|v2>', 'send the service before it a PROXY protocol header (v1 text or v2 binary) with the address the relay saw', inOrder(flags.proxyProtocol))
    .option('--allow <file>', 'visitor public keys allowed to connect, one .pub line each (without it no visitor is allowed; reloaded on change and on SIGHUP)')
    .option('--p2p-port <port>', 'port (TCP and UDP, all addresses) for direct P2P sessions from visitors; 0 picks one', '0')
    .option('--no-p2p', 'no direct paths: no P2P listener, no candidates; visitors always come through the relay')
    .addOption(logLevelOption()).addOption(logFormatOption());
  withObserveOptions(cmd)
    .action((given: ClientOpts, command: Command) =>
      runDaemon(async () => {
        const flagServices = flags.specs.length ? flags.finish() : [];
        const settings = clientSettings(given, command, flagServices);
        const o = settings.opts;
        const log = roleLogger('client', o);
        if (settings.overridden.length) log.info(`command-line flags override ${given.config} keys: ${settings.overridden.join(', ')}`);
        const services: ServiceSpec[] = settings.services.map((s) => ({ ...s }));
        if (!settings.access.union && services.some((s) => s.publicPort === undefined)) log.warn('no --allow list: every visitor will be refused (give --allow visitors.list with their .pub lines)');
        const observer = new Observer('client');
        const client = new Client({
          server: parseHostPort(o.server!, 8009, '--server'),
          relayKey: loadPublicKey(o.pubkey!),
          key: loadKeyPair(o.key!),
          services,
          allow: settings.access.union,
          access: settings.access,
          log,
          observer,
          p2p: o.p2p ? { port: parsePort(o.p2pPort, '--p2p-port') } : undefined,
        });
        const stopObserving = await startObserving(observer, o, log);
        const reloader = watchClient(given, command, flagServices, settings, client, log);
        const running = client.run();
        await Promise.race([client.online, running]).catch(async (err: unknown) => {
          await stopObserving();
          throw err;
        });
        return {
          ready: `tun client ready: ${services.map((s) => s.name).join(', ')}`, ended: running, log,
          stop: async () => {
            reloader.stop();
            client.stop();
            await running.finally(stopObserving);
          },
        };
      }),
    );
}

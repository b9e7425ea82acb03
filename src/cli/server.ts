import type { Command } from 'commander';
import { avoidNative } from '../crypto/index.js';
import { TunError, printable } from '../errors.js';
import { watchServer } from '../config/live.js';
import { serverSettings } from '../config/relay-config.js';
import { fingerprint } from '../identity/keys.js';
import { Observer } from '../observe/observer.js';
import { Relay } from '../relay/relay.js';
import { loadKeyPair, logFormatOption, logLevelOption, parsePort, roleLogger, runDaemon } from './common.js';
import { startObserving, withObserveOptions, type ObserveFlags } from './observe.js';

interface ServerOpts extends ObserveFlags {
  config?: string;
  key?: string;
  authorized?: string;
  bind: string;
  controlPort: string;
  visitorPort: string;
  tunnelPort: string;
  public: boolean;
  publicMaxPerSource?: string;
  p2p: boolean;
  udpPort?: string;
  logLevel?: string;
  logFormat?: string;
}

export function registerServer(program: Command): void {
  const cmd = program
    .command('server')
    .description('run the relay: authenticates clients and joins visitors to their streams without being able to read them')
    .option('--config <file>', 'a TOML config file (docs/config.md); flags given on the command line win over its keys')
    .option('--key <file>', "the relay's private key (tun keygen --out keys/relay)")
    .option('--authorized <file>', 'client public keys allowed to connect, one .pub line each (reloaded on change and on SIGHUP)')
    .option('--bind <host>', 'address to listen on', '0.0.0.0')
    .option('--control-port <port>', 'port for client control connections', '8009')
    .option('--visitor-port <port>', 'port for visitors', '8007')
    .option('--tunnel-port <port>', 'port clients open streams on', '8008')
    .option('--public', 'allow clients to publish plain-TCP ports granted by permitlisten=PORT in --authorized (the relay then sees that traffic)', false)
    .option('--udp-port <port>', 'UDP port that tells clients and visitors their public UDP address, for P2P (default: the control port number)')
    .option('--no-p2p', 'no P2P rendezvous: no UDP observation port, no observed addresses sent to clients')
    .option('--public-max-per-source <n>', 'connections open at once on one public port from one address (an IPv6 /64 counts as one) (default 32)')
    .addOption(logLevelOption())
    .addOption(logFormatOption());
  withObserveOptions(cmd)
    .action((flags: ServerOpts, command: Command) =>
      runDaemon(async () => {
        // The relay seals no stream data, only its small control messages: it has no use for the
        // native AEAD addon, so it never loads it (the portable backends serve the control channel).
        avoidNative();
        const settings = serverSettings(flags, command);
        const o = settings.opts;
        const log = roleLogger('relay', o);
        if (settings.overridden.length) log.info(`command-line flags override ${flags.config} keys: ${settings.overridden.join(', ')}`);
        const observer = new Observer('relay');
        const relay = new Relay({
          key: loadKeyPair(o.key!),
          authorized: settings.authorized,
          bind: o.bind,
          controlPort: parsePort(o.controlPort, '--control-port'),
          visitorPort: parsePort(o.visitorPort, '--visitor-port'),
          tunnelPort: parsePort(o.tunnelPort, '--tunnel-port'),
          allowPublic: o.public,
          p2p: o.p2p,
          udpPort: o.udpPort === undefined ? undefined : parsePort(o.udpPort, '--udp-port'),
          log,
          limits: publicLimits(o.publicMaxPerSource),
          observer,
        });
        // After everything that can refuse the settings (a bad key file leaves no admin socket behind).
        const stopObserving = await startObserving(observer, o, log);
        await relay.start().catch(async (err: unknown) => {
          await stopObserving();
          throw err;
        });
        const reloader = watchServer(flags, command, settings, relay, log);
        const p = relay.ports;
        return {
          ready: `tun server ready: relay ${fingerprint(relay.publicKey)} control ${p.control} visitor ${p.visitor} tunnel ${p.tunnel}`,
          stop: () => {
            reloader.stop();
            return relay.stop().finally(stopObserving);
          },
          // A lost listener is the relay's end.
          ended: relay.ended,
          log,
        };
      }),
    );
}

/** --public-max-per-source: a whole number of connections, 1 or more. */
function publicLimits(text: string | undefined): { publicPerSource?: number } {
  if (text === undefined) return {};
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1_000_000) throw new TunError('CONFIG_INVALID', `--public-max-per-source "${printable(text)}" is not a number of connections`, 'use a whole number from 1 (for example 32)');
  return { publicPerSource: Number(text) };
}

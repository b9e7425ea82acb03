import type { Command } from 'commander';
import { parseHostPort, parseLocalAddress } from '../net/socket.js';
import { Visitor } from '../visitor/visitor.js';
import { loadKeyPair, logFormatOption, logLevelOption, loadPublicKey, roleLogger, runDaemon } from './common.js';

interface VisitOpts {
  server: string;
  pubkey: string;
  key: string;
  service: string;
  listen: string;
  logLevel?: string;
}

export function registerVisit(program: Command): void {
  program
    .command('visit')
    .description("reach a client's service: listens locally and carries each connection end-to-end encrypted through the relay")
    .requiredOption('--server <host[:port]>', 'relay visitor address (default port 8007)')
    .requiredOption('--pubkey <file>', "the client's .pub file: the only key that may answer")
    .requiredOption('--key <file>', "this visitor's private key")
    .requiredOption('--service <name>', 'the service to reach')
    .requiredOption('--listen <host:port>', 'local address for your applications: HOST:PORT, or PORT for 127.0.0.1')
    .addOption(logLevelOption()).addOption(logFormatOption())
    .action((o: VisitOpts) =>
      runDaemon(async () => {
        const visitor = new Visitor({
          server: parseHostPort(o.server, 8007, '--server'),
          clientKey: loadPublicKey(o.pubkey),
          key: loadKeyPair(o.key),
          service: o.service,
          listen: parseLocalAddress(o.listen, '--listen'),
          log: roleLogger('visit', o),
        });
        await visitor.start();
        return { ready: `tun visit ready: listening on port ${visitor.port}`, stop: () => visitor.stop() };
      }),
    );
}

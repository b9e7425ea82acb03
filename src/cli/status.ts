/** `tun status --admin PATH [--json]`: the live state of a local relay, client or visitor. */
import type { Command } from 'commander';
import { queryAdmin } from '../observe/admin.js';
import { renderStatus } from '../observe/status-text.js';

interface StatusOpts {
  admin: string;
  json: boolean;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("print the live state of a local tun server, client or visit started with --admin PATH (sessions, services, streams, bytes)")
    .requiredOption('--admin <path>', 'the Unix socket the daemon was given with --admin')
    .option('--json', 'print one JSON object (for scripts) instead of text', false)
    .action(async (o: StatusOpts) => {
      const status = await queryAdmin(o.admin);
      process.stdout.write(o.json ? JSON.stringify(status, null, 2) + '\n' : renderStatus(status));
    });
}

import { Command, CommanderError } from 'commander';
import { fatalFormat, reportFatal } from './errors.js';
import { registerKey } from './key.js';
import { registerKeygen } from './keygen.js';
import { registerClient } from './client.js';
import { registerDemo } from './demo.js';
import { registerServer } from './server.js';
import { registerStatus } from './status.js';
import { registerVisit } from './visit.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('tun')
    .description('A reverse tunnel through a relay you do not trust: keypair-authenticated, end-to-end Noise-encrypted.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerKeygen(program);
  registerKey(program);
  registerServer(program);
  registerClient(program);
  registerVisit(program);
  registerStatus(program);
  registerDemo(program);
  return program;
}

/** Runs the CLI. Errors are reported once, here; daemons set process.exitCode and stop on their own. */
export async function run(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    process.exitCode = reportFatal(err, process.stderr, fatalFormat(argv));
  }
}

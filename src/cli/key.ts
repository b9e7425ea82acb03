import type { Command } from 'commander';
import { fingerprint, formatPublicKey, readAnyKeyFile } from '../identity/keys.js';

/** `tun key show FILE`: prints the public line and fingerprint of a .key or .pub file (checks the file too). */
export function registerKey(program: Command): void {
  const key = program.command('key').description('inspect key files');
  key
    .command('show <file>')
    .description('check a .key or .pub file and print its public key and fingerprint')
    .action((file: string) => {
      const { publicKey } = readAnyKeyFile(file);
      process.stdout.write(`public key:  ${formatPublicKey(publicKey)}\nfingerprint: ${fingerprint(publicKey)}\n`);
    });
}

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { fingerprint, formatPublicKey, generateKeyMaterial, writeKeyPair } from '../identity/keys.js';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('create an X25519 key pair: NAME.key (private, mode 0600) and NAME.pub (one line, for allow lists)')
    .option('-o, --out <path>', 'path without extension', 'keys/tun')
    .option('-n, --name <comment>', 'name written after the key in the .pub line (default: the file name)')
    .option('-f, --force', 'replace existing key files', false)
    .action((opts: { out: string; name?: string; force: boolean }) => {
      mkdirSync(dirname(opts.out) || '.', { recursive: true, mode: 0o700 });
      const key = generateKeyMaterial();
      const comment = opts.name ?? basename(opts.out);
      const { keyPath, pubPath } = writeKeyPair(opts.out, key, comment, opts.force);
      key.privateKey.fill(0);
      process.stdout.write(
        `wrote ${keyPath} (private, mode 0600: keep it secret) and ${pubPath}\n` +
          `public key:  ${formatPublicKey(key.publicKey, comment)}\n` +
          `fingerprint: ${fingerprint(key.publicKey)}\n`,
      );
    });
}

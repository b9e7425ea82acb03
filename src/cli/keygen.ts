import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { TunError } from '../errors.js';
import { fingerprint, formatPublicKey, generateKeyMaterial, makeKeyFolder, writeKeyPair } from '../identity/keys.js';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('create an X25519 key pair: NAME.key (private, mode 0600) and NAME.pub (one line, for allow lists)')
    .option('-o, --out <path>', 'path without extension', 'keys/tun')
    .option('-n, --name <comment>', 'name written after the key in the .pub line (default: the file name)')
    .option('-f, --force', 'replace existing key files', false)
    .action((opts: { out: string; name?: string; force: boolean }) => {
      if (opts.out === '' || /[/\\]$/.test(opts.out) || (existsSync(opts.out) && statSync(opts.out).isDirectory())) {
        throw new TunError('CONFIG_INVALID', `--out ${opts.out} names a folder`, `give DIR/NAME: tun writes NAME.key and NAME.pub in DIR (e.g. --out ${join(opts.out || '.', 'tun')})`);
      }
      makeKeyFolder(dirname(opts.out) || '.');
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

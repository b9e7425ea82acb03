/** Fresh key pairs and allow lists in a temporary folder, written the way `tun keygen` writes them. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint, formatPublicKey, generateKeyMaterial, writeKeyPair } from '../../src/identity/keys.js';

export interface TestKey {
  key: string;
  pub: string;
  line: string;
  fingerprint: string;
}

export class KeyDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'tun-test-'));

  key(name: string): TestKey {
    const m = generateKeyMaterial();
    const base = join(this.dir, name);
    writeKeyPair(base, m, name, false);
    return { key: `${base}.key`, pub: `${base}.pub`, line: formatPublicKey(m.publicKey, name), fingerprint: fingerprint(m.publicKey) };
  }

  /** A key pair for each name, in order. */
  keys<N extends string[]>(...names: N): { [I in keyof N]: TestKey } {
    return names.map((n) => this.key(n)) as { [I in keyof N]: TestKey };
  }

  list(name: string, lines: string[]): string {
    return this.file(name, lines.join('\n') + '\n');
  }

  /** Writes `text` to a file in the key folder (config paths are relative to it); returns its path. */
  file(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

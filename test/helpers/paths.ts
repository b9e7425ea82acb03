import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder holding package.json), found from the compiled file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The Noise vector folder: $NOISE_VECTORS when set, else test/vectors/data in this repository (found from the repo root, not the cwd). */
export function vectorsDir(): string {
  const fromEnv = process.env.NOISE_VECTORS;
  return fromEnv ? resolve(fromEnv) : join(repoRoot(), 'test', 'vectors', 'data');
}

export const CLI = (): string => join(repoRoot(), 'bin', 'tun.js');

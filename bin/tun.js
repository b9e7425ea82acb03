#!/usr/bin/env node
// Entry point for the `tun` command. The TypeScript sources are compiled to dist/ by `npm ci`
// (the prepare script) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('tun: the compiled program is missing (dist/). Run `npm ci` or `npm run build` in the tun folder first.');
  process.exit(1);
}
const { run } = await import(main.href);
await run(process.argv);

#!/usr/bin/env node
// Runs the P2P scenarios (dist/test/p2p/*.p2p.js) one file at a time in network namespaces (root
// only: `ip`, `iptables`), then prints the run time of each. Not part of `npm test`:
// `npm run test:p2p [filter]`. A case that cannot build its namespaces fails; nothing skips.
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, 'dist', 'test', 'p2p');
const filter = process.argv[2];
const files = (existsSync(dir) ? readdirSync(dir) : [])
  .filter((n) => n.endsWith('.p2p.js') && (!filter || n.includes(filter)))
  .sort()
  .map((n) => relative(root, join(dir, n)));
if (files.length === 0) {
  console.error(`no P2P scenarios found under ${relative(root, dir)}${filter ? ` matching "${filter}"` : ''}; run npm run build first`);
  process.exit(1);
}
const t0 = Date.now();
const times = [];
let status = 0;
for (const f of files) {
  const t = Date.now();
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=180000', f], { cwd: root, stdio: 'inherit' });
  times.push(`${f}: ${((Date.now() - t) / 1000).toFixed(1)} s${r.status === 0 ? '' : ` (FAILED, exit ${r.status ?? r.signal})`}`);
  if (r.status !== 0) status = 1;
}
console.log('\n=== P2P run times ===');
for (const line of times) console.log(line);
console.log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(status);

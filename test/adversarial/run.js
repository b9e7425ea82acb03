#!/usr/bin/env node
// Runs the adversarial cases (dist/test/adversarial/*.adv.js) one file at a time, then prints every
// figure they measured and the run time. Not part of `npm test`: `npm run test:adversarial [filter]`.
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, 'dist', 'test', 'adversarial');
const filter = process.argv[2];
const files = (existsSync(dir) ? readdirSync(dir) : [])
  .filter((n) => n.endsWith('.adv.js') && (!filter || n.includes(filter)))
  .sort()
  .map((n) => relative(root, join(dir, n)));
if (files.length === 0) {
  console.error(`no adversarial cases found under ${relative(root, dir)}${filter ? ` matching "${filter}"` : ''}; run npm run build first`);
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), 'tun-adv-'));
const report = join(tmp, 'figures.txt');
const t0 = Date.now();
const times = [];
let status = 0;
for (const f of files) {
  const t = Date.now();
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=240000', f], { cwd: root, stdio: 'inherit', env: { ...process.env, TUN_ADV_REPORT: report } });
  times.push(`${f}: ${((Date.now() - t) / 1000).toFixed(1)} s${r.status === 0 ? '' : ` (FAILED, exit ${r.status ?? r.signal})`}`);
  if (r.status !== 0) status = 1;
}
console.log('\n=== adversarial figures ===');
if (existsSync(report)) process.stdout.write(readFileSync(report, 'utf8'));
console.log('=== run times ===');
for (const line of times) console.log(line);
console.log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
rmSync(tmp, { recursive: true, force: true });
process.exit(status);

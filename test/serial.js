// One file at a time: the runner of the suites kept out of `npm test` (test/adversarial/run.js,
// test/p2p/run.js). Each compiled case file runs alone under `node --test`, and its run time is kept.
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** The compiled files dist/test/SUB/*SUFFIX whose name holds the command-line filter; exits 1 when there is none. */
export function caseFiles(sub, suffix, what) {
  const dir = join(root, 'dist', 'test', sub);
  const filter = process.argv[2];
  const files = (existsSync(dir) ? readdirSync(dir) : [])
    .filter((n) => n.endsWith(suffix) && (!filter || n.includes(filter)))
    .sort()
    .map((n) => relative(root, join(dir, n)));
  if (files.length === 0) {
    console.error(`no ${what} found under ${relative(root, dir)}${filter ? ` matching "${filter}"` : ''}; run npm run build first`);
    process.exit(1);
  }
  return files;
}

/** Runs each file alone; returns 0 when all passed (else 1) and a line per file with its run time. */
export function runEach(files, timeoutMs, env = {}) {
  const started = Date.now();
  const times = [];
  let status = 0;
  for (const f of files) {
    const t = Date.now();
    const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', `--test-timeout=${timeoutMs}`, f], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
    times.push(`${f}: ${((Date.now() - t) / 1000).toFixed(1)} s${r.status === 0 ? '' : ` (FAILED, exit ${r.status ?? r.signal})`}`);
    if (r.status !== 0) status = 1;
  }
  times.push(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { status, times };
}

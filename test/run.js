#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// Node 20's `node --test` takes no globs, so the file list is built here. Pass a substring to filter.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'dist', 'test');
const filter = process.argv[2];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const files = walk(testDir)
  .map((p) => relative(root, p))
  .filter((p) => !filter || p.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no test files found under ${relative(root, testDir)}${filter ? ` matching "${filter}"` : ''}; run npm run build first`);
  process.exit(1);
}
// Open files: Node raises its own soft RLIMIT_NOFILE to the hard limit at start-up (checked on Linux:
// a shell soft limit of 1024 under a hard 20000 shows 20000 in /proc/self/limits of any node process),
// and every test file and `tun` process is Node, so each already runs at the hard limit. Raising the
// hard limit needs privilege, so tests that open many sockets size themselves (test/helpers/fds.ts).
const openFiles = process.report.getReport().userLimits?.open_files;
if (openFiles && typeof openFiles.soft === 'number' && openFiles.soft < 4096) {
  console.log(`# open-file limit ${openFiles.soft} (hard ${openFiles.hard}): many-connection tests shrink to fit; raise ulimit -Hn to run them in full`);
}
const concurrency = process.env.TUN_TEST_CONCURRENCY ?? '2';
// A hang guard per file, not a speed check: files that move many MiB between real processes take
// minutes on a loaded 2-core machine (speed is measured by npm run bench only).
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=240000', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);

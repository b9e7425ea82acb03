/**
 * Installable: `npm pack` gives a package of compiled code only (bin/, dist/src/ JavaScript, the
 * README and docs: no TypeScript sources, no tests, no bench), and after
 * `npm install -g --prefix EMPTY ./tun-*.tgz` the installed `tun` runs `--help` and `demo --exit`.
 * Dependencies come from the registry, or from the npm cache that `npm ci` filled when offline;
 * if neither can provide them the install test skips with the reason.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../helpers/paths.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs npm with the test's node first on PATH; never runs package scripts of the repository itself. */
function runNpm(args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  return spawnSync(npm, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs });
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

// The runner gives a test file 90 s in all (test/run.js): pack, install and the two runs fit in
// that with the npm cache warm (about 20 s on a loaded 2-core machine); a registry that hangs
// leaves time for the offline try.
describe('npm pack and a global install into an empty prefix', () => {
  const work = mkdtempSync(join(tmpdir(), 'tun-pack-'));
  let pack: PackResult;

  before(() => {
    // --ignore-scripts: dist/ is already built (npm test builds it); rebuilding here would rewrite
    // files that tests running alongside are reading.
    const r = runNpm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot(), 20_000);
    assert.equal(r.status, 0, `npm pack failed: ${r.stderr}`);
    pack = (JSON.parse(r.stdout) as PackResult[])[0]!;
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('ships compiled code only: bin, dist/src JavaScript, README and docs', () => {
    const paths = pack.files.map((f) => f.path);
    assert.ok(paths.includes('bin/tun.js'));
    assert.ok(paths.includes('dist/src/cli/main.js'));
    assert.ok(paths.includes('package.json'));
    assert.ok(paths.includes('README.md'));
    const stray = paths.filter((p) => !(/^dist\/src\/.+\.js$/.test(p) || p === 'bin/tun.js' || /^docs\/[^/]+\.md$/.test(p) || ['package.json', 'README.md', 'LICENSE'].includes(p)));
    assert.deepEqual(stray, [], 'nothing else: no sources, tests, maps, keys or bench');
    assert.ok(!paths.some((p) => p.endsWith('.ts') || p.includes('test/')), 'no TypeScript and no tests');
  });

  it('installs into an empty prefix, and the installed tun runs --help and demo --exit', async (t) => {
    const prefix = join(work, 'prefix');
    const tgz = join(work, pack.filename);
    const base = ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund'];
    let r = runNpm([...base, '--prefer-offline', tgz], work, 35_000);
    if (r.status !== 0) {
      // Offline: only the npm cache (filled by `npm ci`) can provide the dependencies.
      const online = r.stderr;
      r = runNpm([...base, '--offline', tgz], work, 15_000);
      if (r.status !== 0) {
        t.skip(`the dependencies cannot be installed (registry: ${lastLine(online)}; cache: ${lastLine(r.stderr)})`);
        console.log(`# skipping the install test: registry and npm cache both failed: ${lastLine(r.stderr)}`);
        return;
      }
    }
    const tun = join(prefix, 'bin', 'tun');
    assert.ok(existsSync(tun), `npm linked bin/tun in the prefix (${tun})`);
    assert.ok(!existsSync(join(prefix, 'lib', 'node_modules', 'tun', 'src')), 'no sources installed');
    const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
    // The package's prepare script builds a checkout; in the installed copy (no sources, no
    // tsconfig.json) it must do nothing, should npm be told to run it (npm 11 --allow-scripts).
    const installed = join(prefix, 'lib', 'node_modules', 'tun');
    const prepare = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { scripts?: { prepare?: string } }).scripts?.prepare;
    if (prepare) assert.equal(spawnSync('sh', ['-c', prepare], { cwd: installed, env, encoding: 'utf8' }).status, 0, `prepare (${prepare}) is harmless in the installed copy`);
    const help = spawnSync(tun, ['--help'], { cwd: work, env, encoding: 'utf8', timeout: 15_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: tun/);
    for (const cmd of ['server', 'client', 'visit', 'keygen', 'demo']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
    const demo = spawnSync(tun, ['demo', '--exit'], { cwd: work, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(demo.status, 0, `${demo.stdout}\n${demo.stderr}`);
    assert.match(demo.stdout, /checked: fetched the page through the tunnel/);
  });
});

function lastLine(text: string): string {
  return text.trim().split('\n').filter((l) => l.trim()).at(-1)?.slice(0, 200) ?? '(no output)';
}

/** The reloader: file changes (in place and by rename over the file), SIGHUP, debounce, and a rejected load keeping the old settings. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { describeKeys, describeNames, diffKeys, diffNames } from '../../../src/config/diff.js';
import { Reloader } from '../../../src/config/reload.js';
import { TunError } from '../../../src/errors.js';
import { KeyList } from '../../../src/identity/key-list.js';
import { createLogger } from '../../../src/log.js';
import { KeyDir } from '../../helpers/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'tun-reload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function setup(name: string, write = true): { path: string; lines: string[]; applied: string[]; r: Reloader<string> } {
  const path = join(dir, name);
  if (write) writeFileSync(path, 'one');
  const lines: string[] = [];
  const applied: string[] = [];
  const log = createLogger('test', 'debug', (l) => lines.push(l), 'text');
  const r = new Reloader<string>({
    log,
    debounceMs: 50,
    load: () => {
      const text = readFileSync(path, 'utf8');
      if (text.startsWith('bad')) throw new TunError('CONFIG_INVALID', `${path}:1: bad: unknown key "bad"`);
      return { value: text, files: [path] };
    },
    apply: (v) => {
      applied.push(v);
      return `now ${v}`;
    },
  });
  r.start([path]);
  return { path, lines, applied, r };
}

describe('Reloader', () => {
  test('a change in place is applied once, after the debounce', async () => {
    const s = setup('a.conf');
    try {
      writeFileSync(s.path, 'two');
      writeFileSync(s.path, 'three');
      await until(() => s.applied.length > 0);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(s.applied, ['three']);
      assert.equal(s.lines.filter((l) => /reload \(file changed\): now three/.test(l)).length, 1);
    } finally {
      s.r.stop();
    }
  });
  test('an editor that writes a new file and renames it over the old one', async () => {
    const s = setup('b.conf');
    try {
      writeFileSync(join(dir, 'b.conf.tmp'), 'renamed');
      renameSync(join(dir, 'b.conf.tmp'), s.path);
      await until(() => s.applied.includes('renamed'));
      writeFileSync(join(dir, 'b.conf.tmp'), 'again');
      renameSync(join(dir, 'b.conf.tmp'), s.path);
      await until(() => s.applied.includes('again'));
    } finally {
      s.r.stop();
    }
  });
  test('a symlink swapped to another folder (as a mounted ConfigMap updates)', async () => {
    mkdirSync(join(dir, 'v1'));
    mkdirSync(join(dir, 'v2'));
    writeFileSync(join(dir, 'v1', 'e.conf'), 'first');
    writeFileSync(join(dir, 'v2', 'e.conf'), 'second');
    symlinkSync('v1', join(dir, 'data'));
    symlinkSync(join('data', 'e.conf'), join(dir, 'e.conf'));
    const s = setup('e.conf', false);
    try {
      symlinkSync('v2', join(dir, 'data.new'));
      renameSync(join(dir, 'data.new'), join(dir, 'data'));
      await until(() => s.applied.includes('second'));
    } finally {
      s.r.stop();
    }
  });
  test('a rejected load logs one error line and keeps the old settings; SIGHUP reloads', async () => {
    const s = setup('c.conf');
    try {
      writeFileSync(s.path, 'bad config');
      await until(() => s.r.stats.rejected === 1);
      assert.deepEqual(s.applied, []);
      const err = s.lines.filter((l) => / error: /.test(l));
      assert.equal(err.length, 1);
      assert.match(err[0]!, /reload \(file changed\) rejected, still running the previous settings: .*c\.conf:1: bad: unknown key "bad"/);
      writeFileSync(join(dir, 'c.other'), 'x');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(s.r.stats.applied + s.r.stats.rejected, 1, 'a file not watched changes nothing');
      writeFileSync(s.path, 'good');
      await until(() => s.applied.includes('good'));
      process.kill(process.pid, 'SIGHUP');
      await until(() => s.lines.some((l) => /reload \(SIGHUP\): now good/.test(l)));
    } finally {
      s.r.stop();
    }
  });
});

describe('diff', () => {
  const keys = new KeyDir();
  after(() => keys.remove());
  const [a, b, c] = [keys.key('a'), keys.key('b'), keys.key('c')];
  test('keys added, removed and regranted', () => {
    const before = KeyList.parse([a.line, b.line].join('\n'), 'x');
    const after_ = KeyList.parse([`permitlisten=80 ${a.line}`, c.line].join('\n'), 'x');
    const d = diffKeys(before, after_);
    assert.equal(describeKeys(d), `+1 key, -1 key (${b.fingerprint} (b)), grants changed for 1 key`);
    assert.equal(describeKeys(diffKeys(before, before)), '');
  });
  test('names', () => {
    assert.equal(describeNames(diffNames(['ssh', 'web'], ['web', 'db']), 'service'), 'services added: db, services removed: ssh');
  });
});

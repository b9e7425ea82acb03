/**
 * The daemons' V8 setting: incremental marking off while the heap is small (src/cli/gc.ts). Shown
 * on a real V8: a workload shaped like an agent's (a heap just over 8 MB, 64 KiB buffers streaming
 * through a short queue) makes V8's default start marking again and again; with the setting it
 * never starts. The operator's own choice is left alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { HEAP_MARKING_OFF, HEAP_MARKING_ON, markingOff, operatorChose } from '../../../src/cli/gc.js';
import { repoRoot } from '../../helpers/paths.js';

const gcModule = pathToFileURL(join(repoRoot(), 'dist', 'src', 'cli', 'gc.js')).href;

/** `retained` small objects kept (100,000: a heap just over 8 MB, like an agent's; 1,200,000: about 100 MB), then buffers streamed through a queue. */
const workload = (retained: number): string => `
const { tuneGcForStreaming } = await import(${JSON.stringify(gcModule)});
tuneGcForStreaming(process.env, process.execArgv, 100);
const keep = Array.from({ length: ${retained} }, (_, i) => ({ i, s: 'x' + i }));
await new Promise((r) => setTimeout(r, 300)); // the setting's check sees the heap as it is now
console.log('STREAMING');
const queue = [];
for (let i = 0; i < 60000; i++) {
  queue.push(Buffer.allocUnsafe(65536));
  if (queue.length > 64) queue.shift();
  if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
}
console.log('done', keep.length > 0);
`;

/** How many times V8 started incremental marking while the buffers streamed. */
function markingStarts(nodeFlags: string[], env: NodeJS.ProcessEnv = {}, retained = 100_000): number {
  const r = spawnSync(process.execPath, ['--trace-incremental-marking', ...nodeFlags, '--input-type=module', '-e', workload(retained)], {
    encoding: 'utf8',
    env: { ...process.env, TUN_INCREMENTAL_MARKING: '', NODE_OPTIONS: '', ...env },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done true/);
  const streaming = r.stdout.slice(r.stdout.indexOf('STREAMING'));
  return (streaming.match(/\[IncrementalMarking\] Start \(/g) ?? []).length;
}

describe('V8 incremental marking in the daemons', () => {
  it('is off while the heap is small: V8 never starts it, where its default starts it again and again', () => {
    const withDefault = markingStarts([], { TUN_INCREMENTAL_MARKING: '1' });
    assert.ok(withDefault >= 3, `the workload should make V8's default start marking repeatedly (it started ${withDefault} times)`);
    assert.equal(markingStarts([]), 0);
  });

  it('comes back once the heap is large (about 100 MB here), where one pause would be long', () => {
    assert.ok(markingStarts([], {}, 1_200_000) >= 1);
  });

  it("leaves the operator's own node flag alone", () => {
    assert.ok(markingStarts(['--incremental-marking']) >= 3);
  });

  it('comes back above HEAP_MARKING_ON and goes below HEAP_MARKING_OFF (hysteresis)', () => {
    assert.equal(markingOff(8 << 20, false), true);
    assert.equal(markingOff(HEAP_MARKING_OFF + 1, false), false, 'not turned off between the two marks');
    assert.equal(markingOff(HEAP_MARKING_OFF + 1, true), true, 'stays off between the two marks');
    assert.equal(markingOff(HEAP_MARKING_ON, true), false);
    assert.ok(HEAP_MARKING_OFF < HEAP_MARKING_ON);
  });

  it('knows when the operator chose', () => {
    assert.equal(operatorChose({}, []), false);
    assert.equal(operatorChose({ TUN_INCREMENTAL_MARKING: '1' }, []), true);
    assert.equal(operatorChose({}, ['--incremental-marking']), true);
    assert.equal(operatorChose({}, ['--no-incremental-marking']), true);
    assert.equal(operatorChose({}, ['--incremental_marking']), true);
    assert.equal(operatorChose({ NODE_OPTIONS: '--max-old-space-size=512 --no-incremental-marking' }, []), true);
    assert.equal(operatorChose({ NODE_OPTIONS: '--incremental-marking-foo' }, ['--trace-gc']), false);
  });
});

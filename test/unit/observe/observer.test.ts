/** The Observer's bookkeeping, the metrics registry built on it, and the loopback rule for --metrics. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { buildRegistry } from '../../../src/observe/metrics.js';
import { checkMetricsHost } from '../../../src/observe/metrics-server.js';
import { isLoopback } from '../../../src/net/ip.js';
import { Observer } from '../../../src/observe/observer.js';
import { countReload } from '../../../src/observe/reloads.js';
import { formatBytes, formatUptime, renderStatus } from '../../../src/observe/status-text.js';

describe('Observer', () => {
  it('counts streams per service and path, reading bytes from their counters when asked and when they end', () => {
    const o = new Observer('client');
    const s = o.session({ peer: 'visitor', path: 'relay', fingerprint: 'ab' });
    let live = { toService: 10, toVisitor: 20 };
    const end1 = o.stream('web', 'relay', () => live, s);
    const end2 = o.stream('web', 'direct-tcp', () => ({ toService: 1, toVisitor: 2 }));
    assert.equal(s.streams, 1);
    assert.deepEqual(o.streamRows(), [
      { service: 'web', path: 'relay', open: 1, total: 1, toService: 10, toVisitor: 20 },
      { service: 'web', path: 'direct-tcp', open: 1, total: 1, toService: 1, toVisitor: 2 },
    ]);
    live = { toService: 15, toVisitor: 25 };
    end1();
    end1();
    live = { toService: 999, toVisitor: 999 };
    end2();
    assert.equal(s.streams, 0);
    assert.deepEqual(o.streamRows().map((r) => [r.open, r.total, r.toService, r.toVisitor]), [[0, 1, 15, 25], [0, 1, 1, 2]], 'an ended stream is counted once, with its bytes at the end');
    s.end();
    s.end();
    assert.equal(o.snapshot().sessionCount, 0);
  });

  it('keeps handshake failure reasons to a bounded set of code-shaped labels', () => {
    const o = new Observer('relay');
    o.handshakeFailed('TIMEOUT');
    o.handshakeFailed('TIMEOUT');
    o.handshakeFailed('evil"} 1\nfake_metric 2');
    for (let i = 0; i < 200; i++) o.handshakeFailed(`CODE_${i}`);
    assert.equal(o.failures.get('TIMEOUT'), 2);
    assert.ok(o.failures.size <= 64, `${o.failures.size} labels`);
    assert.ok((o.failures.get('OTHER') ?? 0) >= 137);
    assert.ok([...o.failures.keys()].every((k) => /^[A-Z][A-Z0-9_]*$/.test(k)));
  });

  it('exports the reload counter through metrics and status', async () => {
    const o = new Observer('client');
    const before = o.snapshot().reloads;
    countReload(true);
    countReload(false);
    countReload(true);
    assert.deepEqual(o.snapshot().reloads, { ok: before.ok + 2, failed: before.failed + 1 });
    const text = await buildRegistry(o).metrics();
    assert.match(text, new RegExp(`^tun_reloads_total\\{result="ok"\\} ${before.ok + 2}$`, 'm'));
    assert.match(text, new RegExp(`^tun_reloads_total\\{result="failed"\\} ${before.failed + 1}$`, 'm'));
  });

  it('renders a status whose text fields are shown, never obeyed', () => {
    const o = new Observer('visit');
    o.session({ peer: 'client', path: 'relay', fingerprint: 'x\u001b[2J\nfake line' });
    const text = renderStatus(o.snapshot());
    assert.ok(!text.includes('\u001b'), 'no escape sequence reaches the terminal');
    assert.ok(text.includes('x\\x1b[2J\\nfake line'));
    assert.equal(formatUptime(3725), '1h 2m 5s');
    assert.equal(formatUptime(59), '59s');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(12), '12 B');
  });
});

describe('--metrics host', () => {
  it('accepts loopback names and addresses only, unless made public', () => {
    for (const h of ['127.0.0.1', '127.3.2.1', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.0.2.1', 'example.org', '128.0.0.1', '::2']) assert.ok(!isLoopback(h), h);
    assert.throws(() => checkMetricsHost('0.0.0.0', false), (e) => isTunError(e, 'CONFIG_INVALID') && /--metrics-public/.test(e.hint ?? ''));
    assert.doesNotThrow(() => checkMetricsHost('0.0.0.0', true));
  });
});

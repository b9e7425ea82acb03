/**
 * The fault sweep's own tools (the full sweep is `npm run test:faults`): the proxy faults exactly
 * where it is told to, frame boundaries come from the bytes alone, and the plan covers every offset
 * and boundary.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { frameBoundaries, makeExchange } from './exchange.js';
import { FaultProxy, type Fault } from './proxy.js';
import { ranges } from './report.js';
import { plan } from './sweep.js';
import { classify } from './watch.js';

/** A service that records what each connection sent and how it ended, and answers `reply` on connect. */
class Service {
  server: Server;
  got: { data: Buffer; how?: string }[] = [];
  port = 0;
  constructor(reply: Buffer) {
    this.server = createServer({ allowHalfOpen: true }, (s) => {
      const rec: { data: Buffer; how?: string } = { data: Buffer.alloc(0) };
      this.got.push(rec);
      s.on('data', (d: Buffer) => (rec.data = Buffer.concat([rec.data, d])));
      s.on('end', () => {
        rec.how ??= 'end';
        s.end();
      });
      s.on('error', () => (rec.how ??= 'reset'));
      s.write(reply);
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }
}

const reply = Buffer.from('0123456789abcdefghij');
const request = Buffer.from('ABCDEFGHIJKLMNOPQRST');
const service = new Service(reply);

before(() => service.start());
after(() => new Promise<void>((r) => service.server.close(() => r())));

/** Through a proxy with `fault`: sends the request, collects the reply until the end or 1.5 s. */
async function through(fault: Fault | undefined): Promise<{ data: Buffer; how: string; served: { data: Buffer; how?: string } }> {
  const proxy = new FaultProxy('127.0.0.2', service.port);
  await proxy.listen(0);
  const connP = proxy.arm(fault);
  const n = service.got.length;
  const s: Socket = connect({ port: proxy.port, host: '127.0.0.2', allowHalfOpen: true });
  const out = await new Promise<{ data: Buffer; how: string }>((resolve) => {
    let data = Buffer.alloc(0);
    const t = setTimeout(() => resolve({ data, how: 'open' }), 1500);
    s.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
    s.on('end', () => {
      clearTimeout(t);
      resolve({ data, how: 'end' });
    });
    s.on('error', () => {
      clearTimeout(t);
      resolve({ data, how: 'reset' });
    });
    s.on('connect', () => s.write(request));
  });
  const conn = await connP;
  await new Promise((r) => setTimeout(r, 150)); // the service's side of the ending
  assert.equal(conn.triggered !== undefined, fault !== undefined, 'the fault took effect');
  s.destroy();
  conn.release();
  await proxy.close();
  return { ...out, served: service.got[n]! };
}

describe('fault proxy', () => {
  it('forwards cleanly without a fault', async () => {
    const r = await through(undefined);
    assert.deepEqual(r.data, reply);
    assert.deepEqual(r.served.data, request);
  });

  it('FIN at an offset: exactly the bytes before it arrive, then a clean end', async () => {
    const up = await through({ kind: 'fin', dir: 'up', offset: 7 });
    assert.deepEqual(up.served.data, request.subarray(0, 7));
    assert.equal(up.served.how, 'end');
    const down = await through({ kind: 'fin', dir: 'down', offset: 5 });
    assert.deepEqual(down.data, reply.subarray(0, 5));
    assert.equal(down.how, 'end');
  });

  it('reset at an offset: nothing past it arrives, and the connection is gone', async () => {
    const r = await through({ kind: 'reset', dir: 'down', offset: 4 });
    assert.ok(reply.subarray(0, 4).subarray(0, r.data.length).equals(r.data) && r.data.length <= 4, `got ${r.data}`);
    // Linux may report a RST that arrives behind unread data as EOF on the read side.
    assert.notEqual(r.how, 'open');
    const up = await through({ kind: 'reset', dir: 'up', offset: 0 });
    assert.equal(up.served.data.length, 0);
    assert.equal(up.served.how, 'reset');
  });

  it('inserts a byte or flips one at a boundary, and forwards the rest', async () => {
    const ins = await through({ kind: 'insert', dir: 'down', offset: 3, byte: 0x21 });
    assert.equal(ins.data.toString(), '012!3456789abcdefghij');
    const flip = await through({ kind: 'flip', dir: 'up', offset: 2, byte: 0x20 });
    assert.equal(flip.served.data.toString(), 'ABcDEFGHIJKLMNOPQRST');
  });

  it('stalls at a boundary: nothing more either way, the connection stays open', async () => {
    const r = await through({ kind: 'stall', dir: 'down', offset: 6 });
    assert.deepEqual(r.data, reply.subarray(0, 6));
    assert.equal(r.how, 'open');
  });
});

describe('exchanges and the plan', () => {
  const frame = (n: number): Buffer => Buffer.concat([Buffer.from([n >> 8, n & 255]), Buffer.alloc(n, 7)]);

  it('finds frame boundaries from the 2-byte length prefixes', () => {
    assert.deepEqual(frameBoundaries(Buffer.concat([frame(3), frame(300), frame(1)]), 'x'), [0, 5, 307]);
    assert.throws(() => frameBoundaries(Buffer.concat([frame(3), frame(10).subarray(0, 6)]), 'x'), /runs past/);
    assert.throws(() => frameBoundaries(Buffer.from([0, 0]), 'x'), /length 0/);
  });

  it('plans a reset and a FIN at every offset and three faults at every boundary, per direction', () => {
    const ex = makeExchange('control', [
      { dir: 'up', at: 0, data: Buffer.concat([frame(3), frame(2)]) },
      { dir: 'down', at: 1, data: frame(4) },
    ]);
    assert.deepEqual(ex.boundaries, { up: [0, 5], down: [0] });
    const all = plan([ex], { kinds: ['reset', 'fin', 'stall', 'insert', 'flip'], step: 1, seed: 1 });
    assert.equal(all.length, (9 + 6) * 2 + 3 * 3);
    const sampled = plan([ex], { kinds: ['reset'], step: 4, seed: 1 });
    assert.deepEqual(
      sampled.map((i) => `${i.fault.dir}${i.fault.offset}`),
      ['up0', 'up4', 'up5', 'up8', 'down0', 'down4'],
    );
  });

  it('local exchanges split at the application chunks', () => {
    const ex = makeExchange('local', [
      { dir: 'up', at: 0, data: Buffer.alloc(12) },
      { dir: 'down', at: 1, data: Buffer.alloc(12) },
      { dir: 'up', at: 2, data: Buffer.alloc(12) },
    ]);
    assert.deepEqual(ex.boundaries, { up: [0, 12], down: [0] });
  });

  it('prints offsets as ranges', () => {
    assert.equal(ranges([5, 1, 2, 3, 9, 10]), '1-3, 5, 9-10');
  });

  it('tells log lines from crash output', () => {
    assert.equal(classify('2026-01-01T00:00:00.000Z client info: online'), 'log');
    assert.equal(classify('    at TCP.onStreamRead (node:internal/stream_base_commons:218:20)'), 'stack');
    assert.equal(classify('Error: read ECONNRESET'), 'stack');
    assert.equal(classify('  hint: check the client log'), 'other');
  });
});

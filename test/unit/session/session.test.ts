/**
 * A whole session over an in-memory duplex pair (no relay, no path sockets): the same Session and
 * Mux code the visitor and client run, with real Noise keys from an in-memory IK handshake and
 * loopback application sockets at both ends.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { initCrypto } from '../../../src/crypto/index.js';
import { silentLogger } from '../../../src/log.js';
import { FrameReader } from '../../../src/net/frame-reader.js';
import type { MuxStream } from '../../../src/session/mux.js';
import { Session, type RekeyLimits } from '../../../src/session/session.js';
import type { MuxLimits } from '../../../src/session/mux.js';
import { sessionKeys } from '../../helpers/noise.js';
import { duplexPair, type Tap } from '../../helpers/duplex-pair.js';
import { EchoService, collect, dial, send } from '../../helpers/net.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Pair {
  visitor: Session;
  client: Session;
  /** Local service connections the client made, by service. */
  locals: Socket[];
}

/** Visitor and client sessions joined in memory; the client serves `echo` (an echo service) and `sink` (a server that never reads). */
function sessions(services: Record<string, number>, tap?: Tap, limits?: Partial<MuxLimits & RekeyLimits>): Pair {
  const keys = sessionKeys();
  const [a, b] = duplexPair(tap);
  const locals: Socket[] = [];
  const visitor = new Session({ path: a, reader: new FrameReader(a, 65535, 64), ...keys.visitor, role: 'visitor', log: silentLogger, limits });
  const client = new Session({
    path: b, reader: new FrameReader(b, 65535, 64), ...keys.client, role: 'client', log: silentLogger, limits,
    onOpen: (stream: MuxStream, service: string) => {
      const port = services[service];
      if (!port) return stream.refuse('unknown_service', `no ${service}`);
      void dial(port).then((s) => {
        locals.push(s);
        stream.attach(s);
      });
    },
  });
  return { visitor, client, locals };
}

/** An app socket on the visitor side: a loopback connection whose server end becomes the stream's app. */
class Apps {
  readonly #server: Server = createServer({ allowHalfOpen: true });
  readonly #accepted: Socket[] = [];
  #waiters: ((s: Socket) => void)[] = [];
  port = 0;
  async start(): Promise<void> {
    this.#server.on('connection', (s) => {
      s.setNoDelay(true);
      s.pause();
      const w = this.#waiters.shift();
      if (w) w(s);
      else this.#accepted.push(s);
    });
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as { port: number }).port;
  }
  /** Opens a stream on `session` to `service`; returns the application's end. */
  async open(session: Session, service: string): Promise<Socket> {
    const app = await dial(this.port);
    const inner = this.#accepted.shift() ?? (await new Promise<Socket>((r) => this.#waiters.push(r)));
    session.mux.open(service, inner);
    return app;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.#server.close(() => r()));
  }
}

describe('a session over an in-memory duplex pair', () => {
  const echo = new EchoService();
  const apps = new Apps();
  let sink: Server;
  let sinkPort = 0;
  /** Hashes what it receives; answers the sha256 hex once the peer ends. */
  const hasher = createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    s.on('data', (d: Buffer) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
    s.on('error', () => {});
  });
  let hashPort = 0;
  const held: Socket[] = [];
  before(async () => {
    await initCrypto();
    await echo.start();
    await apps.start();
    sink = createServer({ allowHalfOpen: true }, (s) => {
      s.pause(); // never reads
      held.push(s);
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    sinkPort = (sink.address() as { port: number }).port;
    await new Promise<void>((r) => hasher.listen(0, '127.0.0.1', r));
    hashPort = (hasher.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => sink.close(() => r()));
    await new Promise<void>((r) => hasher.close(() => r()));
    await apps.stop();
    await echo.stop();
  });

  it('carries many concurrent streams, each intact, and half-close per stream', async () => {
    const p = sessions({ echo: echo.port });
    const inputs = Array.from({ length: 200 }, (_, i) => randomBytes(1000 + i * 1500));
    const outs = await Promise.all(inputs.map(async (d) => {
      const app = await apps.open(p.visitor, 'echo');
      const out = collect(app);
      await send(app, d); // writes, then half-closes; the echo ends after it
      return out;
    }));
    outs.forEach((o, i) => {
      assert.equal(o.how, 'end', `stream ${i} ended cleanly`);
      assert.equal(sha(o.data), sha(inputs[i]!));
    });
    assert.equal(p.visitor.mux.streamCount, 0, 'finished streams leave the session');
    p.visitor.close('shutdown', 'test done');
    await p.client.ended;
  });

  it('a stalled stream holds at most its window and does not slow the others', async () => {
    const p = sessions({ echo: echo.port, sink: sinkPort });
    const stalled = await apps.open(p.visitor, 'sink');
    stalled.on('error', () => {});
    const junk = Buffer.alloc(64 * 1024 * 1024, 1);
    stalled.write(junk); // the sink never reads: this stream stops at its window
    const data = randomBytes(16 * 1024 * 1024);
    const app = await apps.open(p.visitor, 'echo');
    const out = collect(app);
    await send(app, data);
    const o = await out;
    assert.equal(o.how, 'end');
    assert.equal(sha(o.data), sha(data), 'the other stream got all its data through');
    // What the stalled stream moved is bounded by its window plus the kernel's socket buffers
    // towards the sink, not its 64 MiB; in the client process, by the window.
    const moved = p.client.mux.stats.bytesIn - data.length;
    assert.ok(moved < 32 * 1024 * 1024, `the stalled stream moved ${moved} bytes`);
    const local = p.locals.find((l) => l.remotePort === sinkPort)!;
    assert.ok(local.writableLength <= p.client.mux.limits.maxWindow + 64 * 1024, `the client holds ${local.writableLength} bytes for the stalled service`);
    assert.ok(stalled.writableLength > 0, 'the stalled application is held back');
    p.visitor.close('shutdown', 'test done');
    await p.client.ended;
  });

  it('rekeys both directions in the middle of a long transfer, data intact', async () => {
    const p = sessions({ echo: echo.port }, undefined, { rekeyBytes: 1024 * 1024 });
    const data = randomBytes(64 * 1024 * 1024);
    const app = await apps.open(p.visitor, 'echo');
    const out = collect(app, 60_000);
    await send(app, data);
    const o = await out;
    assert.equal(o.how, 'end');
    assert.equal(sha(o.data), sha(data));
    assert.ok(p.visitor.stats.rekeysSent >= 32, `visitor rekeyed ${p.visitor.stats.rekeysSent} times`);
    assert.equal(p.client.stats.rekeysReceived, p.visitor.stats.rekeysSent);
    assert.ok(p.client.stats.rekeysSent >= 32 && p.visitor.stats.rekeysReceived === p.client.stats.rekeysSent);
    p.visitor.close('shutdown', 'test done');
    await p.client.ended;
  });

  it('rekeys every 4 MiB in the middle of a 256 MiB transfer, data intact (sha256 at the service)', async () => {
    const p = sessions({ hash: hashPort }, undefined, { rekeyBytes: 4 * 1024 * 1024 });
    const app = await apps.open(p.visitor, 'hash');
    const out = collect(app, 120_000);
    const h = createHash('sha256');
    const piece = randomBytes(1024 * 1024);
    for (let i = 0; i < 256; i++) {
      piece[0] = i;
      h.update(piece);
      if (!app.write(Buffer.from(piece))) await new Promise((r) => app.once('drain', r));
    }
    app.end();
    const o = await out;
    assert.equal(o.how, 'end');
    assert.equal(o.data.toString(), h.digest('hex'), 'the service hashed exactly what was sent');
    assert.ok(p.visitor.stats.rekeysSent >= 63, `visitor rekeyed ${p.visitor.stats.rekeysSent} times`);
    assert.equal(p.client.stats.rekeysReceived, p.visitor.stats.rekeysSent);
    p.visitor.close('shutdown', 'test done');
    await p.client.ended;
  });

  it('an unknown service is refused on its stream only', async () => {
    const p = sessions({ echo: echo.port });
    const bad = await apps.open(p.visitor, 'nosuch');
    const refused = await collect(bad);
    assert.equal(refused.how, 'reset');
    const good = await apps.open(p.visitor, 'echo');
    const out = collect(good);
    await send(good, Buffer.from('still fine'));
    assert.equal((await out).data.toString(), 'still fine');
    p.visitor.close('shutdown', 'test done');
    await p.client.ended;
  });

  it('one flipped bit ends the session: every stream at both ends is reset, no corrupt byte delivered', async () => {
    let seen = 0;
    let armed = false;
    const tap: Tap = (dir, chunk) => {
      if (dir !== 'up' || !armed) return chunk;
      seen += chunk.length;
      if (seen < 200_000) return chunk;
      armed = false;
      const copy = Buffer.from(chunk);
      copy[copy.length >> 1]! ^= 0x04;
      return copy;
    };
    const p = sessions({ echo: echo.port }, tap);
    const apps3 = await Promise.all([0, 1, 2].map(() => apps.open(p.visitor, 'echo')));
    const outs = apps3.map((a) => collect(a));
    await new Promise((r) => setTimeout(r, 50));
    armed = true;
    const data = randomBytes(1024 * 1024);
    for (const a of apps3) a.write(data);
    const results = await Promise.all(outs);
    for (const r of results) {
      assert.equal(r.how, 'reset');
      assert.ok(r.data.equals(data.subarray(0, r.data.length)), 'every delivered byte is genuine');
    }
    // The client failed authentication and dropped the path; the visitor saw it end without CLOSE.
    assert.equal((await p.visitor.ended).code, 'STREAM_TRUNCATED');
    const reason = await p.client.ended;
    assert.equal(reason.code, 'DECRYPT_FAILED');
    for (const l of p.locals) assert.ok(l.destroyed, 'the client reset its local connections');
  });

  it('a path cut without an authenticated end resets every stream (never a clean EOF)', async () => {
    let cut = false;
    const p = sessions({ echo: echo.port }, (_dir, chunk) => (cut ? null : chunk));
    const app = await apps.open(p.visitor, 'echo');
    const out = collect(app);
    app.write('some bytes');
    await new Promise((r) => setTimeout(r, 50));
    cut = true;
    p.visitor.mux.abort(new (await import('../../../src/errors.js')).TunError('STREAM_TRUNCATED', 'path cut (test)'));
    const o = await out;
    assert.equal(o.how, 'reset');
  });
});

/**
 * The visitor's path choice over in-memory sessions (real Session and Noise code, duplex pairs for
 * paths): relay first, a direct path when a probe finds one, back to the relay when the direct path
 * goes silent (its open streams reset), and a re-probe that moves back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initCrypto } from '../../../src/crypto/index.js';
import { createLogger, silentLogger } from '../../../src/log.js';
import { FrameReader } from '../../../src/net/frame-reader.js';
import { PathManager, reprobeMsFromEnv, type DirectPath } from '../../../src/p2p/path-manager.js';
import { trackReceived } from '../../../src/p2p/visitor-probe.js';
import { Session } from '../../../src/session/session.js';
import { sessionKeys } from '../../helpers/noise.js';
import { duplexPair } from '../../helpers/duplex-pair.js';
import { EchoService, collect, dial, send, until } from '../../helpers/net.js';
import { createServer, type Socket } from 'node:net';

interface Pair {
  visitor: Session;
  client: Session;
  /** Drops everything both ways from now on (a blackholed path). */
  blackhole: () => void;
  lastReceived: () => number;
}

function pair(echoPort: number): Pair {
  const keys = sessionKeys();
  let dropped = false;
  const [a, b] = duplexPair((_dir, chunk) => (dropped ? null : chunk));
  const lastReceived = trackReceived(a);
  const visitor = new Session({ path: a, reader: new FrameReader(a, 65535, 64), ...keys.visitor, role: 'visitor', log: silentLogger });
  const client = new Session({
    path: b, reader: new FrameReader(b, 65535, 64), ...keys.client, role: 'client', log: silentLogger,
    onOpen: (stream) => void dial(echoPort).then((s) => stream.attach(s)),
  });
  return { visitor, client, blackhole: () => (dropped = true), lastReceived };
}

/** A loopback connection pair: `app` is what a stream attaches to, `user` is the application. */
async function appPair(): Promise<{ app: Socket; user: Socket }> {
  const server = createServer({ allowHalfOpen: true });
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const user = await dial((server.address() as { port: number }).port);
  const app = await accepted;
  server.close();
  return { app, user };
}

describe('P2P path manager', () => {
  const echo = new EchoService();
  const lines: string[] = [];
  const log = createLogger('visit', 'debug', (l) => void lines.push(l.trim()), 'text');
  before(async () => {
    await initCrypto();
    await echo.start();
  });
  after(() => echo.stop());

  it('relay first; a found direct path takes new streams; a silent one hands them back within seconds and resets its streams; a re-probe moves back', async () => {
    lines.length = 0;
    const relay = pair(echo.port);
    const directs: Pair[] = [];
    let probes = 0;
    let offerDirect = true;
    const pm = new PathManager({
      log, enabled: true, reprobeMs: 300, pingMs: 100, deadMs: 600, closeAfterMs: 1500,
      probe: async (r) => {
        assert.equal(r, relay.visitor, 'the probe runs inside the relay session');
        probes++;
        if (!offerDirect) return undefined;
        const d = pair(echo.port);
        directs.push(d);
        return { kind: 'direct-tcp', remote: '127.0.0.1:7', session: d.visitor, lastReceived: d.lastReceived } satisfies DirectPath;
      },
    });
    pm.relayUp(relay.visitor);
    assert.equal(pm.current, 'relay');
    assert.ok(lines.some((l) => /visit info: path: relay \(relay session open\)/.test(l)));
    await until(() => pm.current === 'direct-tcp', 6000);
    assert.ok(lines.some((l) => /visit info: path: direct-tcp 127\.0\.0\.1:7$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /streams by path: relay 0, direct-tcp 0, direct-udp 0/.test(l)));
    assert.equal(pm.pick(), directs[0]!.visitor);

    // A stream on the direct path works, and stays open across the next steps.
    const { app, user } = await appPair();
    const s = pm.pick()!;
    pm.opened(s);
    s.mux.open('echo', app);
    const outcome = collect(user, 10_000);
    await send(user, Buffer.from('direct'), false);
    await until(() => echo.received.some((b) => b.toString() === 'direct'), 3000);
    // Quiet for a while: keepalive pings keep the direct path alive.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(pm.current, 'direct-tcp', 'a quiet but working direct path is kept');

    offerDirect = false;
    const t0 = Date.now();
    directs[0]!.blackhole();
    await until(() => pm.current === 'relay', 6000);
    // 600 ms of silence; generous for a loaded machine (a late timer postpones the judgement).
    assert.ok(Date.now() - t0 < 4000, `back on the relay after ${Date.now() - t0} ms`);
    assert.equal(pm.pick(), relay.visitor);
    assert.ok(lines.some((l) => /path: relay \(direct path 127\.0\.0\.1:7 silent for \d+ ms\)/.test(l)), lines.join('\n'));
    const ended = await outcome;
    assert.equal(ended.how, 'reset', 'a stream on the dead path ends with a reset, not a hang');
    assert.ok(Date.now() - t0 < 8000, `the dead path's stream was reset after ${Date.now() - t0} ms`);
    assert.ok(lines.some((l) => /direct path closed: .*silent/.test(l)), lines.join('\n'));

    // Re-probes run every reprobeMs while no direct path works; one that finds it moves back.
    const before = probes;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(probes - before >= 1 && probes - before <= 3, `${probes - before} re-probes in 1.5 s at 300 ms (at most one a second)`);
    offerDirect = true;
    await until(() => pm.current === 'direct-tcp', 6000);
    pm.stop();
    assert.match(lines.at(-1)!, /streams by path: relay 0, direct-tcp 1, direct-udp 0/);
    relay.visitor.close('shutdown', 'test over');
  });

  it('a direct path that goes silent and speaks again gets new streams back (a loaded peer is not a dead one)', async () => {
    lines.length = 0;
    const relay = pair(echo.port);
    let d: Pair | undefined;
    let paused = false;
    let pausedAt = 0;
    const pm = new PathManager({
      log, enabled: true, reprobeMs: 60_000, pingMs: 100, deadMs: 500, closeAfterMs: 5000,
      probe: async () => {
        d = pair(echo.port);
        return { kind: 'direct-udp', remote: '127.0.0.1:9', session: d.visitor, lastReceived: () => (paused ? pausedAt : d!.lastReceived()) };
      },
    });
    pm.relayUp(relay.visitor);
    await until(() => pm.current === 'direct-udp', 6000);
    pausedAt = Date.now();
    paused = true;
    await until(() => pm.current === 'relay', 6000);
    assert.equal(pm.pick(), relay.visitor);
    paused = false;
    await until(() => pm.current === 'direct-udp', 6000);
    assert.equal(pm.pick(), d!.visitor);
    assert.equal(d!.visitor.mux.closed, false, 'the direct session was kept');
    pm.stop();
    relay.visitor.close('shutdown', 'test over');
  });

  it('with P2P off it never probes', async () => {
    const relay = pair(echo.port);
    let probes = 0;
    const pm = new PathManager({ log: silentLogger, enabled: false, reprobeMs: 100, probe: async () => (probes++, undefined) });
    pm.relayUp(relay.visitor);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(probes, 0);
    assert.equal(pm.pick(), relay.visitor);
    pm.stop();
    relay.visitor.close('shutdown', 'test over');
  });

  it('TUN_P2P_REPROBE_MS sets the re-probe interval (default 30 s)', () => {
    assert.equal(reprobeMsFromEnv({}), 30_000);
    assert.equal(reprobeMsFromEnv({ TUN_P2P_REPROBE_MS: '500' }), 500);
    assert.equal(reprobeMsFromEnv({ TUN_P2P_REPROBE_MS: 'x' }), 30_000);
    assert.equal(reprobeMsFromEnv({ TUN_P2P_REPROBE_MS: '5' }), 30_000);
  });
});

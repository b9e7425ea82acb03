/**
 * The crypto-free baseline's agents (their own processes): tun's own stream multiplexer
 * (src/session/mux.ts) over one plain TCP connection per visitor, no encryption. Frames travel
 * as tun frames them (2-byte length + frame, header and frame written under cork as tun's Session
 * does, without the AEAD).
 *   node mux-agent.js visit RELAY_HOST:VISITOR_PORT LISTEN_PORT
 *     one connection to the relay at start; each app connection opens a stream on it.
 *   node mux-agent.js client RELAY_HOST:CONTROL_PORT SERVICE_PORT
 *     keeps a control connection; for each `ID` line dials the relay's tunnel port (on
 *     RELAY_HOST), sends `ID\n`, then answers the streams on that connection by dialling the service.
 * Prints `ready PORT` (visit: its listening port; client: the service port, once online).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { TunError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { FrameReader } from '../../src/net/frame-reader.js';
import { Mux, type FrameSink, type MuxStream } from '../../src/session/mux.js';
import { FRAME_HEADER, frameHeader } from '../../src/wire/index.js';

function dial(host: string, port: number): Socket {
  const s = connect({ host, port, allowHalfOpen: true });
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  return s;
}

/** A Mux over a plain socket: the session's framing without the cipher. */
function muxOver(path: Socket, role: 'visitor' | 'client', onOpen?: (stream: MuxStream, service: string) => void): Mux {
  const sink: FrameSink = {
    send(frame, body) {
      const header = Buffer.allocUnsafe(FRAME_HEADER);
      frameHeader(header, frame.length + (body?.length ?? 0));
      path.cork();
      path.write(header);
      let ok = path.write(frame);
      if (body) ok = path.write(body);
      path.uncork();
      return ok;
    },
  };
  const mux = new Mux({ role, sink, log: silentLogger, onOpen, onClose: () => path.destroy() });
  path.on('drain', () => mux.drained());
  const reader = new FrameReader(path, 65535, 64);
  reader.onFrame(
    (f) => {
      try {
        mux.receive(f);
      } catch (e) {
        mux.abort(e instanceof TunError ? e : new TunError('PROTOCOL_VIOLATION', String(e)));
      }
    },
    (e) => mux.abort(new TunError('STREAM_TRUNCATED', e.message)),
  );
  return mux;
}

const [mode, relay, portArg] = process.argv.slice(2);
const at = relay?.lastIndexOf(':') ?? -1;
const [host, relayPort] = [relay?.slice(0, at) ?? '', Number(relay?.slice(at + 1))];

if (mode === 'visit') {
  const path = dial(host, relayPort);
  path.on('close', () => {
    console.error('mux-agent: the session connection closed');
    process.exit(1);
  });
  const mux = muxOver(path, 'visitor');
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (app) => {
    app.setNoDelay(true);
    mux.open('echo', app);
  });
  server.listen({ port: Number(portArg ?? 0), host: '127.0.0.1', backlog: 4096 }, () => console.log(`ready ${(server.address() as AddressInfo).port}`));
} else if (mode === 'client') {
  const service = Number(portArg);
  const control = dial(host, relayPort);
  let tunnelPort = 0;
  let buf = '';
  const answer = (stream: MuxStream): void => {
    const local = connect({ host: '127.0.0.1', port: service, allowHalfOpen: true });
    local.setNoDelay(true);
    local.once('connect', () => stream.attach(local));
    local.once('error', () => {
      local.destroy();
      stream.refuse('local_service_unavailable', 'the echo service refused');
    });
  };
  control.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = line.match(/^tunnel (\d+)$/);
      if (m) {
        tunnelPort = Number(m[1]);
        console.log(`ready ${service}`);
      } else if (tunnelPort) {
        const t = dial(host, tunnelPort);
        t.write(`${line}\n`);
        muxOver(t, 'client', answer);
      }
    }
    if (buf.length > 1024) control.destroy();
  });
  control.on('close', () => process.exit(1));
} else {
  console.error('usage: mux-agent.js visit|client RELAY_HOST:PORT PORT');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));

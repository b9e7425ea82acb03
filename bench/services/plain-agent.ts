/**
 * The crypto-free baseline's agents (their own processes), plain byte forwarding:
 *   node plain-agent.js visit RELAY_HOST:VISITOR_PORT LISTEN_PORT
 *     listens on 127.0.0.1; each app connection gets its own connection to the relay.
 *   node plain-agent.js client RELAY_HOST:CONTROL_PORT SERVICE_PORT
 *     keeps a control connection; for each `ID` line dials the service and the relay's tunnel
 *     port (on RELAY_HOST), sends `ID\n`, then pipes.
 * Prints `ready PORT` (visit: its listening port; client: the service port once online).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

function dial(host: string, port: number): Socket {
  const s = connect({ host, port, allowHalfOpen: true });
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  return s;
}

function join(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
}

const [mode, relay, portArg] = process.argv.slice(2);
const [host, relayPort] = [relay!.slice(0, relay!.lastIndexOf(':')), Number(relay!.slice(relay!.lastIndexOf(':') + 1))];

if (mode === 'visit') {
  const server = createServer({ allowHalfOpen: true }, (app) => {
    app.setNoDelay(true);
    app.on('error', () => app.destroy());
    join(app, dial(host, relayPort));
  });
  server.listen({ port: Number(portArg ?? 0), host: '127.0.0.1', backlog: 4096 }, () => console.log(`ready ${(server.address() as AddressInfo).port}`));
} else if (mode === 'client') {
  const control = dial(host, relayPort);
  let tunnelPort = 0;
  let buf = '';
  control.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = line.match(/^tunnel (\d+)$/);
      if (m) {
        tunnelPort = Number(m[1]);
        console.log(`ready ${portArg}`);
      } else if (tunnelPort) {
        const t = dial(host, tunnelPort);
        t.write(`${line}\n`);
        join(t, dial('127.0.0.1', Number(portArg)));
      }
    }
    if (buf.length > 1024) control.destroy();
  });
  control.on('close', () => process.exit(1));
} else {
  console.error('usage: plain-agent.js visit|client RELAY_HOST:PORT PORT');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));

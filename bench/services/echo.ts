/**
 * The loopback echo service every path ends at (its own process): echoes bytes and half-close.
 * A second port answers each connection with the number of connections open now, so the bench
 * can tell when streams that carried no data yet reached the service.
 * Usage: node echo.js; prints `ready ECHO_PORT COUNT_PORT`.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';

let open = 0;
const echo = createServer({ allowHalfOpen: true }, (s) => {
  open++;
  s.once('close', () => open--);
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  s.pipe(s);
});
const count = createServer((s) => {
  s.on('error', () => s.destroy());
  s.end(`${open}\n`);
});
const listen = (server: Server): Promise<number> =>
  new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve((server.address() as AddressInfo).port)));
console.log(`ready ${await listen(echo)} ${await listen(count)}`);
process.on('SIGTERM', () => process.exit(0));

/**
 * The loopback echo service every path ends at (its own process): echoes bytes and half-close.
 * Usage: node echo.js [PORT]; prints `ready PORT`.
 */
import { createServer, type AddressInfo } from 'node:net';

const server = createServer({ allowHalfOpen: true }, (s) => {
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  s.pipe(s);
});
server.listen({ port: Number(process.argv[2] ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  console.log(`ready ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));

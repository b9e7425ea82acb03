/**
 * The HTTP endpoint Prometheus scrapes: GET /metrics and nothing else. Off unless --metrics is
 * given; a host that is not loopback needs --metrics-public as well, because metrics say who is
 * connected and how much they move. Small and bounded: short timeouts, few connections, no body.
 */
import { createServer, type Server } from 'node:http';
import { isLoopback } from '../net/ip.js';
import type { Registry } from 'prom-client';
import { TunError, printable } from '../errors.js';

export interface MetricsAddress {
  host: string;
  port: number;
}

const MAX_CONNECTIONS = 16;
const TIMEOUT_MS = 5000;

/** Refuses a non-loopback metrics address unless the operator said --metrics-public. */
export function checkMetricsHost(host: string, allowPublic: boolean): void {
  if (isLoopback(host) || allowPublic) return;
  throw new TunError(
    'CONFIG_INVALID',
    `--metrics ${printable(host)}: not a loopback address, and metrics show who is connected and how much they move`,
    'use --metrics 127.0.0.1:PORT and scrape through an SSH tunnel or a local agent, or add --metrics-public to serve them on that address anyway',
  );
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export function serveMetrics(registry: Registry, at: MetricsAddress): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('tun serves only GET /metrics here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = TIMEOUT_MS;
  server.requestTimeout = TIMEOUT_MS;
  server.keepAliveTimeout = TIMEOUT_MS;
  server.maxHeadersCount = 64;
  server.on('clientError', (_err, socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new TunError('CONFIG_INVALID', `cannot serve metrics on ${at.host}:${at.port}: ${err.code ?? err.message}`, err.code === 'EADDRINUSE' ? 'another program uses that port; pick another with --metrics HOST:PORT' : 'check the --metrics address')),
    );
    server.listen({ host: at.host, port: at.port }, () => {
      server.on('error', () => {});
      const a = server.address();
      resolve({ port: typeof a === 'object' && a ? a.port : 0, close: () => closeHttp(server) });
    });
  });
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Prometheus metrics of one role, with prom-client. Every value is read from the Observer (and
 * the role's own counters) when a scrape asks for it, so serving metrics adds no work on the path
 * bytes take. Names and labels are documented in docs/operations.md ("Observing").
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Observer, PathLabel, Peer } from './observer.js';
import { reloadCount } from './reloads.js';
import { VERSION } from './version.js';

/** Session series present (as 0) from the start, so a dashboard sees them before the first session. */
const SESSION_SERIES: Record<Observer['role'], [Peer, PathLabel][]> = {
  relay: [['client', 'relay'], ['visitor', 'relay']],
  client: [['visitor', 'relay']],
  visit: [['client', 'relay']],
};

export function buildRegistry(obs: Observer): Registry {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  new Gauge({ name: 'tun_info', help: 'Always 1; the labels say which role and version this process runs', labelNames: ['role', 'version'], registers }).set({ role: obs.role, version: VERSION }, 1);

  new Gauge({
    name: 'tun_sessions', help: 'Sessions open now, by peer (client or visitor) and path (relay, direct-tcp, direct-udp)', labelNames: ['peer', 'path'], registers,
    collect() {
      this.reset();
      for (const [peer, path] of SESSION_SERIES[obs.role]) this.set({ peer, path }, 0);
      for (const s of obs.sessions) this.inc({ peer: s.info.peer, path: s.info.path });
    },
  });

  new Gauge({
    name: 'tun_streams_open', help: 'Streams open now, by service and path (relay: joins it splices; service "(session)" is a whole end-to-end visitor session)', labelNames: ['service', 'path'], registers,
    collect() {
      this.reset();
      for (const r of obs.streamRows()) this.set({ service: r.service, path: r.path }, r.open);
    },
  });

  new Counter({
    name: 'tun_streams_total', help: 'Streams opened since start, by service and path', labelNames: ['service', 'path'], registers,
    collect() {
      this.reset();
      for (const r of obs.streamRows()) this.inc({ service: r.service, path: r.path }, r.total);
    },
  });

  new Counter({
    name: 'tun_bytes_total', help: 'Bytes carried (client, visitor: application bytes; relay: bytes relayed), by service, path and direction (to_service: from the visitor toward the service; to_visitor: back)', labelNames: ['service', 'path', 'direction'], registers,
    collect() {
      this.reset();
      for (const r of obs.streamRows()) {
        this.inc({ service: r.service, path: r.path, direction: 'to_service' }, r.toService);
        this.inc({ service: r.service, path: r.path, direction: 'to_visitor' }, r.toVisitor);
      }
    },
  });

  new Counter({
    name: 'tun_handshake_failures_total', help: 'Handshakes that did not complete, by reason (a tun error code such as CLIENT_NOT_AUTHORIZED, VISITOR_NOT_ALLOWED, TIMEOUT)', labelNames: ['reason'], registers,
    collect() {
      this.reset();
      for (const [reason, n] of obs.failures) this.inc({ reason }, n);
    },
  });

  new Gauge({
    name: 'tun_pending_joins', help: 'Streams or sessions waiting to be joined (relay: visitors waiting for their client; client: joins being set up; visitor: application connections waiting for the session)', registers,
    collect() {
      this.set(obs.sources.pendingJoins?.() ?? 0);
    },
  });

  new Counter({
    name: 'tun_reconnects_total', help: 'Times the client reconnected to the relay, or the visitor reopened its session', registers,
    collect() {
      this.reset();
      this.inc(obs.reconnects);
    },
  });

  new Counter({
    name: 'tun_reloads_total', help: 'Configuration reloads, by result (ok, or failed: the old configuration kept running)', labelNames: ['result'], registers,
    collect() {
      const r = reloadCount();
      this.reset();
      this.inc({ result: 'ok' }, r.ok);
      this.inc({ result: 'failed' }, r.failed);
    },
  });

  if (obs.role === 'relay') {
    new Gauge({
      name: 'tun_preauth_connections', help: 'Relay: connections accepted that have not yet authenticated (or been paired)', registers,
      collect() {
        this.set(obs.sources.preAuth?.() ?? 0);
      },
    });
    new Counter({
      name: 'tun_preauth_dropped_total', help: 'Relay: connections dropped at accept because too many were unauthenticated', registers,
      collect() {
        this.reset();
        this.inc(obs.preAuthDropped);
      },
    });
  }
  return registry;
}

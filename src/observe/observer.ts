/**
 * What a role is doing, kept for metrics and `tun status`. Roles tell it about sessions and
 * streams when they open and end (a few Map updates each), never per chunk: the bytes a stream
 * carried are read from its sockets' own counters (bytesRead / bytesWritten) when it ends and,
 * for live streams, when someone asks. Nothing here holds a key or a token: peers are fingerprints.
 */
import { reloadCount } from './reloads.js';
import { VERSION } from './version.js';

export type Role = 'relay' | 'client' | 'visit';
/** How a session reaches its peer: through the relay today; direct paths once P2P finds one. */
export type PathLabel = 'relay' | 'direct-tcp' | 'direct-udp';
export type Peer = 'client' | 'visitor';

/** Bytes one way and the other: toward the service (visitor -> client -> local service) and back. */
export interface Bytes {
  toService: number;
  toVisitor: number;
}

export interface SessionInfo {
  peer: Peer;
  path: PathLabel;
  /** The peer's key fingerprint, when this end knows it. */
  fingerprint?: string;
  /** The peer's name in this end's key list, if any. */
  name?: string;
  /** Relay: the client a visitor session goes to. */
  client?: string;
}

export interface ServiceInfo {
  name: string;
  /** Client: where the service listens; visitor: where it is offered to applications. */
  address?: string;
  publicPort?: number;
  /** Relay: the client that offers it. */
  client?: string;
}

/** One open session; end() is idempotent. */
export interface ObservedSession {
  readonly info: SessionInfo;
  readonly since: number;
  streams: number;
  end(): void;
}

interface StreamRecord {
  key: string;
  bytes: () => Bytes;
  session: ObservedSession | undefined;
}

export interface StreamRow {
  service: string;
  path: PathLabel;
  open: number;
  total: number;
  toService: number;
  toVisitor: number;
}

/** Gauges read from the role's own state when asked (no bookkeeping on the way). */
export interface Sources {
  services?: () => ServiceInfo[];
  pendingJoins?: () => number;
  preAuth?: () => number;
}

const SEP = '\u0000';
/** Sessions listed one by one in a status answer; beyond this only their number is given. */
export const MAX_LISTED = 1000;
/** Distinct handshake failure reasons kept apart (tun has fewer codes than this). */
const MAX_REASONS = 63;
const keyOf = (service: string, path: PathLabel): string => service + SEP + path;

export class Observer {
  readonly role: Role;
  readonly startedAt = Date.now();
  /** This end's own key fingerprint (public). */
  identity: string | undefined;
  sources: Sources = {};
  readonly #sessions = new Set<ObservedSession>();
  /** The role's own session objects -> their records, so a stream finds its session's path. */
  readonly #byOwner = new WeakMap<object, ObservedSession>();
  readonly #streams = new Set<StreamRecord>();
  /** Per service+path: streams open now, streams ever opened, bytes of the streams that ended. */
  readonly #rows = new Map<string, StreamRow>();
  readonly #failures = new Map<string, number>();
  reconnects = 0;
  preAuthDropped = 0;

  constructor(role: Role) {
    this.role = role;
  }

  /** A session opened; `owner` (the role's session object) lets streams find it with observed(). */
  session(info: SessionInfo, owner?: object): ObservedSession {
    let ended = false;
    const s: ObservedSession = {
      info,
      since: Date.now(),
      streams: 0,
      end: () => {
        if (ended) return;
        ended = true;
        this.#sessions.delete(s);
      },
    };
    this.#sessions.add(s);
    if (owner) this.#byOwner.set(owner, s);
    return s;
  }

  /** The record of a session registered with its owner object, if any. */
  observed(owner: object): ObservedSession | undefined {
    return this.#byOwner.get(owner);
  }

  /**
   * A stream opened on `path` for `service`; `bytes` reads what it carried so far (from socket
   * counters; a stream without them, such as stdio, counts 0). Returns its end, to call once when
   * it is over (later calls do nothing).
   */
  stream(service: string, path: PathLabel, bytes: () => Bytes, session?: ObservedSession): () => void {
    const key = keyOf(service, path);
    let row = this.#rows.get(key);
    if (!row) this.#rows.set(key, (row = { service, path, open: 0, total: 0, toService: 0, toVisitor: 0 }));
    row.open++;
    row.total++;
    if (session) session.streams++;
    const rec: StreamRecord = { key, bytes, session };
    this.#streams.add(rec);
    return () => {
      if (!this.#streams.delete(rec)) return;
      const b = bytes();
      row.open--;
      row.toService += b.toService || 0;
      row.toVisitor += b.toVisitor || 0;
      if (session) session.streams--;
    };
  }

  /**
   * A handshake (or session set-up) that did not complete, by TunError code. A code that came
   * from a peer is untrusted: anything not shaped like a code, or past MAX_REASONS distinct ones,
   * counts as OTHER, so a peer cannot grow the label set.
   */
  handshakeFailed(code: string): void {
    let reason = /^[A-Z][A-Z0-9_]{0,39}$/.test(code) ? code : 'OTHER';
    if (!this.#failures.has(reason) && this.#failures.size >= MAX_REASONS) reason = 'OTHER';
    this.#failures.set(reason, (this.#failures.get(reason) ?? 0) + 1);
  }

  reconnected(): void {
    this.reconnects++;
  }

  get sessions(): ObservedSession[] {
    return [...this.#sessions];
  }

  get failures(): ReadonlyMap<string, number> {
    return this.#failures;
  }

  /** Per service and path: open, total, and bytes including those of live streams. */
  streamRows(): StreamRow[] {
    const rows = new Map<string, StreamRow>();
    for (const [k, r] of this.#rows) rows.set(k, { ...r });
    for (const rec of this.#streams) {
      const r = rows.get(rec.key)!;
      const b = rec.bytes();
      r.toService += b.toService || 0;
      r.toVisitor += b.toVisitor || 0;
    }
    return [...rows.values()];
  }

  snapshot(): Status {
    const now = Date.now();
    const streams = this.streamRows();
    const bytes = { toService: 0, toVisitor: 0 };
    for (const r of streams) {
      bytes.toService += r.toService;
      bytes.toVisitor += r.toVisitor;
    }
    return {
      role: this.role,
      version: VERSION,
      pid: process.pid,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.floor((now - this.startedAt) / 1000),
      ...(this.identity ? { identity: this.identity } : {}),
      sessionCount: this.#sessions.size,
      sessions: this.sessions.slice(0, MAX_LISTED).map((s) => ({ ...s.info, since: new Date(s.since).toISOString(), streams: s.streams })),
      services: (this.sources.services?.() ?? []).slice(0, MAX_LISTED),
      streams,
      bytes,
      pendingJoins: this.sources.pendingJoins?.() ?? 0,
      ...(this.sources.preAuth ? { preAuth: this.sources.preAuth(), preAuthDropped: this.preAuthDropped } : {}),
      reconnects: this.reconnects,
      reloads: reloadCount(),
      handshakeFailures: Object.fromEntries(this.#failures),
    };
  }
}

/** What `tun status` shows: the live state of one role, with no secret in it. */
export interface Status {
  role: Role;
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  identity?: string;
  /** All sessions; `sessions` lists at most MAX_LISTED of them. */
  sessionCount: number;
  sessions: (SessionInfo & { since: string; streams: number })[];
  services: ServiceInfo[];
  streams: StreamRow[];
  bytes: Bytes;
  pendingJoins: number;
  preAuth?: number;
  preAuthDropped?: number;
  reconnects: number;
  reloads: { ok: number; failed: number };
  handshakeFailures: Record<string, number>;
}

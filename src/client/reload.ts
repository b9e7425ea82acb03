/**
 * What a client's reload enforces on what is already running: sessions of visitors whose key no
 * allowed list holds any more are closed at once (an authenticated CLOSE with code
 * visitor_revoked, which the visitor logs), and streams to a service the visitor may no longer use
 * (or that is gone) are reset with visitor_not_allowed / service_removed. Everything else runs on.
 */
import { fingerprint } from '../identity/keys.js';
import type { VisitorAccess } from '../identity/visitor-access.js';
import type { MuxStream } from '../session/mux.js';
import type { Session } from '../session/session.js';

interface Tracked {
  visitor: Buffer;
  streams: Map<MuxStream, string>;
}

export class SessionRegistry {
  readonly #sessions = new Map<Session, Tracked>();

  add(session: Session, visitor: Buffer): void {
    this.#sessions.set(session, { visitor, streams: new Map() });
    void session.ended.then(() => this.#sessions.delete(session));
  }

  stream(session: Session, stream: MuxStream, service: string): void {
    const t = this.#sessions.get(session);
    if (!t) return;
    for (const s of t.streams.keys()) if (s.done) t.streams.delete(s);
    t.streams.set(stream, service);
  }

  /** Closes what `access` and `services` no longer allow; returns how many sessions and streams. */
  enforce(access: VisitorAccess, services: readonly string[]): { sessions: number; streams: number } {
    const closed = { sessions: 0, streams: 0 };
    for (const [session, t] of this.#sessions) {
      if (session.mux.closed) continue;
      if (!access.admits(t.visitor)) {
        closed.sessions++;
        session.close('visitor_revoked', `visitor key ${fingerprint(t.visitor)} was removed from this client's allowed keys`);
        continue;
      }
      for (const [stream, service] of t.streams) {
        if (stream.done) {
          t.streams.delete(stream);
          continue;
        }
        const gone = !services.includes(service);
        if (!gone && access.allows(t.visitor, service)) continue;
        closed.streams++;
        t.streams.delete(stream);
        if (gone) stream.fail('service_removed', `service ${service} was removed from this client`, false, true);
        else stream.fail('visitor_not_allowed', `this visitor may no longer use service ${service}`, false, true);
      }
    }
    return closed;
  }
}

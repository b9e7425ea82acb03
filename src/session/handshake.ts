/**
 * The session handshake between a visitor and a client, over a path (the relay join today): Noise
 * IK, the visitor as initiator pinned to the client's key. Message 1 carries SessionHello {v};
 * message 2 carries SessionAccept {v, ok, code?}, padded to one size. Nothing here acts on message
 * 1: the client answers it, but opens nothing until the first transport message proves the visitor
 * is live (a replayed message 1 cannot produce one).
 */
import type { Socket } from 'node:net';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError, type ErrorCode } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { KeyList, KeyListEntry } from '../identity/key-list.js';
import type { FrameReader } from '../net/frame-reader.js';
import { HandshakeState, type CipherState } from '../noise/index.js';
import { within, writeFrame } from '../stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, encodeMessage, expectMessage, paddedAnswer, sessionPrologue } from '../wire/index.js';

export interface SessionKeys {
  send: CipherState;
  receive: CipherState;
}

/** Handshake frames are small: message 1 with its payload is well under this. */
export const HANDSHAKE_MAX_FRAME = 1024;

const VISIT_CODES: Record<string, ErrorCode> = {
  client_offline: 'CLIENT_OFFLINE',
  busy: 'BUSY',
  timeout: 'TIMEOUT',
  version_mismatch: 'VERSION_MISMATCH',
  visitor_not_allowed: 'VISITOR_NOT_ALLOWED',
};

export const HINTS: Record<string, string> = {
  client_offline: 'start `tun client` (or check it is connected to this relay with the same key)',
  unknown_service: 'check --service: the client must offer a service with exactly this name',
  busy: 'many visitors are waiting for this client; try again shortly',
  timeout: 'the client did not answer in time; is it overloaded or cut off from the relay tunnel port?',
  visitor_not_allowed: "add this visitor's .pub line to the client's --allow file",
  local_service_unavailable: 'the service behind the client is down or refusing connections; start it',
  version_mismatch: 'update tun so both ends speak the same protocol version',
  visitor_revoked: "the client's operator removed this visitor's key; ask them to allow it again",
  service_not_granted: "the relay does not let this client offer that service name; the relay operator grants it (services = [...] in the relay config, or permitservice= in its list)",
  service_owned: 'the relay grants that service name to another client key; pick another name or ask the relay operator',
  service_removed: 'the client no longer offers that service (its config changed); check --service',
};

export interface VisitorSide {
  key: X25519KeyPair;
  clientKey: Buffer;
  /** For messages: the relay address as the user gave it. */
  relay: string;
  pairingMs: number;
}

/** Visitor: asks the relay for the client, runs the handshake, and returns the session keys. */
export async function openSession(path: Socket, reader: FrameReader, o: VisitorSide): Promise<SessionKeys> {
  const cfp = fingerprint(o.clientKey);
  const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: sessionPrologue(), staticKey: o.key, remoteStatic: o.clientKey });
  try {
    // Message 1 goes right after Visit, without waiting: the relay forwards it once the client joins.
    writeFrame(path, encodeMessage('Visit', { v: PROTOCOL_VERSION, client: o.clientKey }));
    writeFrame(path, hs.writeMessage(encodeMessage('SessionHello', { v: PROTOCOL_VERSION })));
    const status = expectMessage(await step(reader.next(), o.pairingMs + 5000, `relay ${o.relay}'s pairing answer`, `relay ${o.relay} closed the connection before pairing with client ${cfp}`), 'VisitStatus');
    if (!status.ok) {
      const code = status.code ?? 'refused';
      throw new TunError(VISIT_CODES[code] ?? 'PROTOCOL_VIOLATION', `relay: ${code}${status.message ? `: ${status.message}` : ''} (client ${cfp})`, HINTS[code]);
    }
    const msg2 = await step(reader.next(), o.pairingMs, `client ${cfp}'s handshake answer`, `the session closed before client ${cfp} answered the handshake`);
    let payload: Buffer;
    try {
      payload = hs.readMessage(msg2);
    } catch {
      throw new TunError('PEER_AUTH_FAILED', `peer authentication failed: the end that answered is not client ${cfp}`, "check --pubkey is the client's .pub; otherwise the relay connected you to someone else");
    }
    const accept = expectMessage(payload, 'SessionAccept');
    if (!accept.ok) {
      const code = accept.code ?? 'refused';
      throw new TunError(VISIT_CODES[code] ?? 'PROTOCOL_VIOLATION', `client ${cfp} refused this visitor: ${code}${accept.message ? `: ${accept.message}` : ''}`, HINTS[code]);
    }
    if (accept.v !== PROTOCOL_VERSION) throw versionMismatch(accept.v, `client ${cfp}`);
    return hs.result!;
  } finally {
    if (!hs.result) hs.destroy();
  }
}

export interface ClientSide {
  key: X25519KeyPair;
  allow: KeyList | undefined;
  timeoutMs: number;
}

export type Answered =
  | ({ ok: true; visitor: Buffer; entry: KeyListEntry } & SessionKeys)
  | { ok: false; reason: TunError };

/**
 * Client: reads message 1 from a joined tunnel, checks the visitor's version and key, and answers.
 * A refusal is still a complete, authenticated message 2 (only that visitor can read it); the
 * caller then ends the path. Throws when message 1 does not authenticate (nothing is answered).
 */
export async function answerSession(tunnel: Socket, reader: FrameReader, o: ClientSide): Promise<Answered> {
  reader.decoder.setMaxFrame(HANDSHAKE_MAX_FRAME);
  const message1 = await step(reader.next(), o.timeoutMs, "the visitor's handshake", 'the relay closed the tunnel before the visitor handshake');
  const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: false, prologue: sessionPrologue(), staticKey: o.key });
  let hello;
  try {
    try {
      hello = expectMessage(hs.readMessage(message1), 'SessionHello');
    } catch (err) {
      throw new TunError('PEER_AUTH_FAILED', `visitor handshake failed: ${(err as Error).message} (the visitor pinned another client key, or the relay altered the handshake)`);
    }
    const visitor = Buffer.from(hs.remoteStatic!);
    const refuse = (code: string, message: string, reason: TunError): Answered => {
      writeFrame(tunnel, hs.writeMessage(paddedAnswer('SessionAccept', { v: PROTOCOL_VERSION, ok: false, code, message })));
      return { ok: false, reason };
    };
    if (hello.v !== PROTOCOL_VERSION) {
      const e = versionMismatch(hello.v, `visitor ${fingerprint(visitor)}`);
      return refuse('version_mismatch', `this client speaks tun protocol ${PROTOCOL_VERSION}, the visitor ${hello.v}: update tun`, e);
    }
    const entry = o.allow?.find(visitor);
    if (!entry) {
      const where = o.allow ? o.allow.source : 'a file given with --allow';
      return refuse('visitor_not_allowed', `visitor key ${fingerprint(visitor)} is not in this client's --allow list`, new TunError('VISITOR_NOT_ALLOWED', `visitor ${fingerprint(visitor)} not allowed`, `to admit it, add its .pub line to ${where}`));
    }
    writeFrame(tunnel, hs.writeMessage(paddedAnswer('SessionAccept', { v: PROTOCOL_VERSION, ok: true })));
    return { ok: true, visitor, entry, ...hs.result! };
  } finally {
    if (!hs.result) hs.destroy();
  }
}

export function versionMismatch(theirs: number, who: string): TunError {
  return new TunError('VERSION_MISMATCH', `version mismatch: this end speaks tun protocol ${PROTOCOL_VERSION}, ${who} ${theirs}`, 'update tun so both ends run the same protocol version');
}

/** Awaits one handshake step within `ms`; an early close or a timeout becomes a TunError saying which step. */
async function step<T>(p: Promise<T>, ms: number, what: string, closedWhy: string): Promise<T> {
  try {
    return await within(p, ms, what);
  } catch (err) {
    if (err instanceof TunError && err.code === 'STREAM_TRUNCATED') throw new TunError('STREAM_TRUNCATED', `${closedWhy} (${err.message})`, undefined, { cause: err });
    throw err;
  }
}

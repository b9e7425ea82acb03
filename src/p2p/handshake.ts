/**
 * The visitor's session handshake on a direct path: exactly the relay path's Noise IK (same
 * prologue, payloads and checks, see src/session/handshake.ts) without the relay's Visit and
 * VisitStatus. The client answers it with answerSession(), as on the relay path, so an end that
 * does not hold the pinned client key cannot complete it, whatever address it answers from.
 */
import type { Duplex } from 'node:stream';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError } from '../errors.js';
import type { FrameReader } from '../net/frame-reader.js';
import { HandshakeState } from '../noise/index.js';
import { HINTS, versionMismatch, type SessionKeys } from '../session/handshake.js';
import { within } from '../stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, encodeFrame, encodeMessage, expectMessage, sessionPrologue } from '../wire/index.js';

export interface DirectVisitorSide {
  key: X25519KeyPair;
  clientKey: Buffer;
  timeoutMs: number;
}

export async function openDirect(path: Duplex, reader: FrameReader, o: DirectVisitorSide, where: string): Promise<SessionKeys> {
  const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: sessionPrologue(), staticKey: o.key, remoteStatic: o.clientKey });
  try {
    path.write(encodeFrame(hs.writeMessage(encodeMessage('SessionHello', { v: PROTOCOL_VERSION }))));
    const msg2 = await within(reader.next(), o.timeoutMs, `the handshake answer from ${where}`);
    let payload: Buffer;
    try {
      payload = hs.readMessage(msg2);
    } catch {
      throw new TunError('PEER_AUTH_FAILED', `${where} answered, but not with the pinned client key`, 'nothing to do: tun stays on the relay path');
    }
    const accept = expectMessage(payload, 'SessionAccept');
    if (!accept.ok) {
      const code = accept.code ?? 'refused';
      throw new TunError(code === 'visitor_not_allowed' ? 'VISITOR_NOT_ALLOWED' : 'PROTOCOL_VIOLATION', `the client refused the direct session: ${code}`, HINTS[code]);
    }
    if (accept.v !== PROTOCOL_VERSION) throw versionMismatch(accept.v, `the client at ${where}`);
    return hs.result!;
  } finally {
    if (!hs.result) hs.destroy();
  }
}

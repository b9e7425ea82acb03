/**
 * What each Noise handshake binds, and the join proof on the tunnel port. Pure functions.
 *
 * Prologues name the channel but not the protocol version: the version travels inside the
 * handshake payloads, so a peer of another version is told "version mismatch: update tun" instead
 * of failing authentication. (Protocol 1 put the version in the prologue; see controlPrologueV1.)
 */
import { createHmac } from 'node:crypto';
import { encodeMessage, type Bodies } from './messages.js';

export const NOISE_PROTOCOL = 'Noise_IK_25519_ChaChaPoly_BLAKE2b';

/** Control channel (client -> relay): "tun control". */
export function controlPrologue(): Buffer {
  return Buffer.from('tun control', 'ascii');
}

/** Protocol 1's control prologue: the relay recognises a protocol-1 client by it, to tell it to update. */
export function controlPrologueV1(): Buffer {
  return Buffer.from('tun/1 control', 'ascii');
}

/** Session (visitor -> client through the relay): "tun session". */
export function sessionPrologue(): Buffer {
  return Buffer.from('tun session', 'ascii');
}

/** Answers to message 1 are padded to this many bytes, so acceptance and refusal look alike on the wire. */
const ANSWER_SIZE = 176;

/** A ControlAccept or SessionAccept payload, padded to one size whatever it says. */
export function paddedAnswer<K extends 'ControlAccept' | 'SessionAccept'>(type: K, body: Omit<Bodies[K], 'pad'>): Buffer {
  const withPad = (n: number): Buffer => encodeMessage(type, { ...body, pad: Buffer.alloc(Math.max(0, Math.min(160, n))) } as Bodies[K]);
  // The pad adds its bytes plus a small header and key; one correction makes the size exact.
  const guess = ANSWER_SIZE - encodeMessage(type, body as Bodies[K]).length - 6;
  const first = withPad(guess);
  return first.length === ANSWER_SIZE ? first : withPad(guess + ANSWER_SIZE - first.length);
}

/**
 * The client's answer to the relay's challenge on the tunnel port: HMAC-SHA256 keyed by the join
 * token (which only the relay and the client's authenticated control session know) over the
 * challenge and the pairing id. An observer who copies it gains nothing: the next connection gets
 * another challenge, and the pairing is single-use.
 */
export function joinProof(token: Uint8Array, challenge: Uint8Array, id: Uint8Array): Buffer {
  return createHmac('sha256', token).update('tun join').update(challenge).update(id).digest();
}

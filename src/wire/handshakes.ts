/**
 * What each Noise handshake binds, and the join proof on the tunnel port. Pure functions.
 *
 * Everything the two ends agree on before a handshake goes into its prologue, so a relay that
 * changes any of it (the channel, the protocol version, the service a visitor asked for) makes
 * the handshake fail instead of silently connecting the wrong things.
 */
import { createHmac } from 'node:crypto';
import { PROTOCOL_VERSION } from './messages.js';

export const NOISE_PROTOCOL = 'Noise_IK_25519_ChaChaPoly_BLAKE2b';

/** Control channel (client -> relay): "tun/1 control". */
export function controlPrologue(): Buffer {
  return Buffer.from(`tun/${PROTOCOL_VERSION} control`, 'ascii');
}

/** Stream (visitor -> client through the relay): "tun/1 stream" 0x00 service-name. */
export function streamPrologue(service: string): Buffer {
  return Buffer.concat([Buffer.from(`tun/${PROTOCOL_VERSION} stream`, 'ascii'), Buffer.of(0), Buffer.from(service, 'utf8')]);
}

/**
 * The client's answer to the relay's challenge on the tunnel port: HMAC-SHA256 keyed by the join
 * token (which only the relay and the client's authenticated control session know) over the
 * challenge and the pairing id. An observer who copies it gains nothing: the next connection gets
 * another challenge, and the pairing is single-use.
 */
export function joinProof(token: Uint8Array, challenge: Uint8Array, id: Uint8Array): Buffer {
  return createHmac('sha256', token).update(`tun/${PROTOCOL_VERSION} join`).update(challenge).update(id).digest();
}

/** Noise material the unit tests share. */
import { X25519KeyPair } from '../../src/crypto/index.js';
import { HandshakeState, type HandshakeResult } from '../../src/noise/index.js';
import { NOISE_PROTOCOL, sessionPrologue } from '../../src/wire/index.js';

/** The transport keys of a session handshake (IK, the session prologue) between two fresh key pairs, completed in memory: what a visitor's and a client's Session start from. */
export function sessionKeys(): { visitor: HandshakeResult; client: HandshakeResult } {
  const v = X25519KeyPair.generate();
  const c = X25519KeyPair.generate();
  const ini = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: sessionPrologue(), staticKey: v, remoteStatic: c.publicKey });
  const res = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: false, prologue: sessionPrologue(), staticKey: c });
  res.readMessage(ini.writeMessage());
  ini.readMessage(res.writeMessage());
  return { visitor: ini.result!, client: res.result! };
}

/** Well-known X25519 points of small order (libsodium/WireGuard's list), as hex. */
export const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

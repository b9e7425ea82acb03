/**
 * The two plaintext UDP datagrams of P2P (docs/protocol.md, P2P). Pure; no I/O.
 *
 * Observation (visitor or client -> relay UDP port, and back):
 *   request  "tunobs1?" (8) | nonce (16) | zero padding (24)             = 48 bytes
 *   answer   "tunobs1!" (8) | nonce (16) | family u8 (4|6) | 16 address bytes (IPv4 in the
 *            first 4) | port u16 BE                                          = 43 bytes
 * An answer is smaller than the request it answers, so the port cannot amplify a spoofed one.
 *
 * Punch (between the two ends' UDP sockets):
 *   "tunpnch1" (8) | token (16) | kind u8 (0 punch, 1 answer)                = 25 bytes
 * The token is the receiver's own, learnt only from the session, so a punch proves the sender is
 * the other end of this session (or saw the token on the wire: the handshake still decides).
 */
import { ipToBytes, bytesToIp, type Candidate } from './addr.js';

const OBS_REQ = Buffer.from('tunobs1?');
const OBS_ANS = Buffer.from('tunobs1!');
const PUNCH = Buffer.from('tunpnch1');
export const OBS_REQUEST_SIZE = 48;
export const OBS_ANSWER_SIZE = 43;
export const PUNCH_SIZE = 25;
export const TOKEN_SIZE = 16;

export function observeRequest(nonce: Buffer): Buffer {
  const out = Buffer.alloc(OBS_REQUEST_SIZE);
  OBS_REQ.copy(out, 0);
  nonce.copy(out, 8, 0, 16);
  return out;
}

/** The nonce of an observation request, or undefined when `msg` is not exactly one. */
export function parseObserveRequest(msg: Buffer): Buffer | undefined {
  if (msg.length !== OBS_REQUEST_SIZE || !msg.subarray(0, 8).equals(OBS_REQ)) return undefined;
  return Buffer.from(msg.subarray(8, 24));
}

export function observeAnswer(nonce: Buffer, seen: Candidate): Buffer {
  const out = Buffer.alloc(OBS_ANSWER_SIZE);
  OBS_ANS.copy(out, 0);
  nonce.copy(out, 8, 0, 16);
  const ip = ipToBytes(seen.host);
  out[24] = ip.length === 4 ? 4 : 6;
  ip.copy(out, 25);
  out.writeUInt16BE(seen.port, 41);
  return out;
}

/** The address an answer reports, when `msg` answers the request with `nonce`. */
export function parseObserveAnswer(msg: Buffer, nonce: Buffer): Candidate | undefined {
  if (msg.length !== OBS_ANSWER_SIZE || !msg.subarray(0, 8).equals(OBS_ANS) || !msg.subarray(8, 24).equals(nonce)) return undefined;
  const family = msg[24];
  if (family !== 4 && family !== 6) return undefined;
  const ip = msg.subarray(25, family === 4 ? 29 : 41);
  return { host: bytesToIp(ip), port: msg.readUInt16BE(41) };
}

export function punch(token: Buffer, answer: boolean): Buffer {
  const out = Buffer.alloc(PUNCH_SIZE);
  PUNCH.copy(out, 0);
  token.copy(out, 8, 0, TOKEN_SIZE);
  out[24] = answer ? 1 : 0;
  return out;
}

/** A punch's token and kind, or undefined when `msg` is not one. */
export function parsePunch(msg: Buffer): { token: Buffer; answer: boolean } | undefined {
  if (msg.length !== PUNCH_SIZE || !msg.subarray(0, 8).equals(PUNCH) || msg[24]! > 1) return undefined;
  return { token: Buffer.from(msg.subarray(8, 24)), answer: msg[24] === 1 };
}

/**
 * The P2P offer each end of a session sends the other inside the session (docs/protocol.md, P2P):
 * a `Candidates` msgpack message per length frame on the session's control stream. Pure; no I/O.
 * Decoding checks every bound: at most MAX_CANDIDATES per kind, unicast addresses only, ports
 * 1..65535, and the punch token and UDP stream id together or not at all.
 */
import { TunError } from '../errors.js';
import { decodeMessage, encodeMessage, type MessageOf } from '../wire/index.js';
import { fromWire, toWire, type Candidate } from './addr.js';

/** The version of the P2P messages (inside protocol 2). */
export const P2P_VERSION = 1;
/** Most candidates of one kind (TCP or UDP) a message may carry; also the most tun tries. */
export const MAX_CANDIDATES = 8;
/** The reserved service name of the control stream that carries candidates. */
export const P2P_SERVICE = 'tun.p2p';
/** Messages one side may send on one control stream (an offer and up to three additions). */
export const MAX_MESSAGES_PER_STREAM = 4;
/** Largest Candidates frame on the control stream (16 IPv6 candidates fit well within it). */
export const MAX_CANDIDATES_FRAME = 1024;

export interface Offer {
  tcp: Candidate[];
  udp: Candidate[];
  /** The sender's UDX stream id and punch token for this exchange (both or neither). */
  punch?: { id: number; token: Buffer };
  /** Client only: the relay's UDP observation port (on the relay host the visitor dialled). */
  relayUdp?: number;
}

export function encodeOffer(o: Offer): Buffer {
  if (o.tcp.length > MAX_CANDIDATES || o.udp.length > MAX_CANDIDATES) throw new TunError('MESSAGE_INVALID', `at most ${MAX_CANDIDATES} candidates of each kind`);
  return encodeMessage('Candidates', {
    v: P2P_VERSION,
    tcp: o.tcp.map(toWire),
    udp: o.udp.map(toWire),
    udpId: o.punch?.id,
    token: o.punch?.token,
    relayUdp: o.relayUdp,
  });
}

/** Decodes and checks one Candidates message; throws a TunError for anything out of bounds. */
export function decodeOffer(buf: Uint8Array): Offer {
  const m = decodeMessage(buf, 'p2p') as MessageOf<'Candidates'>;
  if (m.v !== P2P_VERSION) throw new TunError('VERSION_MISMATCH', `P2P message version ${m.v}, this end speaks ${P2P_VERSION}`, 'update tun on both ends');
  if ((m.udpId === undefined) !== (m.token === undefined)) throw new TunError('MESSAGE_INVALID', 'P2P candidates: udpId and token go together');
  if (m.udpId === 0) throw new TunError('MESSAGE_INVALID', 'P2P candidates: udpId 0');
  if (m.relayUdp === 0) throw new TunError('MESSAGE_INVALID', 'P2P candidates: relayUdp 0');
  return {
    tcp: m.tcp.map((c) => fromWire(c.ip, c.port)),
    udp: m.udp.map((c) => fromWire(c.ip, c.port)),
    punch: m.udpId !== undefined ? { id: m.udpId, token: m.token! } : undefined,
    relayUdp: m.relayUdp,
  };
}

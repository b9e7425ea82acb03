/**
 * The catalogue of every msgpack message tun sends: a numeric type id, a name and a schema.
 * On the wire a message is the msgpack array [typeId, body], body a map. Which channel may carry
 * which type is part of the catalogue too, so a message on the wrong channel is rejected like an
 * unknown one. See docs/protocol.md for the table.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TunError } from '../errors.js';
import { checkMsgpack, DEFAULT_LIMITS, type MsgpackLimits } from './msgpack-guard.js';
import { validate, type Field, type Schema } from './schema.js';

/** The protocol this build speaks. Every handshake payload carries it; a peer with another gets version_mismatch. */
export const PROTOCOL_VERSION = 2;

/** Service names: what a user types after --service; also safe in logs and prologues. */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type Channel = 'preauth' | 'control' | 'visitor' | 'tunnel' | 'e2e' | 'p2p';

const str = (max: number, optional = false, pattern?: RegExp): Field => ({ kind: 'str', max, optional, pattern });
const bin = (min: number, max = min, optional = false): Field => ({ kind: 'bin', min, max, optional });
const uint = (max: number, optional = false): Field => ({ kind: 'uint', max, optional });
const bool = (optional = false): Field => ({ kind: 'bool', optional });
const serviceName = str(64, false, SERVICE_NAME);
const errorFields: Schema = { code: str(48, false, /^[a-z_]+$/), message: str(300, true) };
/** An IP address (v4 or v6, no zone) and port, as the relay saw a connection (for PROXY protocol headers). */
const endpoint = (): Field => ({ kind: 'object', optional: true, fields: { addr: str(45, false, /^[0-9A-Fa-f:.]+$/), port: uint(65535) } });
/** A P2P candidate address: 4 (IPv4) or 16 (IPv6) address bytes and a port (checked further in src/p2p). */
const candidate: Field = { kind: 'object', fields: { ip: bin(4, 16), port: uint(65535) } };
const candidates: Field = { kind: 'array', max: 8, of: candidate };

interface Def {
  id: number;
  channel: Channel;
  schema: Schema;
}

/** Every message type. Ids are stable: never reuse one. */
export const CATALOGUE = {
  // control channel, inside Noise transport messages (client <-> relay)
  // handshake payloads on the control port (inside Noise IK messages 1 and 2)
  ControlInit: { id: 9, channel: 'control', schema: { v: uint(255) } },
  ControlAccept: { id: 10, channel: 'control', schema: { v: uint(255), ok: bool(), code: str(48, true, /^[a-z_]+$/), message: str(300, true), pad: bin(0, 160, true) } },
  Hello: { id: 1, channel: 'control', schema: {
    v: uint(255),
    services: { kind: 'array', max: 32, of: { kind: 'object', fields: { name: serviceName, publicPort: uint(65535, true), proxy: bool(true) } } },
    // P2P: this client wants the P2P fields in Welcome (an older client's strict decoder refuses them)
    p2p: bool(true),
  } },
  Welcome: { id: 2, channel: 'control', schema: {
    tunnelPort: uint(65535),
    heartbeatMs: uint(3_600_000),
    services: { kind: 'array', max: 32, of: { kind: 'object', fields: { name: serviceName, ok: bool(), code: str(48, true), message: str(300, true), publicPort: uint(65535, true) } } },
    // P2P (only for a client whose Hello has p2p: true, and absent when the relay runs with --no-p2p):
    // the client's address as the relay sees it, and the relay's UDP observation port
    observed: { ...candidate, optional: true },
    udpPort: uint(65535, true),
  } },
  Open: { id: 3, channel: 'control', schema: { id: bin(16), token: bin(32), service: str(64, true, SERVICE_NAME), mode: str(8, false, /^(session|public)$/), src: endpoint(), dst: endpoint() } },
  OpenFailed: { id: 4, channel: 'control', schema: { id: bin(16), ...errorFields } },
  Ping: { id: 5, channel: 'control', schema: { seq: uint(2 ** 32 - 1) } },
  Pong: { id: 6, channel: 'control', schema: { seq: uint(2 ** 32 - 1) } },
  Error: { id: 7, channel: 'control', schema: errorFields },
  // control port, plaintext, instead of handshake message 2: the relay could not accept message 1
  // (wrong pinned key, unknown client key or corruption: deliberately indistinguishable). It names
  // the relay's public key, unauthenticated, so a client can say which key it met.
  HandshakeRefused: { id: 8, channel: 'preauth', schema: { relayKey: bin(32) } },
  // visitor port, plaintext (visitor -> relay, relay -> visitor): the relay is not trusted with
  // anything here; its status is advice that the end-to-end handshake confirms or refutes.
  Visit: { id: 16, channel: 'visitor', schema: { v: uint(255), client: bin(32), service: str(64, true, SERVICE_NAME) } },
  VisitStatus: { id: 17, channel: 'visitor', schema: { ok: bool(), code: str(48, true), message: str(300, true) } },
  // tunnel port, plaintext: the relay's challenge and the client's proof of its control session
  JoinChallenge: { id: 32, channel: 'tunnel', schema: { nonce: bin(32) } },
  Join: { id: 33, channel: 'tunnel', schema: { id: bin(16), proof: bin(32) } },
  // end to end (visitor <-> client): session handshake payloads and session frame bodies.
  // Ids 48 and 49 were protocol 1's per-stream handshake payloads: retired, never reused.
  StreamError: { id: 50, channel: 'e2e', schema: errorFields },
  SessionHello: { id: 51, channel: 'e2e', schema: { v: uint(255) } },
  SessionAccept: { id: 52, channel: 'e2e', schema: { v: uint(255), ok: bool(), code: str(48, true, /^[a-z_]+$/), message: str(300, true), pad: bin(0, 160, true) } },
  StreamOpen: { id: 53, channel: 'e2e', schema: { service: serviceName } },
  // P2P candidates, end to end inside a session's control stream (docs/protocol.md, P2P)
  Candidates: { id: 64, channel: 'p2p', schema: { v: uint(255), tcp: candidates, udp: candidates, udpId: uint(2 ** 32 - 1, true), token: bin(16, 16, true), relayUdp: uint(65535, true) } },
} as const satisfies Record<string, Def>;

export type MessageName = keyof typeof CATALOGUE;

// Decoded bodies, by name. Kept by hand beside the schemas; tests round-trip every type.
export interface Bodies {
  ControlInit: { v: number };
  ControlAccept: { v: number; ok: boolean; code?: string; message?: string; pad?: Buffer };
  Hello: { v: number; services: { name: string; publicPort?: number; proxy?: boolean }[]; p2p?: boolean };
  Welcome: { tunnelPort: number; heartbeatMs: number; services: { name: string; ok: boolean; code?: string; message?: string; publicPort?: number }[]; observed?: WireCandidate; udpPort?: number };
  /** src/dst: where the relay saw the connection come from and arrive (only for a client whose Hello asked, with `proxy`). */
  Open: { id: Buffer; token: Buffer; service?: string; mode: 'session' | 'public'; src?: { addr: string; port: number }; dst?: { addr: string; port: number } };
  OpenFailed: { id: Buffer; code: string; message?: string };
  Ping: { seq: number };
  Pong: { seq: number };
  Error: { code: string; message?: string };
  HandshakeRefused: { relayKey: Buffer };
  Visit: { v: number; client: Buffer; service?: string };
  VisitStatus: { ok: boolean; code?: string; message?: string };
  JoinChallenge: { nonce: Buffer };
  Join: { id: Buffer; proof: Buffer };
  StreamError: { code: string; message?: string };
  SessionHello: { v: number };
  SessionAccept: { v: number; ok: boolean; code?: string; message?: string; pad?: Buffer };
  StreamOpen: { service: string };
  Candidates: { v: number; tcp: WireCandidate[]; udp: WireCandidate[]; udpId?: number; token?: Buffer; relayUdp?: number };
}

export interface WireCandidate {
  ip: Buffer;
  port: number;
}

export type Message = { [K in MessageName]: { type: K } & Bodies[K] }[MessageName];
export type MessageOf<K extends MessageName> = { type: K } & Bodies[K];

const byId = new Map<number, [MessageName, Def]>(Object.entries(CATALOGUE).map(([name, def]) => [def.id, [name as MessageName, def]]));

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number', moreTypes: false });

export function encodeMessage<K extends MessageName>(type: K, body: Bodies[K]): Buffer {
  return packr.pack([CATALOGUE[type].id, withoutUndefined(body)]);
}

/** Optional fields are omitted, never sent as msgpack's `undefined` extension (which decoders refuse). */
function withoutUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutUndefined);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = withoutUndefined(x);
  return out;
}

/**
 * Decodes untrusted bytes: bounded pre-scan, msgpackr, then the schema of the declared type.
 * Throws only TunError (MSGPACK_LIMIT, MSGPACK_MALFORMED, MESSAGE_UNKNOWN, MESSAGE_INVALID).
 */
export function decodeMessage(buf: Uint8Array, channel: Channel, limits: MsgpackLimits = DEFAULT_LIMITS): Message {
  checkMsgpack(buf, limits);
  let raw: unknown;
  try {
    raw = unpackr.unpack(buf);
  } catch (err) {
    throw new TunError('MSGPACK_MALFORMED', 'msgpack could not be decoded', undefined, { cause: err });
  }
  if (!Array.isArray(raw) || raw.length !== 2 || typeof raw[0] !== 'number') throw new TunError('MESSAGE_INVALID', 'a message is [typeId, body]');
  const entry = byId.get(raw[0]);
  if (!entry || entry[1].channel !== channel) throw new TunError('MESSAGE_UNKNOWN', `message type ${raw[0]} is not valid on the ${channel} channel`);
  const [name, def] = entry;
  const body = validate(raw[1], def.schema, name);
  return Object.assign(body, { type: name }) as unknown as Message;
}

/** Decodes and insists on one type (a protocol step that allows exactly one message). */
export function expectMessage<K extends MessageName>(buf: Uint8Array, type: K): MessageOf<K> {
  const msg = decodeMessage(buf, CATALOGUE[type].channel);
  if (msg.type !== type) throw new TunError('PROTOCOL_VIOLATION', `expected ${type}, got ${msg.type}`);
  return msg as unknown as MessageOf<K>;
}

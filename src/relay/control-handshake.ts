/**
 * The relay's side of the control handshake on port 8009: Noise IK as responder. Message 1 carries
 * ControlInit {v}; message 2 carries ControlAccept {v, ok, code?}, padded to one size, so a refusal
 * (key not authorized, other version) is proved by the relay's key and readable only by that
 * client's key holder. Nothing is registered before the client's first transport message (Hello):
 * a replayed message 1 cannot get that far. A message 1 the relay cannot read at all gets the one
 * plaintext HandshakeRefused frame (it names the relay's key, unauthenticated).
 */
import type { Socket } from 'node:net';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError, isTunError, type ErrorCode } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { KeyList, KeyListEntry } from '../identity/key-list.js';
import type { Logger } from '../log.js';
import { FrameReader } from '../net/frame-reader.js';
import { endSoon } from '../net/socket.js';
import { HandshakeState } from '../noise/index.js';
import { ControlChannel, writeFrame } from '../stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, controlPrologue, controlPrologueV1, encodeMessage, expectMessage, paddedAnswer, type MessageOf } from '../wire/index.js';

const HANDSHAKE_MAX_FRAME = 1024;

export interface Admitted {
  channel: ControlChannel;
  clientKey: Buffer;
  entry: KeyListEntry;
  hello: MessageOf<'Hello'>;
}

interface Ctx {
  socket: Socket;
  reader: FrameReader;
  key: X25519KeyPair;
  /** The authorized list as it is now (a reload may replace it while a handshake is under way). */
  authorized: () => KeyList;
  log: Logger;
  /** Told the reason of each refusal (for metrics). */
  onRefused: (code: ErrorCode) => void;
}

/** Resolves with the admitted client, or undefined when it was refused (the socket is then closing). */
export async function admitClient(socket: Socket, key: X25519KeyPair, authorized: () => KeyList, log: Logger, onRefused: (code: ErrorCode) => void = () => {}): Promise<Admitted | undefined> {
  const c: Ctx = { socket, reader: new FrameReader(socket, HANDSHAKE_MAX_FRAME), key, authorized, log, onRefused };
  const message1 = await c.reader.next();
  const hs = responder(c, controlPrologue());
  let init: MessageOf<'ControlInit'>;
  try {
    init = expectMessage(hs.readMessage(message1), 'ControlInit');
  } catch (err) {
    hs.destroy();
    if (isTunError(err, 'MESSAGE_INVALID') || isTunError(err, 'MESSAGE_UNKNOWN') || isTunError(err, 'MSGPACK_MALFORMED') || isTunError(err, 'MSGPACK_LIMIT') || isTunError(err, 'PROTOCOL_VIOLATION')) throw new TunError('PROTOCOL_VIOLATION', 'handshake message 1 authenticated but its payload is not ControlInit');
    return refuseUnreadable(c, message1);
  }
  const clientKey = Buffer.from(hs.remoteStatic!);
  const fp = fingerprint(clientKey);
  const answer = (ok: boolean, code?: string, message?: string): void => void writeFrame(socket, hs.writeMessage(paddedAnswer('ControlAccept', { v: PROTOCOL_VERSION, ok, code, message })));
  if (init.v !== PROTOCOL_VERSION) {
    log.rateLimited('warn', `version-${fp}`, `client ${fp} speaks tun protocol ${init.v}, this relay ${PROTOCOL_VERSION}: version mismatch (update tun on one of them)`, 10_000);
    answer(false, 'version_mismatch', `this relay speaks tun protocol ${PROTOCOL_VERSION}, the client ${init.v}: update tun`);
    onRefused('VERSION_MISMATCH');
    return refused(socket, hs);
  }
  const list = authorized();
  const entry = list.find(clientKey);
  if (!entry) {
    log.rateLimited('warn', `unauth-${fp}`, `client key ${fp} not authorized (from ${socket.remoteAddress}); to admit it, add its .pub line to ${list.source}`, 10_000);
    answer(false, 'client_not_authorized', `client key ${fp} is not in this relay's authorized list`);
    onRefused('CLIENT_NOT_AUTHORIZED');
    return refused(socket, hs);
  }
  answer(true);
  const { send, receive } = hs.result!;
  const channel = new ControlChannel(socket, c.reader, send, receive);
  const hello = await channel.receiveOne();
  if (hello.type === 'Hello' && hello.v !== PROTOCOL_VERSION) {
    channel.close(new TunError('VERSION_MISMATCH', `Hello names protocol ${hello.v}`));
    throw new TunError('PROTOCOL_VIOLATION', `client ${fp} said protocol ${init.v} in its handshake and ${hello.v} in Hello`);
  }
  if (hello.type !== 'Hello') {
    channel.close(new TunError('PROTOCOL_VIOLATION', `expected Hello, got ${hello.type}`));
    throw new TunError('PROTOCOL_VIOLATION', `client ${fp} sent ${hello.type} before Hello`);
  }
  return { channel, clientKey, entry, hello };
}

function responder(c: Ctx, prologue: Buffer): HandshakeState {
  return new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: false, prologue, staticKey: c.key });
}

function refused(socket: Socket, hs: HandshakeState): undefined {
  hs.destroy();
  endSoon(socket);
  return undefined;
}

/**
 * Message 1 did not authenticate under this protocol. A protocol-1 client (its prologue named the
 * version) with an authorized key is told, inside its own protocol, to update; anything else gets
 * the plaintext HandshakeRefused (wrong pinned key, unknown key of an old client, or corruption:
 * deliberately indistinguishable).
 */
async function refuseUnreadable(c: Ctx, message1: Buffer): Promise<undefined> {
  const v1 = responder(c, controlPrologueV1());
  let clientKey: Buffer | undefined;
  try {
    v1.readMessage(message1);
    clientKey = Buffer.from(v1.remoteStatic!);
  } catch {
    /* not protocol 1 either */
  }
  if (!clientKey || !c.authorized().find(clientKey)) {
    v1.destroy();
    c.onRefused('PEER_AUTH_FAILED');
    c.log.rateLimited('info', 'control-bad-msg1', `control port: ${c.socket.remoteAddress}: handshake message 1 did not authenticate (the client pinned another relay key, or the message was corrupted)`);
    writeFrame(c.socket, encodeMessage('HandshakeRefused', { relayKey: c.key.publicKey }));
    endSoon(c.socket);
    return undefined;
  }
  c.log.rateLimited('warn', `version-${fingerprint(clientKey)}`, `client ${fingerprint(clientKey)} speaks tun protocol 1, this relay ${PROTOCOL_VERSION}: version mismatch (update tun on that client)`, 10_000);
  c.onRefused('VERSION_MISMATCH');
  writeFrame(c.socket, v1.writeMessage());
  const channel = new ControlChannel(c.socket, c.reader, v1.result!.send, v1.result!.receive);
  // Protocol 1 clients print an Error's code and message: "peer reported version_mismatch: ...".
  channel.fail('version_mismatch', `this relay speaks tun protocol ${PROTOCOL_VERSION}: update tun on this client`, new TunError('VERSION_MISMATCH', 'protocol 1 client'));
  return undefined;
}

/**
 * The visitor agent: listens locally; for each application connection it asks the relay for the
 * client's service, runs a Noise IK handshake pinned to the client's key through the relay, and
 * bridges the application to the encrypted stream. The relay's own status is unauthenticated advice;
 * only the client's handshake answer is trusted.
 */
import type { Server, Socket } from 'node:net';
import { NOISE_MAX_MESSAGE } from '../constants.js';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError, asTunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { Logger } from '../log.js';
import { FrameReader } from '../net/frame-reader.js';
import { SocketSet, boundPort, closeServer, dial, formatHostPort, listen, reset, type HostPort } from '../net/socket.js';
import { HandshakeState } from '../noise/index.js';
import { within, writeFrame } from '../stream/control-channel.js';
import { RecordKind, encodeRecord } from '../stream/records.js';
import { SecureChannel } from '../stream/secure-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, encodeMessage, expectMessage, streamPrologue } from '../wire/index.js';

export interface VisitorOptions {
  server: HostPort;
  clientKey: Buffer;
  key: X25519KeyPair;
  service: string;
  listen: HostPort;
  log: Logger;
  timeouts?: Partial<{ connectMs: number; pairingMs: number }>;
}

/** Streams this agent sets up at once; more application connections wait (paused) their turn. */
const MAX_SETTING_UP = 64;
const MAX_WAITING = 4096;

const HINTS: Record<string, string> = {
  client_offline: 'start `tun client` (or check it is connected to this relay with the same key)',
  unknown_service: 'check --service: the client must offer a service with exactly this name',
  busy: 'many visitors are waiting for this service; try again shortly',
  timeout: 'the client did not open the stream in time; is it overloaded or cut off from the relay tunnel port?',
  visitor_not_allowed: "add this visitor's .pub line to the client's --allow file",
  local_service_unavailable: 'the service behind the client is down or refusing connections; start it',
};

export class Visitor {
  readonly #o: VisitorOptions;
  readonly #log: Logger;
  readonly #t: { connectMs: number; pairingMs: number };
  readonly #sockets = new SocketSet();
  #settingUp = 0;
  readonly #waiting: Socket[] = [];
  #server: Server | undefined;
  port = 0;

  constructor(options: VisitorOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#t = { connectMs: 5000, pairingMs: 10_000, ...options.timeouts };
  }

  async start(): Promise<void> {
    this.#server = await listen(this.#o.listen, (app) => this.#accept(app), 'applications', undefined, '--listen');
    this.port = boundPort(this.#server);
    this.#log.info(`listening on ${formatHostPort({ host: this.#o.listen.host, port: this.port })} for ${this.#o.service} of client ${fingerprint(this.#o.clientKey)} via ${formatHostPort(this.#o.server)}`);
  }

  async stop(): Promise<void> {
    // Applications whose streams a shutdown cuts see a reset, never a clean end.
    this.#sockets.resetAll();
    await closeServer(this.#server);
  }

  #accept(app: Socket): void {
    app.pause();
    app.on('error', () => {});
    this.#sockets.add(app);
    if (this.#settingUp < MAX_SETTING_UP) return this.#start(app);
    // Many applications connecting at once (a browser, a load test): set their streams up a few
    // at a time instead of asking the relay and the client for all of them at once.
    if (this.#waiting.length >= MAX_WAITING) {
      this.#log.rateLimited('warn', 'visit-queue-full', `${MAX_WAITING} connections are already waiting for a stream; refusing more`, 5000);
      reset(app);
      return;
    }
    this.#waiting.push(app);
  }

  #start(app: Socket): void {
    this.#settingUp++;
    let done = false;
    const established = (): void => {
      if (done) return;
      done = true;
      this.#settingUp--;
      this.#next();
    };
    this.#connect(app, established)
      .catch((err) => {
        const e = asTunError(err, 'STREAM_TRUNCATED', 'stream failed');
        this.#log.error(e.describe());
        reset(app);
      })
      .finally(established);
  }

  #next(): void {
    while (this.#settingUp < MAX_SETTING_UP && this.#waiting.length > 0) {
      const app = this.#waiting.shift()!;
      if (!app.destroyed) this.#start(app);
    }
  }

  async #connect(app: Socket, established: () => void): Promise<void> {
    const relay = await dial(this.#o.server, this.#t.connectMs, 'relay visitor port');
    this.#sockets.add(relay);
    const abort = (): void => void relay.destroy();
    app.once('close', abort);
    try {
      await this.#handshake(app, relay, established);
    } catch (err) {
      relay.destroy();
      throw err;
    } finally {
      app.off('close', abort);
    }
  }

  async #handshake(app: Socket, relay: Socket, established: () => void): Promise<void> {
    const { service, clientKey } = this.#o;
    const cfp = fingerprint(clientKey);
    const reader = new FrameReader(relay, 1024, 4);
    const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: streamPrologue(service), staticKey: this.#o.key, remoteStatic: clientKey });
    writeFrame(relay, encodeMessage('Visit', { v: PROTOCOL_VERSION, client: clientKey, service }));
    writeFrame(relay, hs.writeMessage(encodeMessage('StreamHello', { v: PROTOCOL_VERSION, service })));
    let statusFrame: Buffer;
    try {
      statusFrame = await within(reader.next(), this.#t.pairingMs + 5000, 'the relay');
    } catch (err) {
      throw new TunError('STREAM_TRUNCATED', `relay ${formatHostPort(this.#o.server)} closed the connection before pairing ${service} (${(err as Error).message})`, 'is the relay restarting, or is --server not a tun relay visitor port?', { cause: err });
    }
    const status = expectMessage(statusFrame, 'VisitStatus');
    if (!status.ok) {
      const code = status.code ?? 'refused';
      throw new TunError(code === 'client_offline' ? 'CLIENT_OFFLINE' : code === 'unknown_service' ? 'UNKNOWN_SERVICE' : 'TIMEOUT', `relay: ${code}: ${status.message ?? ''} (${service} of client ${cfp})`, HINTS[code]);
    }
    let accept;
    try {
      const msg2 = await within(reader.next(), this.#t.pairingMs, "the client's handshake answer");
      accept = expectMessage(hs.readMessage(msg2), 'StreamAccept');
    } catch (err) {
      if (err instanceof TunError && (err.code === 'STREAM_TRUNCATED' || err.code === 'TIMEOUT')) {
        throw new TunError('STREAM_TRUNCATED', `the stream to ${service} closed before client ${cfp} answered the handshake (${err.message})`, 'check the client log: it may have been unable to verify this visitor');
      }
      throw new TunError('PEER_AUTH_FAILED', `peer authentication failed: the end that answered is not client ${cfp}`, 'check --pubkey is the client\'s .pub; otherwise the relay connected you to someone else');
    }
    if (!accept.ok) {
      const code = accept.code ?? 'refused';
      throw new TunError(code === 'visitor_not_allowed' ? 'VISITOR_NOT_ALLOWED' : 'PEER_AUTH_FAILED', `client ${cfp} refused this visitor: ${code}: ${accept.message ?? ''}`, HINTS[code]);
    }
    const { send, receive } = hs.result!;
    reader.decoder.setMaxFrame(NOISE_MAX_MESSAGE);
    const channel = new SecureChannel(relay, reader, send, receive, this.#log);
    channel.sendRecord(encodeRecord(RecordKind.OPEN));
    established();
    this.#log.debug(`stream to ${service} of client ${cfp} open`);
    const outcome = await channel.bridge(app);
    if (!outcome.ok && outcome.remote) {
      this.#log.error(`stream to ${service} aborted by client ${cfp}: ${outcome.code}: ${outcome.message}${HINTS[outcome.code] ? `\n  hint: ${HINTS[outcome.code]}` : ''}`);
    } else if (!outcome.ok) {
      this.#log.error(`stream to ${service} aborted: ${outcome.message}`);
    }
  }
}

import { DH_LEN, NOISE_MAX_MESSAGE, NOISE_TAG_LEN } from '../constants.js';
import { X25519KeyPair, x25519, ctEqual } from '../crypto/index.js';
import { TunError, asTunError } from '../errors.js';
import type { CipherState } from './cipher-state.js';
import { parseProtocolName, type NoiseProtocol } from './protocol.js';
import type { Token } from './patterns.js';
import { SymmetricState } from './symmetric-state.js';

export interface HandshakeOptions {
  /** A full protocol name (Noise_IK_25519_ChaChaPoly_BLAKE2b) or an already parsed one. */
  protocol: string | NoiseProtocol;
  initiator: boolean;
  prologue?: Uint8Array;
  /** Our static key pair (s). */
  staticKey?: X25519KeyPair;
  /** The peer's static public key when the pattern has it as a pre-message (rs). */
  remoteStatic?: Uint8Array;
  /** Injected ephemeral: test vectors only. Otherwise one is generated. */
  ephemeral?: X25519KeyPair;
  remoteEphemeral?: Uint8Array;
  psks?: Uint8Array[];
}

/** Result of the final handshake message: the transport CipherStates and the handshake hash. */
export interface HandshakeResult {
  /** Encrypts what we send. */
  send: CipherState;
  /** Decrypts what we receive. */
  receive: CipherState;
  handshakeHash: Buffer;
  remoteStatic: Buffer | undefined;
}

const PSK_LEN = 32;

/**
 * HandshakeState (spec section 5.3). Write or read one message per call, in turn. After the last
 * message, `result` holds the split CipherStates and every handshake secret is wiped. Any failure
 * leaves the state failed; it cannot be resumed (no partial state is ever committed on error).
 */
export class HandshakeState {
  readonly protocol: NoiseProtocol;
  readonly initiator: boolean;
  readonly #ss: SymmetricState;
  readonly #s: X25519KeyPair | undefined;
  #e: X25519KeyPair | undefined;
  #rs: Buffer | undefined;
  #re: Buffer | undefined;
  readonly #psks: Buffer[];
  #pskIndex = 0;
  #messageIndex = 0;
  #failed = false;
  #result: HandshakeResult | undefined;

  constructor(opts: HandshakeOptions) {
    this.protocol = typeof opts.protocol === 'string' ? parseProtocolName(opts.protocol) : opts.protocol;
    this.initiator = opts.initiator;
    this.#s = opts.staticKey;
    this.#e = opts.ephemeral;
    this.#rs = opts.remoteStatic ? Buffer.from(opts.remoteStatic) : undefined;
    this.#re = opts.remoteEphemeral ? Buffer.from(opts.remoteEphemeral) : undefined;
    this.#psks = (opts.psks ?? []).map((p) => Buffer.from(p));
    if (this.#psks.length !== this.protocol.pskCount || this.#psks.some((p) => p.length !== PSK_LEN)) {
      throw new TunError('HANDSHAKE_STATE', `${this.protocol.name} needs ${this.protocol.pskCount} PSKs of ${PSK_LEN} bytes`);
    }
    this.#ss = new SymmetricState(this.protocol.name, this.protocol.cipher, this.protocol.hash);
    this.#ss.mixHash(opts.prologue ?? Buffer.alloc(0));
    this.#mixPreMessages();
  }

  get complete(): boolean {
    return this.#result !== undefined;
  }

  get result(): HandshakeResult | undefined {
    return this.#result;
  }

  /** True when the next message is ours to write. */
  get isMyTurn(): boolean {
    return (this.#messageIndex % 2 === 0) === this.initiator;
  }

  get messageIndex(): number {
    return this.#messageIndex;
  }

  /** The peer's static key once it is known (pre-message or received). */
  get remoteStatic(): Buffer | undefined {
    return this.#rs ? Buffer.from(this.#rs) : undefined;
  }

  /** h so far; tests compare it between the two sides after each message. */
  get handshakeHash(): Buffer {
    return this.#ss.handshakeHash;
  }

  get chainingKey(): Buffer {
    return this.#ss.chainingKey;
  }

  writeMessage(payload: Uint8Array = Buffer.alloc(0)): Buffer {
    const tokens = this.#nextTokens(true);
    try {
      const out: Buffer[] = [];
      for (const token of tokens) out.push(...this.#writeToken(token));
      out.push(this.#ss.encryptAndHash(payload));
      const message = Buffer.concat(out);
      if (message.length > NOISE_MAX_MESSAGE) {
        throw new TunError('MESSAGE_TOO_LARGE', `handshake message would be ${message.length} bytes; the limit is ${NOISE_MAX_MESSAGE}`);
      }
      this.#advance();
      return message;
    } catch (err) {
      this.#fail();
      throw asTunError(err, 'HANDSHAKE_STATE', 'handshake write failed');
    }
  }

  /** Returns the decrypted payload. Throws DECRYPT_FAILED / DH_FAILED / FRAME_MALFORMED and fails the state. */
  readMessage(message: Uint8Array): Buffer {
    const tokens = this.#nextTokens(false);
    try {
      if (message.length > NOISE_MAX_MESSAGE) {
        throw new TunError('MESSAGE_TOO_LARGE', `handshake message of ${message.length} bytes exceeds ${NOISE_MAX_MESSAGE}`);
      }
      let offset = 0;
      const take = (n: number): Buffer => {
        if (offset + n > message.length) throw new TunError('FRAME_MALFORMED', 'handshake message is too short');
        const b = Buffer.from(message.subarray(offset, offset + n));
        offset += n;
        return b;
      };
      for (const token of tokens) {
        if (token === 'e') {
          this.#re = take(DH_LEN);
          this.#ss.mixHash(this.#re);
          if (this.protocol.pskCount > 0) this.#ss.mixKey(this.#re);
        } else if (token === 's') {
          const len = this.#ss.hasKey ? DH_LEN + NOISE_TAG_LEN : DH_LEN;
          this.#rs = this.#ss.decryptAndHash(take(len));
        } else {
          this.#mixToken(token);
        }
      }
      const payload = this.#ss.decryptAndHash(message.subarray(offset));
      this.#advance();
      return payload;
    } catch (err) {
      this.#fail();
      throw asTunError(err, 'DECRYPT_FAILED', 'handshake message did not authenticate');
    }
  }

  /** Zeroes every secret this state still holds. Idempotent. */
  destroy(): void {
    this.#ss.wipe();
    if (this.#e !== undefined) this.#e.wipe();
    this.#psks.forEach((p) => p.fill(0));
  }

  #nextTokens(writing: boolean): readonly Token[] {
    if (this.#failed) throw new TunError('HANDSHAKE_STATE', 'handshake already failed');
    if (this.#result) throw new TunError('HANDSHAKE_STATE', 'handshake already complete');
    if (this.isMyTurn !== writing) {
      throw new TunError('HANDSHAKE_STATE', writing ? 'not our turn to write a handshake message' : 'not our turn to read a handshake message');
    }
    return this.protocol.pattern.messages[this.#messageIndex]!;
  }

  #writeToken(token: Token): Buffer[] {
    if (token === 'e') {
      this.#e ??= X25519KeyPair.generate();
      this.#ss.mixHash(this.#e.publicKey);
      if (this.protocol.pskCount > 0) this.#ss.mixKey(this.#e.publicKey);
      return [Buffer.from(this.#e.publicKey)];
    }
    if (token === 's') {
      if (!this.#s) throw new TunError('HANDSHAKE_STATE', 'pattern needs our static key');
      return [this.#ss.encryptAndHash(this.#s.publicKey)];
    }
    this.#mixToken(token);
    return [];
  }

  #mixToken(token: Exclude<Token, 'e' | 's'>): void {
    switch (token) {
      case 'ee':
        return this.#ss.mixKey(this.#dh(this.#e, this.#re));
      case 'es':
        return this.#ss.mixKey(this.initiator ? this.#dh(this.#e, this.#rs) : this.#dh(this.#s, this.#re));
      case 'se':
        return this.#ss.mixKey(this.initiator ? this.#dh(this.#s, this.#re) : this.#dh(this.#e, this.#rs));
      case 'ss':
        return this.#ss.mixKey(this.#dh(this.#s, this.#rs));
      case 'psk': {
        const psk = this.#psks[this.#pskIndex++];
        if (!psk) throw new TunError('HANDSHAKE_STATE', 'pattern needs more PSKs than were given');
        return this.#ss.mixKeyAndHash(psk);
      }
    }
  }

  #dh(pair: X25519KeyPair | undefined, pub: Buffer | undefined): Buffer {
    if (!pair || !pub) throw new TunError('HANDSHAKE_STATE', 'a DH token is missing one of its keys');
    const out = x25519(pair, pub);
    return out;
  }

  #mixPreMessages(): void {
    const pattern = this.protocol.pattern;
    const mine = (key: 'e' | 's'): Buffer | undefined => (key === 's' ? this.#s?.publicKey : this.#e?.publicKey);
    const theirs = (key: 'e' | 's'): Buffer | undefined => (key === 's' ? this.#rs : this.#re);
    for (const key of pattern.preInitiator) this.#mixPre(this.initiator ? mine(key) : theirs(key), `initiator pre-message ${key}`);
    for (const key of pattern.preResponder) this.#mixPre(this.initiator ? theirs(key) : mine(key), `responder pre-message ${key}`);
  }

  #mixPre(pub: Buffer | undefined, what: string): void {
    if (!pub) throw new TunError('HANDSHAKE_STATE', `${this.protocol.pattern.name} needs the ${what} key before the handshake`);
    this.#ss.mixHash(pub);
  }

  #advance(): void {
    this.#messageIndex++;
    if (this.#messageIndex < this.protocol.pattern.messages.length) return;
    const handshakeHash = this.#ss.handshakeHash;
    const [c1, c2] = this.#ss.split();
    this.#e?.wipe();
    this.#psks.forEach((p) => p.fill(0));
    this.#result = {
      send: this.initiator ? c1 : c2,
      receive: this.initiator ? c2 : c1,
      handshakeHash,
      remoteStatic: this.#rs ? Buffer.from(this.#rs) : undefined,
    };
  }

  #fail(): void {
    this.#failed = true;
    this.destroy();
  }
}

/** Constant-time check that a received static key is the one we pinned. */
export function isPinnedKey(expected: Uint8Array, got: Uint8Array | undefined): boolean {
  return got !== undefined && ctEqual(expected, got);
}

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X25519KeyPair, type CipherFn, type HashFn } from '../../src/crypto/index.js';
import { isTunError } from '../../src/errors.js';
import { HandshakeState, parseProtocolName, type NoiseProtocol } from '../../src/noise/index.js';

/** One vector in the shared schema (see the vector folder's README). */
export interface Vector {
  protocol_name: string;
  init_prologue?: string;
  resp_prologue?: string;
  init_psks?: string[];
  resp_psks?: string[];
  init_static?: string;
  resp_static?: string;
  init_ephemeral?: string;
  resp_ephemeral?: string;
  init_remote_static?: string;
  resp_remote_static?: string;
  handshake_hash?: string;
  fail?: boolean;
  messages: { payload: string; ciphertext: string }[];
}

export interface VectorFile {
  file: string;
  vectors: Vector[];
}

export interface Outcome {
  file: string;
  index: number;
  protocol: string;
  status: 'pass' | 'fail' | 'skip';
  detail?: string;
}

/** Every *.json file in the folder that holds a `vectors` array (also accepts a bare array). */
export function loadVectorFolder(dir: string): VectorFile[] {
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  return files.map((file) => {
    const data = JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown;
    const vectors = Array.isArray(data) ? data : (data as { vectors?: unknown }).vectors;
    if (!Array.isArray(vectors)) throw new Error(`${file}: no "vectors" array`);
    return { file, vectors: vectors as Vector[] };
  });
}

const hex = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'hex');
const key = (s: string | undefined): X25519KeyPair | undefined => (s ? new X25519KeyPair(hex(s)) : undefined);

export interface Backend {
  name: string;
  /** Swap the cipher/hash of a parsed protocol; undefined when this backend has nothing to offer it. */
  adapt(p: NoiseProtocol): NoiseProtocol | undefined;
}

export const defaultBackend: Backend = { name: 'default', adapt: (p) => p };

export function overrideBackend(name: string, cipher: Partial<Record<string, CipherFn>>, hash: Partial<Record<string, HashFn>>): Backend {
  return {
    name,
    adapt(p) {
      const c = cipher[p.cipher.name];
      const h = hash[p.hash.name];
      if (!c && !h) return undefined;
      return { ...p, cipher: c ?? p.cipher, hash: h ?? p.hash };
    },
  };
}

/** Runs one vector; throws a descriptive Error on the first mismatch. */
export function runVector(v: Vector, protocol: NoiseProtocol): void {
  const init = new HandshakeState({
    protocol,
    initiator: true,
    prologue: hex(v.init_prologue),
    staticKey: key(v.init_static),
    ephemeral: key(v.init_ephemeral),
    remoteStatic: v.init_remote_static ? hex(v.init_remote_static) : undefined,
    psks: (v.init_psks ?? []).map(hex),
  });
  const resp = new HandshakeState({
    protocol,
    initiator: false,
    prologue: hex(v.resp_prologue),
    staticKey: key(v.resp_static),
    ephemeral: key(v.resp_ephemeral),
    remoteStatic: v.resp_remote_static ? hex(v.resp_remote_static) : undefined,
    psks: (v.resp_psks ?? []).map(hex),
  });
  const handshakeLen = protocol.pattern.messages.length;
  v.messages.forEach((m, i) => {
    const fromInit = protocol.pattern.oneWay || i % 2 === 0;
    const payload = hex(m.payload);
    let ct: Buffer;
    let pt: Buffer;
    if (i < handshakeLen) {
      const [w, r] = fromInit ? [init, resp] : [resp, init];
      ct = w.writeMessage(payload);
      check(ct, m.ciphertext, `message ${i} ciphertext`);
      pt = r.readMessage(ct);
      if (!w.handshakeHash.equals(r.handshakeHash)) throw new Error(`message ${i}: h differs between the sides`);
    } else {
      const [w, r] = fromInit ? [init.result!, resp.result!] : [resp.result!, init.result!];
      ct = w.send.encryptWithAd(Buffer.alloc(0), payload);
      check(ct, m.ciphertext, `transport message ${i} ciphertext`);
      pt = r.receive.decryptInPlaceWithAd(Buffer.alloc(0), Buffer.from(ct));
    }
    check(pt, m.payload, `message ${i} payload`);
  });
  if (!init.complete || !resp.complete) throw new Error('handshake did not complete within the vector messages');
  if (v.handshake_hash) {
    check(init.result!.handshakeHash, v.handshake_hash, 'initiator handshake hash');
    check(resp.result!.handshakeHash, v.handshake_hash, 'responder handshake hash');
  }
}

function check(got: Buffer, wantHex: string, what: string): void {
  const want = hex(wantHex);
  if (!got.equals(want)) throw new Error(`${what} mismatch:\n  want ${wantHex}\n  got  ${got.toString('hex')}`);
}

/** Runs a folder with one backend, returning an outcome per vector. */
export function runFolder(files: VectorFile[], backend: Backend): Outcome[] {
  const out: Outcome[] = [];
  for (const { file, vectors } of files) {
    vectors.forEach((v, index) => {
      const base = { file, index, protocol: v.protocol_name };
      let protocol: NoiseProtocol | undefined;
      try {
        protocol = parseProtocolName(v.protocol_name);
      } catch (err) {
        if (isTunError(err, 'UNSUPPORTED_PROTOCOL')) {
          out.push({ ...base, status: 'skip', detail: err.message });
          return;
        }
        throw err;
      }
      protocol = backend.adapt(protocol);
      if (!protocol) return;
      try {
        runVector(v, protocol);
        out.push({ ...base, status: v.fail ? 'fail' : 'pass', detail: v.fail ? 'expected failure but the vector ran clean' : undefined });
      } catch (err) {
        out.push({ ...base, status: v.fail ? 'pass' : 'fail', detail: (err as Error).message });
      }
    });
  }
  return out;
}

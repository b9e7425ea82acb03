/**
 * Key files. The private key file is one line, `tun-x25519-private <base64>`, created 0600 with
 * O_EXCL; the public key file is one line, `tun-x25519 <base64> <comment>`, ready to append to an
 * allow list. Uses tweetnacl for base-point multiplication: synchronous and with no WebAssembly
 * start-up, so `tun keygen` and key validation need nothing initialised.
 */
import { closeSync, constants, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync, existsSync, fchmodSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import nacl from 'tweetnacl';
import { DH_LEN } from '../constants.js';
import { TunError } from '../errors.js';

export const PUBLIC_KEY_TYPE = 'tun-x25519';
export const PRIVATE_KEY_TYPE = 'tun-x25519-private';
const MAX_KEY_FILE = 4096;

export interface KeyMaterial {
  privateKey: Buffer;
  publicKey: Buffer;
}

/** A short, stable, non-secret name for a public key: the first 8 bytes of its SHA-256, hex. */
export function fingerprint(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

export function publicFromPrivate(privateKey: Uint8Array): Buffer {
  return Buffer.from(nacl.scalarMult.base(Uint8Array.from(privateKey)));
}

/**
 * True for the points of small order (and their non-canonical encodings): multiplying by a
 * nonzero multiple of the cofactor 8 gives the all-zero point exactly for them.
 */
export function isLowOrderPoint(publicKey: Uint8Array): boolean {
  const scalar = new Uint8Array(32);
  scalar[0] = 8;
  const out = nacl.scalarMult(scalar, Uint8Array.from(publicKey));
  let acc = 0;
  for (const b of out) acc |= b;
  return acc === 0;
}

export function generateKeyMaterial(): KeyMaterial {
  const privateKey = randomBytes(DH_LEN);
  return { privateKey, publicKey: publicFromPrivate(privateKey) };
}

export function formatPublicKey(publicKey: Uint8Array, comment?: string): string {
  const c = comment?.replace(/[\r\n]/g, ' ').trim();
  return `${PUBLIC_KEY_TYPE} ${Buffer.from(publicKey).toString('base64')}${c ? ' ' + c : ''}`;
}

/** Decodes the base64 key field of a public key line; undefined when it is not exactly 32 bytes. */
export function decodeKeyField(b64: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(b64)) return undefined;
  const raw = Buffer.from(b64, 'base64');
  return raw.length === DH_LEN ? raw : undefined;
}

/** Parses `tun-x25519 <base64> [comment]`; throws KEY_INVALID with `what` naming the source. */
export function parsePublicKeyText(text: string, what: string): { publicKey: Buffer; comment: string } {
  const m = /^\s*(\S+)\s+(\S+)\s*(.*?)\s*$/.exec(text);
  if (!m || m[1] !== PUBLIC_KEY_TYPE) {
    throw new TunError('KEY_INVALID', `${what}: not a tun public key (expected "${PUBLIC_KEY_TYPE} <base64> [name]")`, 'use the .pub file that `tun keygen` wrote');
  }
  const publicKey = decodeKeyField(m[2]!);
  if (!publicKey) throw new TunError('KEY_INVALID', `${what}: the key is not 32 bytes of base64`, 'the key was truncated or altered; copy the .pub file again');
  if (isLowOrderPoint(publicKey)) throw new TunError('KEY_INVALID', `${what}: the key is a low-order X25519 point and can never be safe`, 'generate a real key with `tun keygen`');
  return { publicKey, comment: m[3] ?? '' };
}

function readSmallFile(fd: number, path: string): string {
  const buf = Buffer.alloc(MAX_KEY_FILE + 1);
  let len = 0;
  for (;;) {
    const n = readSync(fd, buf, len, buf.length - len, null);
    if (n === 0) break;
    len += n;
    if (len > MAX_KEY_FILE) throw new TunError('KEY_FILE_MALFORMED', `${path} is larger than a key file can be (${MAX_KEY_FILE} bytes)`, 'point at the key file that `tun keygen` wrote');
  }
  const text = buf.subarray(0, len).toString('utf8');
  buf.fill(0);
  return text;
}

function openForRead(path: string, kind: string): number {
  try {
    return openSync(path, constants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TunError('KEY_FILE_MISSING', `${kind} ${path} does not exist`, 'create one with `tun keygen --out keys/NAME`, or check the path');
    throw new TunError('KEY_FILE_MISSING', `cannot open ${kind} ${path}: ${code ?? (err as Error).message}`, 'check the path and its permissions', { cause: err });
  }
}

/**
 * Loads a private key like ssh does: the permission check is fstat on the opened descriptor (so a
 * symlink is judged by its target), and any group or other access bit refuses the file.
 */
export function readPrivateKeyFile(path: string): KeyMaterial {
  const fd = openForRead(path, 'private key file');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TunError('KEY_FILE_MALFORMED', `${path} is not a regular file`, 'point at the .key file that `tun keygen` wrote');
    const text = readSmallFile(fd, path);
    if (text.startsWith(PUBLIC_KEY_TYPE + ' ')) {
      throw new TunError('KEY_FILE_MALFORMED', `${path} is a public key file`, 'this option needs the private key: the .key file that `tun keygen` wrote next to it');
    }
    const mode = st.mode & 0o777;
    if (mode & 0o077) {
      throw new TunError(
        'KEY_FILE_PERMISSIONS',
        `private key file ${path} has mode ${mode.toString(8).padStart(4, '0')}: it is readable or writable by others, so tun refuses to use it`,
        `run: chmod 600 ${path}`,
      );
    }
    const m = /^(\S+) (\S+)\s*$/.exec(text.trim());
    if (!m || m[1] !== PRIVATE_KEY_TYPE) {
      throw new TunError('KEY_FILE_MALFORMED', `${path} is not a tun private key file`, 'a tun private key is one line "tun-x25519-private <base64>"; did you pass the .pub file?');
    }
    const privateKey = decodeKeyField(m[2]!);
    if (!privateKey) throw new TunError('KEY_FILE_MALFORMED', `${path}: the private key is truncated or corrupt (not 32 bytes of base64)`, 'restore the file from a backup or generate a new key');
    return { privateKey, publicKey: publicFromPrivate(privateKey) };
  } finally {
    closeSync(fd);
  }
}

export function readPublicKeyFile(path: string): { publicKey: Buffer; comment: string } {
  const fd = openForRead(path, 'public key file');
  try {
    const text = readSmallFile(fd, path);
    const first = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    if (first === undefined) throw new TunError('KEY_INVALID', `${path} is empty`, 'use the .pub file that `tun keygen` wrote');
    return parsePublicKeyText(first, path);
  } finally {
    closeSync(fd);
  }
}

function writeNew(path: string, content: string, mode: number): void {
  // O_EXCL: never follow or reuse an existing file; the mode is applied at creation (and fchmod
  // makes it exact whatever the umask), so the secret is never readable by others, even briefly.
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** Writes NAME.key (0600) and NAME.pub (0644). Refuses to overwrite unless `force`; replacement is atomic. */
export function writeKeyPair(base: string, key: KeyMaterial, comment: string, force: boolean): { keyPath: string; pubPath: string } {
  const keyPath = `${base}.key`;
  const pubPath = `${base}.pub`;
  if (!force) {
    for (const p of [keyPath, pubPath]) {
      if (existsSync(p)) throw new TunError('KEY_FILE_EXISTS', `${p} already exists`, 'pass --force to replace it, or choose another --out');
    }
  }
  const files: [string, string, number][] = [
    [keyPath, `${PRIVATE_KEY_TYPE} ${key.privateKey.toString('base64')}\n`, 0o600],
    [pubPath, formatPublicKey(key.publicKey, comment) + '\n', 0o644],
  ];
  for (const [path, content, mode] of files) {
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      writeNew(tmp, content, mode);
      if (!force && existsSync(path)) throw new TunError('KEY_FILE_EXISTS', `${path} already exists`, 'pass --force to replace it');
      renameSync(tmp, path);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw err;
    }
  }
  return { keyPath, pubPath };
}

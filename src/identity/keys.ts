/**
 * Key files. The private key file is one line, `tun-x25519-private <base64>`, created 0600 with
 * O_EXCL; the public key file is one line, `tun-x25519 <base64> <comment>`, ready to append to an
 * allow list. Uses tweetnacl for base-point multiplication: synchronous and with no WebAssembly
 * start-up, so `tun keygen` and key validation need nothing initialised.
 */
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync, existsSync, fchmodSync, mkdirSync, statSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import nacl from 'tweetnacl';
import { DH_LEN } from '../constants.js';
import { TunError, printable } from '../errors.js';
import { readTextFile, type FileKind } from './text-file.js';

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

/** The first word of a line, quoted safely for a message: enough to recognise an ssh key or a typo, never the key itself. */
function firstWord(text: string): string {
  return `"${printable(text.trim().split(/\s/, 1)[0] ?? '', 40)}"`;
}

/** Parses `tun-x25519 <base64> [comment]`; throws KEY_INVALID with `what` naming the source. */
export function parsePublicKeyText(text: string, what: string): { publicKey: Buffer; comment: string } {
  if (text.trim().startsWith(PRIVATE_KEY_TYPE)) {
    throw new TunError('KEY_INVALID', `${what}: this is a PRIVATE key, not a public one`, 'remove it from here and generate a new key pair (`tun keygen`): the old private key must be treated as leaked');
  }
  const m = /^\s*(\S+)\s+(\S+)\s*(.*?)\s*$/.exec(text);
  if (!m || m[1] !== PUBLIC_KEY_TYPE) {
    throw new TunError('KEY_INVALID', `${what}: not a tun public key (starts with ${firstWord(text)}; expected "${PUBLIC_KEY_TYPE} <base64> [name]")`, 'use the .pub file that `tun keygen` wrote');
  }
  const publicKey = decodeKeyField(m[2]!);
  if (!publicKey) throw new TunError('KEY_INVALID', `${what}: the key is not 32 bytes of base64`, 'the key was truncated or altered; copy the .pub file again');
  if (isLowOrderPoint(publicKey)) throw new TunError('KEY_INVALID', `${what}: the key is a low-order X25519 point (all zero or similar), never a real key`, 'generate a real key with `tun keygen` and use its .pub file');
  return { publicKey, comment: m[3] ?? '' };
}

const PRIVATE_FILE: FileKind = {
  what: 'private key file',
  maxBytes: MAX_KEY_FILE,
  missing: 'KEY_FILE_MISSING',
  unreadable: 'KEY_FILE_UNREADABLE',
  malformed: 'KEY_FILE_MALFORMED',
  expected: 'the NAME.key file that `tun keygen --out DIR/NAME` wrote',
};

const PUBLIC_FILE: FileKind = { ...PRIVATE_FILE, what: 'public key file', expected: 'the NAME.pub file that `tun keygen --out DIR/NAME` wrote' };

function checkPrivateMode(path: string, mode: number): void {
  if (mode & 0o077) {
    throw new TunError(
      'KEY_FILE_PERMISSIONS',
      `private key file ${path} has mode ${mode.toString(8).padStart(4, '0')}: it is readable or writable by others, so tun refuses to use it`,
      `run: chmod 600 ${path}`,
    );
  }
}

/** The 32 key bytes of a private key file's text; never quotes the text (it is a secret). */
function parsePrivateKeyText(text: string, path: string): Buffer {
  const m = /^(\S+) (\S+)\s*$/.exec(text.trim());
  if (!m || m[1] !== PRIVATE_KEY_TYPE) {
    throw new TunError('KEY_FILE_MALFORMED', `${path} is not a tun private key file`, `a tun private key is one line "${PRIVATE_KEY_TYPE} <base64>"; give the .key file that \`tun keygen\` wrote`);
  }
  const privateKey = decodeKeyField(m[2]!);
  if (!privateKey) throw new TunError('KEY_FILE_MALFORMED', `${path}: the private key is truncated or corrupt (not 32 bytes of base64)`, 'restore the file from a backup or generate a new key');
  if (privateKey.every((b) => b === 0)) {
    throw new TunError('KEY_FILE_MALFORMED', `${path}: the private key is all zero bytes, not a generated key`, 'generate a new key with `tun keygen`');
  }
  return privateKey;
}

/**
 * Loads a private key like ssh does: the permission check is fstat on the opened descriptor (so a
 * symlink is judged by its target), and any group or other access bit refuses the file.
 */
export function readPrivateKeyFile(path: string): KeyMaterial {
  const { text, stat } = readTextFile(path, PRIVATE_FILE, true);
  if (text.trimStart().startsWith(PUBLIC_KEY_TYPE + ' ')) {
    throw new TunError('KEY_FILE_MALFORMED', `${path} is a public key file`, 'this option needs the private key: the .key file that `tun keygen` wrote next to it');
  }
  checkPrivateMode(path, stat.mode & 0o777);
  const privateKey = parsePrivateKeyText(text, path);
  return { privateKey, publicKey: publicFromPrivate(privateKey) };
}

/** Reads a .pub file: its first line that is not blank or a `#` comment. */
export function readPublicKeyFile(path: string): { publicKey: Buffer; comment: string } {
  const { text } = readTextFile(path, PUBLIC_FILE);
  const first = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first === undefined) throw new TunError('KEY_FILE_MALFORMED', `public key file ${path} holds only comments`, 'use the .pub file that `tun keygen` wrote');
  if (first.trim().startsWith(PRIVATE_KEY_TYPE)) {
    throw new TunError('KEY_FILE_MALFORMED', `${path} is a private key file, not a .pub file`, 'give the .pub file next to it; never copy the .key file anywhere else');
  }
  return parsePublicKeyText(first, path);
}

/** `tun key show`: a .key or .pub file, told apart by its content; a private key still needs mode 0600. */
export function readAnyKeyFile(path: string): { kind: 'private' | 'public'; publicKey: Buffer } {
  const { text } = readTextFile(path, { ...PRIVATE_FILE, what: 'key file', expected: 'a .key or .pub file that `tun keygen` wrote' }, true);
  if (text.trimStart().startsWith(PRIVATE_KEY_TYPE)) {
    const m = readPrivateKeyFile(path);
    m.privateKey.fill(0);
    return { kind: 'private', publicKey: m.publicKey };
  }
  return { kind: 'public', publicKey: readPublicKeyFile(path).publicKey };
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

function unwritable(path: string, err: unknown): TunError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new TunError('KEY_FILE_UNWRITABLE', `cannot write ${path} (${code})`, code === 'EACCES' || code === 'EPERM' ? 'choose a folder you may write to, or fix its permissions' : 'check that the folder exists and the disk is writable', { cause: err });
}

/**
 * Creates the folder for new key files (mode 0700 for the folders it makes), one level at a time:
 * a bounded walk, unlike mkdirSync's recursive mode, which on Node 20 spins forever where mkdir
 * keeps answering ENOENT under an existing parent (e.g. inside /proc).
 */
export function makeKeyFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(d).isDirectory()) continue;
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new TunError('KEY_FILE_UNWRITABLE', `cannot create the folder ${d} for the key files (${code})`, code === 'EEXIST' || code === 'ENOTDIR' ? `${d} (or a folder above it) is a file; choose another --out` : 'choose a folder you may write to', { cause: err });
    }
  }
  if (!statSync(resolve(dir)).isDirectory()) throw new TunError('KEY_FILE_UNWRITABLE', `${dir} is not a folder`, 'choose another --out');
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
      throw err instanceof TunError ? err : unwritable(path, err);
    }
  }
  return { keyPath, pubPath };
}

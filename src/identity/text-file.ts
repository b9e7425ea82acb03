/**
 * Reads one small text file that tun was told to use (a key file or an allow list) with every way
 * it can be wrong turned into one TunError that names the file and says what to do: missing, a
 * folder, not a regular file, unreadable, larger than such a file can be (checked before reading,
 * and the read itself is bounded), empty, or not text.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { TunError, type ErrorCode } from '../errors.js';

export interface FileKind {
  /** How the file is named in messages: "private key file", "key list". */
  what: string;
  /** Larger files are refused unread. */
  maxBytes: number;
  missing: ErrorCode;
  unreadable: ErrorCode;
  malformed: ErrorCode;
  /** What the right file is, for hints: "the .key file that `tun keygen` wrote". */
  expected: string;
}

export interface TextFile {
  text: string;
  stat: Stats;
}

const fail = (code: ErrorCode, message: string, hint: string): TunError => new TunError(code, message, hint);

function open(path: string, kind: FileKind): number {
  try {
    // O_NONBLOCK: a FIFO opens at once (and is then refused as not a regular file) instead of hanging.
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fail(kind.missing, `${kind.what} ${path} does not exist`, `check the path; expected ${kind.expected}`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw fail(kind.unreadable, `${kind.what} ${path} cannot be read: permission denied`, `make it readable by the user tun runs as (uid ${process.getuid?.() ?? '?'}), or run tun as its owner`);
    }
    throw fail(kind.unreadable, `${kind.what} ${path} cannot be opened (${code})`, `check the path and its permissions; expected ${kind.expected}`);
  }
}

function checkStat(fd: number, path: string, kind: FileKind): Stats {
  const st = fstatSync(fd);
  if (st.isDirectory()) throw fail(kind.unreadable, `${kind.what} ${path} is a directory, not a file`, `give the file inside it: ${kind.expected}`);
  if (!st.isFile()) throw fail(kind.unreadable, `${kind.what} ${path} is not a regular file`, `give ${kind.expected}`);
  if (st.size > kind.maxBytes) throw tooLarge(path, kind);
  return st;
}

const tooLarge = (path: string, kind: FileKind): TunError =>
  fail(kind.malformed, `${kind.what} ${path} is larger than such a file can be (over ${kind.maxBytes} bytes)`, `check the path; expected ${kind.expected}`);

function readBounded(fd: number, path: string, kind: FileKind): Buffer {
  const buf = Buffer.alloc(kind.maxBytes + 1);
  let len = 0;
  try {
    for (let n = -1; n !== 0 && len < buf.length; len += n) n = readSync(fd, buf, len, buf.length - len, null);
  } catch (err) {
    buf.fill(0);
    throw fail(kind.unreadable, `${kind.what} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'check the disk and the file');
  }
  if (len > kind.maxBytes) {
    buf.fill(0);
    throw tooLarge(path, kind);
  }
  return buf.subarray(0, len);
}

/** 1-based line of the first byte that cannot be in a text file (NUL, other control bytes, invalid UTF-8); 0 when all is text. */
export function firstBinaryLine(bytes: Buffer): number {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = bytes.toString('utf8');
    const bad = text.indexOf('\ufffd');
    return lineOf(text, bad < 0 ? 0 : bad);
  }
  // eslint-disable-next-line no-control-regex
  const bad = text.search(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
  return bad < 0 ? 0 : lineOf(text, bad);
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** Reads the whole file as UTF-8 text (a leading BOM dropped); throws a one-line TunError for anything else. */
export function readTextFile(path: string, kind: FileKind, wipe = false): TextFile {
  const fd = open(path, kind);
  try {
    const stat = checkStat(fd, path, kind);
    const bytes = readBounded(fd, path, kind);
    try {
      const bad = firstBinaryLine(bytes);
      if (bad > 0) throw fail(kind.malformed, `${kind.what} ${path} is not a text file (binary data on line ${bad})`, `check the path; expected ${kind.expected}`);
      const text = bytes.toString('utf8').replace(/^\ufeff/, '');
      if (text.trim() === '') throw fail(kind.malformed, `${kind.what} ${path} is empty`, `expected ${kind.expected}`);
      return { text, stat };
    } finally {
      if (wipe) bytes.fill(0);
    }
  } finally {
    closeSync(fd);
  }
}

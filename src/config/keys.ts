/** Keys written in a config file: inline .pub lines and .pub files, each error naming file, line and key. */
import { ctEqual } from '../crypto/ct.js';
import { TunError } from '../errors.js';
import { fingerprint, parsePublicKeyText, readPublicKeyFile } from '../identity/keys.js';
import { KeyList, type KeyListEntry } from '../identity/key-list.js';
import { lineOf } from './key-lines.js';
import { fileRelative } from './merge.js';
import type { Where } from './schema.js';

export function entryOf(publicKey: Buffer, name: string, where: Where, options = new Map<string, string[]>()): KeyListEntry {
  return { publicKey, name, fingerprint: fingerprint(publicKey), line: lineOf(where.doc.lines, where.path), options };
}

/** One inline .pub line ("tun-x25519 <base64> [name]"). */
export function inlineKey(text: string, where: Where): { publicKey: Buffer; comment: string } {
  try {
    return parsePublicKeyText(text, where.place);
  } catch (err) {
    throw where.fail(`not a public key line: ${(err as TunError).message.replace(`${where.place}: `, '')}`, 'write the whole line of a .pub file that `tun keygen` wrote: "tun-x25519 <base64> [name]"');
  }
}

/** A .pub file named in the config (relative to the config's folder). */
export function keyFile(path: string, where: Where): { publicKey: Buffer; comment: string } {
  try {
    return readPublicKeyFile(fileRelative(where.doc, path));
  } catch (err) {
    const e = err as TunError;
    throw where.fail(e.message, e.hint);
  }
}

/** A key list file named in the config. */
export function listFile(path: string, where: Where): KeyList {
  try {
    return KeyList.load(fileRelative(where.doc, path));
  } catch (err) {
    const e = err as TunError;
    throw new TunError(e.code, `${where.place}: ${where.path}: ${e.message}`, e.hint);
  }
}

/** Entries from several places in one list; the same key twice is an error naming both places. */
export function joinEntries(parts: { entries: readonly KeyListEntry[]; source: string }[], source: string): KeyList {
  const all: { e: KeyListEntry; source: string }[] = [];
  for (const part of parts) {
    for (const e of part.entries) {
      const dup = all.find((x) => ctEqual(x.e.publicKey, e.publicKey));
      if (dup) throw new TunError('CONFIG_INVALID', `${part.source}:${e.line}: key ${e.fingerprint} is already listed at ${dup.source}:${dup.e.line}`, 'list each key once');
      all.push({ e, source: part.source });
    }
  }
  return new KeyList(all.map((x) => x.e), source);
}

/**
 * Allow lists (authorized clients on the relay, allowed visitors on the client): one public key
 * per line exactly as in a .pub file, text after the key is a name; `#` lines and blank lines are
 * ignored. A line may start with options, ssh authorized_keys style, e.g.
 * `permitlisten=8080,permitlisten=9000 tun-x25519 AAAA... laptop`. On the relay's list,
 * `permitlisten=PORT` grants a public port and `permitservice=NAME` limits the service names the
 * key may register (without any permitservice option, every name).
 */
import { ctEqual } from '../crypto/ct.js';
import { TunError, printable } from '../errors.js';
import { PRIVATE_KEY_TYPE, PUBLIC_KEY_TYPE, fingerprint, parsePublicKeyText } from './keys.js';
import { readTextFile, type FileKind } from './text-file.js';

export interface KeyListEntry {
  publicKey: Buffer;
  name: string;
  fingerprint: string;
  line: number;
  options: Map<string, string[]>;
}

const LIST_FILE: FileKind = {
  what: 'key list',
  maxBytes: 4 * 1024 * 1024,
  missing: 'LIST_FILE_MISSING',
  unreadable: 'LIST_FILE_UNREADABLE',
  malformed: 'LIST_MALFORMED',
  expected: `a text file with one .pub line ("${PUBLIC_KEY_TYPE} <base64> [name]") per allowed key`,
};
const KNOWN_OPTIONS = new Set(['permitlisten', 'permitservice']);

export class KeyList {
  readonly entries: readonly KeyListEntry[];
  readonly source: string;

  /** Entries made elsewhere (a config file): the same key twice is the caller's to refuse. */
  constructor(entries: KeyListEntry[], source: string) {
    this.entries = entries;
    this.source = source;
  }

  static parse(text: string, source: string): KeyList {
    const entries: KeyListEntry[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `${source}:${i + 1}`;
      if (line.startsWith(PRIVATE_KEY_TYPE)) {
        throw new TunError('LIST_MALFORMED', `${where}: this line is a PRIVATE key, not a .pub line`, `remove line ${i + 1} of ${source} and generate a new key pair (\`tun keygen\`): treat the old private key as leaked`);
      }
      let options = new Map<string, string[]>();
      let keyText = line;
      if (!line.startsWith(PUBLIC_KEY_TYPE + ' ')) {
        const sp = line.indexOf(' ');
        options = parseOptions(sp < 0 ? line : line.slice(0, sp), where);
        keyText = sp < 0 ? '' : line.slice(sp + 1);
      }
      let parsed;
      try {
        parsed = parsePublicKeyText(keyText, where);
      } catch (err) {
        const e = err as TunError;
        throw new TunError('LIST_MALFORMED', `${e.message}`, `fix or remove line ${i + 1} of ${source}; each line is "[options] ${PUBLIC_KEY_TYPE} <base64> [name]"`);
      }
      const dup = entries.find((e) => ctEqual(e.publicKey, parsed.publicKey));
      if (dup) throw new TunError('LIST_MALFORMED', `${where}: the same key is already listed on line ${dup.line}`, 'merge the two lines');
      entries.push({ publicKey: parsed.publicKey, name: parsed.comment, fingerprint: fingerprint(parsed.publicKey), line: i + 1, options });
    });
    return new KeyList(entries, source);
  }

  /** Reads and parses a list file (at most 4 MiB); every problem is a one-line TunError naming the file (and line). */
  static load(path: string): KeyList {
    return KeyList.parse(readTextFile(path, LIST_FILE).text, path);
  }

  /** Constant-time membership: every entry is compared, whatever matches. */
  find(publicKey: Uint8Array): KeyListEntry | undefined {
    let found: KeyListEntry | undefined;
    for (const e of this.entries) {
      if (ctEqual(e.publicKey, publicKey) && !found) found = e;
    }
    return found;
  }
}

function parseOptions(text: string, where: string): Map<string, string[]> {
  const options = new Map<string, string[]>();
  for (const part of text.split(',')) {
    const m = /^([a-z-]+)=(\S+)$/.exec(part);
    if (!m || !KNOWN_OPTIONS.has(m[1]!)) {
      throw new TunError('LIST_MALFORMED', `${where}: unknown option "${printable(part)}" before the key`, `the known options are: ${[...KNOWN_OPTIONS].join(', ')}; a plain line starts with "${PUBLIC_KEY_TYPE} "`);
    }
    const list = options.get(m[1]!) ?? [];
    list.push(m[2]!);
    options.set(m[1]!, list);
  }
  return options;
}

/** The service names an entry may register on the relay; undefined when any name is allowed. */
export function grantedServices(entry: KeyListEntry): string[] | undefined {
  return entry.options.get('permitservice');
}

/** The public ports an entry may publish on the relay. */
export function grantedPorts(entry: KeyListEntry): number[] {
  return (entry.options.get('permitlisten') ?? []).map(Number);
}

/** Why `entry` may not register service `name` (undefined when it may). */
export function serviceDenied(entry: KeyListEntry, name: string, source: string): string | undefined {
  const granted = grantedServices(entry);
  if (!granted || granted.includes(name)) return undefined;
  return `service name ${name} is not granted to this key (grant it with services = [...] in its [[client]] table, or permitservice=${name} before its line in ${source})`;
}

/**
 * Why `entry` may not register `name` on a relay whose list is `list`: a name granted to other keys
 * (with permitservice / services) belongs to them alone; a key with its own grants may register only
 * those. Undefined when it may.
 */
export function serviceRefusal(list: KeyList, entry: KeyListEntry, name: string): { code: string; message: string } | undefined {
  const denied = serviceDenied(entry, name, list.source);
  if (denied) return { code: 'service_not_granted', message: denied };
  if (grantedServices(entry)?.includes(name)) return undefined;
  const owner = list.entries.find((e) => e !== entry && !ctEqual(e.publicKey, entry.publicKey) && grantedServices(e)?.includes(name));
  if (owner) return { code: 'service_owned', message: `service name ${name} belongs to another client key (${owner.fingerprint}${owner.name ? ` ${owner.name}` : ''}) in ${list.source}` };
  return undefined;
}

/** A stable text of what an entry may do, to tell whether a reload changed it. */
export function grantsText(entry: KeyListEntry): string {
  const services = grantedServices(entry);
  return `services=${services ? [...services].sort().join(',') : '*'} ports=${grantedPorts(entry).sort((a, b) => a - b).join(',')}`;
}

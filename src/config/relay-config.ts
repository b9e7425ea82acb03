/**
 * `tun server` settings from flags and an optional config file: the relay's scalar options and
 * its authorized clients — the --authorized list file, plus `[[client]]` tables that name each key
 * and what it may do (service names it may register, public ports it may publish).
 */
import type { Command } from 'commander';
import { TunError, printable } from '../errors.js';
import type { KeyList, KeyListEntry } from '../identity/key-list.js';
import { KeyList as List } from '../identity/key-list.js';
import { SERVICE_NAME } from '../wire/index.js';
import { entryOf, inlineKey, joinEntries, keyFile } from './keys.js';
import { fileRelative, flagGiven, mergeScalars, scalarSpecs, schemaOf, type ScalarSpec } from './merge.js';
import { Where, checkDoc, type Schema } from './schema.js';
import { loadToml, type TomlDoc } from './toml.js';

const S = { kind: 'string' } as const;
const P = { kind: 'port' } as const;

export const SERVER_KEYS: ScalarSpec[] = [
  { key: 'key', attr: 'key', field: S, path: true },
  { key: 'authorized', attr: 'authorized', field: S, path: true },
  { key: 'bind', attr: 'bind', field: S },
  { key: 'control_port', attr: 'controlPort', field: P },
  { key: 'visitor_port', attr: 'visitorPort', field: P },
  { key: 'tunnel_port', attr: 'tunnelPort', field: P },
  { key: 'public', attr: 'public', field: { kind: 'boolean' } },
  { key: 'log_level', attr: 'logLevel', field: S },
  { key: 'log_format', attr: 'logFormat', field: S },
];

export const CLIENT_TABLE: Schema = {
  name: S,
  key: S,
  key_file: S,
  services: { kind: 'strings' },
  public_ports: { kind: 'ports' },
};

export interface ServerSettings<T> {
  opts: T;
  authorized: KeyList;
  /** Keys of the file the command line overrode. */
  overridden: string[];
  /** Files whose change means a reload. */
  files: string[];
}

/** One [[client]] table as a key list entry (grants as permitservice / permitlisten options). */
export function clientEntry(t: Record<string, unknown>, where: Where): KeyListEntry {
  const { key, key_file: file, name, services, public_ports: ports } = t as { key?: string; key_file?: string; name?: string; services?: string[]; public_ports?: number[] };
  if ((key === undefined) === (file === undefined)) throw where.fail('needs exactly one of key (a .pub line) or key_file (a .pub file)', 'for example: key_file = "keys/home.pub"');
  const parsed = key !== undefined ? inlineKey(key, where.at('key')) : keyFile(file!, where.at('key_file'));
  const options = new Map<string, string[]>();
  if (services) {
    services.forEach((s) => {
      if (!SERVICE_NAME.test(s)) throw where.at('services').fail(`"${printable(s, 70)}" is not a service name`, 'use 1-64 letters, digits, ".", "_" or "-"');
    });
    options.set('permitservice', services);
  }
  if (ports?.includes(0)) throw where.at('public_ports').fail('0 is not a port a client can publish on', 'list the relay ports (1-65535) this key may publish');
  if (ports && ports.length) options.set('permitlisten', ports.map(String));
  return entryOf(parsed.publicKey, name ?? parsed.comment, where.at(key !== undefined ? 'key' : 'key_file'), options);
}

/** The authorized list: the list file (if any) and the config's [[client]] tables. */
export function buildAuthorized(listPath: string | undefined, doc: TomlDoc | undefined, clients: Record<string, unknown>[] | undefined): KeyList {
  const parts: { entries: readonly KeyListEntry[]; source: string }[] = [];
  if (listPath) {
    const list = List.load(listPath);
    parts.push({ entries: list.entries, source: list.source });
  }
  if (doc && clients) parts.push({ entries: clients.map((t, i) => clientEntry(t, new Where(doc, '').at('client').at(i))), source: doc.source });
  if (parts.length === 0) throw new TunError('CONFIG_INVALID', 'no authorized clients given', 'give --authorized FILE (one .pub line per client), or [[client]] tables in the --config file');
  return joinEntries(parts, parts.length === 1 ? parts[0]!.source : `${parts[0]!.source} or ${parts[1]!.source}`);
}

/** Reads the config (if any) and merges it with the flags. Throws a TunError naming file, line and key. */
export function serverSettings<T extends { config?: string; key?: string; authorized?: string }>(opts: T, cmd: Command | undefined): ServerSettings<T> {
  const specs = scalarSpecs(SERVER_KEYS, cmd);
  const doc = opts.config ? loadToml(opts.config) : undefined;
  const checked = doc ? checkDoc(doc, schemaOf(specs, { client: { kind: 'tables', fields: CLIENT_TABLE } })) : {};
  const { opts: merged, overridden } = mergeScalars(opts, doc, checked, specs, cmd ? flagGiven(cmd) : () => false);
  if (!merged.key) throw new TunError('CONFIG_INVALID', 'no relay key given', 'give --key FILE, or key = "FILE" in the --config file');
  const authorized = buildAuthorized(merged.authorized, doc, checked.client as Record<string, unknown>[] | undefined);
  const keyFiles = doc && checked.client ? (checked.client as Record<string, unknown>[]).flatMap((t) => (typeof t.key_file === 'string' ? [fileRelative(doc, t.key_file)] : [])) : [];
  const files = [...(doc ? [doc.source] : []), ...(merged.authorized ? [merged.authorized] : []), ...keyFiles];
  return { opts: merged, authorized, overridden, files };
}

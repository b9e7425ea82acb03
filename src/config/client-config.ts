/**
 * `tun client` settings from flags and an optional config file: the scalar options, the services
 * (`[[service]]` tables: name, local address, public port, allowed visitors), and who may visit
 * each. Rule for the service list: services given with --service on the command line replace the
 * file's [[service]] tables as a whole (no merging by name); they use the default visitor list
 * (--allow, or `allow` in the file).
 */
import type { Command } from 'commander';
import { TunError, printable } from '../errors.js';
import { KeyList } from '../identity/key-list.js';
import { VisitorAccess } from '../identity/visitor-access.js';
import { parseProxyVersion, type ProxyVersion } from '../wire/proxy-version.js';
import { parseLocalAddress, type HostPort } from '../net/socket.js';
import { SERVICE_NAME } from '../wire/index.js';
import { entryOf, inlineKey, joinEntries, listFile } from './keys.js';
import { fileRelative, flagGiven, mergeScalars, scalarSpecs, schemaOf, type ScalarSpec } from './merge.js';
import { Where, checkDoc, type Schema } from './schema.js';
import { loadToml, type TomlDoc } from './toml.js';

const S = { kind: 'string' } as const;

export const CLIENT_KEYS: ScalarSpec[] = [
  { key: 'server', attr: 'server', field: { kind: 'address' } },
  { key: 'pubkey', attr: 'pubkey', field: S, path: true },
  { key: 'key', attr: 'key', field: S, path: true },
  { key: 'allow', attr: 'allow', field: S, path: true },
  { key: 'log_level', attr: 'logLevel', field: S },
  { key: 'log_format', attr: 'logFormat', field: S },
];

export const SERVICE_TABLE: Schema = {
  name: S,
  local: { kind: 'address' },
  public_port: { kind: 'port' },
  proxy_protocol: S,
  allow: S,
  allow_keys: { kind: 'strings' },
};

export interface ConfiguredService {
  name: string;
  local: HostPort;
  publicPort?: number;
  proxy?: ProxyVersion;
}

export interface ClientSettings<T> {
  opts: T;
  services: ConfiguredService[];
  access: VisitorAccess;
  overridden: string[];
  files: string[];
}

export function serviceName(v: unknown, where: Where): string {
  if (typeof v !== 'string') throw where.fail('is missing: each [[service]] needs a name', 'for example: name = "ssh"');
  if (!SERVICE_NAME.test(v)) throw where.fail(`"${printable(v, 70)}" is not a service name`, 'use 1-64 letters, digits, ".", "_" or "-"');
  return v;
}

export function address(v: unknown, where: Where, what: string): HostPort {
  if (typeof v !== 'string') throw where.fail(`is missing: each [[service]] needs ${what}`, 'for example: "127.0.0.1:22", or 22 for 127.0.0.1');
  try {
    return parseLocalAddress(v, where.path);
  } catch (err) {
    throw where.fail((err as TunError).message, (err as TunError).hint);
  }
}

/** A service's own visitor list (allow file and allow_keys), or undefined when it has none. */
function serviceList(t: Record<string, unknown>, where: Where): KeyList | undefined {
  const parts: { entries: KeyList['entries']; source: string }[] = [];
  if (typeof t.allow === 'string') {
    const list = listFile(t.allow, where.at('allow'));
    parts.push({ entries: list.entries, source: list.source });
  }
  if (Array.isArray(t.allow_keys)) {
    const w = where.at('allow_keys');
    const entries = (t.allow_keys as string[]).map((text) => {
      const k = inlineKey(text, w);
      return entryOf(k.publicKey, k.comment, w);
    });
    parts.push({ entries, source: where.doc.source });
  }
  if (parts.length === 0) return undefined;
  return joinEntries(parts, `${where.place} (${where.path})`);
}

/** The [[service]] tables: specs and per-service visitor lists. */
export function configServices(doc: TomlDoc, tables: Record<string, unknown>[]): { services: ConfiguredService[]; lists: Map<string, KeyList>; files: string[] } {
  const services: ConfiguredService[] = [];
  const lists = new Map<string, KeyList>();
  // The per-service list files (a KeyList's source is a label there, not a path): watched for reloads.
  const files = tables.flatMap((t) => (typeof t.allow === 'string' ? [fileRelative(doc, t.allow)] : []));
  tables.forEach((t, i) => {
    const where = new Where(doc, '').at('service').at(i);
    const name = serviceName(t.name, where.at('name'));
    if (services.some((s) => s.name === name)) throw where.at('name').fail(`service ${name} is listed twice`, 'give each [[service]] its own name');
    const local = address(t.local, where.at('local'), 'local = "HOST:PORT"');
    if (t.public_port === 0) throw where.at('public_port').fail('0 is not a port the relay can publish on', 'give the relay port (1-65535) its list grants this key');
    const proxy = t.proxy_protocol === undefined ? undefined : parseProxyVersion(t.proxy_protocol as string);
    if (t.proxy_protocol !== undefined && !proxy) throw where.at('proxy_protocol').fail(`"${printable(t.proxy_protocol as string, 20)}" is not a PROXY protocol version`, 'use "v1" (text) or "v2" (binary), as the local service expects');
    services.push({ name, local, ...(t.public_port !== undefined ? { publicPort: t.public_port as number } : {}), ...(proxy ? { proxy } : {}) });
    const list = serviceList(t, where);
    if (list) lists.set(name, list);
  });
  return { services, lists, files };
}

export function clientSettings<T extends { config?: string; allow?: string; server?: string; pubkey?: string; key?: string }>(opts: T, cmd: Command | undefined, flagServices: ConfiguredService[]): ClientSettings<T> {
  const specs = scalarSpecs(CLIENT_KEYS, cmd);
  const doc = opts.config ? loadToml(opts.config) : undefined;
  const checked = doc ? checkDoc(doc, schemaOf(specs, { service: { kind: 'tables', fields: SERVICE_TABLE } })) : {};
  const { opts: merged, overridden } = mergeScalars(opts, doc, checked, specs, cmd ? flagGiven(cmd) : () => false);
  for (const [attr, flag] of [['server', '--server HOST[:PORT]'], ['pubkey', '--pubkey FILE'], ['key', '--key FILE']] as const) {
    if (!merged[attr]) throw new TunError('CONFIG_INVALID', `no ${attr} given`, `give ${flag}, or ${attr} = "..." in the --config file`);
  }
  const fromFile = doc && checked.service ? configServices(doc, checked.service as Record<string, unknown>[]) : { services: [], lists: new Map<string, KeyList>(), files: [] };
  const useFlags = flagServices.length > 0;
  if (useFlags && fromFile.services.length > 0) overridden.push('service');
  const services = useFlags ? flagServices : fromFile.services;
  if (services.length === 0) throw new TunError('CONFIG_INVALID', 'no service given', 'add --service NAME --local HOST:PORT, or [[service]] tables in the --config file');
  const lists = useFlags ? new Map<string, KeyList>() : fromFile.lists;
  const defaultList = merged.allow ? KeyList.load(merged.allow) : undefined;
  const access = new VisitorAccess(defaultList, lists, services.map((s) => s.name));
  const files = [...(doc ? [doc.source] : []), ...(merged.allow ? [merged.allow] : []), ...(useFlags ? [] : fromFile.files)];
  return { opts: merged, services, access, overridden, files };
}

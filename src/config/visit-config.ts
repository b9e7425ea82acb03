/**
 * `tun visit` settings from flags and an optional config file: the scalar options and the
 * services (`[[service]]` tables: name, listen). As for the client, services given with --service
 * on the command line replace the file's list as a whole.
 */
import type { Command } from 'commander';
import { TunError } from '../errors.js';
import type { HostPort } from '../net/socket.js';
import { address, serviceName } from './client-config.js';
import { flagGiven, mergeScalars, scalarSpecs, schemaOf, type ScalarSpec } from './merge.js';
import { Where, checkDoc, type Schema } from './schema.js';
import { loadToml } from './toml.js';

const S = { kind: 'string' } as const;

export const VISIT_KEYS: ScalarSpec[] = [
  { key: 'server', attr: 'server', field: { kind: 'address' } },
  { key: 'pubkey', attr: 'pubkey', field: S, path: true },
  { key: 'key', attr: 'key', field: S, path: true },
  { key: 'log_level', attr: 'logLevel', field: S },
  { key: 'log_format', attr: 'logFormat', field: S },
];

export const VISIT_SERVICE_TABLE: Schema = { name: S, listen: { kind: 'address' } };

export interface VisitSettings<T> {
  opts: T;
  /** From the file; undefined when the file lists none (the command line's then count). */
  services: { name: string; listen: HostPort }[] | undefined;
  overridden: string[];
}

export function visitSettings<T extends { config?: string; server?: string; pubkey?: string; key?: string }>(opts: T, cmd: Command | undefined, flagServiceCount: number): VisitSettings<T> {
  const specs = scalarSpecs(VISIT_KEYS, cmd);
  const doc = opts.config ? loadToml(opts.config) : undefined;
  const checked = doc ? checkDoc(doc, schemaOf(specs, { service: { kind: 'tables', fields: VISIT_SERVICE_TABLE } })) : {};
  const { opts: merged, overridden } = mergeScalars(opts, doc, checked, specs, cmd ? flagGiven(cmd) : () => false);
  for (const [attr, flag] of [['server', '--server HOST[:PORT]'], ['pubkey', '--pubkey FILE'], ['key', '--key FILE']] as const) {
    if (!merged[attr]) throw new TunError('CONFIG_INVALID', `no ${attr} given`, `give ${flag}, or ${attr} = "..." in the --config file`);
  }
  const tables = checked.service as Record<string, unknown>[] | undefined;
  if (!doc || !tables || tables.length === 0) return { opts: merged, services: undefined, overridden };
  if (flagServiceCount > 0) return { opts: merged, services: undefined, overridden: [...overridden, 'service'] };
  const services = tables.map((t, i) => {
    const where = new Where(doc, '').at('service').at(i);
    return { name: serviceName(t.name, where.at('name')), listen: address(t.listen, where.at('listen'), 'listen = "HOST:PORT"') };
  });
  return { opts: merged, services, overridden };
}

/**
 * Config file and flags together: a key in the file sets the option of the same meaning unless
 * that option was given on the command line (flags win). Paths in the file are relative to the
 * file's folder. Options other modules add to a command (and this file does not list) get a key
 * too: the option's name in snake_case, a string, port or boolean as the option takes.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Field, Schema } from './schema.js';
import type { TomlDoc } from './toml.js';

export interface ScalarSpec {
  /** The key in the file. */
  key: string;
  /** The commander attribute it sets. */
  attr: string;
  field: Field;
  /** A file path: relative to the config file's folder. */
  path?: boolean;
}

/** Options no config key stands for (lists handled by their own rule, and --config itself). */
const NOT_KEYS = new Set(['config', 'service', 'local', 'publicPort', 'proxyProtocol', 'listen', 'stdio', 'help', 'version']);

/** Options other modules add whose value is a file path (resolved like the listed paths). */
const PATH_OPTIONS = new Set(['admin']);

export const snake = (attr: string): string => attr.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The scalar keys of a role: those listed, then one per other option of the command. */
export function scalarSpecs(listed: ScalarSpec[], cmd: Command | undefined): ScalarSpec[] {
  const specs = [...listed];
  for (const opt of cmd?.options ?? []) {
    const attr = opt.attributeName();
    if (NOT_KEYS.has(attr) || specs.some((s) => s.attr === attr)) continue;
    if (PATH_OPTIONS.has(attr)) specs.push({ key: snake(attr), attr, field: { kind: 'string' }, path: true });
    else specs.push({ key: snake(attr), attr, field: opt.isBoolean() || opt.negate ? { kind: 'boolean' } : { kind: 'address' } });
  }
  return specs;
}

export function schemaOf(specs: ScalarSpec[], tables: Schema = {}): Schema {
  return Object.fromEntries([...specs.map((s) => [s.key, s.field] as const), ...Object.entries(tables)]);
}

export const fileRelative = (doc: TomlDoc, p: string): string => (isAbsolute(p) ? p : resolve(dirname(doc.source), p));

/**
 * Options after the file: every key present sets its option unless `fromFlag(attr)`. Returns the
 * merged options and the keys the command line overrode.
 */
export function mergeScalars<T extends object>(opts: T, doc: TomlDoc | undefined, checked: Record<string, unknown>, specs: ScalarSpec[], fromFlag: (attr: string) => boolean): { opts: T; overridden: string[] } {
  const out = { ...opts } as Record<string, unknown>;
  const overridden: string[] = [];
  if (!doc) return { opts: out as T, overridden };
  for (const s of specs) {
    const v = checked[s.key];
    if (v === undefined) continue;
    if (fromFlag(s.attr)) {
      overridden.push(s.key);
      continue;
    }
    out[s.attr] = typeof v === 'boolean' ? v : s.path ? fileRelative(doc, String(v)) : String(v);
  }
  return { opts: out as T, overridden };
}

/** Whether commander got this option from the command line (or the environment), not its default. */
export function flagGiven(cmd: Command): (attr: string) => boolean {
  return (attr) => {
    const src = cmd.getOptionValueSource(attr);
    return src === 'cli' || src === 'env';
  };
}

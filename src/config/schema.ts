/**
 * A small schema for config files: each key has a kind; a key the schema does not name, or a value
 * of the wrong kind, is a CONFIG_INVALID error naming the file, the line and the key. Pure: it
 * reads a parsed document (toml.ts) and returns the same data, checked.
 */
import { TunError, printable } from '../errors.js';
import { lineOf } from './key-lines.js';
import type { TomlDoc } from './toml.js';

export type Field =
  | { kind: 'string' }
  | { kind: 'port' }
  | { kind: 'boolean' }
  | { kind: 'address' }
  | { kind: 'strings' }
  | { kind: 'ports' }
  | { kind: 'tables'; fields: Schema };

export type Schema = Record<string, Field>;

/** Where an error is: the document and a key path in it. */
export class Where {
  constructor(
    readonly doc: TomlDoc,
    readonly path: string,
  ) {}

  at(key: string | number): Where {
    return new Where(this.doc, typeof key === 'number' ? `${this.path}[${key + 1}]` : this.path ? `${this.path}.${key}` : key);
  }

  /** "FILE:LINE" (just FILE when the key has no line). */
  get place(): string {
    const line = lineOf(this.doc.lines, this.path);
    return line > 0 ? `${this.doc.source}:${line}` : this.doc.source;
  }

  fail(message: string, hint?: string): TunError {
    return new TunError('CONFIG_INVALID', `${this.place}: ${this.path}: ${message}`, hint);
  }
}

const DESCRIBE: Record<Field['kind'], string> = {
  string: 'a string',
  port: 'a port number (0-65535)',
  boolean: 'true or false',
  address: 'a string "HOST:PORT" (or a port number for 127.0.0.1)',
  strings: 'a list of strings',
  ports: 'a list of port numbers',
  tables: 'tables ([[NAME]] sections)',
};

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a date';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a table';
  if (typeof v === 'number' || typeof v === 'bigint') return Number.isInteger(Number(v)) ? 'an integer' : 'a float';
  return `a ${typeof v}`;
}

const isPort = (v: unknown): boolean => (typeof v === 'number' || typeof v === 'bigint') && Number.isInteger(Number(v)) && Number(v) >= 0 && Number(v) <= 65535;
const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function checkValue(v: unknown, field: Field, where: Where): unknown {
  const bad = (): TunError => where.fail(`must be ${DESCRIBE[field.kind]}, not ${typeName(v)}`, 'see docs/config.md for each key and its type');
  switch (field.kind) {
    case 'string':
      if (typeof v !== 'string') throw bad();
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad();
      return v;
    case 'port':
      if (!isPort(v)) throw bad();
      return Number(v);
    case 'address':
      if (typeof v === 'string') return v;
      if (isPort(v)) return String(v);
      throw bad();
    case 'strings':
      if (!Array.isArray(v)) throw bad();
      v.forEach((x, i) => {
        if (typeof x !== 'string') throw where.fail(`item ${i + 1} must be a string, not ${typeName(x)}`);
      });
      return v;
    case 'ports':
      if (!Array.isArray(v)) throw bad();
      v.forEach((x, i) => {
        if (!isPort(x)) throw where.fail(`item ${i + 1} must be a port number (0-65535), not ${typeName(x)}`);
      });
      return v.map(Number);
    case 'tables':
      if (!Array.isArray(v) || !v.every(isTable)) throw bad();
      return v.map((t, i) => checkTable(t, field.fields, where.at(i)));
  }
}

/** Checks a table against a schema: unknown keys and wrong kinds are errors naming file, line and key. */
export function checkTable(table: Record<string, unknown>, schema: Schema, where: Where): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(table)) {
    const w = where.at(key);
    const field = Object.hasOwn(schema, key) ? schema[key] : undefined;
    if (!field) {
      const known = Object.keys(schema).join(', ');
      throw w.fail(`unknown key "${printable(key, 64)}"`, `the keys known here are: ${known} (see docs/config.md)`);
    }
    out[key] = checkValue(value, field, w);
  }
  return out;
}

/** Checks a whole document. */
export function checkDoc(doc: TomlDoc, schema: Schema): Record<string, unknown> {
  return checkTable(doc.data, schema, new Where(doc, ''));
}

/**
 * A small declarative schema for decoded msgpack bodies. Bodies are msgpack maps with string keys;
 * unknown keys are rejected, every field has a type and a bound. Validation builds a fresh
 * null-prototype object holding only the declared fields, so `__proto__` or `constructor` keys in
 * the input can never reach application objects.
 */
import { TunError } from '../errors.js';

export type Field =
  | { kind: 'str'; max: number; pattern?: RegExp; optional?: boolean }
  | { kind: 'bin'; min: number; max: number; optional?: boolean }
  | { kind: 'uint'; max: number; optional?: boolean }
  | { kind: 'bool'; optional?: boolean }
  | { kind: 'array'; of: Field; max: number; optional?: boolean }
  | { kind: 'object'; fields: Schema; optional?: boolean };

export type Schema = Record<string, Field>;

function invalid(path: string, why: string): TunError {
  return new TunError('MESSAGE_INVALID', `${path}: ${why}`);
}

export function validate(value: unknown, schema: Schema, path: string): Record<string, unknown> {
  if (!(value instanceof Map)) throw invalid(path, 'expected a map');
  for (const key of value.keys()) {
    if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(schema, key)) throw invalid(path, `unexpected field ${JSON.stringify(String(key)).slice(0, 40)}`);
  }
  const out: Record<string, unknown> = Object.create(null);
  for (const [name, field] of Object.entries(schema)) {
    const v = value.get(name);
    if (v === undefined || v === null) {
      if (!field.optional) throw invalid(path, `missing field ${name}`);
      continue;
    }
    out[name] = check(v, field, `${path}.${name}`);
  }
  return out;
}

function check(v: unknown, f: Field, path: string): unknown {
  switch (f.kind) {
    case 'str':
      if (typeof v !== 'string') throw invalid(path, 'expected a string');
      if (Buffer.byteLength(v) > f.max) throw invalid(path, `longer than ${f.max} bytes`);
      if (f.pattern && !f.pattern.test(v)) throw invalid(path, 'has characters that are not allowed');
      return v;
    case 'bin': {
      if (!(v instanceof Uint8Array)) throw invalid(path, 'expected binary');
      if (v.length < f.min || v.length > f.max) throw invalid(path, `expected ${f.min === f.max ? f.min : `${f.min}..${f.max}`} bytes, got ${v.length}`);
      return Buffer.from(v);
    }
    case 'uint':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > f.max) throw invalid(path, `expected an integer 0..${f.max}`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw invalid(path, 'expected true or false');
      return v;
    case 'array':
      if (!Array.isArray(v)) throw invalid(path, 'expected an array');
      if (v.length > f.max) throw invalid(path, `more than ${f.max} entries`);
      return v.map((x, i) => check(x, f.of, `${path}[${i}]`));
    case 'object':
      return validate(v, f.fields, path);
  }
}

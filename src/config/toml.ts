/**
 * Reads a TOML config file: bounded, text only, parsed with smol-toml. Every problem is one
 * TunError (CONFIG_INVALID, or the file kind's codes for a missing or unreadable file) naming the
 * file and, where there is one, the line.
 */
import { parse, TomlError } from 'smol-toml';
import { TunError } from '../errors.js';
import { readTextFile, type FileKind } from '../identity/text-file.js';
import { keyLines } from './key-lines.js';

export const CONFIG_FILE: FileKind = {
  what: 'config file',
  maxBytes: 1024 * 1024,
  missing: 'CONFIG_INVALID',
  unreadable: 'CONFIG_INVALID',
  malformed: 'CONFIG_INVALID',
  expected: 'a TOML file as described in docs/config.md',
};

export interface TomlDoc {
  /** The path as given (messages name it). */
  source: string;
  data: Record<string, unknown>;
  /** Key path -> line, for messages about a key (see key-lines.ts). */
  lines: Map<string, number>;
}

/** Parses TOML text; a syntax error names the file, line and column. */
export function parseToml(text: string, source: string): TomlDoc {
  let data: Record<string, unknown>;
  try {
    data = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
      throw new TunError('CONFIG_INVALID', `${source}:${err.line}:${err.column}: not valid TOML: ${what}`, 'fix the syntax at that line (see docs/config.md for the format)');
    }
    throw err;
  }
  return { source, data, lines: keyLines(text) };
}

export function loadToml(path: string): TomlDoc {
  return parseToml(readTextFile(path, CONFIG_FILE).text, path);
}

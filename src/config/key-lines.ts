/**
 * Where each key of a TOML document is written: a map from a key path ("port",
 * "service[2].local", 1-based indexes for arrays of tables) to its 1-based line. The TOML parser
 * gives no positions for values, so schema errors look their key up here. It reads the lines the
 * way TOML lays them out (table headers, `key = value`, values that span lines) and needs no
 * more: the text has already been parsed, so it is valid TOML.
 */

const HEADER = /^\s*\[\[\s*([^\]]+?)\s*\]\]|^\s*\[\s*([^\]]+?)\s*\]/;
const KEY = /^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=/;

/** "a . 'b' . \"c\"" -> "a.b.c" */
function normalise(dotted: string): string {
  return dotted
    .split(/\s*\.\s*(?=(?:[^"']|"[^"]*"|'[^']*')*$)/)
    .map((part) => part.trim().replace(/^["']|["']$/g, ''))
    .join('.');
}

/** How much a value's text opens: brackets and braces outside strings, and whether a multi-line string is still open. */
function scanValue(text: string, state: { depth: number; multi: string | undefined }): void {
  for (let i = 0; i < text.length; i++) {
    if (state.multi) {
      if (text.startsWith(state.multi, i)) {
        i += 2;
        state.multi = undefined;
      } else if (text[i] === '\\' && state.multi === '"""') i++;
      continue;
    }
    const c = text[i];
    if (c === '#') return;
    if (text.startsWith('"""', i) || text.startsWith("'''", i)) {
      state.multi = text.slice(i, i + 3);
      i += 2;
    } else if (c === '"' || c === "'") {
      const end = closingQuote(text, i);
      i = end < 0 ? text.length : end;
    } else if (c === '[' || c === '{') state.depth++;
    else if (c === ']' || c === '}') state.depth--;
  }
}

function closingQuote(text: string, start: number): number {
  const q = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (q === '"' && text[i] === '\\') i++;
    else if (text[i] === q) return i;
  }
  return -1;
}

export function keyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const counts = new Map<string, number>();
  let prefix = '';
  const state = { depth: 0, multi: undefined as string | undefined };
  text.split(/\r?\n/).forEach((line, i) => {
    if (state.depth > 0 || state.multi) return scanValue(line, state);
    const header = HEADER.exec(line);
    if (header) {
      if (header[1] !== undefined) {
        const name = normalise(header[1]);
        const n = (counts.get(name) ?? 0) + 1;
        counts.set(name, n);
        prefix = `${name}[${n}]`;
      } else {
        prefix = normalise(header[2]!);
      }
      if (!lines.has(prefix)) lines.set(prefix, i + 1);
      return;
    }
    const key = KEY.exec(line);
    if (!key) return;
    const path = prefix ? `${prefix}.${normalise(key[1]!)}` : normalise(key[1]!);
    if (!lines.has(path)) lines.set(path, i + 1);
    scanValue(line.slice(key[0].length), state);
  });
  return lines;
}

/** The line of `path`, or of the nearest enclosing table that has one (0 when none does). */
export function lineOf(lines: Map<string, number>, path: string): number {
  for (let p = path; p !== ''; p = p.replace(/(\.[^.[\]]*|\[\d+\])$/, '')) {
    const n = lines.get(p);
    if (n !== undefined) return n;
    if (!/(\.[^.[\]]*|\[\d+\])$/.test(p)) break;
  }
  return 0;
}

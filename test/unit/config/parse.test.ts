/** Config parsing and validation: key lines, syntax errors, unknown keys and bad types name file, line and key. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keyLines, lineOf } from '../../../src/config/key-lines.js';
import { checkDoc, type Schema } from '../../../src/config/schema.js';
import { parseToml } from '../../../src/config/toml.js';
import { TunError } from '../../../src/errors.js';

const DOC = `# a relay
bind = "127.0.0.1"   # comment
control_port = 9000
list = [
  "a",
  "b",
]
text = """
key = "not a key"
"""

[[service]]
name = "ssh"
local = "127.0.0.1:22"

[[service]]
name = "web"
'quoted.key' = 1
local = 8080

[table]
x.y = true
`;

function fails(fn: () => unknown, re: RegExp): TunError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TunError, `a TunError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected an error matching ${re}`);
}

describe('key lines', () => {
  const lines = keyLines(DOC);
  test('top-level keys, values over several lines, multi-line strings', () => {
    assert.equal(lines.get('bind'), 2);
    assert.equal(lines.get('control_port'), 3);
    assert.equal(lines.get('list'), 4);
    assert.equal(lines.get('text'), 8);
    assert.equal(lines.get('key'), undefined, 'a key inside a multi-line string is not a key');
  });
  test('arrays of tables are numbered from 1, quoted and dotted keys', () => {
    assert.equal(lines.get('service[1]'), 12);
    assert.equal(lines.get('service[1].local'), 14);
    assert.equal(lines.get('service[2].name'), 17);
    assert.equal(lines.get('service[2].quoted.key'), 18);
    assert.equal(lines.get('service[2].local'), 19);
    assert.equal(lines.get('table.x.y'), 22);
  });
  test('a path without its own line falls back to its table', () => {
    assert.equal(lineOf(lines, 'service[2].allow'), 16);
    assert.equal(lineOf(lines, 'nothing'), 0);
  });
});

describe('toml and schema', () => {
  const schema: Schema = {
    port: { kind: 'port' },
    on: { kind: 'boolean' },
    names: { kind: 'strings' },
    service: { kind: 'tables', fields: { name: { kind: 'string' }, local: { kind: 'address' }, public_port: { kind: 'port' } } },
  };
  test('a syntax error names file, line and column', () => {
    fails(() => parseToml('a = 1\nb = = 2\n', 'x.toml'), /^x\.toml:2:\d+: not valid TOML/);
  });
  test('an unknown key names file, line and key', () => {
    const e = fails(() => checkDoc(parseToml('port = 1\n\n[[service]]\nname = "a"\nlocall = "1"\n', 'c.toml'), schema), /^c\.toml:5: service\[1\]\.locall: unknown key "locall"/);
    assert.match(e.hint ?? '', /name, local, public_port/);
  });
  test('a bad type names file, line, key and both types', () => {
    fails(() => checkDoc(parseToml('on = true\nport = "8009"\n', 'c.toml'), schema), /^c\.toml:2: port: must be a port number \(0-65535\), not a string/);
    fails(() => checkDoc(parseToml('port = 70000\n', 'c.toml'), schema), /^c\.toml:1: port: must be a port number/);
    fails(() => checkDoc(parseToml('on = "yes"\n', 'c.toml'), schema), /^c\.toml:1: on: must be true or false, not a string/);
    fails(() => checkDoc(parseToml('names = ["a", 2]\n', 'c.toml'), schema), /^c\.toml:1: names: item 2 must be a string, not an integer/);
    fails(() => checkDoc(parseToml('service = 3\n', 'c.toml'), schema), /^c\.toml:1: service: must be tables/);
    fails(() => checkDoc(parseToml('[[service]]\nname = "a"\n[[service]]\npublic_port = 1.5\n', 'c.toml'), schema), /^c\.toml:4: service\[2\]\.public_port: must be a port number \(0-65535\), not a float/);
  });
  test('good values come back checked (an address may be a port number)', () => {
    const out = checkDoc(parseToml('port = 0\non = false\n[[service]]\nname = "a"\nlocal = 22\n', 'c.toml'), schema);
    assert.deepEqual(out, { port: 0, on: false, service: [{ name: 'a', local: '22' }] });
  });
});

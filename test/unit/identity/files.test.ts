/**
 * Every way a file tun reads can be wrong (private key, .pub, allow list) ends in one TunError with a
 * stable code, a message naming the file (and line, for lists), a hint, and at most a short escaped
 * prefix of the bad input: never a stack trace, never a secret.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isTunError, printable, type ErrorCode } from '../../../src/errors.js';
import { KeyList } from '../../../src/identity/key-list.js';
import { formatPublicKey, generateKeyMaterial, readAnyKeyFile, readPrivateKeyFile, readPublicKeyFile, writeKeyPair } from '../../../src/identity/keys.js';
import { firstBinaryLine } from '../../../src/identity/text-file.js';
import { LOW_ORDER_POINTS } from '../../helpers/noise.js';

const root = mkdtempSync(join(tmpdir(), 'tun-files-'));
chmodSync(root, 0o755);
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const file = (content: string | Buffer, mode = 0o600): string => {
  const p = join(root, `f${n++}`);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
};

/** The error must be a TunError with this code, one line, naming the path, with a hint, and short. */
function expectError(fn: () => unknown, code: ErrorCode, path: string, re: RegExp, label = re.source): TunError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(isTunError(caught), `${label}: expected a TunError, got ${String(caught)}`);
  const e = caught;
  assert.equal(e.code, code, `${label}: code (message: ${e.message})`);
  assert.ok(e.message.includes(path), `${label}: names the file: ${e.message}`);
  assert.match(e.message, re, label);
  assert.ok(e.hint && e.hint.length > 5, `${label}: has a hint`);
  assert.ok(!/[\n\r]/.test(e.message + e.hint), `${label}: one line`);
  assert.ok(e.message.length < 300, `${label}: short (${e.message.length})`);
  return e;
}
type TunError = import('../../../src/errors.js').TunError;

const key = generateKeyMaterial();
const base = join(root, 'good');
writeKeyPair(base, key, 'good', false);
const goodKeyText = readFileSync(`${base}.key`, 'utf8');
const goodPubText = readFileSync(`${base}.pub`, 'utf8');
const secretB64 = key.privateKey.toString('base64');

/** The well-known X25519 points of small order, and the same with the ignored top bit set. */
const LOW_ORDER = LOW_ORDER_POINTS.flatMap((h) => {
  const b = Buffer.from(h, 'hex');
  const high = Buffer.from(b);
  high[31]! |= 0x80;
  return [b, high];
});

describe('what every reader shares (missing, folder, not a file, too large, empty, binary)', () => {
  const readers: [string, (p: string) => unknown, { missing: ErrorCode; unreadable: ErrorCode; malformed: ErrorCode }][] = [
    ['private key', readPrivateKeyFile, { missing: 'KEY_FILE_MISSING', unreadable: 'KEY_FILE_UNREADABLE', malformed: 'KEY_FILE_MALFORMED' }],
    ['public key', readPublicKeyFile, { missing: 'KEY_FILE_MISSING', unreadable: 'KEY_FILE_UNREADABLE', malformed: 'KEY_FILE_MALFORMED' }],
    ['key show', readAnyKeyFile, { missing: 'KEY_FILE_MISSING', unreadable: 'KEY_FILE_UNREADABLE', malformed: 'KEY_FILE_MALFORMED' }],
    ['key list', KeyList.load, { missing: 'LIST_FILE_MISSING', unreadable: 'LIST_FILE_UNREADABLE', malformed: 'LIST_MALFORMED' }],
  ];
  for (const [name, read, codes] of readers) {
    test(`${name}: missing file, missing folder on the way`, () => {
      expectError(() => read(join(root, 'nope')), codes.missing, join(root, 'nope'), /does not exist/);
      const through = join(file('x'), 'inside');
      expectError(() => read(through), codes.missing, through, /does not exist/);
    });
    test(`${name}: a directory, a FIFO (without hanging) and a device are refused before reading`, () => {
      const dir = join(root, `dir-${n++}`);
      mkdirSync(dir);
      expectError(() => read(dir), codes.unreadable, dir, /is a directory, not a file/);
      const fifo = join(root, `fifo-${n++}`);
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
      expectError(() => read(fifo), codes.unreadable, fifo, /is not a regular file/);
      expectError(() => read('/dev/zero'), codes.unreadable, '/dev/zero', /is not a regular file/);
    });
    test(`${name}: a huge file is refused from its size, unread`, () => {
      const p = join(root, `huge-${n++}`);
      const fd = openSync(p, 'w', 0o600);
      ftruncateSync(fd, 2 ** 32); // sparse: 4 GiB that would take seconds and memory to read
      closeSync(fd);
      expectError(() => read(p), codes.malformed, p, /is larger than such a file can be/);
    });
    test(`${name}: empty, blank, binary`, () => {
      for (const content of ['', '\n\n  \n']) {
        const p = file(content);
        expectError(() => read(p), codes.malformed, p, /is empty/, `empty ${JSON.stringify(content)}`);
      }
      const bin = file(Buffer.concat([Buffer.from('# a comment\n'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0x1b])]));
      expectError(() => read(bin), codes.malformed, bin, /is not a text file \(binary data on line 2\)/);
      const badUtf8 = file(Buffer.from([0x74, 0x75, 0x6e, 0xff, 0xfe, 0x0a]));
      expectError(() => read(badUtf8), codes.malformed, badUtf8, /binary data on line 1/);
    });
  }

  test('a file that only root could read is refused with "permission denied" (checked as an unprivileged user)', () => {
    const p = file(goodKeyText, 0o600);
    chmodSync(p, 0o000);
    // Root reads any file, so the check runs in a child as nobody; without root, chmod 000 is enough.
    const script = `import('${new URL('../../../src/identity/keys.js', import.meta.url).href}').then((m) => { try { m.readPrivateKeyFile(process.argv[1]); console.log('read it'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); } })`;
    const asRoot = process.getuid?.() === 0;
    const r = spawnSync(process.execPath, ['-e', script, p], { encoding: 'utf8', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout) as { code: string; message: string; hint: string };
    assert.equal(e.code, 'KEY_FILE_UNREADABLE');
    assert.equal(e.message, `private key file ${p} cannot be read: permission denied`);
    assert.match(e.hint, /readable by the user tun runs as/);
  });

  test('firstBinaryLine finds the line of the first byte that cannot be text', () => {
    assert.equal(firstBinaryLine(Buffer.from('a\r\nb\tc\n')), 0);
    assert.equal(firstBinaryLine(Buffer.from('a\nb\nc\x00')), 3);
    assert.equal(firstBinaryLine(Buffer.from('ünïcode ok\n')), 0);
  });
});

describe('private key files', () => {
  test('the good file loads; a UTF-8 BOM or CRLF does not matter', () => {
    assert.deepEqual(readPrivateKeyFile(`${base}.key`).publicKey, key.publicKey);
    assert.deepEqual(readPrivateKeyFile(file('\ufeff' + goodKeyText.trim() + '\r\n')).publicKey, key.publicKey);
  });

  test('wrong format, truncated, all-zero, a .pub in its place: clear errors that never quote the file', () => {
    const cases: [string, string, RegExp][] = [
      ['garbage', `hello ${secretB64}\n`, /is not a tun private key file/],
      ['truncated', goodKeyText.slice(0, 30), /is not a tun private key file|truncated or corrupt/],
      ['short key', `tun-x25519-private ${secretB64.slice(0, 20)}\n`, /truncated or corrupt/],
      ['all zero', `tun-x25519-private ${Buffer.alloc(32).toString('base64')}\n`, /all zero bytes, not a generated key/],
      ['.pub given', goodPubText, /is a public key file/],
    ];
    for (const [label, content, re] of cases) {
      const p = file(content);
      const e = expectError(() => readPrivateKeyFile(p), 'KEY_FILE_MALFORMED', p, re, label);
      assert.ok(!(e.message + e.hint).includes(secretB64.slice(0, 8)), `${label}: the secret is not quoted`);
    }
  });

  test('group/other access is still refused with the chmod fix (checked after the file is known to be a key)', () => {
    const p = file(goodKeyText, 0o640);
    expectError(() => readPrivateKeyFile(p), 'KEY_FILE_PERMISSIONS', p, /has mode 0640/);
  });
});

describe('public key files', () => {
  test('the good file loads, with its name', () => {
    assert.deepEqual(readPublicKeyFile(`${base}.pub`), { publicKey: key.publicKey, comment: 'good' });
  });

  test('an ssh key or other text: the message quotes only its first word, escaped and cut at 40 characters', () => {
    const ssh = file('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBKw me@host\n');
    const e = expectError(() => readPublicKeyFile(ssh), 'KEY_INVALID', ssh, /not a tun public key \(starts with "ssh-ed25519"/);
    assert.ok(!e.message.includes('AAAAC3'), 'the rest of the line is not quoted');
    const long = file('x'.repeat(1000) + ' y\n');
    const l = expectError(() => readPublicKeyFile(long), 'KEY_INVALID', long, /starts with "x{40}…"/);
    assert.ok(!l.message.includes('x'.repeat(41)));
    const escape = file('\u001b[31mred\u2028x y\n');
    expectError(() => readPublicKeyFile(escape), 'KEY_FILE_MALFORMED', escape, /binary data on line 1/, 'an escape byte is binary');
    const bidi = file('\u202eevil y\n');
    expectError(() => readPublicKeyFile(bidi), 'KEY_INVALID', bidi, /starts with "\\u202eevil"/);
  });

  test('a key that is not 32 bytes, only comments', () => {
    const short = file('tun-x25519 AAAA name\n');
    expectError(() => readPublicKeyFile(short), 'KEY_INVALID', short, /not 32 bytes of base64/);
    const comments = file('# just a comment\n');
    expectError(() => readPublicKeyFile(comments), 'KEY_FILE_MALFORMED', comments, /holds only comments/);
  });

  test('every well-known low-order point (and its high-bit twin) is refused, the all-zero key among them', () => {
    assert.equal(LOW_ORDER.length, 14);
    for (const point of LOW_ORDER) {
      const p = file(formatPublicKey(point, 'bad') + '\n');
      expectError(() => readPublicKeyFile(p), 'KEY_INVALID', p, /low-order X25519 point/, point.toString('hex'));
    }
  });

  test('a private key file given as --pubkey says so and never quotes it', () => {
    const p = file(goodKeyText);
    const e = expectError(() => readPublicKeyFile(p), 'KEY_FILE_MALFORMED', p, /is a private key file, not a \.pub file/);
    assert.ok(!(e.message + e.hint).includes(secretB64.slice(0, 8)));
  });

  test('readAnyKeyFile (tun key show) tells .key from .pub by content, whatever the name', () => {
    const pubNamedKey = file(goodPubText);
    assert.deepEqual(readAnyKeyFile(pubNamedKey), { kind: 'public', publicKey: key.publicKey });
    assert.deepEqual(readAnyKeyFile(`${base}.key`), { kind: 'private', publicKey: key.publicKey });
    const open = file(goodKeyText, 0o644);
    expectError(() => readAnyKeyFile(open), 'KEY_FILE_PERMISSIONS', open, /has mode 0644/);
  });
});

describe('key list files', () => {
  const good = formatPublicKey(key.publicKey, 'good');
  test('a bad line is named by file and line number, with a fix, and quoted at most 40 escaped characters', () => {
    const cases: [string, number, RegExp][] = [
      [`${good}\ntun-x25519 AAAA short\n`, 2, /not 32 bytes/],
      [`# c\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me\n`, 3, /unknown option "ssh-ed25519"/],
      [`${'z'.repeat(3000)}=1 ${good}\n`, 1, /unknown option "z{40}…"/],
      [`tun-x25519 ${Buffer.alloc(32).toString('base64')} zero\n`, 1, /low-order/],
      [`${good}\n${goodKeyText}`, 2, /this line is a PRIVATE key/],
    ];
    for (const [text, line, re] of cases) {
      const p = file(text);
      const e = expectError(() => KeyList.load(p), 'LIST_MALFORMED', `${p}:${line}`, re);
      assert.ok(!(e.message + e.hint).includes(secretB64.slice(0, 8)), 'never quotes a private key');
      assert.ok(!e.message.includes('z'.repeat(41)));
    }
  });

  test('every low-order point in a list is refused with its line', () => {
    for (const point of LOW_ORDER) {
      const p = file(`${good}\n# next\n${formatPublicKey(point, 'bad')}\n`);
      expectError(() => KeyList.load(p), 'LIST_MALFORMED', `${p}:3`, /low-order/);
    }
  });

  test('a list of only comments is an intentionally empty list; a list up to 4 MiB loads', () => {
    assert.equal(KeyList.load(file('# nobody yet\n')).entries.length, 0);
    const many = Array.from({ length: 3000 }, () => formatPublicKey(generateKeyMaterial().publicKey, 'k')).join('\n');
    assert.equal(KeyList.load(file(many)).entries.length, 3000);
  });
});

describe('printable()', () => {
  test('escapes controls, quotes, backslashes, separators and bidi marks; cuts at max with an ellipsis', () => {
    assert.equal(printable('plain'), 'plain');
    assert.equal(printable('a\nb\r\tc\u0000\u001b"\\'), 'a\\nb\\r\\tc\\x00\\x1b\\"\\\\');
    assert.equal(printable('\u2028\u202e\u200b\ud800'), '\\u2028\\u202e\\u200b\\ud800');
    assert.equal(printable('x'.repeat(50)), 'x'.repeat(40) + '…');
    assert.equal(printable('abcdef', 3), 'abc…');
    assert.equal(printable('😀'.repeat(3), 2), '😀😀…');
  });
});

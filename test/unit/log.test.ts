/** One event is one line: the text and json log formats, escaping, the length cap, and fatal errors. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { roleLogger } from '../../src/cli/common.js';
import { EXIT, fatalFormat, reportFatal } from '../../src/cli/errors.js';
import { TunError, isTunError } from '../../src/errors.js';
import { MAX_MESSAGE, createLogger, type Level, type LogFormat } from '../../src/log.js';
import { KeyDir } from '../helpers/keys.js';
import { CLI } from '../helpers/paths.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function capture(format: LogFormat, level: Level = 'debug'): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const chunks: string[] = [];
  const log = createLogger('relay', level, (l) => chunks.push(l), format);
  return {
    log,
    get lines() {
      const all = chunks.join('');
      assert.ok(all === '' || all.endsWith('\n'), 'every line ends with a newline');
      return all.split('\n').slice(0, -1);
    },
  };
}

const nasty = 'first\nsecond\r\nthird\u2028fourth\u001b[2Jfifth\u0000\ttab';

describe('text format', () => {
  test('`<iso time> <role> <level>: <message>`, one line per call, levels filtered', () => {
    const c = capture('text', 'info');
    c.log.debug('hidden');
    c.log.info('hello "world"');
    c.log.child('control').warn('careful');
    assert.equal(c.lines.length, 2);
    const [time, rest] = [c.lines[0]!.split(' ')[0]!, c.lines[0]!.slice(c.lines[0]!.indexOf(' ') + 1)];
    assert.match(time, ISO);
    assert.equal(rest, 'relay info: hello "world"', 'quotes are left alone in text');
    assert.match(c.lines[1]!, / relay\/control warn: careful$/);
  });

  test('newlines and control characters in a message are escaped, never emitted', () => {
    const c = capture('text');
    c.log.error(nasty);
    assert.equal(c.lines.length, 1);
    assert.ok(c.lines[0]!.endsWith('error: first\\nsecond\\r\\nthird\\u2028fourth\\x1b[2Jfifth\\x00\\ttab'), c.lines[0]);
  });

  test('a TunError is logged as `message (hint: ...)`; an old-style "\\n  hint:" is folded the same way', () => {
    const c = capture('text');
    c.log.warn(new TunError('CLIENT_OFFLINE', 'client abc is not connected', 'start `tun client`'));
    c.log.warn('client abc is not connected\n  hint: start `tun client`');
    assert.equal(c.lines.length, 2);
    for (const l of c.lines) assert.ok(l.endsWith('warn: client abc is not connected (hint: start `tun client`)'), l);
  });

  test('a huge message is cut to MAX_MESSAGE characters and marked', () => {
    const c = capture('text');
    c.log.info('y'.repeat(1_000_000));
    assert.equal(c.lines.length, 1);
    assert.ok(c.lines[0]!.length < MAX_MESSAGE + 100, `line length ${c.lines[0]!.length}`);
    assert.ok(c.lines[0]!.endsWith('y…'));
  });

  test('rateLimited folds repeats and says how many on the next line', () => {
    const c = capture('text');
    for (let i = 0; i < 5; i++) c.log.rateLimited('warn', 'k', 'again', 0);
    const chunks: string[] = [];
    const log = createLogger('r', 'info', (l) => chunks.push(l), 'text');
    log.rateLimited('warn', 'k', 'busy', 60_000);
    log.rateLimited('warn', 'k', 'busy', 60_000);
    log.rateLimited('warn', 'k', 'busy', 60_000);
    assert.equal(chunks.length, 1, 'folded within the interval');
    assert.equal(c.lines.length, 5, 'an interval of 0 folds nothing');
  });
});

describe('json format', () => {
  test('one object per line with time, role, level, msg; code and hint for a TunError', () => {
    const c = capture('json');
    c.log.info(nasty);
    c.log.error(new TunError('KEY_FILE_MISSING', 'private key file k.key does not exist', 'check the path'));
    c.log.child('client').debug('x'.repeat(100_000));
    assert.equal(c.lines.length, 3);
    const [a, b, d] = c.lines.map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(Object.keys(a!), ['time', 'role', 'level', 'msg']);
    assert.match(a!.time!, ISO);
    assert.equal(a!.role, 'relay');
    assert.equal(a!.level, 'info');
    assert.ok(!/[\u0000-\u001f\u2028\u2029]/.test(a!.msg!), 'no control characters survive, even inside the JSON string');
    assert.ok(!c.lines[0]!.includes('\u2028'));
    assert.deepEqual({ level: b!.level, msg: b!.msg, code: b!.code, hint: b!.hint }, { level: 'error', msg: 'private key file k.key does not exist', code: 'KEY_FILE_MISSING', hint: 'check the path' });
    assert.equal(d!.role, 'relay/client');
    assert.ok(d!.msg!.length <= MAX_MESSAGE + 1);
  });
});

describe('choosing the format', () => {
  test('flags first, then $TUN_LOG_FORMAT; a bad value is CONFIG_INVALID naming the choices', () => {
    const saved = process.env.TUN_LOG_FORMAT;
    try {
      process.env.TUN_LOG_FORMAT = 'xml';
      assert.throws(() => roleLogger('relay', {}), (e) => isTunError(e, 'CONFIG_INVALID') && /unknown log format "xml"/.test(e.message) && /json/.test(e.hint ?? ''));
      assert.doesNotThrow(() => roleLogger('relay', { logFormat: 'json' }));
      delete process.env.TUN_LOG_FORMAT;
      assert.throws(() => roleLogger('relay', { logFormat: 'yaml\n' }), (e) => isTunError(e, 'CONFIG_INVALID') && e.message === 'unknown log format "yaml\\n"');
      assert.throws(() => roleLogger('relay', { logLevel: 'loud' }), (e) => isTunError(e, 'CONFIG_INVALID'));
      assert.doesNotThrow(() => roleLogger('relay', 'debug'), 'the old (role, level) call still works');
    } finally {
      if (saved === undefined) delete process.env.TUN_LOG_FORMAT;
      else process.env.TUN_LOG_FORMAT = saved;
    }
  });
});

describe('fatal errors (src/cli/errors.ts)', () => {
  const fatal = (err: unknown): { code: number; text: string } => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const code = reportFatal(err, out);
    return { code, text };
  };

  test('a TunError: one line `tun: message (hint: ...)`, exit 1', () => {
    const r = fatal(new TunError('CONFIG_INVALID', 'bad\nflag', 'do this'));
    assert.deepEqual(r, { code: EXIT.FAILED, text: 'tun: bad\\nflag (hint: do this)\n' });
  });

  test('with format json: one object with code and hint', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    assert.equal(reportFatal(new TunError('KEY_FILE_MISSING', 'private key file k.key does not exist', 'check the path'), out, 'json'), EXIT.FAILED);
    assert.equal(text.split('\n').length, 2);
    const o = JSON.parse(text) as Record<string, string>;
    assert.deepEqual({ role: o.role, level: o.level, msg: o.msg, code: o.code, hint: o.hint }, { role: 'tun', level: 'error', msg: 'private key file k.key does not exist', code: 'KEY_FILE_MISSING', hint: 'check the path' });
  });

  test('the format of a fatal line follows --log-format (either spelling), then $TUN_LOG_FORMAT', () => {
    assert.equal(fatalFormat(['node', 'tun', 'server', '--log-format', 'json'], {}), 'json');
    assert.equal(fatalFormat(['node', 'tun', 'server', '--log-format=json'], {}), 'json');
    assert.equal(fatalFormat(['node', 'tun', 'server'], { TUN_LOG_FORMAT: 'json' }), 'json');
    assert.equal(fatalFormat(['node', 'tun', 'server', '--log-format', 'xml'], { TUN_LOG_FORMAT: 'json' }), 'text');
    assert.equal(fatalFormat(['node', 'tun', 'server'], {}), 'text');
  });

  test('an unexpected error: one line, no stack trace, exit 70', () => {
    const e = Object.assign(new Error('boom\nsecond line'), { code: 'EWHAT' });
    const r = fatal(e);
    assert.equal(r.code, EXIT.UNEXPECTED);
    assert.equal(r.text.split('\n').length, 2);
    assert.match(r.text, /^tun: unexpected error: EWHAT: boom\\nsecond line \(hint: this is a bug in tun/);
    assert.ok(!r.text.includes('    at '), 'no stack');
  });
});

describe('through the real CLI', () => {
  test('tun server --log-format json at debug: every stderr line is a JSON object; a bad format is one line, exit 1', async () => {
    const keys = new KeyDir();
    try {
      const relay = keys.key('relay');
      const list = keys.list('clients.list', [keys.key('c').line]);
      const args = ['server', '--key', relay.key, '--authorized', list, '--bind', '127.0.0.1', '--control-port', '0', '--visitor-port', '0', '--tunnel-port', '0', '--log-level', 'debug'];
      const child = spawn(process.execPath, [CLI(), ...args, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('ready')) child.kill('SIGTERM');
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^tun server ready/);
      const lines = stderr.split('\n').filter((l) => l !== '');
      assert.ok(lines.length > 0, 'logged something at debug');
      for (const l of lines) {
        const o = JSON.parse(l) as Record<string, unknown>;
        assert.equal(o.role, 'relay');
        assert.equal(typeof o.msg, 'string');
      }

      const bad = spawn(process.execPath, [CLI(), ...args, '--log-format', 'xml'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let badErr = '';
      bad.stderr.on('data', (d: Buffer) => (badErr += d.toString()));
      const [badCode] = (await once(bad, 'exit')) as [number | null];
      assert.equal(badCode, 1);
      assert.match(badErr, /^tun: unknown log format "xml" \(hint: use one of: text .* or json/);
      assert.equal(badErr.split('\n').length, 2, 'one line');

      const missing = spawn(process.execPath, [CLI(), ...args.map((a) => (a === relay.key ? relay.key + '.gone' : a)), '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let missingErr = '';
      missing.stderr.on('data', (d: Buffer) => (missingErr += d.toString()));
      const [missingCode] = (await once(missing, 'exit')) as [number | null];
      assert.equal(missingCode, 1);
      assert.equal(missingErr.split('\n').length, 2, 'one line');
      const o = JSON.parse(missingErr) as Record<string, string>;
      assert.equal(o.code, 'KEY_FILE_MISSING');
      assert.match(o.msg!, /\.gone does not exist/);
    } finally {
      keys.remove();
    }
  });
});

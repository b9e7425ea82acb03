/** Visitor access per service: a service's own list, or the default one; a session needs one service that allows the key. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { KeyList } from '../../../src/identity/key-list.js';
import { VisitorAccess } from '../../../src/identity/visitor-access.js';
import { KeyDir } from '../../helpers/keys.js';

const keys = new KeyDir();
after(() => keys.remove());
const [a, b, c] = [keys.key('a'), keys.key('b'), keys.key('c')];
const pub = (k: { line: string }): Buffer => Buffer.from(k.line.split(' ')[1]!, 'base64');

describe('VisitorAccess', () => {
  test('no list at all admits nobody', () => {
    const none = new VisitorAccess(undefined);
    assert.equal(none.union, undefined);
    assert.equal(none.admits(pub(a)), undefined);
    assert.equal(none.allows(pub(a), 'x'), false);
  });
  test('own lists win over the default; the default counts only if some service uses it', () => {
    const def = KeyList.parse(a.line, 'default.list');
    const own = new Map([['ssh', KeyList.parse(b.line, 'ssh.list')]]);
    const both = new VisitorAccess(def, own, ['ssh', 'web']);
    assert.ok(both.allows(pub(b), 'ssh') && !both.allows(pub(a), 'ssh'));
    assert.ok(both.allows(pub(a), 'web') && !both.allows(pub(b), 'web'));
    assert.ok(both.admits(pub(a)) && both.admits(pub(b)) && !both.admits(pub(c)));
    assert.match(both.union!.source, /default\.list, ssh\.list/);
    const onlyOwn = new VisitorAccess(def, own, ['ssh']);
    assert.equal(onlyOwn.admits(pub(a)), undefined, 'no service uses the default list');
  });
});

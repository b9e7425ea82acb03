/**
 * Live reload of a relay's config through the real CLI: a dropped client key is closed at once and
 * told why (authenticated), and service names granted to a key belong to it.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConfigLab } from '../helpers/config.js';
import { collect, dial, roundTrip } from '../helpers/net.js';
import { startClient, startRelay } from '../helpers/proc.js';

const lab = new ConfigLab();
after(() => lab.cleanup());

describe('relay reload: client keys and grants', () => {
  test('a revoked client key is closed at once and told why; grants limit service names, and a granted name belongs to its key', async () => {
    const k = { relay: lab.keys.key('rr-relay'), one: lab.keys.key('rr-one'), two: lab.keys.key('rr-two'), v: lab.keys.key('rr-v') };
    const clients = (withTwo: boolean): string =>
      `key = "rr-relay.key"\n\n[[client]]\nname = "one"\nkey_file = "rr-one.pub"\n` + (withTwo ? `\n[[client]]\nname = "two"\nkey_file = "rr-two.pub"\nservices = ["api"]\n` : '');
    const cfg = lab.file('rr.toml', clients(true));
    const relay = await startRelay(['--config', cfg]);
    lab.procs.push(relay.proc);
    const echo = await lab.echo();
    const allow = lab.keys.list('rr-visitors.list', [k.v.line]);
    const one = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.one.key, '--service', 'web', '--local', String(echo.port), '--service', 'api', '--local', String(echo.port), '--allow', allow]);
    const two = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.two.key, '--service', 'api', '--local', String(echo.port), '--service', 'db', '--local', String(echo.port), '--allow', allow]);
    lab.procs.push(one, two);
    await two.waitFor(/service db refused by the relay: service_not_granted: service name db is not granted to this key/);
    await two.waitFor(/service api registered/);
    await one.waitFor(new RegExp(`service api refused by the relay: service_owned: service name api belongs to another client key \\(${k.two.fingerprint} two\\)`));
    const vapi = await lab.visitor(relay.visitor, k.one, k.v, 'api');
    assert.equal((await roundTrip(vapi.port, Buffer.from('api?'))).how, 'reset', "a name owned by another key is not served");
    await vapi.proc.waitFor(/service_not_granted/);
    const vdb = await lab.visitor(relay.visitor, k.two, k.v, 'db');
    const refused = await roundTrip(vdb.port, Buffer.from('db?'));
    assert.equal(refused.how, 'reset');
    await vdb.proc.waitFor(/service_not_granted/);

    const v1 = await lab.visitor(relay.visitor, k.one, k.v, 'web');
    const s = await dial(v1.port);
    const flowing = collect(s, 30_000);
    s.write('before ');
    lab.replace('rr.toml', clients(false));
    await relay.proc.waitFor(new RegExp(`reload \\(file changed\\): -1 key \\(${k.two.fingerprint} \\(two\\)\\); 1 client session closed \\(key revoked\\)`));
    const code = await Promise.race([two.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    assert.equal(code, 1, 'the revoked client stops: retrying cannot help');
    assert.match(two.output, /client_not_authorized: client key \w+ was removed from the relay's authorized list \(revoked\)/);
    s.end('after');
    const out = await flowing;
    assert.equal(out.data.toString(), 'before after', "the other client's stream is untouched");
    assert.equal(one.child.exitCode, null);
  });
});

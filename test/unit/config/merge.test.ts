/** Flags and file together: the file fills what the command line did not give; options added by other modules get snake_case keys. */
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { describe, test } from 'node:test';
import { flagGiven, mergeScalars, scalarSpecs, schemaOf } from '../../../src/config/merge.js';
import { checkDoc } from '../../../src/config/schema.js';
import { parseToml } from '../../../src/config/toml.js';

function command(argv: string[]): Command {
  const cmd = new Command('x')
    .exitOverride()
    .option('--config <file>')
    .option('--key <file>')
    .option('--control-port <port>', 'a port', '8009')
    .option('--udp-port <port>')
    .option('--no-p2p')
    .option('--service <name>')
    .action(() => {});
  cmd.parse(argv, { from: 'user' });
  return cmd;
}

describe('merge', () => {
  const listed = [{ key: 'key', attr: 'key', field: { kind: 'string' } as const, path: true }];
  test('every option has a key: listed ones, then snake_case names of the others (not lists, not --config)', () => {
    const specs = scalarSpecs(listed, command([]));
    assert.deepEqual(specs.map((s) => s.key), ['key', 'control_port', 'udp_port', 'p2p']);
    assert.equal(specs.find((s) => s.key === 'p2p')!.field.kind, 'boolean');
  });
  test('the file sets what the command line left at its default; flags win and are reported', () => {
    const cmd = command(['--udp-port', '7000']);
    const specs = scalarSpecs(listed, cmd);
    const doc = parseToml('key = "k/relay.key"\ncontrol_port = 9009\nudp_port = 9999\np2p = false\n', '/etc/tun/relay.toml');
    const checked = checkDoc(doc, schemaOf(specs));
    const { opts, overridden } = mergeScalars(cmd.opts(), doc, checked, specs, flagGiven(cmd));
    assert.deepEqual(opts, { key: '/etc/tun/k/relay.key', controlPort: '9009', udpPort: '7000', p2p: false });
    assert.deepEqual(overridden, ['udp_port']);
  });
  test('without a file the options stay as given', () => {
    const cmd = command(['--key', 'a.key']);
    assert.deepEqual(mergeScalars(cmd.opts(), undefined, {}, scalarSpecs(listed, cmd), flagGiven(cmd)).opts, { key: 'a.key', controlPort: '8009', p2p: true });
  });
});

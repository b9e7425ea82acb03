import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { CIPHERS, HASHES, initCrypto } from '../../src/crypto/index.js';
import { UNSUPPORTED } from '../../src/noise/index.js';
import { vectorsDir } from '../helpers/paths.js';
import { defaultBackend, loadVectorFolder, overrideBackend, runFolder, type Outcome } from './runner.js';

before(initCrypto);

const dir = vectorsDir();
const usingBundledFolder = !process.env.NOISE_VECTORS;

function report(label: string, outcomes: Outcome[]): void {
  const ran = outcomes.filter((o) => o.status !== 'skip');
  const skipped = outcomes.filter((o) => o.status === 'skip');
  const failed = outcomes.filter((o) => o.status === 'fail');
  console.log(`noise vectors [${label}] from ${dir}: ${ran.length} ran, ${ran.length - failed.length} passed, ${failed.length} failed, ${skipped.length} skipped as unsupported`);
  for (const s of skipped) console.log(`  skipped ${s.file}#${s.index} ${s.protocol}: ${s.detail}`);
  for (const f of failed) console.log(`  FAILED ${f.file}#${f.index} ${f.protocol}: ${f.detail}`);
}

test('every vector file in the folder passes with the chosen backends', () => {
  const files = loadVectorFolder(dir);
  assert.ok(files.length > 0, `no vector files (*.json) in ${dir}`);
  console.log(`unsupported on purpose: DH ${UNSUPPORTED.dh.join(', ')}; modifiers ${UNSUPPORTED.modifiers.join(', ')}; ${UNSUPPORTED.note}`);
  const outcomes = runFolder(files, defaultBackend);
  report('default', outcomes);
  const ran = outcomes.filter((o) => o.status !== 'skip');
  assert.ok(ran.length > 0, 'no vector ran');
  assert.deepEqual(outcomes.filter((o) => o.status === 'fail').map((o) => `${o.file}#${o.index} ${o.protocol}: ${o.detail}`), []);
  if (usingBundledFolder) {
    const mustRun = outcomes.filter((o) => /^Noise_(IK|XX|NK)(psk\d(\+psk\d)*)?_25519_ChaChaPoly_BLAKE2b$/.test(o.protocol));
    assert.ok(mustRun.length > 0, 'the bundled folder (test/vectors/data) should hold IK/XX/NK BLAKE2b vectors');
    assert.deepEqual(mustRun.filter((o) => o.status !== 'pass').map((o) => o.protocol), [], 'IK/XX/NK over BLAKE2b must never be skipped');
  }
});

test('sodium-native loads where its package ships a prebuilt binary (linux x64), so the default backend is the native one', (t) => {
  if (`${process.platform}-${process.arch}` !== 'linux-x64' || process.env.TUN_NO_NATIVE === '1') return t.skip(`not checked on ${process.platform}-${process.arch}`);
  assert.ok(CIPHERS.nativeChaChaPoly, 'sodium-native did not load: run npm ci (it is an optional dependency)');
});

for (const [label, cipher, hash] of [
  ['libsodium ChaChaPoly only, node:crypto BLAKE2b', CIPHERS.sodiumChaChaPoly, HASHES.node.BLAKE2b],
  ['node:crypto ChaChaPoly only, libsodium BLAKE2b', CIPHERS.node.ChaChaPoly, HASHES.sodiumBlake2b],
  ['libsodium-wrappers/node:crypto hybrid ChaChaPoly, libsodium BLAKE2b', CIPHERS.hybridChaChaPoly, HASHES.sodiumBlake2b],
  ...(CIPHERS.nativeChaChaPoly ? [['sodium-native ChaChaPoly only, libsodium BLAKE2b', CIPHERS.nativeChaChaPoly, HASHES.sodiumBlake2b] as const] : []),
] as const) {
  test(`the same vectors pass with each backend alone (${label})`, () => {
    const outcomes = runFolder(loadVectorFolder(dir), overrideBackend(label, { ChaChaPoly: cipher }, { BLAKE2b: hash }));
    report(label, outcomes);
    assert.ok(outcomes.some((o) => o.status === 'pass') || outcomes.length === 0);
    assert.deepEqual(outcomes.filter((o) => o.status === 'fail').map((o) => `${o.file}#${o.index}: ${o.detail}`), []);
  });
}

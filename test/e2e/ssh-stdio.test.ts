/**
 * SSH first: a real OpenSSH client reaches a real sshd through tun with no local port, using an
 * ssh_config block whose ProxyCommand is `tun visit --stdio --service %h` (as the README shows).
 * The test starts its own sshd (own config, host key and user key in a temp folder, a free
 * loopback port). Without sshd/ssh it installs openssh-server/-client when root, and otherwise
 * skips with the reason printed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { freePort } from '../helpers/net.js';
import { CLI } from '../helpers/paths.js';
import { startClient, startRelay } from '../helpers/proc.js';

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** sshd's path, installing OpenSSH with apt-get when missing and root; or why the test cannot run. */
function findOpenSsh(): { sshd: string } | { skip: string } {
  const missing = (): boolean => !which('sshd') || !which('ssh') || !which('ssh-keygen');
  if (missing()) {
    if (process.getuid?.() !== 0) return { skip: 'sshd/ssh are not installed and this test is not root (install openssh-server and openssh-client)' };
    if (!which('apt-get')) return { skip: 'sshd/ssh are not installed and there is no apt-get' };
    // Bounded to fit the runner's 90 s per file; .ci/run installs OpenSSH before the tests, so
    // this is only for a root run elsewhere. No `apt-get update` here: it can take minutes.
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const r = spawnSync('apt-get', ['install', '-y', '-q', 'openssh-server', 'openssh-client'], { env, stdio: 'ignore', timeout: 60_000 });
    if (r.status !== 0 || missing()) return { skip: 'sshd/ssh are not installed and `apt-get install openssh-server openssh-client` failed (run apt-get update first, as .ci/run does)' };
  }
  return { sshd: which('sshd')! };
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Runs ssh with `input` on its stdin; resolves with what it printed and its exit code. */
function ssh(args: string[], input: Buffer, ms = 60_000): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ssh did not finish within ${ms} ms; stderr:\n${stderr}`));
    }, ms);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {});
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.end(input);
  });
}

const openssh = findOpenSsh();
if ('skip' in openssh) console.log(`# skipping the ssh --stdio test: ${openssh.skip}`);

describe('ssh through tun visit --stdio (real OpenSSH client and sshd)', { skip: 'skip' in openssh ? openssh.skip : false }, () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey] = keys.keys('relay', 'client', 'visitor');
  const dir = keys.dir;
  let sshd: Sshd | undefined;
  let config = '';

  before(async () => {
    for (const k of ['host_key', 'user_key']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tun-test', '-f', join(dir, k)]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')));
    // sshd's privilege separation folder, which a package install normally makes.
    if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    const sshdPort = await freePort();
    writeFileSync(join(dir, 'sshd_config'), [
      `Port ${sshdPort}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password',
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'LogLevel INFO', '',
    ].join('\n'));
    sshd = new Sshd((openssh as { sshd: string }).sshd, join(dir, 'sshd_config'));
    await sshd.listening();

    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line])]);
    procs.push(relay.proc);
    procs.push(await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
      '--service', 'ssh', '--local', `127.0.0.1:${sshdPort}`, '--allow', keys.list('visitors.list', [visitorKey.line])]));
    // The ~/.ssh/config block of the README, with this test's files.
    const tun = `${quote(process.execPath)} ${quote(CLI())}`;
    config = join(dir, 'ssh_config');
    // A visitor config file (docs/config.md) for the second host, as in the issue's example.
    const visitToml = join(dir, 'visit.toml');
    writeFileSync(visitToml, `server = "127.0.0.1:${relay.visitor}"\npubkey = ${JSON.stringify(clientKey.pub)}\nkey = ${JSON.stringify(visitorKey.key)}\n`);
    writeFileSync(config, [
      'Host ssh',
      `  ProxyCommand ${tun} visit --stdio --server 127.0.0.1:${relay.visitor} --pubkey ${clientKey.pub} --key ${visitorKey.key} --service %h`,
      'Host via-config',
      '  HostName ssh',
      `  ProxyCommand ${tun} visit --stdio --config ${visitToml} --service %h`,
      'Host *',
      `  User ${userInfo().username}`,
      `  IdentityFile ${join(dir, 'user_key')}`,
      '  IdentitiesOnly yes',
      '  BatchMode yes',
      '  StrictHostKeyChecking accept-new',
      `  UserKnownHostsFile ${join(dir, 'known_hosts')}`,
      '',
    ].join('\n'));
  });

  after(() => lab.cleanup(() => sshd?.stop()));

  it('runs a command on the sshd through the tunnel and gets its output', async () => {
    const r = await ssh(['-F', config, 'ssh', 'echo tun-ssh-ok; echo "$((6 * 7))"'], Buffer.alloc(0));
    assert.equal(r.code, 0, `ssh exit code; stderr:\n${r.stderr}`);
    assert.equal(r.stdout, 'tun-ssh-ok\n42\n');
  });

  it('works the same with the visitor settings in a --config file', async () => {
    const r = await ssh(['-F', config, 'via-config', 'echo via-config-ok'], Buffer.alloc(0));
    assert.equal(r.code, 0, `ssh exit code; stderr:\n${r.stderr}`);
    assert.equal(r.stdout, 'via-config-ok\n');
  });

  it('carries 4 MiB of stdin to a remote command intact (sha256 computed remotely)', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const r = await ssh(['-F', config, 'ssh', 'sha256sum'], data);
    assert.equal(r.code, 0, `ssh exit code; stderr:\n${r.stderr}`);
    assert.equal(r.stdout.split(' ')[0], sha(data));
  });

  it('a remote command that fails passes its exit code through, and the host key was pinned on first use', async () => {
    const r = await ssh(['-F', config, 'ssh', 'exit 7'], Buffer.alloc(0));
    assert.equal(r.code, 7, `ssh exit code; stderr:\n${r.stderr}`);
    assert.match(readFileSync(join(dir, 'known_hosts'), 'utf8'), /ssh-ed25519 /);
  });
});

/** A private sshd in the foreground (-D), logging to stderr (-e). */
class Sshd {
  readonly #child: ChildProcess;
  #log = '';
  readonly #exited: Promise<void>;
  constructor(sshd: string, configFile: string) {
    this.#child = spawn(sshd, ['-f', configFile, '-D', '-e'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.#log += d));
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    process.once('exit', () => this.#child.kill('SIGKILL'));
  }
  async listening(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!/Server listening on 127\.0\.0\.1 port/.test(this.#log)) {
      if (this.#child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start:\n${this.#log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async stop(): Promise<void> {
    if (this.#child.exitCode === null) this.#child.kill('SIGTERM');
    await this.#exited;
  }
}

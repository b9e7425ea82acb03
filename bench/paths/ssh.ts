/**
 * OpenSSH remote forwarding, the reference: app -> sshd's `-R` listening port -> ssh client ->
 * echo, with a private sshd the bench starts itself (own config, host key and user key in a temp
 * folder, a free loopback port). Two clients share that sshd: `ssh -N -R` for bulk transfers and
 * `ssh -tt -R` (ssh then sets TCP_NODELAY, as an interactive session) for latency, stream rate and
 * memory. Cipher: chacha20-poly1305@openssh.com, the one tun's Noise suite uses.
 * With a WAN delay the ssh client reaches sshd, and the app reaches the forwarded port, through
 * delay proxies on 127.0.0.3.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Child, removeDir, tempDir } from '../proc.js';
import { freePorts, waitEcho } from '../sockets.js';
import { WAN_HOST, delayProxies } from './wan.js';
import type { Endpoint, Started, StartOptions } from './types.js';

const CIPHER = 'chacha20-poly1305@openssh.com';

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** The sshd binary, installed with apt-get when missing and running as root; or why not. */
export function ensureOpenSsh(): { sshd: string } | { skipped: string } {
  if (!which('sshd') || !which('ssh') || !which('ssh-keygen')) {
    if (process.getuid?.() !== 0) return { skipped: 'sshd is not installed and the bench is not root (install openssh-server to get the ssh column)' };
    if (!which('apt-get')) return { skipped: 'sshd is not installed and there is no apt-get to install it' };
    console.error('bench: sshd missing, installing openssh-server with apt-get (once)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = (): boolean => spawnSync('apt-get', ['install', '-y', '-q', 'openssh-server', 'openssh-client'], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 }).status === 0;
    if (!install()) {
      spawnSync('apt-get', ['update', '-q'], { env, stdio: 'ignore', timeout: 300_000 });
      if (!install()) return { skipped: 'sshd is not installed and `apt-get install openssh-server` failed' };
    }
    if (!which('sshd')) return { skipped: 'openssh-server installed but no sshd binary found' };
  }
  return { sshd: which('sshd')! };
}

export function sshVersion(): string {
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return (r.stderr || r.stdout || '').trim();
}

function sshdConfig(dir: string, port: number): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AllowTcpForwarding yes',
    'GatewayPorts no',
    `Ciphers ${CIPHER}`,
    'MaxStartups 200',
    'LogLevel INFO',
    '',
  ].join('\n');
}

function sshArgs(dir: string, host: string, sshdPort: number, forwardPort: number, echoPort: number): string[] {
  return ['-F', '/dev/null', '-i', join(dir, 'user_key'), '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no',
    '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes',
    '-o', 'LogLevel=ERROR', '-c', CIPHER, '-p', String(sshdPort), '-R', `127.0.0.1:${forwardPort}:127.0.0.1:${echoPort}`,
    `${userInfo().username}@${host}`];
}

export async function startSsh(opts: StartOptions): Promise<Started> {
  const have = ensureOpenSsh();
  if ('skipped' in have) return have;
  const dir = tempDir('ssh');
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
    removeDir(dir);
  };
  try {
    for (const k of ['host_key', 'user_key']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tun-bench', '-f', join(dir, k)]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')));
    if (!existsSync('/run/sshd') && process.getuid?.() === 0) mkdirSync('/run/sshd', { mode: 0o755 }); // sshd's privilege separation directory
    const wan = opts.wanDelayMs !== undefined;
    const [sshdPort, bulkPort, ttPort] = (await freePorts(3, wan ? WAN_HOST : undefined)) as [number, number, number];
    writeFileSync(join(dir, 'sshd_config'), sshdConfig(dir, sshdPort));
    const sshd = new Child('sshd', have.sshd, ['-f', join(dir, 'sshd_config'), '-D', '-e']);
    children.push(sshd);
    await sshd.waitFor(/Server listening on 127\.0\.0\.1 port/);
    const host = wan ? WAN_HOST : '127.0.0.1';
    if (wan) children.push(await delayProxies(opts.wanDelayMs!, [sshdPort, ttPort]));
    const sshdRole = { name: 'sshd', pid: sshd.pid, tree: true };

    let bulk: Endpoint | undefined;
    if (!wan) {
      const n = new Child('ssh -N -R', 'ssh', ['-N', ...sshArgs(dir, host, sshdPort, bulkPort, opts.echoPort)]);
      children.push(n);
      await waitEcho('127.0.0.1', bulkPort);
      bulk = { host: '127.0.0.1', port: bulkPort, roles: [sshdRole, { name: 'ssh', pid: n.pid }] };
    }
    // -tt needs a remote command and an stdin that stays open: a pipe nobody writes to.
    const tt = new Child('ssh -tt -R', 'ssh', ['-tt', ...sshArgs(dir, host, sshdPort, ttPort, opts.echoPort), 'sleep 86400'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(tt);
    await waitEcho(host, ttPort);
    const latency = { host, port: ttPort, roles: [sshdRole, { name: 'ssh -tt', pid: tt.pid }] };
    return { id: 'ssh', label: 'ssh -R', description: `OpenSSH ssh -R, ${CIPHER}; ssh -tt -R for latency, streams/s and memory`, bulk: bulk ?? latency, latency, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * tun through its CLI only: app -> `tun visit` -> `tun server` -> `tun client` -> echo, each its
 * own process, keys made with `tun keygen`. The relay path on purpose (--no-p2p): on loopback a
 * visitor would otherwise move to a direct path; `npm run bench:p2p` measures direct paths. With a WAN delay the relay listens on 127.0.0.1 with
 * fixed ports and delay proxies on 127.0.0.3 take the same port numbers, so the visitor and the
 * client (which dials the tunnel port on the host given in --server) reach it only through them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child, nodeFlags, removeDir, repoRoot, tempDir } from '../proc.js';
import { freePorts } from '../sockets.js';
import { WAN_HOST, delayProxies } from './wan.js';
import type { Path, StartOptions } from './types.js';

const tun = (name: string, args: string[]): Child =>
  new Child(name, process.execPath, [...nodeFlags(), join(repoRoot(), 'bin', 'tun.js'), ...args], { env: { ...process.env, TUN_LOG: 'warn' } });

async function keygen(dir: string, name: string): Promise<{ key: string; pub: string; line: string }> {
  const base = join(dir, name);
  const c = tun(`tun keygen ${name}`, ['keygen', '--out', base]);
  const code = await c.exited;
  if (code !== 0) throw new Error(`tun keygen failed (${code}): ${c.out.trim()}`);
  return { key: `${base}.key`, pub: `${base}.pub`, line: readFileSync(`${base}.pub`, 'utf8').trim() };
}

export async function startTun(opts: StartOptions): Promise<Path> {
  const dir = tempDir('tun');
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
    removeDir(dir);
  };
  try {
    const [relayKey, clientKey, visitorKey] = [await keygen(dir, 'relay'), await keygen(dir, 'client'), await keygen(dir, 'visitor')];
    writeFileSync(join(dir, 'clients.list'), clientKey.line + '\n');
    writeFileSync(join(dir, 'visitors.list'), visitorKey.line + '\n');
    const wan = opts.wanDelayMs !== undefined;
    const [control, visitor, tunnel] = (await freePorts(3, wan ? WAN_HOST : undefined)) as [number, number, number];
    const relay = tun('tun server', ['server', '--key', relayKey.key, '--authorized', join(dir, 'clients.list'), '--bind', '127.0.0.1',
      '--control-port', String(control), '--visitor-port', String(visitor), '--tunnel-port', String(tunnel), '--no-p2p', '--log-level', 'warn']);
    children.push(relay);
    await relay.waitFor(/tun server ready/);
    const host = wan ? WAN_HOST : '127.0.0.1';
    if (wan) children.push(await delayProxies(opts.wanDelayMs!, [control, visitor, tunnel]));
    const client = tun('tun client', ['client', '--server', `${host}:${control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
      '--service', 'echo', '--local', `127.0.0.1:${opts.echoPort}`, '--allow', join(dir, 'visitors.list'), '--no-p2p', '--log-level', 'warn']);
    children.push(client);
    await client.waitFor(/tun client ready/);
    const visit = tun('tun visit', ['visit', '--server', `${host}:${visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key,
      '--service', 'echo', '--listen', '127.0.0.1:0', '--no-p2p', '--log-level', 'warn']);
    children.push(visit);
    const port = Number((await visit.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
    const ep = {
      host: '127.0.0.1',
      port,
      roles: [
        { name: 'visit', pid: visit.pid },
        { name: 'server', pid: relay.pid },
        { name: 'client', pid: client.pid },
      ],
    };
    return { id: 'tun', label: 'tun', description: 'tun visit -> tun server -> tun client (Noise end to end)', bulk: ep, latency: ep, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

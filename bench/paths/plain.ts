/**
 * The crypto-free Node baseline: app -> visitor agent -> relay (joins) -> client agent -> echo,
 * three processes forwarding plain bytes with one TCP connection per stream (no multiplexing, no
 * encryption): what three Node hops cost, tun's ceiling without cryptography.
 * With a WAN delay, the agents reach the relay through delay proxies on 127.0.0.3.
 */
import type { Child } from '../proc.js';
import { nodeService } from '../proc.js';
import { freePorts } from '../sockets.js';
import { WAN_HOST, delayProxies } from './wan.js';
import type { Path, StartOptions } from './types.js';

export async function startPlain(opts: StartOptions): Promise<Path> {
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
  };
  try {
    const wan = opts.wanDelayMs !== undefined;
    const fixed = wan ? await freePorts(3, WAN_HOST) : [0, 0, 0];
    const relay = await nodeService('plain relay', 'services/plain-relay.js', fixed.map(String));
    children.push(relay.child);
    const [control, visitor] = relay.ports as [number, number, number];
    const host = wan ? WAN_HOST : '127.0.0.1';
    if (wan) children.push(await delayProxies(opts.wanDelayMs!, relay.ports));
    const client = await nodeService('plain client agent', 'services/plain-agent.js', ['client', `${host}:${control}`, String(opts.echoPort)]);
    children.push(client.child);
    const visit = await nodeService('plain visitor agent', 'services/plain-agent.js', ['visit', `${host}:${visitor}`, '0']);
    children.push(visit.child);
    const ep = {
      host: '127.0.0.1',
      port: visit.ports[0]!,
      roles: [
        { name: 'visitor agent', pid: visit.child.pid },
        { name: 'relay', pid: relay.child.pid },
        { name: 'client agent', pid: client.child.pid },
      ],
    };
    return { id: 'plain', label: 'plain Node', description: 'crypto-free Node chain, 1 TCP connection per stream (no mux)', bulk: ep, latency: ep, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

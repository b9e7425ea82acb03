/**
 * The crypto-free Node baseline, tun's ceiling: app -> visitor agent -> relay (joins) -> client
 * agent -> echo, three processes carrying every stream of the visitor over one connection with
 * tun's own multiplexer (src/session/mux.ts), and no encryption.
 * With a WAN delay, the agents reach the relay through delay proxies on 127.0.0.3.
 */
import type { Child } from '../proc.js';
import { nodeService } from '../proc.js';
import { freePorts } from '../sockets.js';
import { WAN_HOST, delayProxies } from './wan.js';
import type { Path, StartOptions } from './types.js';

export async function startMux(opts: StartOptions): Promise<Path> {
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
  };
  try {
    const wan = opts.wanDelayMs !== undefined;
    const fixed = wan ? await freePorts(3, WAN_HOST) : [0, 0, 0];
    const relay = await nodeService('join relay', 'services/join-relay.js', fixed.map(String));
    children.push(relay.child);
    const [control, visitor] = relay.ports as [number, number, number];
    const host = wan ? WAN_HOST : '127.0.0.1';
    if (wan) children.push(await delayProxies(opts.wanDelayMs!, relay.ports));
    const client = await nodeService('mux client agent', 'services/mux-agent.js', ['client', `${host}:${control}`, String(opts.echoPort)]);
    children.push(client.child);
    const visit = await nodeService('mux visitor agent', 'services/mux-agent.js', ['visit', `${host}:${visitor}`, '0']);
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
    return { id: 'mux', label: 'Node mux', description: "crypto-free: tun's multiplexer over plain TCP, visitor agent -> join relay -> client agent", bulk: ep, latency: ep, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

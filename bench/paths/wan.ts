/** Delay proxies for the WAN figures: 127.0.0.3:PORT -> 127.0.0.1:PORT, `delayMs` each way. */
import { nodeService, type Child } from '../proc.js';

export const WAN_HOST = '127.0.0.3';

export async function delayProxies(delayMs: number, ports: number[]): Promise<Child> {
  const routes = ports.map((p) => `${WAN_HOST}:${p}=127.0.0.1:${p}`);
  const { child } = await nodeService('delay proxy', 'services/delay-proxy.js', [String(delayMs), ...routes]);
  return child;
}

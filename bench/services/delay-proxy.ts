/**
 * The delay proxy as its own process. Usage:
 *   node delay-proxy.js DELAY_MS LISTEN_HOST:PORT=TARGET_HOST:PORT [...]
 * prints `ready PORT...` (the listening ports, in order).
 */
import { DelayProxy } from '../delay-proxy.js';

const [delay, ...routes] = process.argv.slice(2);
const proxy = new DelayProxy(Number(delay));
const ports: number[] = [];
for (const r of routes) {
  const m = r.match(/^([\d.]+):(\d+)=([\d.]+):(\d+)$/);
  if (!m) {
    console.error(`delay-proxy: route ${r} is not LISTEN_HOST:PORT=TARGET_HOST:PORT`);
    process.exit(2);
  }
  ports.push(await proxy.add({ listenHost: m[1]!, listenPort: Number(m[2]), targetHost: m[3]!, targetPort: Number(m[4]) }));
}
console.log(`ready ${ports.join(' ')}`);
process.on('SIGTERM', () => process.exit(0));
